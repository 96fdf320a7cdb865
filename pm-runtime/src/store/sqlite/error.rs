//! The SQLite backend's own errors, boxed into [`StoreError`] at the trait boundary.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::StoreError;
use crate::ids::ProcessId;

/// A failure while the store runs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SqliteError {
    /// SQLite refused a statement.
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Part of a commit could not be serialised.
    #[error("cannot encode {what} of `{pm}` instance `{process_id}`: {source}")]
    Encode {
        pm: &'static str,
        process_id: ProcessId,
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A value written outside a commit (a registration, a resolution) would not serialise.
    #[error("cannot encode {what}: {source}")]
    Serialize {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A number does not fit SQLite's signed 64-bit integers.
    #[error("{what} of `{pm}` instance `{process_id}` is {value}, above the largest value the store keeps ({max})", max = i64::MAX)]
    OutOfRange {
        pm: &'static str,
        process_id: ProcessId,
        what: &'static str,
        value: u64,
    },
    /// A stored row no longer reads back as what was written.
    #[error("stored {what} of `{pm}` instance `{process_id}` is unreadable: {reason}")]
    Decode {
        pm: String,
        process_id: String,
        what: &'static str,
        reason: String,
    },
    /// The commit was applied inside a group transaction that then failed as a whole.
    #[error("the group transaction holding this commit failed, so nothing of it was kept: {0}")]
    Batch(#[source] Arc<rusqlite::Error>),
    /// A worker thread is gone (it panicked or the store is being dropped).
    #[error("the sqlite store's {0} thread has stopped; reopen the store")]
    Stopped(&'static str),
}

impl From<SqliteError> for StoreError {
    fn from(error: SqliteError) -> Self {
        StoreError::Backend(Box::new(error))
    }
}

// Lets `?` lift rusqlite failures straight into the trait's error inside this backend.
impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        SqliteError::Sql(error).into()
    }
}

/// Why a database file could not be opened as a store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// The file's directory is missing; SQLite creates files, not directories.
    #[error("the directory `{}` does not exist", .0.display())]
    MissingDirectory(PathBuf),
    /// The file exists but SQLite does not recognise it.
    #[error("the file is not a SQLite database ({0})")]
    NotADatabase(#[source] rusqlite::Error),
    /// A SQLite database written by something else; we refuse to add tables to it.
    #[error(
        "the database has tables but no `pm_schema` table, so it belongs to another application"
    )]
    Foreign,
    /// Written by a newer build whose schema this one cannot read safely.
    #[error(
        "the database has schema version {found}, newer than version {supported} that this build knows"
    )]
    NewerSchema { found: i64, supported: i64 },
    /// `pm_schema` holds a version no build ever wrote.
    #[error("the database's `pm_schema` holds an invalid version {0}")]
    BadVersion(i64),
    /// WAL could not be enabled, e.g. for `:memory:`, which readers could not share.
    #[error("the database cannot use WAL journaling (journal mode is `{0}`); give a file path")]
    NotWal(String),
    /// Any other SQLite failure while opening or migrating.
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The operating system refused a thread.
    #[error("cannot start the {name} thread: {source}")]
    Thread {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl OpenError {
    /// Attaches the path, as every open error names the file it concerns.
    pub(crate) fn at(self, path: PathBuf) -> StoreError {
        StoreError::Open {
            path,
            reason: Box::new(self),
        }
    }
}
