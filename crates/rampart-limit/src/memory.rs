//! The in-process backend: keys' states in memory, sharded and bounded.
//!
//! Keys are `(PolicyId, &str)`. One hash of the pair picks a shard and then
//! the slot inside it, so a check takes one uncontended lock, one probe and
//! no allocation. Each shard is a `Mutex` around a dense `Vec` of slots and a
//! hash table of indices into it (64 bytes a slot plus the key's own
//! allocation), which is what keeps a million keys in about 100 MB.
//!
//! The bound, and what it costs:
//!
//! - A key whose state decides like a fresh one ([`Policy::idle_at`] has
//!   passed) is idle: [`MemoryLimiter::sweep`] drops those, and a full shard
//!   reuses them first when its hand meets them.
//! - The limiter never holds more than `max_keys`: each shard holds
//!   `max_keys / shards`, so a shard can begin evicting a little before the
//!   total reaches `max_keys`. A new key in a full shard replaces the oldest
//!   one that has not been checked since the shard's hand last passed it
//!   (CLOCK, a second chance: pure insertion order when no key is checked
//!   twice, and a flood of new keys cannot evict a key that is in use before
//!   the hand has gone round the whole shard).
//! - An evicted key starts fresh: that is the price of the bound. Size
//!   `max_keys` above the keys live in one window so that only floods evict.
//!
//! A check that is denied for a key with no state stores nothing: its state
//! would decide like a fresh key anyway.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;

use hashbrown::HashTable;

use crate::policy::{Decision, Nanos, Policy, State};

/// Which named policy a key belongs to; the server numbers its policies, so
/// the same key string under two policies is two keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyId(pub u32);

/// One check of a multi-policy request: see [`MemoryLimiter::check_all`].
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// The policy's id, half of the key.
    pub id: PolicyId,
    /// The policy itself.
    pub policy: &'a Policy,
    /// The key string, the other half.
    pub key: &'a str,
    /// What the request costs under this policy.
    pub cost: u64,
}

/// Fewer shards than this many keys each would make the per-shard bound too
/// coarse, so small limiters get fewer shards.
const MIN_KEYS_PER_SHARD: usize = 64;
/// More shards than this buy no less contention.
const MAX_SHARDS: usize = 1024;
/// `check_all` with at most this many checks keeps its bookkeeping on the stack.
const INLINE_CHECKS: usize = 8;

/// Rate-limit states in process memory, shared by every task behind an `Arc`.
pub struct MemoryLimiter {
    shards: Box<[Shard]>,
    hasher: RandomState,
    /// Keys each shard holds at most.
    shard_capacity: usize,
}

/// A cache line (two, for adjacent-line prefetch) to itself, so two cores
/// locking neighbouring shards do not share one.
#[repr(align(128))]
struct Shard(Mutex<Keys>);

struct Keys {
    /// Indices into `slots`, found by the key's hash.
    table: HashTable<u32>,
    /// Dense, so a slot costs its size and not a table bucket's share.
    slots: Vec<Slot>,
    /// Where the eviction hand goes next (may be past the end: it wraps).
    hand: usize,
}

struct Slot {
    state: State,
    key: Box<str>,
    /// Cached [`Policy::idle_at`], so eviction needs no policy.
    idle_at: Nanos,
    policy: PolicyId,
    /// Checked since the hand last passed: spared once.
    used: bool,
}

impl MemoryLimiter {
    /// A limiter that holds at most `max_keys` keys (at least one), with a
    /// shard count from the machine's parallelism.
    pub fn new(max_keys: usize) -> Self {
        let parallelism = thread::available_parallelism().map_or(4, |n| n.get());
        let mut shards = (parallelism * 8).next_power_of_two().min(MAX_SHARDS);
        while shards > 1 && max_keys / shards < MIN_KEYS_PER_SHARD {
            shards /= 2;
        }
        Self::with_shards(max_keys, shards)
    }

    fn with_shards(max_keys: usize, shards: usize) -> Self {
        debug_assert!(shards.is_power_of_two() && shards <= MAX_SHARDS);
        let shard_capacity = (max_keys / shards).clamp(1, u32::MAX as usize);
        let shards = (0..shards)
            .map(|_| Shard(Mutex::new(Keys { table: HashTable::new(), slots: Vec::new(), hand: 0 })))
            .collect();
        MemoryLimiter { shards, hasher: RandomState::new(), shard_capacity }
    }

    /// The most keys this limiter holds.
    pub fn max_keys(&self) -> usize {
        self.shard_capacity * self.shards.len()
    }

    /// Checks `cost` against `key` under `policy` at `now` and counts it when
    /// allowed.
    pub fn check(&self, id: PolicyId, policy: &Policy, key: &str, cost: u64, now: Nanos) -> Decision {
        let hash = self.hash(id, key);
        let mut keys = self.lock(hash);
        match keys.find(hash, id, key) {
            Some(i) => {
                let slot = &mut keys.slots[i];
                let (decision, state) = policy.evaluate(Some(&slot.state), cost, now);
                slot.set(policy, state);
                decision
            }
            None => {
                let (decision, state) = policy.evaluate(None, cost, now);
                if decision.allowed && cost > 0 {
                    let slot = Slot::new(id, key, policy, state);
                    keys.insert(hash, slot, self.shard_capacity, now, &self.hasher);
                }
                decision
            }
        }
    }

    /// Checks one request against several policies at once: it is allowed
    /// only if every check allows it, and a denied request counts against
    /// none of them. Answers the binding check's decision and its index: the
    /// first denying check, or when all allow the one with the least
    /// remaining. `None` only for no checks.
    ///
    /// The shards involved are locked together, in index order so that two
    /// concurrent calls cannot deadlock.
    pub fn check_all(&self, checks: &[Check<'_>], now: Nanos) -> Option<(Decision, usize)> {
        let n = checks.len();
        if n == 0 {
            return None;
        }
        if n <= INLINE_CHECKS {
            let mut hashes = [0; INLINE_CHECKS];
            let mut shards = [0; INLINE_CHECKS];
            let mut guards = [const { None }; INLINE_CHECKS];
            let mut outcomes = [None; INLINE_CHECKS];
            Some(self.check_all_in(
                checks,
                now,
                &mut hashes[..n],
                &mut shards[..n],
                &mut guards[..n],
                &mut outcomes[..n],
            ))
        } else {
            let mut guards: Vec<_> = std::iter::repeat_with(|| None).take(n).collect();
            Some(self.check_all_in(checks, now, &mut vec![0; n], &mut vec![0; n], &mut guards, &mut vec![None; n]))
        }
    }

    /// [`check_all`](Self::check_all) with its scratch space given, each
    /// slice as long as `checks`.
    fn check_all_in<'s>(
        &'s self,
        checks: &[Check<'_>],
        now: Nanos,
        hashes: &mut [u64],
        shards: &mut [usize],
        guards: &mut [Option<MutexGuard<'s, Keys>>],
        outcomes: &mut [Option<(Decision, State)>],
    ) -> (Decision, usize) {
        for (i, check) in checks.iter().enumerate() {
            hashes[i] = self.hash(check.id, check.key);
            shards[i] = self.shard_of(hashes[i]);
        }
        shards.sort_unstable();
        let mut distinct = 0;
        for i in 0..shards.len() {
            if distinct == 0 || shards[distinct - 1] != shards[i] {
                shards[distinct] = shards[i];
                distinct += 1;
            }
        }
        let shards = &shards[..distinct];
        for (guard, &shard) in guards.iter_mut().zip(shards) {
            *guard = Some(lock(&self.shards[shard]));
        }
        let guard_of = |hash: u64| shards.binary_search(&self.shard_of(hash)).unwrap_or_default();

        for (i, check) in checks.iter().enumerate() {
            // A key checked twice in one request sees its earlier check.
            let earlier = (0..i).rev().find(|&j| checks[j].id == check.id && checks[j].key == check.key);
            let state = match earlier {
                Some(j) => outcomes[j].map(|(_, state)| state),
                None => guards[guard_of(hashes[i])].as_mut().and_then(|keys| {
                    let at = keys.find(hashes[i], check.id, check.key)?;
                    let slot = &mut keys.slots[at];
                    slot.used = true;
                    Some(slot.state)
                }),
            };
            outcomes[i] = Some(check.policy.evaluate(state.as_ref(), check.cost, now));
        }
        let mut binding: Option<(Decision, usize)> = None;
        for (i, &(decision, _)) in outcomes.iter().flatten().enumerate() {
            binding = match binding {
                Some((b, _)) if !b.allowed => binding,
                Some((b, _)) if decision.allowed && b.remaining <= decision.remaining => binding,
                _ => Some((decision, i)),
            };
        }
        let Some((decision, index)) = binding else { unreachable!("check_all has at least one check") };

        if decision.allowed {
            for (i, check) in checks.iter().enumerate() {
                let (Some(keys), Some((_, state))) = (guards[guard_of(hashes[i])].as_mut(), outcomes[i]) else {
                    continue;
                };
                match keys.find(hashes[i], check.id, check.key) {
                    Some(at) => keys.slots[at].set(check.policy, state),
                    None if check.cost > 0 => {
                        let slot = Slot::new(check.id, check.key, check.policy, state);
                        keys.insert(hashes[i], slot, self.shard_capacity, now, &self.hasher);
                    }
                    None => {}
                }
            }
        }
        for guard in guards.iter_mut() {
            *guard = None;
        }
        (decision, index)
    }

    /// What a check of `key` would see at `now`, counting nothing. `None`
    /// when the key has no state that matters: it would decide as fresh.
    pub fn peek(&self, id: PolicyId, policy: &Policy, key: &str, now: Nanos) -> Option<Decision> {
        let hash = self.hash(id, key);
        let keys = self.lock(hash);
        let slot = &keys.slots[keys.find(hash, id, key)?];
        (slot.idle_at > now).then(|| policy.evaluate(Some(&slot.state), 0, now).0)
    }

    /// Forgets `key`: its next check starts fresh. Answers whether it had a
    /// state.
    pub fn reset(&self, id: PolicyId, key: &str) -> bool {
        let hash = self.hash(id, key);
        let mut keys = self.lock(hash);
        match keys.find(hash, id, key) {
            Some(i) => {
                keys.remove(i, &self.hasher);
                true
            }
            None => false,
        }
    }

    /// Drops every idle key, one shard at a time so that checks wait at most
    /// for one shard's scan. Answers how many it dropped.
    pub fn sweep(&self, now: Nanos) -> usize {
        let mut dropped = 0;
        for shard in &self.shards {
            let mut keys = lock(shard);
            // Backwards, so the slot `swap_remove` moves in has been looked at.
            for i in (0..keys.slots.len()).rev() {
                if keys.slots[i].idle_at <= now {
                    keys.remove(i, &self.hasher);
                    dropped += 1;
                }
            }
        }
        dropped
    }

    /// How many keys have a state (idle ones included until swept).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).slots.len()).sum()
    }

    /// Whether no key has a state.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|shard| lock(shard).slots.is_empty())
    }

    fn hash(&self, id: PolicyId, key: &str) -> u64 {
        hash_key(&self.hasher, id, key)
    }

    /// Bits 40 and up, below the 7 top bits the table keeps per bucket and
    /// above the low bits that pick its bucket, so shards do not thin out
    /// either.
    fn shard_of(&self, hash: u64) -> usize {
        (hash >> 40) as usize & (self.shards.len() - 1)
    }

    fn lock(&self, hash: u64) -> MutexGuard<'_, Keys> {
        lock(&self.shards[self.shard_of(hash)])
    }
}

impl std::fmt::Debug for MemoryLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLimiter")
            .field("shards", &self.shards.len())
            .field("max_keys", &self.max_keys())
            .finish_non_exhaustive()
    }
}

/// No code panics while it holds a shard half-updated, so a poisoned lock
/// still guards consistent data.
fn lock(shard: &Shard) -> MutexGuard<'_, Keys> {
    shard.0.lock().unwrap_or_else(PoisonError::into_inner)
}

fn hash_key(hasher: &RandomState, id: PolicyId, key: &str) -> u64 {
    hasher.hash_one((id.0, key))
}

impl Slot {
    fn new(id: PolicyId, key: &str, policy: &Policy, state: State) -> Slot {
        Slot { state, key: key.into(), idle_at: policy.idle_at(&state), policy: id, used: false }
    }

    fn set(&mut self, policy: &Policy, state: State) {
        self.state = state;
        self.idle_at = policy.idle_at(&state);
        self.used = true;
    }
}

impl Keys {
    fn find(&self, hash: u64, id: PolicyId, key: &str) -> Option<usize> {
        let slots = &self.slots;
        let found = self.table.find(hash, |&i| {
            let slot = &slots[i as usize];
            slot.policy == id && *slot.key == *key
        });
        found.map(|&i| i as usize)
    }

    /// Adds a key not present, replacing another when the shard is full.
    fn insert(&mut self, hash: u64, slot: Slot, capacity: usize, now: Nanos, hasher: &RandomState) {
        let len = self.slots.len();
        let at = if len < capacity {
            if len == self.slots.capacity() {
                // Doubling, but never past the shard's bound.
                self.slots.reserve_exact(len.max(4).min(capacity - len));
            }
            self.slots.push(slot);
            len
        } else {
            let at = self.victim(now);
            self.unindex(at, hasher);
            self.slots[at] = slot;
            at
        };
        let slots = &self.slots;
        self.table.insert_unique(hash, at as u32, |&i| slot_hash(hasher, &slots[i as usize]));
    }

    /// The slot a new key replaces: the first from the hand that is idle or
    /// was not checked since the hand last passed (sparing those once).
    /// Found within one turn plus one, since the turn clears every mark.
    fn victim(&mut self, now: Nanos) -> usize {
        let n = self.slots.len();
        loop {
            let i = self.hand % n;
            self.hand = i + 1;
            let slot = &mut self.slots[i];
            if !slot.used || slot.idle_at <= now {
                return i;
            }
            slot.used = false;
        }
    }

    fn remove(&mut self, at: usize, hasher: &RandomState) {
        self.unindex(at, hasher);
        let last = self.slots.len() - 1;
        if at != last {
            let hash = slot_hash(hasher, &self.slots[last]);
            if let Some(i) = self.table.find_mut(hash, |&i| i as usize == last) {
                *i = at as u32;
            }
        }
        self.slots.swap_remove(at);
    }

    /// Takes slot `at` out of the table, leaving it in `slots`.
    fn unindex(&mut self, at: usize, hasher: &RandomState) {
        let hash = slot_hash(hasher, &self.slots[at]);
        if let Ok(entry) = self.table.find_entry(hash, |&i| i as usize == at) {
            entry.remove();
        }
    }
}

fn slot_hash(hasher: &RandomState, slot: &Slot) -> u64 {
    hash_key(hasher, slot.policy, &slot.key)
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::policy::Algorithm;

    const SECOND: Nanos = 1_000_000_000;
    /// Some time in 2025, on a window boundary for whole-second windows.
    const T0: Nanos = 1_750_000_000 * SECOND;

    fn policy(limit: u64, algorithm: Algorithm) -> Policy {
        Policy::new(limit, Duration::from_secs(1), algorithm, None).unwrap()
    }

    #[test]
    fn slot_stays_small() {
        assert!(std::mem::size_of::<Slot>() <= 64, "{} bytes", std::mem::size_of::<Slot>());
    }

    #[test]
    fn allows_then_denies_then_recovers_for_each_algorithm() {
        for algorithm in [Algorithm::FixedWindow, Algorithm::SlidingWindow, Algorithm::Gcra] {
            let limiter = MemoryLimiter::new(1000);
            let policy = policy(3, algorithm);
            let id = PolicyId(1);
            for n in 0..3 {
                let decision = limiter.check(id, &policy, "a", 1, T0);
                assert!(decision.allowed, "{algorithm}: check {n}");
                assert_eq!(decision.remaining, 2 - n, "{algorithm}");
            }
            let denied = limiter.check(id, &policy, "a", 1, T0);
            assert!(!denied.allowed, "{algorithm}");
            assert!(denied.retry_after.is_some(), "{algorithm}");
            assert!(limiter.check(id, &policy, "b", 1, T0).allowed, "{algorithm}: another key");
            assert!(limiter.check(PolicyId(2), &policy, "a", 1, T0).allowed, "{algorithm}: another policy");
            // Two windows on, every algorithm has forgotten.
            assert!(limiter.check(id, &policy, "a", 1, T0 + 2 * SECOND).allowed, "{algorithm}: later");
            assert_eq!(limiter.len(), 3, "{algorithm}");
        }
    }

    #[test]
    fn denied_fresh_key_is_not_stored() {
        let limiter = MemoryLimiter::new(1000);
        let policy = policy(3, Algorithm::FixedWindow);
        assert!(!limiter.check(PolicyId(1), &policy, "a", 4, T0).allowed);
        assert!(limiter.is_empty());
    }

    #[test]
    fn check_all_denied_consumes_from_none() {
        let limiter = MemoryLimiter::new(1000);
        let (wide, narrow) = (policy(10, Algorithm::SlidingWindow), policy(1, Algorithm::FixedWindow));
        let checks = [
            Check { id: PolicyId(1), policy: &wide, key: "user", cost: 1 },
            Check { id: PolicyId(2), policy: &narrow, key: "user", cost: 1 },
        ];
        let (decision, index) = limiter.check_all(&checks, T0).unwrap();
        assert!(decision.allowed);
        assert_eq!((index, decision.remaining), (1, 0), "the one with the least remaining binds");

        let (decision, index) = limiter.check_all(&checks, T0).unwrap();
        assert!(!decision.allowed);
        assert_eq!(index, 1);
        assert_eq!(limiter.peek(PolicyId(1), &wide, "user", T0).unwrap().remaining, 9, "nothing consumed");

        assert_eq!(limiter.check_all(&[], T0), None);
    }

    #[test]
    fn check_all_counts_a_repeated_key_once_per_check() {
        let limiter = MemoryLimiter::new(1000);
        let policy = policy(3, Algorithm::FixedWindow);
        let check = Check { id: PolicyId(1), policy: &policy, key: "k", cost: 2 };
        let (decision, _) = limiter.check_all(&[check, check], T0).unwrap();
        assert!(!decision.allowed, "2 + 2 > 3");
        assert_eq!(limiter.peek(PolicyId(1), &policy, "k", T0), None);
        let (decision, index) = limiter.check_all(&[check, Check { cost: 1, ..check }], T0).unwrap();
        assert!(decision.allowed);
        assert_eq!((index, decision.remaining), (1, 0));
    }

    #[test]
    fn check_all_beyond_the_inline_size() {
        let limiter = MemoryLimiter::new(1000);
        let policy = policy(1, Algorithm::Gcra);
        let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
        let checks: Vec<Check<'_>> =
            keys.iter().map(|key| Check { id: PolicyId(1), policy: &policy, key, cost: 1 }).collect();
        assert!(limiter.check_all(&checks, T0).unwrap().0.allowed);
        assert_eq!(limiter.len(), 20);
        let (decision, index) = limiter.check_all(&checks, T0).unwrap();
        assert_eq!((decision.allowed, index), (false, 0));
    }

    #[test]
    fn reset_forgets_a_key() {
        let limiter = MemoryLimiter::new(1000);
        let policy = policy(1, Algorithm::FixedWindow);
        assert!(limiter.check(PolicyId(1), &policy, "a", 1, T0).allowed);
        assert!(limiter.check(PolicyId(1), &policy, "b", 1, T0).allowed);
        assert!(!limiter.check(PolicyId(1), &policy, "a", 1, T0).allowed);
        assert!(limiter.reset(PolicyId(1), "a"));
        assert!(!limiter.reset(PolicyId(1), "a"));
        assert!(limiter.check(PolicyId(1), &policy, "a", 1, T0).allowed);
        assert!(!limiter.check(PolicyId(1), &policy, "b", 1, T0).allowed, "b kept its count");
    }

    #[test]
    fn sweep_drops_idle_keys_only() {
        let limiter = MemoryLimiter::new(10_000);
        let short = policy(5, Algorithm::SlidingWindow);
        let long = Policy::new(5, Duration::from_secs(60), Algorithm::Gcra, None).unwrap();
        for i in 0..500 {
            limiter.check(PolicyId(1), &short, &format!("s{i}"), 1, T0);
            limiter.check(PolicyId(2), &long, &format!("l{i}"), 1, T0);
        }
        assert_eq!(limiter.sweep(T0 + SECOND), 0, "the sliding window still weighs the last one");
        assert_eq!(limiter.sweep(T0 + 2 * SECOND), 500);
        assert_eq!(limiter.len(), 500);
        for i in 0..500 {
            assert!(limiter.peek(PolicyId(2), &long, &format!("l{i}"), T0 + 2 * SECOND).is_some());
        }
        assert_eq!(limiter.sweep(T0 + 60 * SECOND), 500);
        assert!(limiter.is_empty());
    }

    #[test]
    fn a_million_keys_stay_under_the_cap() {
        let limiter = MemoryLimiter::new(100_000);
        let policy = policy(10, Algorithm::FixedWindow);
        let mut key = String::new();
        for i in 0..1_000_000 {
            key.clear();
            write!(key, "user:{i}").unwrap();
            assert!(limiter.check(PolicyId(1), &policy, &key, 1, T0).allowed);
        }
        let len = limiter.len();
        assert!((90_000..=100_000).contains(&len), "{len} keys");
        // Each shard keeps its newest keys: the last 20,000 are 1/5 of the cap.
        for i in 980_000..1_000_000 {
            key.clear();
            write!(key, "user:{i}").unwrap();
            assert!(limiter.peek(PolicyId(1), &policy, &key, T0).is_some(), "{key} evicted");
        }
    }

    #[test]
    fn a_full_shard_spares_keys_in_use() {
        let limiter = MemoryLimiter::with_shards(4, 1);
        let policy = policy(10, Algorithm::FixedWindow);
        let id = PolicyId(1);
        for key in ["a", "b", "c", "d"] {
            limiter.check(id, &policy, key, 1, T0);
        }
        limiter.check(id, &policy, "a", 1, T0);
        limiter.check(id, &policy, "e", 1, T0);
        assert_eq!(limiter.len(), 4);
        assert!(limiter.peek(id, &policy, "a", T0).is_some(), "a was in use");
        assert!(limiter.peek(id, &policy, "b", T0).is_none(), "b was the oldest unused");
        // An idle key goes before an unused live one.
        let later = T0 + SECOND;
        limiter.check(id, &policy, "c", 1, later);
        limiter.check(id, &policy, "d", 1, later);
        limiter.check(id, &policy, "e", 1, later);
        limiter.check(id, &policy, "f", 1, later);
        assert!(limiter.peek(id, &policy, "a", later).is_none(), "a was idle");
        assert_eq!(limiter.len(), 4);
    }

    #[test]
    fn concurrent_checks_admit_exactly_the_limit() {
        const LIMIT: u64 = 1000;
        let limiter = Arc::new(MemoryLimiter::new(1000));
        let policy = policy(LIMIT, Algorithm::FixedWindow);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                thread::spawn(move || {
                    (0..500).filter(|_| limiter.check(PolicyId(1), &policy, "hot", 1, T0).allowed).count()
                })
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(admitted as u64, LIMIT);
    }
}
