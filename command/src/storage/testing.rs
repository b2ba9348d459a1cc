//! Test databases for the stores' integration tests (feature `testing`): an SQLite file in
//! a temporary directory, or the PostgreSQL server that `cargo xtask test` provides
//! ([`POSTGRES_URL_ENV`], default [`DEFAULT_POSTGRES_URL`]) with a schema of its own per
//! test (through `search_path`), so tests running in parallel never see each other.
//!
//! [`on_both_backends!`](crate::on_both_backends) turns `async fn scenario(f: &TestDb)`
//! into one test per backend; the database is thrown away also when the test fails.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use futures_util::FutureExt;
use sqlx::Row;
use watchpost_config::SecretUrl;

use crate::Database;

/// The variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_ENV: &str = "WATCHPOST_TEST_POSTGRES_URL";
/// The server used when [`POSTGRES_URL_ENV`] is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file in a fresh temporary directory.
    Sqlite,
    /// A fresh schema on the test PostgreSQL server.
    Postgres,
}

/// A database for one test, and how to throw it away ([`TestDb::finish`]).
#[derive(Debug)]
pub struct TestDb {
    /// The test's database.
    pub db: Database,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Dir(PathBuf),
    Schema { admin: Database, schema: String },
}

impl TestDb {
    /// A fresh database on `backend` for test `test` of suite `suite` (both part of the
    /// directory or schema name, with the process id).
    pub async fn open(backend: Backend, suite: &str, test: &str) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite(suite, test).await,
            Backend::Postgres => TestDb::postgres(suite, test).await,
        }
    }

    /// An SQLite file `watchpost.db` in `$TMPDIR/watchpost-<suite>-<pid>-<test>`.
    pub async fn sqlite(suite: &str, test: &str) -> TestDb {
        let dir =
            std::env::temp_dir().join(format!("watchpost-{suite}-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let url = SecretUrl::new(format!(
            "sqlite://{}?mode=rwc",
            dir.join("watchpost.db").display()
        ));
        let db = Database::connect(&url).await.expect("open sqlite");
        TestDb {
            db,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// Schema `wp_<suite>_<pid>_<test>` (see [`schema_name`]) on the test PostgreSQL
    /// server, created afresh and made the connections' `search_path`.
    pub async fn postgres(suite: &str, test: &str) -> TestDb {
        let base =
            std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let admin = Database::connect(&SecretUrl::new(&base))
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL is needed for this test ({e}); `cargo xtask test` starts one")
            });
        let schema = schema_name(&format!("wp_{suite}_{}_{test}", std::process::id()));
        let Database::Postgres { pool, .. } = &admin else {
            unreachable!()
        };
        for sql in [
            format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
            format!("CREATE SCHEMA {schema}"),
        ] {
            sqlx::query(&sql).execute(pool).await.unwrap();
        }
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        let db = Database::connect(&SecretUrl::new(url)).await.unwrap();
        TestDb {
            db,
            cleanup: Cleanup::Schema { admin, schema },
        }
    }

    /// Runs a statement, on whichever backend; panics when it fails.
    pub async fn execute(&self, sql: &str) {
        crate::on_db!(&self.db, pool => sqlx::query(sql).execute(pool).await.map(drop)).unwrap();
    }

    /// Runs `sql` returning one `BIGINT` (a `COUNT(*)`).
    pub async fn count(&self, sql: &str) -> i64 {
        crate::on_db!(&self.db, pool => sqlx::query(sql).fetch_one(pool).await.unwrap().get(0))
    }

    /// Runs `sql` returning one text column.
    pub async fn texts(&self, sql: &str) -> Vec<Option<String>> {
        crate::on_db!(&self.db, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await.unwrap();
            rows.iter().map(|r| r.get(0)).collect()
        })
    }

    /// Closes the database and throws it away (the directory, or the schema).
    pub async fn finish(self) {
        self.db.close().await;
        match self.cleanup {
            Cleanup::Dir(dir) => std::fs::remove_dir_all(dir).unwrap(),
            Cleanup::Schema { admin, schema } => {
                let Database::Postgres { pool, .. } = &admin else {
                    unreachable!()
                };
                sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(pool)
                    .await
                    .unwrap();
                admin.close().await;
            }
        }
    }
}

/// `name` as a PostgreSQL identifier that needs no quoting: lower case, every character
/// other than a letter, digit or `_` replaced by `_`, and when longer than PostgreSQL's
/// 63 bytes, its first 46 characters, `_` and 16 hex digits of a hash of the whole name
/// (so two long test names never share a schema).
pub fn schema_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect();
    if clean.len() <= 63 {
        return clean;
    }
    // FNV-1a, 64 bits: stable across runs and platforms.
    let hash = clean.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{}_{hash:016x}", &clean[..46])
}

/// Runs `scenario` on a fresh database on `backend` and throws the database away, also
/// when the scenario panics (the panic is then resumed).
pub async fn run_scenario<F>(backend: Backend, suite: &str, test: &str, scenario: F)
where
    F: AsyncFnOnce(&TestDb),
{
    let db = TestDb::open(backend, suite, test).await;
    let outcome = AssertUnwindSafe(scenario(&db)).catch_unwind().await;
    db.finish().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Generates, for each `async fn $test(f: &TestDb)` of the calling module, a module
/// `$test` with the tests `sqlite` and `postgres` (under `#[$attr]`, e.g.
/// `#[tokio::test]`), each running it on a fresh database of suite `$suite` with
/// [`run_scenario`](crate::storage::testing::run_scenario).
///
/// ```ignore
/// watchpost_command::on_both_backends!("org", #[tokio::test], centre_hierarchy, units);
/// ```
#[macro_export]
macro_rules! on_both_backends {
    ($suite:literal, #[$attr:meta], $($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[$attr]
                async fn sqlite() {
                    $crate::storage::testing::run_scenario(
                        $crate::storage::testing::Backend::Sqlite,
                        $suite,
                        stringify!($test),
                        super::$test,
                    )
                    .await;
                }

                #[$attr]
                async fn postgres() {
                    $crate::storage::testing::run_scenario(
                        $crate::storage::testing::Backend::Postgres,
                        $suite,
                        stringify!($test),
                        super::$test,
                    )
                    .await;
                }
            }
        )*
    };
}
