//! A usage report's tokens, normalised as the store keeps them.
//!
//! Providers count cached input two ways. OpenAI-style APIs (OpenAI,
//! Azure OpenAI, Gemini, DeepSeek, Mistral, and any provider rampart does
//! not know) count cache reads *inside* `input_tokens`
//! (`prompt_tokens_details.cached_tokens`); Anthropic (directly or on
//! Bedrock) counts cache reads and cache writes *beside* it
//! (`cache_read_input_tokens`, `cache_creation_input_tokens`). rampart
//! keeps three disjoint counts — uncached input, cache reads, cache writes —
//! so each token is priced once at its own rate. Reasoning tokens are a
//! part of the output on every provider and are kept as such, never
//! charged again.

/// Providers that report cache reads and writes beside the input tokens.
const BESIDE: &[&str] = &["anthropic", "bedrock", "aws-bedrock"];

/// A call's tokens, normalised: the three input counts are disjoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tokens {
    /// Input tokens read neither from nor into a cache.
    pub input: u64,
    /// Input tokens read from the provider's cache.
    pub cached_input: u64,
    /// Input tokens written into the provider's cache.
    pub cache_write: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// The part of `output` spent reasoning (kept, not charged again).
    pub reasoning: u64,
}

/// Why a report's tokens do not add up, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TokensError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl Tokens {
    /// Normalises the counts as `provider` reports them (see the module
    /// doc): for a provider counting cache reads and writes inside the
    /// input, they are taken out of it, and must fit in it.
    pub fn normalise(
        provider: Option<&str>,
        input: u64,
        cached_input: u64,
        cache_write: u64,
        output: u64,
        reasoning: u64,
    ) -> Result<Tokens, TokensError> {
        if reasoning > output {
            return Err(TokensError {
                field: "reasoning_tokens",
                message: format!("{reasoning} is more than output_tokens ({output}); reasoning is part of the output"),
            });
        }
        let beside = provider.is_some_and(|p| BESIDE.iter().any(|b| p.eq_ignore_ascii_case(b)));
        if beside {
            return Ok(Tokens { input, cached_input, cache_write, output, reasoning });
        }
        let cached = cached_input.saturating_add(cache_write);
        if cached > input {
            let provider = provider.unwrap_or("a provider without a name");
            return Err(TokensError {
                field: "cached_input_tokens",
                message: format!(
                    "cached_input_tokens + cache_write_tokens ({cached}) is more than input_tokens ({input}); \
                     {provider} counts cached tokens inside input_tokens (only anthropic and bedrock count them beside it)"
                ),
            });
        }
        Ok(Tokens { input: input - cached, cached_input, cache_write, output, reasoning })
    }

    /// Every input token, cached or not.
    pub fn total_input(&self) -> u64 {
        self.input.saturating_add(self.cached_input).saturating_add(self.cache_write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(provider: Option<&str>, counts: [u64; 5], expected: Result<[u64; 5], &str>) {
        let [i, c, w, o, r] = counts;
        let got = Tokens::normalise(provider, i, c, w, o, r)
            .map(|t| [t.input, t.cached_input, t.cache_write, t.output, t.reasoning])
            .map_err(|e| e.field);
        assert_eq!(got, expected, "{provider:?} {counts:?}");
    }

    #[test]
    fn cached_tokens_are_charged_once_whichever_way_the_provider_counts() {
        // OpenAI: 1,000 prompt tokens of which 800 cached.
        check(Some("openai"), [1000, 800, 0, 50, 20], Ok([200, 800, 0, 50, 20]));
        // Anthropic: 200 uncached beside 800 read and 100 written.
        check(Some("anthropic"), [200, 800, 100, 50, 0], Ok([200, 800, 100, 50, 0]));
        check(Some("Anthropic"), [0, 800, 0, 1, 0], Ok([0, 800, 0, 1, 0]));
        // Unknown providers count the OpenAI way.
        check(None, [1000, 1000, 0, 0, 0], Ok([0, 1000, 0, 0, 0]));
        check(Some("gemini"), [10, 0, 0, 5, 0], Ok([10, 0, 0, 5, 0]));
    }

    #[test]
    fn counts_that_cannot_be_are_refused_naming_the_field() {
        check(Some("openai"), [100, 101, 0, 0, 0], Err("cached_input_tokens"));
        check(None, [100, 60, 41, 0, 0], Err("cached_input_tokens"));
        check(Some("anthropic"), [1, 0, 0, 5, 6], Err("reasoning_tokens"));
    }

    #[test]
    fn total_input_adds_the_disjoint_counts() {
        let t = Tokens::normalise(Some("openai"), 1000, 800, 0, 0, 0).unwrap_or_default();
        assert_eq!(t.total_input(), 1000);
    }
}
