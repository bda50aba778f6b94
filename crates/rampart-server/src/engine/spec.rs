//! A job to enqueue, checked once: [`JobSpec::from_request`] turns the wire's
//! `EnqueueRequest` into a [`JobSpec`] or refuses it naming the field, so the
//! engine takes specs as they are and only fills in the queue's defaults.

use std::time::Duration;

use rampart_client::wire::EnqueueRequest;
use rampart_core::duration::format_duration;
use rampart_core::id::QueueName;
use rampart_core::job::{ChildDeadPolicy, MAX_FLOW_DEPTH, MAX_FLOW_JOBS, check_tenant};
use rampart_core::time::UnixMillis;

/// Longest unique key accepted, in bytes.
pub const MAX_UNIQUE_KEY_LEN: usize = 1024;
/// Longest a job may wait before it runs: `delay` at most, `run_at` at most
/// this far ahead (3650 days, about 10 years).
pub const MAX_DELAY: Duration = Duration::from_secs(3650 * 86_400);
/// Longest per-attempt `timeout` a job may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// A job to enqueue. Built from a request by [`JobSpec::from_request`],
/// which checks every field; Rust callers that build one by hand keep to the
/// same rules (a non-empty unique key, at least one attempt, a timeout longer
/// than zero).
#[derive(Debug, Clone, Default)]
pub struct JobSpec {
    /// JSON text.
    pub payload: String,
    /// Run no earlier than this; now when absent.
    pub run_at: Option<UnixMillis>,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts allowed; the queue's when absent.
    pub max_attempts: Option<u32>,
    /// Per-attempt timeout; the queue's when absent.
    pub timeout: Option<Duration>,
    /// At most one live job per queue with this key.
    pub unique_key: Option<String>,
    /// The customer the job belongs to.
    pub tenant: Option<String>,
    /// `Some` makes the job a parent waiting on these children (each with
    /// its queue); none at all runs it at once.
    pub children: Option<Vec<(QueueName, JobSpec)>>,
    /// For a parent: what a child that ends without completing does to it.
    pub on_child_dead: ChildDeadPolicy,
    /// For a parent: the longest it waits on its children.
    pub children_timeout: Option<Duration>,
}

/// Why a flow was refused: too large a tree (`FLOW_TOO_LARGE`) or a bad
/// field, each naming the limit or the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidFlow {
    /// More than [`MAX_FLOW_JOBS`] jobs.
    #[error("a flow holds at most {MAX_FLOW_JOBS} jobs (the parent and every child at every level); this one has {0}")]
    TooLarge(usize),
    /// A field of the tree is wrong.
    #[error("{0}")]
    Invalid(String),
}

/// Why an enqueue request was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSpec(pub String);

impl JobSpec {
    /// Checks a request and turns it into a spec, with `delay` resolved
    /// against `now`. Fields are named with `at` in front (`"jobs[3]."` for
    /// an item of a batch, `""` alone).
    pub fn from_request(req: EnqueueRequest, at: &str, now: UnixMillis) -> Result<JobSpec, InvalidSpec> {
        if req.queue.is_some() {
            return Err(InvalidSpec(format!(
                "invalid field `{at}queue`: only a child names its queue; the route names this job's"
            )));
        }
        Self::checked(req, at, now, 0)
    }

    /// Checks a request that may be a flow: its size first (the whole tree
    /// counted, [`MAX_FLOW_JOBS`] at most), then every job of it.
    pub fn from_flow_request(req: EnqueueRequest, at: &str, now: UnixMillis) -> Result<JobSpec, InvalidFlow> {
        // One list longer than the documented `maxItems` is a bad field,
        // as its schema says; a tree too large in total is `TooLarge`.
        if let Some(field) = long_list(&req, at) {
            return Err(InvalidFlow::Invalid(format!(
                "invalid field `{field}`: a list of children holds at most {MAX_FLOW_JOBS} jobs"
            )));
        }
        let size = flow_size(&req);
        if size > MAX_FLOW_JOBS {
            return Err(InvalidFlow::TooLarge(size));
        }
        JobSpec::from_request(req, at, now).map_err(|e| InvalidFlow::Invalid(e.0))
    }

    fn checked(req: EnqueueRequest, at: &str, now: UnixMillis, depth: usize) -> Result<JobSpec, InvalidSpec> {
        let invalid = |field: &str, problem: &str| InvalidSpec(format!("invalid field `{at}{field}`: {problem}"));
        if let Some(key) = &req.unique_key
            && (key.is_empty() || key.chars().count() > MAX_UNIQUE_KEY_LEN)
        {
            return Err(invalid("unique_key", &format!("use 1 to {MAX_UNIQUE_KEY_LEN} characters")));
        }
        if let Some(tenant) = &req.tenant {
            check_tenant(tenant).map_err(|e| invalid("tenant", &e))?;
        }
        if req.max_attempts == Some(0) {
            return Err(invalid("max_attempts", "must be at least 1"));
        }
        let timeout = req.timeout.map(|t| t.get());
        if timeout.is_some_and(|t| t.is_zero()) {
            return Err(invalid("timeout", "must be longer than 0s; omit it for no timeout"));
        }
        if timeout.is_some_and(|t| t > MAX_TIMEOUT) {
            return Err(invalid("timeout", "must be at most 24h"));
        }
        let latest = now.plus(MAX_DELAY);
        let run_at = match (req.delay, req.run_at) {
            (Some(_), Some(_)) => {
                return Err(InvalidSpec(format!("give either `{at}delay` or `{at}run_at`, not both")));
            }
            (Some(delay), None) if delay.get() > MAX_DELAY => {
                return Err(invalid("delay", &format!("must be at most {} (10 years)", format_duration(MAX_DELAY))));
            }
            (Some(delay), None) => Some(now.plus(delay.get())),
            (None, Some(run_at)) if run_at > latest => {
                return Err(invalid("run_at", &format!("must be at most 10 years ahead (before {latest})")));
            }
            (None, run_at) => run_at,
        };
        if req.children.is_none() && (req.on_child_dead.is_some() || req.children_timeout.is_some()) {
            let field = if req.on_child_dead.is_some() { "on_child_dead" } else { "children_timeout" };
            return Err(invalid(field, "applies to a parent only: give `children` too"));
        }
        let children_timeout = req.children_timeout.map(|t| t.get());
        if children_timeout.is_some_and(|t| t.is_zero() || t > MAX_DELAY) {
            return Err(invalid("children_timeout", "must be longer than 0s and at most 3650d"));
        }
        let children = match req.children {
            None => None,
            Some(_) if depth >= MAX_FLOW_DEPTH => {
                return Err(invalid("children", &format!("a flow nests at most {MAX_FLOW_DEPTH} levels of children")));
            }
            Some(list) => Some(
                list.into_iter()
                    .enumerate()
                    .map(|(i, mut child)| {
                        let at = format!("{at}children[{i}].");
                        let queue = child.queue.take().ok_or_else(|| {
                            InvalidSpec(format!("invalid field `{at}queue`: a child names its queue"))
                        })?;
                        if child.unique_key.is_some() {
                            return Err(InvalidSpec(format!(
                                "invalid field `{at}unique_key`: a child cannot have one (give the parent a unique_key)"
                            )));
                        }
                        Ok((queue, JobSpec::checked(child, &at, now, depth + 1)?))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(JobSpec {
            payload: req.payload.get().to_string(),
            run_at,
            priority: req.priority.unwrap_or(0),
            max_attempts: req.max_attempts,
            timeout,
            unique_key: req.unique_key,
            tenant: req.tenant,
            children,
            on_child_dead: req.on_child_dead.unwrap_or_default(),
            children_timeout,
        })
    }

    /// Jobs in the spec's tree, itself included.
    pub fn flow_jobs(&self) -> usize {
        1 + self.children.iter().flatten().map(|(_, c)| c.flow_jobs()).sum::<usize>()
    }
}

/// The first list of children in a request's tree longer than a whole
/// flow may be, named as a field.
fn long_list(req: &EnqueueRequest, at: &str) -> Option<String> {
    let children = req.children.as_ref()?;
    if children.len() > MAX_FLOW_JOBS {
        return Some(format!("{at}children"));
    }
    children.iter().enumerate().find_map(|(i, c)| long_list(c, &format!("{at}children[{i}].")))
}

/// Jobs in a request's tree, itself included (counted before anything else
/// is checked, so a huge tree is refused at once).
fn flow_size(req: &EnqueueRequest) -> usize {
    1 + req.children.iter().flatten().map(flow_size).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

    fn request(fields: &str) -> EnqueueRequest {
        serde_json::from_str(&format!(r#"{{"payload":{{}}{fields}}}"#)).unwrap()
    }

    fn check(fields: &str, expected: Result<(), &str>) {
        let got = JobSpec::from_request(request(fields), "jobs[2].", NOW).map(drop).map_err(|e| e.0);
        match expected {
            Ok(()) => assert!(got.is_ok(), "{fields}: {got:?}"),
            Err(part) => {
                let message = got.expect_err(fields);
                assert!(message.contains(part), "{fields}: {message}");
            }
        }
    }

    #[test]
    fn every_rule_names_its_field() {
        check("", Ok(()));
        check(r#","unique_key":"""#, Err("`jobs[2].unique_key`: use 1 to 1024 characters"));
        check(r#","tenant":"acme""#, Ok(()));
        check(r#","tenant":"""#, Err("`jobs[2].tenant`: use 1 to 200 characters"));
        check(r#","tenant":"a\nb""#, Err("`jobs[2].tenant`: must not hold control characters"));
        check(r#","max_attempts":0"#, Err("`jobs[2].max_attempts`: must be at least 1"));
        check(r#","timeout":"0s""#, Err("`jobs[2].timeout`: must be longer than 0s"));
        check(r#","timeout":"24h""#, Ok(()));
        check(r#","timeout":"24h1ms""#, Err("`jobs[2].timeout`: must be at most 24h"));
        check(r#","delay":"1s","run_at":"2030-01-01T00:00:00Z""#, Err("either `jobs[2].delay` or `jobs[2].run_at`"));
        check(r#","delay":"3650d""#, Ok(()));
        check(r#","delay":"99999999999h""#, Err("`jobs[2].delay`: must be at most 3650d (10 years)"));
        check(r#","run_at":"2066-01-01T00:00:00Z""#, Err("`jobs[2].run_at`: must be at most 10 years ahead"));
        check(r#","run_at":"2000-01-01T00:00:00Z""#, Ok(()));
        check(r#","queue":"q""#, Err("`jobs[2].queue`: only a child names its queue"));
        check(r#","children":[]"#, Ok(()));
        check(r#","children":[{"payload":1}]"#, Err("`jobs[2].children[0].queue`: a child names its queue"));
        check(r#","children":[{"queue":"q","payload":1,"unique_key":"k"}]"#, Err("`jobs[2].children[0].unique_key`"));
        check(r#","children":[{"queue":"q","payload":1,"max_attempts":0}]"#, Err("`jobs[2].children[0].max_attempts`"));
        check(r#","on_child_dead":"ignore""#, Err("`jobs[2].on_child_dead`: applies to a parent only"));
        check(r#","children_timeout":"1m""#, Err("`jobs[2].children_timeout`: applies to a parent only"));
        check(r#","children":[],"children_timeout":"0s""#, Err("`jobs[2].children_timeout`"));
        check(r#","children":[],"on_child_dead":"ignore","children_timeout":"1h""#, Ok(()));
    }

    #[test]
    fn a_flow_is_bounded_in_depth_and_size() {
        fn nested(levels: usize) -> String {
            let mut child = r#"{"queue":"q","payload":1}"#.to_string();
            for _ in 1..levels {
                child = format!(r#"{{"queue":"q","payload":1,"children":[{child}]}}"#);
            }
            format!(r#","children":[{child}]"#)
        }
        check(&nested(5), Ok(()));
        check(&nested(6), Err("a flow nests at most 5 levels of children"));
        let wide = |n: usize| {
            let kids = vec![r#"{"queue":"q","payload":1}"#; n].join(",");
            request(&format!(r#","children":[{kids}]"#))
        };
        let ok = JobSpec::from_flow_request(wide(999), "", NOW).unwrap();
        assert_eq!(ok.flow_jobs(), 1000);
        assert_eq!(JobSpec::from_flow_request(wide(1000), "", NOW).unwrap_err(), InvalidFlow::TooLarge(1001));
        let long = JobSpec::from_flow_request(wide(1001), "jobs[1].", NOW).unwrap_err();
        assert!(long.to_string().contains("`jobs[1].children`: a list of children holds at most 1000"), "{long}");
    }

    #[test]
    fn a_delay_becomes_a_time_and_the_rest_is_kept() {
        let payload = RawValue::from_string(r#"{"a":1}"#.into()).unwrap();
        let req = EnqueueRequest {
            delay: Some(Duration::from_secs(60).into()),
            priority: Some(3),
            ..EnqueueRequest::new(payload)
        };
        let spec = JobSpec::from_request(req, "", NOW).unwrap();
        assert_eq!(spec.run_at, Some(NOW.plus(Duration::from_secs(60))));
        assert_eq!((spec.payload.as_str(), spec.priority, spec.max_attempts), (r#"{"a":1}"#, 3, None));
    }
}
