//! Memory in monitoring: the server's own and the configured Redis's.
//!
//! - The server's resident memory (`VmRSS`) and its heap, read as the
//!   resident anonymous memory (`RssAnon`: what the allocator holds in RAM,
//!   plus thread stacks), from `/proc/self/status` on Linux: one small file
//!   read, no allocator hooks. Other systems report neither (`None`), and
//!   the memory rule never fires there.
//! - Redis's `used_memory` (`INFO memory`), when Redis is configured, asked
//!   once per sample through the rate limiter's connection, bounded by its
//!   `redis_timeout`; `None` while Redis is down.
//!
//! The sampler takes a [`MemorySample`] with every sample set; `/metrics`,
//! system health and the diagnostics show it, and the alerter's
//! `process_memory` and `redis_memory` rules watch it.

use crate::ratelimit::RateLimiter;

/// Memory figures at one sample; `None` where they cannot be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemorySample {
    /// The server's resident memory, in bytes.
    pub resident_bytes: Option<u64>,
    /// The server's resident anonymous memory (heap and stacks), in bytes.
    pub heap_bytes: Option<u64>,
    /// The configured Redis's `used_memory`, in bytes.
    pub redis_used_bytes: Option<u64>,
}

impl MemorySample {
    /// The server's figures now, and Redis's through `limiter` when it has Redis.
    pub async fn take(limiter: Option<&RateLimiter>) -> MemorySample {
        let (resident_bytes, heap_bytes) = process_memory();
        let redis_used_bytes = match limiter.and_then(RateLimiter::redis) {
            Some(redis) => redis.used_memory().await,
            None => None,
        };
        MemorySample { resident_bytes, heap_bytes, redis_used_bytes }
    }
}

/// The server's resident and resident anonymous memory, in bytes; `None`
/// off Linux or when `/proc` cannot be read.
pub fn process_memory() -> (Option<u64>, Option<u64>) {
    if cfg!(target_os = "linux") {
        match std::fs::read_to_string("/proc/self/status") {
            Ok(text) => (status_field(&text, "VmRSS"), status_field(&text, "RssAnon")),
            Err(_) => (None, None),
        }
    } else {
        (None, None)
    }
}

/// One `Name:   1234 kB` line of `/proc/self/status`, in bytes.
fn status_field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.split(':').next() == Some(name))?;
    let mut words = line.split(':').nth(1)?.split_whitespace();
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read_in_bytes() {
        let status = "Name:\trampart\nVmPeak:\t  900000 kB\nVmRSS:\t   51200 kB\nRssAnon:\t   30720 kB\n\
                      RssFile:\t   20480 kB\nThreads:\t9\n";
        assert_eq!(status_field(status, "VmRSS"), Some(51200 * 1024));
        assert_eq!(status_field(status, "RssAnon"), Some(30720 * 1024));
        assert_eq!(status_field(status, "Threads"), Some(9));
        assert_eq!(status_field(status, "VmSwap"), None);
        assert_eq!(status_field("VmRSS:\t12 MB\n", "VmRSS"), None, "an unknown unit is not guessed");
        assert_eq!(status_field("VmRSSX:\t12 kB\n", "VmRSS"), None);
    }

    #[test]
    fn this_process_has_resident_memory_on_linux() {
        let (resident, heap) = process_memory();
        if cfg!(target_os = "linux") {
            let (resident, heap) = (resident.unwrap(), heap.unwrap());
            assert!(resident > 1024 * 1024 && heap > 0 && heap <= resident, "{resident} {heap}");
        } else {
            assert_eq!((resident, heap), (None, None));
        }
    }
}
