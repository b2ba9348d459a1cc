//! SQL plumbing shared by the stores: a write transaction over either backend ([`Tx`]), a
//! row reader both backends implement ([`RowRead`]) and one that turns every failure into
//! the store's "corrupt record" error ([`RecordReader`]), a `WHERE` builder with `$N`
//! numbering ([`Conditions`]), pages ([`Page`]) and `LIKE` patterns.
//!
//! Queries are written once with `$N` placeholders and bound with [`bind_args!`], so that
//! each multi-step operation is written once in plain `async` Rust instead of inside an
//! [`on_db!`] body per statement.

use std::borrow::Cow;

use sqlx::Row;
use sqlx::postgres::{PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteRow};

use super::Arg;
use crate::{Database, bind_args, on_db};

/// Reads typed columns of a row by name, on either backend (`TEXT`, `BIGINT`,
/// `DOUBLE PRECISION`, `BOOLEAN`).
pub trait RowRead {
    /// A `TEXT NOT NULL` column.
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    /// A nullable `TEXT` column.
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// A nullable `DOUBLE PRECISION` column.
    fn opt_real(&self, column: &str) -> Result<Option<f64>, sqlx::Error>;
    /// A `BIGINT NOT NULL` column (or `COUNT(*)`).
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    /// A nullable `BIGINT` column.
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    /// A `BOOLEAN NOT NULL` column.
    fn boolean(&self, column: &str) -> Result<bool, sqlx::Error>;
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
            fn opt_real(&self, column: &str) -> Result<Option<f64>, sqlx::Error> {
                self.try_get(column)
            }
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
            fn boolean(&self, column: &str) -> Result<bool, sqlx::Error> {
                self.try_get(column)
            }
        }
    )*};
}

impl_row_read!(SqliteRow, PgRow);

/// Builds a store's "corrupt record" error from the record's id (`?` when the id itself
/// is unreadable), the column and the reason.
type Corrupt<'r, E> = Box<dyn Fn(&str, &'static str, String) -> E + 'r>;

/// Reads one record's columns, turning every failure into the store's "corrupt record"
/// error, which names the record (by the id read first), the column and the reason.
pub struct RecordReader<'r, E> {
    row: &'r dyn RowRead,
    id: String,
    corrupt: Corrupt<'r, E>,
}

impl<E> std::fmt::Debug for RecordReader<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<'r, E> RecordReader<'r, E> {
    /// Reads the record's id from the text column `id_column` (a failure names the id
    /// `?`); `corrupt(id, column, reason)` builds the errors.
    pub fn new(
        row: &'r dyn RowRead,
        id_column: &'static str,
        corrupt: impl Fn(&str, &'static str, String) -> E + 'r,
    ) -> Result<Self, E> {
        let id = row
            .text(id_column)
            .map_err(|e| corrupt("?", id_column, e.to_string()))?;
        Ok(RecordReader {
            row,
            id,
            corrupt: Box::new(corrupt),
        })
    }

    /// The record's id as read.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The error for `column` of this record.
    pub fn corrupt(&self, column: &'static str, reason: String) -> E {
        (self.corrupt)(&self.id, column, reason)
    }

    fn cell<T>(&self, c: &'static str, value: Result<T, sqlx::Error>) -> Result<T, E> {
        value.map_err(|e| self.corrupt(c, e.to_string()))
    }

    /// A `TEXT NOT NULL` column.
    pub fn text(&self, c: &'static str) -> Result<String, E> {
        self.cell(c, self.row.text(c))
    }
    /// A nullable `TEXT` column.
    pub fn opt_text(&self, c: &'static str) -> Result<Option<String>, E> {
        self.cell(c, self.row.opt_text(c))
    }
    /// A nullable `DOUBLE PRECISION` column.
    pub fn opt_real(&self, c: &'static str) -> Result<Option<f64>, E> {
        self.cell(c, self.row.opt_real(c))
    }
    /// A `BIGINT NOT NULL` column.
    pub fn int(&self, c: &'static str) -> Result<i64, E> {
        self.cell(c, self.row.int(c))
    }
    /// A nullable `BIGINT` column.
    pub fn opt_int(&self, c: &'static str) -> Result<Option<i64>, E> {
        self.cell(c, self.row.opt_int(c))
    }
    /// A `BOOLEAN NOT NULL` column.
    pub fn boolean(&self, c: &'static str) -> Result<bool, E> {
        self.cell(c, self.row.boolean(c))
    }

    /// A text column parsed by `parse` (its error is the reason).
    pub fn parsed<T>(
        &self,
        c: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, E> {
        parse(&self.text(c)?).map_err(|reason| self.corrupt(c, reason))
    }

    /// A nullable text column parsed by `parse` when set.
    pub fn opt_parsed<T>(
        &self,
        c: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, E> {
        self.opt_text(c)?
            .map(|t| parse(&t).map_err(|reason| self.corrupt(c, reason)))
            .transpose()
    }

    /// A text column holding JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self, c: &'static str) -> Result<T, E> {
        self.parsed(c, |t| serde_json::from_str(t).map_err(|e| e.to_string()))
    }
}

/// A write transaction on either backend that holds the database's write lock from its
/// first statement (see [`Tx::begin`]). Dropped without [`commit`](Tx::commit), it rolls
/// back.
#[derive(Debug)]
pub enum Tx {
    /// SQLite, begun with `BEGIN IMMEDIATE`.
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// PostgreSQL (`READ COMMITTED`); rows are locked with `FOR UPDATE`.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// The statement that starts a write transaction on `db`: `BEGIN IMMEDIATE` on SQLite,
/// `BEGIN` on PostgreSQL.
///
/// SQLite: `BEGIN IMMEDIATE` takes the database's write lock up front (waiting up to the
/// busy timeout for another writer). A deferred transaction that reads first and writes
/// later can fail in WAL mode with `SQLITE_BUSY_SNAPSHOT` ("database is locked") without
/// waiting, when another connection committed in between; taking the lock first
/// serialises writers instead. PostgreSQL: a plain `BEGIN`; the rows a transaction
/// changes are locked with `FOR UPDATE` (see [`Tx::for_update`]) when read.
pub fn begin_write(db: &Database) -> &'static str {
    match db {
        Database::Sqlite { .. } => "BEGIN IMMEDIATE",
        Database::Postgres { .. } => "BEGIN",
    }
}

impl Tx {
    /// Begins a write transaction with [`begin_write`]'s statement.
    pub async fn begin(db: &Database) -> Result<Tx, sqlx::Error> {
        let begin = Cow::Borrowed(begin_write(db));
        Ok(match db {
            Database::Sqlite { pool, .. } => Tx::Sqlite(pool.begin_with(begin).await?),
            Database::Postgres { pool, .. } => Tx::Postgres(pool.begin_with(begin).await?),
        })
    }

    /// `" FOR UPDATE"` on PostgreSQL (lock the selected rows until the end of the
    /// transaction), `""` on SQLite (the whole database is locked already).
    pub fn for_update(&self) -> &'static str {
        match self {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => " FOR UPDATE",
        }
    }

    /// Runs a statement; returns the number of rows it affected.
    pub async fn execute(&mut self, sql: &str, args: Vec<Arg>) -> Result<u64, sqlx::Error> {
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
    pub async fn fetch_optional<T, E>(
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
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// Rolls back; releases the write lock at once rather than when the connection is
    /// next used.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await,
            Tx::Postgres(tx) => tx.rollback().await,
        }
    }

    /// Ends the transaction of an operation: commits when `result` is `Ok` (a commit
    /// failure becomes the store's error through `db_err`), rolls back otherwise and
    /// returns the operation's error. A failed rollback is only logged (`action` names the
    /// operation): the pool discards the connection's transaction anyway.
    pub async fn finish<T, E>(
        self,
        result: Result<T, E>,
        db_err: impl FnOnce(sqlx::Error) -> E,
        action: &str,
    ) -> Result<T, E> {
        match result {
            Ok(value) => {
                self.commit().await.map_err(db_err)?;
                Ok(value)
            }
            Err(err) => {
                if let Err(e) = self.rollback().await {
                    tracing::warn!(action, error = %e, "rollback failed; the connection discards the transaction");
                }
                Err(err)
            }
        }
    }
}

/// Runs a read-only query on the pool (no transaction) and decodes each row.
pub async fn fetch_all<T, E>(
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
pub async fn fetch_optional<T, E>(
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
pub struct Conditions {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    /// Adds `clause`, whose `?` marks where `arg` goes (one argument per clause, which
    /// may be used more than once by repeating `?`).
    pub fn add(&mut self, clause: &str, arg: Arg) {
        self.args.push(arg);
        self.clauses
            .push(clause.replace('?', &format!("${}", self.args.len())));
    }

    /// Adds a clause with no argument.
    pub fn add_plain(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    /// `" WHERE a AND b"`, or `""` when there is no condition.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The arguments, in `$N` order.
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    /// [`Conditions::sql`] and the arguments.
    pub fn build(self) -> (String, Vec<Arg>) {
        (self.sql(), self.args)
    }
}

/// The reason a page size is refused (for the field `limit`): above `max`.
pub fn check_limit(limit: u32, max: u32) -> Result<u32, String> {
    if limit > max {
        Err(format!("at most {max}, got {limit}"))
    } else {
        Ok(limit)
    }
}

/// One page of a list: `LIMIT` and `OFFSET` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

impl Page {
    /// `limit` (default `default_limit`) and `offset` (default 0; beyond `i64::MAX`
    /// saturates), or [`check_limit`]'s reason when `limit` is above `max_limit`.
    pub fn new(
        limit: Option<u32>,
        offset: Option<u64>,
        default_limit: u32,
        max_limit: u32,
    ) -> Result<Page, String> {
        check_limit(limit.unwrap_or(default_limit), max_limit)?;
        Ok(Page::unchecked(limit, offset, default_limit))
    }

    /// [`Page::new`] without the check, for a limit checked already.
    pub fn unchecked(limit: Option<u32>, offset: Option<u64>, default_limit: u32) -> Page {
        Page {
            limit: i64::from(limit.unwrap_or(default_limit)),
            offset: i64::try_from(offset.unwrap_or(0)).unwrap_or(i64::MAX),
        }
    }

    /// `sql` followed by `LIMIT $n+1 OFFSET $n+2`, and `args` (`n` of them) followed by
    /// this page's values.
    pub fn apply(self, sql: &str, args: &[Arg]) -> (String, Vec<Arg>) {
        let n = args.len();
        let sql = format!("{sql} LIMIT ${} OFFSET ${}", n + 1, n + 2);
        let mut args = args.to_vec();
        args.extend([Arg::Int(self.limit), Arg::Int(self.offset)]);
        (sql, args)
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `%q%`, trimmed, lower-cased and escaped for `LIKE … ESCAPE '\'`, or `None` for a
/// missing or blank `q`.
pub fn like_pattern(q: Option<&str>) -> Option<String> {
    let q = q.map(str::trim).filter(|q| !q.is_empty())?;
    Some(format!("%{}%", escape_like(&q.to_lowercase())))
}

/// `$first, $first+1, …` for `n` values.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
        assert_eq!(like_pattern(Some("  ")), None);
        assert_eq!(like_pattern(Some(" A_b ")), Some(r"%a\_b%".to_owned()));
        assert_eq!(placeholders(3, 2), "$3, $4");
        let mut c = Conditions::default();
        assert_eq!(c.sql(), "");
        c.add("a = ?", Arg::Int(1));
        c.add_plain("b IS NULL");
        c.add("(c = ? OR d = ?)", Arg::Int(2));
        assert_eq!(
            c.sql(),
            " WHERE a = $1 AND b IS NULL AND (c = $2 OR d = $2)"
        );
        let page = Page::new(None, Some(u64::MAX), 100, 1000).unwrap();
        assert_eq!(
            page,
            Page {
                limit: 100,
                offset: i64::MAX
            }
        );
        let (sql, args) = page.apply("SELECT x", c.args());
        assert_eq!(sql, "SELECT x LIMIT $3 OFFSET $4");
        assert_eq!(args.len(), 4);
        assert_eq!(
            Page::new(Some(1001), None, 100, 1000),
            Err("at most 1000, got 1001".to_owned())
        );
    }
}
