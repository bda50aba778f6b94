//! API keys: generation, hashing, lookup with a short cache, and the admin
//! key created on first start.
//!
//! Keys are 32 random bytes, shown once; the store keeps their SHA-256. A
//! fast hash is right here: the keys are random, not passwords, so there is
//! nothing to brute-force, and every request needs a lookup.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_core::auth::Role;
use rampart_core::time::UnixMillis;
use rampart_store::{ApiKeyInsert, ApiKeyRecord, Store, StoreError};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

/// How long a successful lookup is trusted before the store is asked again;
/// bounds how long a key revoked on another node keeps working.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// Longest a request waits for another request's lookup of the same key
/// (see [`Authenticator::join`]) before it pays for its own.
const JOIN_WAIT: Duration = Duration::from_secs(2);
/// Characters of a key kept in the clear to recognise it in listings.
const PREFIX_LEN: usize = 12;

/// A freshly made key: the secret and what is stored about it.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The secret, to hand to the user once.
    pub key: String,
    /// The stored record.
    pub record: ApiKeyRecord,
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing API key: send `Authorization: Bearer <key>`")]
    Missing,
    /// The key is unknown or revoked.
    #[error("the API key is not valid (unknown or revoked)")]
    Invalid,
    /// The store could not be asked.
    #[error(transparent)]
    Store(StoreError),
}

/// Checks keys against the store, caching hits briefly.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    cache: Arc<Mutex<HashMap<String, (ApiKeyRecord, Instant)>>>,
    /// The keys a request is looking up right now, by hash, with what wakes
    /// the requests waiting for that lookup.
    inflight: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
}

/// What [`Authenticator::join`] found for a bearer token.
pub enum Joined {
    /// Verified, by this request's wait or earlier.
    Verified(ApiKeyRecord),
    /// No lookup of it was in flight: this request makes it, and wakes the
    /// others when it is done (or dropped).
    Lead(Lead),
    /// Another request looked it up and it did not verify (or took longer
    /// than the wait).
    Unverified,
}

/// The request making a key's lookup; dropping it wakes the requests
/// waiting for that lookup.
pub struct Lead {
    inflight: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    hash: String,
    notify: Arc<Notify>,
}

impl Drop for Lead {
    fn drop(&mut self) {
        finish(&self.inflight, &self.hash, Some(&self.notify));
    }
}

/// Ends a lookup in flight: forgets it (only if it is still `notify`'s,
/// when given) and wakes its waiters.
fn finish(inflight: &Mutex<HashMap<String, Arc<Notify>>>, hash: &str, notify: Option<&Arc<Notify>>) {
    let Ok(mut map) = inflight.lock() else { return };
    let ours = map.get(hash).is_some_and(|n| notify.is_none_or(|mine| Arc::ptr_eq(n, mine)));
    if ours && let Some(n) = map.remove(hash) {
        n.notify_waiters();
    }
}

impl Authenticator {
    /// An authenticator over `store`.
    pub fn new(store: Store) -> Authenticator {
        Authenticator { store, cache: Arc::default(), inflight: Arc::default() }
    }

    /// Joins the lookup of a bearer token not verified yet: the first
    /// request with it leads (pays for it and looks it up), the ones that
    /// arrive meanwhile wait for that lookup instead of each paying the
    /// per-address limit. So a client opening a hundred requests at once
    /// with a valid key, or all of them as the cache expires, is not
    /// refused as if it were guessing keys, and a wrong key still costs one
    /// lookup and one payment per request once the wait is over.
    pub async fn join(&self, key: &str) -> Joined {
        let hash = hash_key(key);
        if let Some(record) = self.cached_hash(&hash) {
            return Joined::Verified(record);
        }
        let notify = {
            let Ok(mut map) = self.inflight.lock() else { return Joined::Unverified };
            match map.get(&hash) {
                Some(n) => n.clone(),
                None => {
                    let notify = Arc::new(Notify::new());
                    map.insert(hash.clone(), notify.clone());
                    return Joined::Lead(Lead { inflight: self.inflight.clone(), hash, notify });
                }
            }
        };
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        // The lookup may have ended between the first look and `enable`.
        let still = self.inflight.lock().is_ok_and(|map| map.get(&hash).is_some_and(|n| Arc::ptr_eq(n, &notify)));
        if still {
            let _ = tokio::time::timeout(JOIN_WAIT, woken).await;
        }
        self.cached_hash(&hash).map_or(Joined::Unverified, Joined::Verified)
    }

    /// The key record of a bearer token.
    pub async fn authenticate(&self, key: &str) -> Result<ApiKeyRecord, AuthError> {
        let hash = hash_key(key);
        if let Some(record) = self.cached_hash(&hash) {
            return Ok(record);
        }
        let record =
            self.store.api_key_find(hash.clone()).await.map_err(AuthError::Store)?.ok_or(AuthError::Invalid)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(hash.clone(), (record.clone(), Instant::now()));
        }
        // Requests waiting for this key go on at once, not when this
        // request ends (a long-poll may hold its lead for 30 seconds).
        finish(&self.inflight, &hash, None);
        Ok(record)
    }

    /// The key record of a bearer token when this node verified it in the
    /// last few seconds: no store lookup, so it costs one hash and one map
    /// probe (the API's own rate limits ask before anything else).
    pub fn cached(&self, key: &str) -> Option<ApiKeyRecord> {
        self.cached_hash(&hash_key(key))
    }

    fn cached_hash(&self, hash: &str) -> Option<ApiKeyRecord> {
        let cache = self.cache.lock().ok()?;
        let (record, at) = cache.get(hash)?;
        (at.elapsed() < CACHE_TTL).then(|| record.clone())
    }

    /// Creates and stores a key.
    pub async fn create(&self, name: String, role: Role, now: UnixMillis) -> Result<NewKey, StoreError> {
        let key = generate_key();
        let record = self
            .store
            .api_key_insert(ApiKeyInsert {
                name,
                role,
                hash: hash_key(&key),
                prefix: key[..PREFIX_LEN].to_string(),
                now,
            })
            .await?;
        Ok(NewKey { key, record })
    }

    /// Revokes a key by id or name; false when no live key matched.
    pub async fn revoke(&self, id_or_name: String, now: UnixMillis) -> Result<bool, StoreError> {
        let revoked = self.store.api_key_revoke(id_or_name, now).await?;
        if revoked && let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
        Ok(revoked)
    }

    /// On a store with no keys at all, creates an admin key and writes it to
    /// `<data_dir>/admin.key` (mode 0600, the directory created if missing);
    /// answers the file's path when it did.
    ///
    /// Nodes sharing one database may start together and all find no keys:
    /// only one insert of the live name `admin` succeeds, and the others
    /// answer `None`, as if they had found that node's key.
    pub async fn bootstrap(&self, data_dir: &Path, now: UnixMillis) -> Result<Option<PathBuf>, BootstrapError> {
        if !self.store.api_key_list().await?.is_empty() {
            return Ok(None);
        }
        // Before the key exists: a key whose file cannot be written is lost.
        std::fs::create_dir_all(data_dir).map_err(|e| BootstrapError::Write(data_dir.to_path_buf(), e))?;
        let new = match self.create("admin".into(), Role::Admin, now).await {
            Ok(new) => new,
            Err(StoreError::Conflict(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let path = data_dir.join("admin.key");
        write_secret(&path, &new.key).map_err(|e| BootstrapError::Write(path.clone(), e))?;
        Ok(Some(path))
    }
}

/// Why the first admin key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key file could not be written.
    #[error("cannot write the admin key to {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// SHA-256 of a key, hex.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn generate_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("rk_{}", hex::encode(bytes))
}

fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    writeln!(f, "{secret}")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hash_stably() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(a.starts_with("rk_") && a.len() == 67, "{a}");
        assert_eq!(hash_key(&a), hash_key(&a));
        assert_ne!(hash_key(&a), hash_key(&b));
        assert_eq!(hash_key(&a).len(), 64);
    }

    #[tokio::test]
    async fn nodes_bootstrapping_together_make_one_admin_key() {
        let dir = tempfile::tempdir().unwrap();
        let config = rampart_store::sqlite::SqliteConfig {
            data_dir: dir.path().join("data"),
            durability: rampart_store::sqlite::Durability::Normal,
        };
        let auth = Authenticator::new(Store::open_sqlite(config).await.unwrap());
        // Two nodes' data directories, not created yet.
        let (a, b) = (dir.path().join("node-a"), dir.path().join("node-b"));
        let now = UnixMillis(1_800_000_000_000);
        let (made_a, made_b) = tokio::join!(auth.bootstrap(&a, now), auth.bootstrap(&b, now));
        let made: Vec<PathBuf> = [made_a.unwrap(), made_b.unwrap()].into_iter().flatten().collect();
        assert_eq!(made.len(), 1, "{made:?}");
        let key = std::fs::read_to_string(&made[0]).unwrap();
        assert_eq!(auth.authenticate(key.trim()).await.unwrap().role, Role::Admin);
        assert_eq!(auth.store.api_key_list().await.unwrap().len(), 1);
        assert_eq!(auth.bootstrap(&a, now).await.unwrap(), None);
    }
}
