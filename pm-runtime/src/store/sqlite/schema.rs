//! Opening a database file: recognising it, migrating its schema, setting the pragmas.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use super::SqliteOptions;
use super::error::OpenError;

/// The migrations, oldest first; migration `i` brings the schema to version `i + 1`.
/// A released migration is never edited: a change is a new migration.
const MIGRATIONS: &[&str] = &[V1, V2];

/// The schema version this build writes.
const LATEST: i64 = MIGRATIONS.len() as i64;

// Child tables keep insertion order in `seq`, an alias of the rowid: SQLite gives a new row a
// rowid above every existing one, so an instance's rows read back in the order they were
// added (the outbox in dispatch order, completions in order of completion, and so on).
const V1: &str = "
CREATE TABLE pm_instance (
    pm            TEXT    NOT NULL,
    process_id    TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    revision      INTEGER NOT NULL,
    state         BLOB    NOT NULL,
    state_version INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    dead_letter   TEXT,
    PRIMARY KEY (pm, process_id)
);
CREATE TABLE pm_handled (
    seq        INTEGER PRIMARY KEY,
    pm         TEXT NOT NULL,
    process_id TEXT NOT NULL,
    event_id   TEXT NOT NULL
);
CREATE INDEX pm_handled_instance ON pm_handled (pm, process_id);
CREATE TABLE pm_outbox (
    seq        INTEGER PRIMARY KEY,
    pm         TEXT NOT NULL,
    process_id TEXT NOT NULL,
    command_id TEXT NOT NULL,
    envelope   TEXT NOT NULL
);
CREATE INDEX pm_outbox_instance ON pm_outbox (pm, process_id);
CREATE TABLE pm_completed (
    seq        INTEGER PRIMARY KEY,
    pm         TEXT NOT NULL,
    process_id TEXT NOT NULL,
    command_id TEXT NOT NULL,
    envelope   TEXT NOT NULL
);
CREATE INDEX pm_completed_instance ON pm_completed (pm, process_id);
CREATE TABLE pm_timer (
    seq        INTEGER PRIMARY KEY,
    pm         TEXT    NOT NULL,
    process_id TEXT    NOT NULL,
    timer_id   TEXT    NOT NULL,
    due_at_ms  INTEGER NOT NULL,
    event      TEXT    NOT NULL
);
CREATE INDEX pm_timer_instance ON pm_timer (pm, process_id);
CREATE INDEX pm_timer_due ON pm_timer (due_at_ms, timer_id);
CREATE TABLE pm_stash (
    seq        INTEGER PRIMARY KEY,
    pm         TEXT NOT NULL,
    process_id TEXT NOT NULL,
    event      TEXT NOT NULL
);
CREATE INDEX pm_stash_instance ON pm_stash (pm, process_id);
";

// The process managers a runtime registered, for tools that read the file without the code.
// `events` is a JSON array of event type names.
const V2: &str = "
CREATE TABLE pm_type (
    name    TEXT    PRIMARY KEY,
    version INTEGER NOT NULL,
    diagram TEXT    NOT NULL,
    events  TEXT    NOT NULL
);
";

/// Opens the write connection: recognises the file, migrates it, and switches it to WAL.
pub(crate) fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Connection, OpenError> {
    let fail = |e| classify(path, e);
    let mut conn = Connection::open(path).map_err(fail)?;
    conn.busy_timeout(options.busy_timeout).map_err(fail)?;
    // A commit and a purge together use about twenty statements; keep them all prepared.
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&mut conn).map_err(|e| match e {
        OpenError::Sql(e) => classify(path, e),
        other => other,
    })?;
    // After the schema check, so a database that is not ours is never switched to WAL.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
        .map_err(fail)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::NotWal(mode));
    }
    conn.pragma_update(None, "synchronous", options.synchronous.pragma())
        .map_err(fail)?;
    Ok(conn)
}

/// Opens a read connection to a file [`open_writer`] has already prepared.
pub(crate) fn open_reader(path: &Path, options: &SqliteOptions) -> Result<Connection, OpenError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let fail = |e| classify(path, e);
    let conn = Connection::open_with_flags(path, flags).map_err(fail)?;
    conn.busy_timeout(options.busy_timeout).map_err(fail)?;
    // Readers never write; this turns a slip into an error instead of a second writer.
    conn.pragma_update(None, "query_only", true).map_err(fail)?;
    Ok(conn)
}

/// Brings the schema to [`LATEST`] in one transaction; a no-op on an up-to-date file.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), OpenError> {
    // IMMEDIATE: two processes opening a fresh file at once must not both create the tables.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version = match stored_version(&tx)? {
        Some(version) => version,
        None => {
            let tables: i64 = tx.query_row(
                "SELECT count(*) FROM sqlite_master \
                 WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                [],
                |row| row.get(0),
            )?;
            if tables > 0 {
                return Err(OpenError::Foreign);
            }
            tx.execute_batch(
                "CREATE TABLE pm_schema (
                     id      INTEGER PRIMARY KEY CHECK (id = 1),
                     version INTEGER NOT NULL
                 );
                 INSERT INTO pm_schema (id, version) VALUES (1, 0);",
            )?;
            0
        }
    };
    let applied = usize::try_from(version).map_err(|_| OpenError::BadVersion(version))?;
    if version > LATEST {
        return Err(OpenError::NewerSchema {
            found: version,
            supported: LATEST,
        });
    }
    if version < LATEST {
        for migration in &MIGRATIONS[applied..] {
            tx.execute_batch(migration)?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO pm_schema (id, version) VALUES (1, ?1)",
            [LATEST],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The schema version, or `None` when the file has no `pm_schema` table.
fn stored_version(conn: &Connection) -> Result<Option<i64>, OpenError> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pm_schema')",
        [],
        |row| row.get(0),
    )?;
    if !has_table {
        return Ok(None);
    }
    let version: Option<i64> = conn
        .query_row("SELECT version FROM pm_schema", [], |row| row.get(0))
        .optional()?;
    // An empty `pm_schema` is our table from a creation that never finished its first row.
    Ok(Some(version.unwrap_or(0)))
}

/// Turns SQLite's codes for the usual open failures into reasons a person can act on.
fn classify(path: &Path, error: rusqlite::Error) -> OpenError {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => OpenError::NotADatabase(error),
        Some(ErrorCode::CannotOpen) => match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
                OpenError::MissingDirectory(dir.to_path_buf())
            }
            _ => OpenError::Sql(error),
        },
        _ => OpenError::Sql(error),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn version(conn: &Connection) -> i64 {
        conn.query_row("SELECT version FROM pm_schema", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_version_1_file_migrates_to_the_latest_and_keeps_its_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE pm_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
             INSERT INTO pm_schema (id, version) VALUES (1, 1);",
        )
        .unwrap();
        conn.execute_batch(V1).unwrap();
        conn.execute(
            "INSERT INTO pm_instance VALUES ('pm', 'a', 'running', 1, x'7b7d', 1, 5, NULL)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), LATEST);
        let kept: i64 = conn
            .query_row("SELECT count(*) FROM pm_instance", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1);
        let types: i64 = conn
            .query_row("SELECT count(*) FROM pm_type", [], |r| r.get(0))
            .unwrap();
        assert_eq!(types, 0, "the new table exists and is empty");
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), LATEST, "migrating again changes nothing");
    }
}
