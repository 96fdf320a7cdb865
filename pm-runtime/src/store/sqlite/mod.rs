//! The SQLite store: durable, embedded, one file.
//!
//! One writer thread owns the write connection and applies commits in groups (see
//! [`writer`]); a few reader threads own read connections, which WAL lets run beside it. The
//! async side only encodes, sends and awaits, so no SQLite call ever runs on an async worker.

mod apply;
mod codec;
mod error;
mod queries;
mod reader;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use self::error::OpenError;
use self::reader::Readers;
use self::writer::{Work, Writer};
use super::{
    Commit, DueTimer, InstanceSummary, ParkedAction, ProcessManagerInfo, Store, StoreFuture,
    StoredInstance,
};
use crate::error::StoreError;
use crate::ids::ProcessId;

/// How hard SQLite works to make each commit survive a power loss.
///
/// The store always runs in WAL mode; this sets `PRAGMA synchronous` for its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Every commit is fsynced before it is acknowledged: an acknowledged commit survives a
    /// crash of the process, the operating system or the machine. This is the default.
    #[default]
    Full,
    /// The WAL is fsynced only at checkpoints. An acknowledged commit survives a crash of the
    /// process, but a power loss or an operating-system crash can lose the last commits
    /// (never corrupting the file). Faster when many small commits cannot be grouped.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Settings for [`SqliteStore::open_with`]; [`Default`] gives the ones [`SqliteStore::open`]
/// uses.
///
/// ```
/// use pm_runtime::{SqliteOptions, Synchronous};
///
/// let options = SqliteOptions { synchronous: Synchronous::Normal, ..SqliteOptions::default() };
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Durability of each commit; see [`Synchronous`]. Default: [`Synchronous::Full`].
    pub synchronous: Synchronous,
    /// How long a connection waits for a lock another process holds on the file before it
    /// fails. Default: 5 seconds.
    pub busy_timeout: Duration,
    /// The most commits applied in one transaction (one fsync). Default: 1024, the queue's
    /// default capacity, so a writer that fell behind catches up in one transaction; at
    /// least 1.
    pub max_group: usize,
    /// Requests that may wait for the writer before callers wait to queue; the same bound
    /// applies to the readers' queue. Default: 1024; at least 1.
    pub queue_capacity: usize,
    /// Read connections, each on its own thread. Default: 2; at least 1.
    pub readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            max_group: 1024,
            queue_capacity: 1024,
            readers: 2,
        }
    }
}

/// A durable [`Store`] in one SQLite file (WAL mode), written by one thread that applies
/// concurrent commits in groups: one transaction, one fsync. A commit that conflicts or fails
/// fails alone; the rest of its group commits.
///
/// ```no_run
/// use pm_runtime::SqliteStore;
///
/// # fn main() -> Result<(), pm_runtime::StoreError> {
/// let store = SqliteStore::open("sagas.db")?;
/// # let _ = store;
/// # Ok(())
/// # }
/// ```
///
/// Opening creates the file and its tables when missing and migrates an older schema. It
/// refuses, with [`StoreError::Open`], a file that is not a SQLite database, a database that
/// another application owns (tables but no `pm_schema`), one written by a newer schema
/// version, and a path whose directory does not exist.
///
/// Dropping the store waits for the commit group in progress and closes the file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    // Declared before `writer`: readers close first, so the writer's connection, closing
    // last, can checkpoint the WAL into the main file and remove it.
    readers: Readers,
    writer: Writer,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` with the default [`SqliteOptions`].
    ///
    /// This blocks while it opens and migrates the file: call it before starting the runtime,
    /// or from `tokio::task::spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens (or creates) the store at `path` with `options`; blocks like [`open`](Self::open).
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        Self::start(&path, &options).map_err(|reason| reason.at(path))
    }

    fn start(path: &Path, options: &SqliteOptions) -> Result<Self, OpenError> {
        let thread = |name| move |source| OpenError::Thread { name, source };
        // The writer prepares the file first; readers then find the schema in place.
        let writer_conn = schema::open_writer(path, options)?;
        let reader_conns = (0..options.readers.max(1))
            .map(|_| schema::open_reader(path, options))
            .collect::<Result<Vec<_>, _>>()?;
        let readers =
            Readers::spawn(reader_conns, options.queue_capacity).map_err(thread("reader"))?;
        let writer = Writer::spawn(writer_conn, options.queue_capacity, options.max_group)
            .map_err(thread("writer"))?;
        Ok(Self {
            path: path.to_path_buf(),
            readers,
            writer,
        })
    }

    /// The path the store was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for SqliteStore {
    fn load<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
    ) -> StoreFuture<'a, Option<StoredInstance>> {
        let (pm, process_id) = (pm.to_owned(), process_id.clone());
        Box::pin(
            self.readers
                .read(move |conn| queries::load(conn, &pm, process_id.as_str())),
        )
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        // Encoded before the future is built, so the boxed future holds a pointer to the
        // encoded commit rather than a copy of the whole `Commit`.
        let encoded = codec::encode(commit).map(Box::new);
        Box::pin(async move { self.writer.commit(encoded?).await })
    }

    fn due_timers(&self, until_ms: u64, limit: usize) -> StoreFuture<'_, Vec<DueTimer>> {
        Box::pin(
            self.readers
                .read(move |conn| queries::due_timers(conn, until_ms, limit)),
        )
    }

    fn unfinished(&self, pm: &str) -> StoreFuture<'_, Vec<ProcessId>> {
        let pm = pm.to_owned();
        Box::pin(
            self.readers
                .read(move |conn| queries::unfinished(conn, &pm)),
        )
    }

    fn instances(&self, pm: &str) -> StoreFuture<'_, Vec<InstanceSummary>> {
        let pm = pm.to_owned();
        Box::pin(self.readers.read(move |conn| queries::instances(conn, &pm)))
    }

    fn purge_finished(&self, pm: &str, before_ms: u64) -> StoreFuture<'_, u64> {
        Box::pin(self.writer.purge(pm.to_owned(), before_ms))
    }

    fn is_durable(&self) -> bool {
        true
    }

    fn register(&self, info: &ProcessManagerInfo) -> StoreFuture<'_, ()> {
        Box::pin(self.writer.run(Work::Register(info.clone())))
    }

    fn process_managers(&self) -> StoreFuture<'_, Vec<ProcessManagerInfo>> {
        Box::pin(self.readers.read(|conn| queries::process_managers(conn)))
    }

    fn resolve_parked<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
        action: ParkedAction,
        at_ms: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.writer.run(Work::Resolve {
            pm: pm.to_owned(),
            process_id: process_id.as_str().to_owned(),
            action,
            at_ms,
        }))
    }
}
