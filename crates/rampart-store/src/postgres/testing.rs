//! Throw-away databases for tests that need PostgreSQL: each test gets its
//! own database, so tests run in parallel and leave nothing behind.
//!
//! The server is found at `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be reached
//! the test prints that it skipped, unless `CI` is `true`: there a missing
//! service fails the test.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::NoTls;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database created for one test and dropped when this is dropped.
pub struct TestDatabase {
    /// The URL of the new database.
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates a fresh, empty database; `None` (after saying so) when
    /// PostgreSQL is not reachable outside CI.
    pub async fn create(test: &str) -> Option<TestDatabase> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string());
        let admin = match connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{test}: PostgreSQL at {admin_url} is required under CI=true: {e}");
                }
                eprintln!("skipped {test}: PostgreSQL at {admin_url} is not reachable ({e})");
                return None;
            }
        };
        let name = format!(
            "rampart_test_{}_{}_{:08x}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create a test database");
        let url = url_with_database(&admin_url, &name);
        Some(TestDatabase { url, name, admin_url })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let admin = connect(&admin_url).await.map_err(std::io::Error::other)?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(std::io::Error::other)
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `url` with its database (the path) replaced by `name`.
fn url_with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(url_with_database("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(url_with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
        assert_eq!(
            url_with_database("postgresql://u@h/x?sslmode=disable", "t1"),
            "postgresql://u@h/t1?sslmode=disable"
        );
    }
}
