//! Whether the store can write, as readiness asks it: the latest write the
//! database refused (a full disk, a read-only file) is kept until a probe
//! write succeeds. The probe is run on every backend by the `backend!` list;
//! a full SQLite database is made for real with `PRAGMA max_page_count`.

use rampart_store::*;

use super::{T0, at, job};

pub async fn a_write_probe_succeeds_on_a_writable_store(store: Store) {
    assert_eq!(store.write_failure(), None, "a fresh store has refused no write");
    store.write_probe(T0).await.unwrap();
    store.write_probe(at(1)).await.unwrap();
    assert_eq!(store.write_failure(), None);
}

/// A job whose payload needs pages of its own.
fn big_job() -> NewJob {
    NewJob { payload: format!(r#"{{"blob":"{}"}}"#, "x".repeat(64 * 1024)), ..job("full") }
}

#[tokio::test]
async fn a_full_sqlite_database_refuses_writes_until_it_has_room() {
    let dir = tempfile::tempdir().unwrap();
    let config = sqlite::SqliteConfig { data_dir: dir.path().to_path_buf(), durability: sqlite::Durability::Normal };
    let store = Store::open_sqlite(config).await.unwrap();
    let Store::Sqlite(sqlite) = &store else { unreachable!("an SQLite store") };
    store.job_insert_many(JobInsertParams { jobs: vec![job("full")], now: T0 }).await.unwrap();

    // No room to grow: SQLite answers SQLITE_FULL, as on a full disk.
    let pages = sqlite.max_page_count_set(1).await.unwrap();
    assert!(pages > 1, "the limit stops at the current size ({pages} pages)");
    let refused = store.job_insert_many(JobInsertParams { jobs: vec![big_job()], now: at(1) }).await;
    assert!(matches!(&refused, Err(StoreError::NotWritable(m)) if m.contains("full")), "{refused:?}");
    let failure = store.write_failure().expect("the refused write is remembered");
    assert!(failure.contains("full"), "{failure}");
    assert!(matches!(store.write_probe(at(2)).await, Err(StoreError::NotWritable(_))), "the probe needs room too");
    assert!(store.write_failure().is_some());
    // Reads go on.
    assert_eq!(store.queue_counts().await.unwrap().len(), 1);

    // Room again: the first probe that writes clears the failure.
    sqlite.max_page_count_set(u32::MAX.into()).await.unwrap();
    store.write_probe(at(3)).await.unwrap();
    assert_eq!(store.write_failure(), None);
    store.job_insert_many(JobInsertParams { jobs: vec![big_job()], now: at(4) }).await.unwrap();
}
