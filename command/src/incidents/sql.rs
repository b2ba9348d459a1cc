//! The store's SQL plumbing: a write transaction over either backend ([`Tx`]) and a row
//! reader both backends implement ([`RowRead`]), so that each multi-step operation is
//! written once in plain `async` Rust instead of inside an [`on_db!`] body per statement.
//!
//! Queries are written once with `$N` placeholders and bound with [`bind_args!`], as in
//! the rest of the workspace.

use std::borrow::Cow;

use sqlx::Row;
use sqlx::postgres::{PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteRow};

use crate::storage::Arg;
use crate::{Database, bind_args, on_db};

/// Reads typed columns of a row by name, on either backend (`TEXT`, `BIGINT`, `BOOLEAN`).
pub(crate) trait RowRead {
    /// A `TEXT NOT NULL` column.
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    /// A nullable `TEXT` column.
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// A `BIGINT NOT NULL` column (or `COUNT(*)`).
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    /// A nullable `BIGINT` column.
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
}

macro_rules! impl_row_read {
    ($($row:ty),*) => {$(
        impl RowRead for $row {
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
        }
    )*};
}

impl_row_read!(SqliteRow, PgRow);

/// A write transaction on either backend that holds the database's write lock from its
/// first statement (see [`Tx::begin`]). Dropped without [`commit`](Tx::commit), it rolls
/// back.
#[derive(Debug)]
pub(crate) enum Tx {
    /// SQLite, begun with `BEGIN IMMEDIATE`.
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// PostgreSQL (`READ COMMITTED`); rows are locked with `FOR UPDATE`.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// Begins a write transaction.
    ///
    /// SQLite: `BEGIN IMMEDIATE` takes the database's write lock up front (waiting up to
    /// the busy timeout for another writer). A deferred transaction that reads first and
    /// writes later can fail in WAL mode with `SQLITE_BUSY_SNAPSHOT` without waiting,
    /// when another connection committed in between; taking the lock first serialises
    /// writers instead. PostgreSQL: a plain `BEGIN`; the rows a transaction changes are
    /// locked with [`Tx::for_update`] when read.
    pub(crate) async fn begin(db: &Database) -> Result<Tx, sqlx::Error> {
        Ok(match db {
            Database::Sqlite { pool, .. } => {
                Tx::Sqlite(pool.begin_with(Cow::Borrowed("BEGIN IMMEDIATE")).await?)
            }
            Database::Postgres { pool, .. } => Tx::Postgres(pool.begin().await?),
        })
    }

    /// `" FOR UPDATE"` on PostgreSQL (lock the selected rows until the end of the
    /// transaction), `""` on SQLite (the whole database is locked already).
    pub(crate) fn for_update(&self) -> &'static str {
        match self {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => " FOR UPDATE",
        }
    }

    /// Runs a statement; returns the number of rows it affected.
    pub(crate) async fn execute(&mut self, sql: &str, args: Vec<Arg>) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Tx::Sqlite(tx) => bind_args!(sqlx::query(sql), args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            Tx::Postgres(tx) => bind_args!(sqlx::query(sql), args)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    /// Runs a query expected to return at most one row and decodes it.
    pub(crate) async fn fetch_optional<T, E>(
        &mut self,
        sql: &str,
        args: Vec<Arg>,
        decode: impl Fn(&dyn RowRead) -> Result<T, E>,
        db_err: impl FnOnce(sqlx::Error) -> E,
    ) -> Result<Option<T>, E> {
        match self {
            Tx::Sqlite(tx) => {
                let row = bind_args!(sqlx::query(sql), args)
                    .fetch_optional(&mut **tx)
                    .await;
                row.map_err(db_err)?.as_ref().map(|r| decode(r)).transpose()
            }
            Tx::Postgres(tx) => {
                let row = bind_args!(sqlx::query(sql), args)
                    .fetch_optional(&mut **tx)
                    .await;
                row.map_err(db_err)?.as_ref().map(|r| decode(r)).transpose()
            }
        }
    }

    /// Commits: once this returns `Ok`, the writes are durable (SQLite: `synchronous=FULL`
    /// syncs the WAL at commit; PostgreSQL: the server's `fsync`/`synchronous_commit`).
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// Rolls back; releases the write lock at once rather than when the connection is
    /// next used.
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }
}

/// Runs a read-only query on the pool (no transaction) and decodes each row.
pub(crate) async fn fetch_all<T, E>(
    db: &Database,
    sql: &str,
    args: Vec<Arg>,
    decode: impl Fn(&dyn RowRead) -> Result<T, E>,
    db_err: impl FnOnce(sqlx::Error) -> E,
) -> Result<Vec<T>, E> {
    on_db!(db, pool => {
        let rows = bind_args!(sqlx::query(sql), args).fetch_all(pool).await;
        rows.map_err(db_err)?.iter().map(|r| decode(r)).collect()
    })
}

/// Runs a read-only query returning at most one row on the pool and decodes it.
pub(crate) async fn fetch_optional<T, E>(
    db: &Database,
    sql: &str,
    args: Vec<Arg>,
    decode: impl Fn(&dyn RowRead) -> Result<T, E>,
    db_err: impl FnOnce(sqlx::Error) -> E,
) -> Result<Option<T>, E> {
    on_db!(db, pool => {
        let row = bind_args!(sqlx::query(sql), args).fetch_optional(pool).await;
        row.map_err(db_err)?.as_ref().map(|r| decode(r)).transpose()
    })
}

/// A `WHERE` clause under construction: each condition's `?` becomes the next `$N`.
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    /// Adds `clause`, whose `?` marks where `arg` goes (one `?` per clause; the argument
    /// may be used more than once by repeating `?`).
    pub(crate) fn add(&mut self, clause: &str, arg: Arg) {
        self.args.push(arg);
        self.clauses
            .push(clause.replace('?', &format!("${}", self.args.len())));
    }

    /// Adds a clause with no argument.
    pub(crate) fn add_plain(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    /// `" WHERE a AND b"`, or `""` when there is no condition, and the arguments.
    pub(crate) fn build(self) -> (String, Vec<Arg>) {
        let clause = if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        };
        (clause, self.args)
    }
}
