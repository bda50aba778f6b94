//! `rampart ratelimit`: the rate-limit policies with their counters, one
//! check, a key's state, unblocking a key, and defining or deleting a policy
//! kept in the store.

use anyhow::Context as _;
use rampart_client::wire::{RateLimitCheckRequest, RateLimitPoliciesResponse, RateLimitPolicyPut, RateLimitPolicyView};

use crate::cli::{Remote, output};

/// Options of `rampart ratelimit`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What to do [default: list].
    #[command(subcommand)]
    pub command: Option<RatelimitCommand>,
}

/// The subcommands of `rampart ratelimit`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RatelimitCommand {
    /// List every policy with its counters, and the Redis backend's state.
    List,
    /// Show one policy.
    Show {
        /// The policy.
        name: String,
    },
    /// Check (and count) one request against a policy, as an app would.
    Check {
        /// The policy.
        policy: String,
        /// The key counted against (a user id, an IP, …).
        key: String,
        /// What the request costs.
        #[arg(long, default_value_t = 1)]
        cost: u64,
    },
    /// Show a key's state under a policy, counting nothing.
    Key {
        /// The policy.
        policy: String,
        /// The key.
        key: String,
    },
    /// Unblock a key: its next check starts fresh (admin).
    Reset {
        /// The policy.
        policy: String,
        /// The key.
        key: String,
    },
    /// Define or replace a policy kept in the store, seen by every node (admin).
    Put {
        /// The policy's name.
        name: String,
        /// What a key may do per window.
        #[arg(long)]
        limit: u64,
        /// The window, e.g. 5m.
        #[arg(long)]
        window: String,
        /// sliding_window, fixed_window or gcra [default: sliding_window].
        #[arg(long)]
        algorithm: Option<String>,
        /// With gcra: how many may come at once [default: the limit].
        #[arg(long)]
        burst: Option<u64>,
        /// How the gate derives the key: ip, api_key or header:NAME [default: ip].
        #[arg(long)]
        key: Option<String>,
        /// memory or redis [default: redis when the server has one].
        #[arg(long)]
        backend: Option<String>,
        /// local, allow or deny [default: local].
        #[arg(long)]
        on_backend_error: Option<String>,
        /// The body of a 429 from the gate or the tower layer: `rampart` (default) or `compat`.
        #[arg(long)]
        deny_body: Option<String>,
    },
    /// Delete a policy defined through the API (admin).
    Delete {
        /// The policy.
        name: String,
    },
}

/// Runs a `rampart ratelimit` subcommand.
pub async fn run(args: Args, remote: &Remote) -> anyhow::Result<()> {
    let client = &remote.client;
    match args.command.unwrap_or(RatelimitCommand::List) {
        RatelimitCommand::List => {
            let response = client.ratelimit_policies().await.context("cannot list the rate-limit policies")?;
            if remote.json {
                return output::json(&response);
            }
            print_list(&response)
        }
        RatelimitCommand::Show { name } => {
            let policy =
                client.ratelimit_policy(&name).await.with_context(|| format!("cannot show policy `{name}`"))?;
            if remote.json {
                return output::json(&policy);
            }
            output::print(&render_policy(&policy))
        }
        RatelimitCommand::Check { policy, key, cost } => {
            let req = RateLimitCheckRequest { policy: Some(policy), key: Some(key), cost: Some(cost), checks: None };
            let answer = client.ratelimit_check(&req).await.context("cannot check the rate limit")?;
            if remote.json {
                return output::json(&answer);
            }
            let verdict = if answer.allowed { "allowed" } else { "denied" };
            let mut pairs = vec![
                ("verdict", verdict.to_string()),
                ("policy", answer.policy.clone()),
                ("remaining", format!("{} of {}", answer.remaining, answer.limit)),
                ("resets in", format!("{}s", answer.reset_after_s)),
            ];
            if let Some(retry) = answer.retry_after_s {
                pairs.push(("retry after", format!("{retry}s")));
            }
            if answer.fallback {
                pairs.push(("fallback", "yes: the backend failed; on_backend_error decided".to_string()));
            }
            output::print(&output::fields(&pairs))
        }
        RatelimitCommand::Key { policy, key } => {
            let state = client.ratelimit_key(&policy, &key).await.context("cannot read the key's state")?;
            if remote.json {
                return output::json(&state);
            }
            output::print(&output::fields(&[
                ("policy", state.policy.clone()),
                ("key", state.key.clone()),
                ("remaining", format!("{} of {}", state.remaining, state.limit)),
                ("resets in", format!("{}s", state.reset_after_s)),
                ("fresh", if state.fresh { "yes (nothing counted)" } else { "no" }.to_string()),
            ]))
        }
        RatelimitCommand::Reset { policy, key } => {
            let reset = client.ratelimit_key_reset(&policy, &key).await.context("cannot reset the key")?;
            if remote.json {
                return output::json(&reset);
            }
            let what = if reset.reset { "reset: its next check starts fresh" } else { "had nothing counted" };
            output::line(&format!("key `{key}` under `{policy}` {what}"))
        }
        RatelimitCommand::Put { name, limit, window, algorithm, burst, key, backend, on_backend_error, deny_body } => {
            let put = RateLimitPolicyPut {
                limit: Some(limit),
                window: Some(window),
                algorithm,
                burst,
                key,
                backend,
                on_backend_error,
                deny_body,
            };
            let policy = client
                .ratelimit_policy_put(&name, &put)
                .await
                .with_context(|| format!("cannot put policy `{name}`"))?;
            if remote.json {
                return output::json(&policy);
            }
            output::print(&render_policy(&policy))
        }
        RatelimitCommand::Delete { name } => {
            client.ratelimit_policy_delete(&name).await.with_context(|| format!("cannot delete policy `{name}`"))?;
            if remote.json {
                return output::json(&serde_json::json!({"deleted": name}));
            }
            output::line(&format!("policy `{name}` deleted"))
        }
    }
}

fn print_list(response: &RateLimitPoliciesResponse) -> anyhow::Result<()> {
    let table = policies_table(&response.policies);
    if table.is_empty() {
        eprintln!(
            "no rate-limit policies: add [ratelimit.policies.NAME] to the configuration or `rampart ratelimit put`"
        );
    } else {
        table.print()?;
    }
    if let Some(redis) = &response.redis {
        let detail = match (&redis.last_error, &redis.since) {
            (Some(error), Some(since)) => format!(" since {since}: {error}"),
            (Some(error), None) => format!(": {error}"),
            (None, Some(since)) => format!(" since {since}"),
            (None, None) => String::new(),
        };
        output::line(&format!("redis: {}{detail} ({} failed calls)", redis.status, redis.failures))?;
    }
    Ok(())
}

fn policies_table(policies: &[RateLimitPolicyView]) -> output::Table {
    let mut table = output::Table::new(&[
        "NAME",
        "LIMIT",
        "ALGORITHM",
        "KEY",
        "BACKEND",
        "SOURCE",
        "ALLOWED",
        "DENIED",
        "FALLBACKS",
    ]);
    for p in policies {
        table.row(vec![
            p.name.clone(),
            format!("{}/{}", p.limit, p.window),
            match p.burst {
                Some(burst) => format!("{} (burst {burst})", p.algorithm),
                None => p.algorithm.clone(),
            },
            p.key.clone(),
            p.backend.clone(),
            p.source.clone(),
            p.allowed.to_string(),
            p.denied.to_string(),
            p.fallbacks.to_string(),
        ]);
    }
    table
}

fn render_policy(p: &RateLimitPolicyView) -> String {
    let mut pairs = vec![
        ("name", p.name.clone()),
        ("limit", format!("{} per {}", p.limit, p.window)),
        ("algorithm", p.algorithm.clone()),
    ];
    if let Some(burst) = p.burst {
        pairs.push(("burst", burst.to_string()));
    }
    pairs.extend([
        ("key", p.key.clone()),
        ("backend", p.backend.clone()),
        ("on backend error", p.on_backend_error.clone()),
        ("deny body", p.deny_body.clone()),
        ("source", p.source.clone()),
        ("allowed", p.allowed.to_string()),
        ("denied", p.denied.to_string()),
        ("fallbacks", p.fallbacks.to_string()),
    ]);
    output::fields(&pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Option<RatelimitCommand>, clap::Error> {
        crate::cli::parse_args::<Args>("ratelimit", argv).map(|a| a.command)
    }

    #[test]
    fn the_subcommands_parse() {
        assert!(matches!(parse(&[]), Ok(None)));
        assert!(matches!(parse(&["check", "oauth", "1.2.3.4"]), Ok(Some(RatelimitCommand::Check { cost: 1, .. }))));
        assert!(matches!(parse(&["reset", "oauth", "1.2.3.4"]), Ok(Some(RatelimitCommand::Reset { .. }))));
        let put = parse(&["put", "ai", "--limit", "20", "--window", "1m", "--algorithm", "gcra", "--burst", "40"]);
        assert!(
            matches!(put, Ok(Some(RatelimitCommand::Put { limit: 20, burst: Some(40), ref window, .. })) if window == "1m")
        );
        assert!(parse(&["put", "ai", "--window", "1m"]).is_err(), "a limit is required");
        assert!(parse(&["check", "oauth", "k", "--cost", "-1"]).is_err());
    }

    #[test]
    fn the_list_is_one_row_per_policy() {
        let policy = |name: &str, burst: Option<u64>| RateLimitPolicyView {
            name: name.into(),
            limit: 10,
            window: "5m".into(),
            algorithm: if burst.is_some() { "gcra" } else { "sliding_window" }.into(),
            burst,
            key: "ip".into(),
            backend: "redis".into(),
            source: "config".into(),
            on_backend_error: "local".into(),
            deny_body: "rampart".into(),
            allowed: 7,
            denied: 2,
            fallbacks: 0,
        };
        let text = policies_table(&[policy("oauth", None), policy("ai", Some(20))]).render();
        let expected = "\
NAME   LIMIT  ALGORITHM        KEY  BACKEND  SOURCE  ALLOWED  DENIED  FALLBACKS
oauth  10/5m  sliding_window   ip   redis    config  7        2       0
ai     10/5m  gcra (burst 20)  ip   redis    config  7        2       0
";
        assert_eq!(text, expected);
        assert!(render_policy(&policy("ai", Some(20))).contains("burst             20\n"));
    }
}
