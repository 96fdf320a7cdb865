//! The simulated outside world, in the demo's own tables of the same SQLite file: the event
//! log the aggregates append to, and the effects the command side applied.
//!
//! Applying a command records its effect and the event it produces in one transaction, keyed
//! by the command's idempotency key, so a command delivered twice has one effect and one
//! event. A writer thread applies every queued effect in one transaction (group commit).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

/// Why the demo's own tables could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// SQLite failed.
    #[error("demo tables in `{path}`: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// The writer thread is gone.
    #[error("the demo's writer thread stopped")]
    WriterGone,
}

/// An effect the command side applies, and the event it produces.
#[derive(Debug)]
pub struct Effect {
    /// Deduplication key: the command's idempotency key.
    pub key: String,
    /// The saga (order id).
    pub saga: String,
    /// The command type.
    pub command_type: String,
    /// The resulting event: id, type, JSON payload.
    pub event: Option<(String, &'static str, String)>,
}

/// One row of the event log.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    /// Position in the log.
    pub seq: i64,
    /// The event's id.
    pub event_id: String,
    /// The event type name.
    pub event_type: String,
    /// The saga it belongs to.
    pub saga: String,
    /// JSON payload.
    pub payload: String,
}

type Job = (Effect, oneshot::Sender<Result<(), WorldError>>);

/// The demo's tables: shared by the command side (writes) and the feed (reads).
#[derive(Clone)]
pub struct World {
    path: Arc<PathBuf>,
    jobs: SyncSender<Job>,
    reader: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS demo_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS demo_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        event_type TEXT NOT NULL,
        saga TEXT NOT NULL,
        payload TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS demo_effects (
        idempotency_key TEXT PRIMARY KEY,
        saga TEXT NOT NULL,
        command_type TEXT NOT NULL);
";

fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    Ok(conn)
}

impl World {
    /// Opens (and creates) the demo's tables in `path`, which the store has already opened.
    pub fn open(path: &Path) -> Result<Self, WorldError> {
        let err = |source| WorldError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let writer = connect(path).map_err(err)?;
        writer.execute_batch(SCHEMA).map_err(err)?;
        let reader = connect(path).map_err(err)?;
        let (jobs, rx) = sync_channel::<Job>(4096);
        let thread_path = path.to_owned();
        std::thread::Builder::new()
            .name("pm-demo-world".into())
            .spawn(move || write_loop(writer, rx, &thread_path))
            .map_err(|e| err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
        Ok(Self {
            path: Arc::new(path.to_owned()),
            jobs,
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    fn error(&self, source: rusqlite::Error) -> WorldError {
        WorldError::Sqlite {
            path: (*self.path).clone(),
            source,
        }
    }

    /// Applies one effect (idempotently) once it is durable.
    pub async fn apply(&self, effect: Effect) -> Result<(), WorldError> {
        let (tx, rx) = oneshot::channel();
        let jobs = self.jobs.clone();
        // `send` blocks when the queue is full: keep it off the async workers.
        // The unsent job is dropped inside the closure: only "gone" comes back.
        tokio::task::spawn_blocking(move || jobs.send((effect, tx)).map_err(drop))
            .await
            .map_err(|_| WorldError::WriterGone)?
            .map_err(|()| WorldError::WriterGone)?;
        rx.await.map_err(|_| WorldError::WriterGone)?
    }

    /// Runs `f` on the read connection, off the async workers.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, WorldError> {
        let reader = Arc::clone(&self.reader);
        let result = tokio::task::spawn_blocking(move || {
            let conn = reader.lock().unwrap_or_else(PoisonError::into_inner);
            f(&conn)
        })
        .await
        .map_err(|_| WorldError::WriterGone)?;
        result.map_err(|e| self.error(e))
    }

    /// A counter from `demo_meta` (0 when unset).
    pub async fn meta(&self, key: &'static str) -> Result<i64, WorldError> {
        self.read(move |c| {
            c.query_row("SELECT value FROM demo_meta WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map(Option::unwrap_or_default)
        })
        .await
    }

    /// Sets a counter in `demo_meta`.
    pub async fn set_meta(&self, key: &'static str, value: i64) -> Result<(), WorldError> {
        let path = Arc::clone(&self.path);
        self.write(move |c| {
            c.execute(
                "INSERT INTO demo_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(drop)
        })
        .await
        .map_err(|source| WorldError::Sqlite {
            path: (*path).clone(),
            source,
        })
    }

    /// Appends the start events of sagas `from..to` to the log, and records `to` as the
    /// number of sagas requested, in one transaction.
    pub async fn create_sagas(
        &self,
        from: i64,
        to: i64,
        amount: impl Fn(i64) -> u64 + Send + 'static,
    ) -> Result<(), WorldError> {
        let path = Arc::clone(&self.path);
        self.write(move |c| {
            let tx = c.unchecked_transaction()?;
            {
                let mut insert = tx.prepare(
                    "INSERT OR IGNORE INTO demo_events (event_id, event_type, saga, payload)
                     VALUES (?1, 'OrderPlaced', ?2, ?3)",
                )?;
                for i in from..to {
                    let saga = saga_id(i);
                    let payload = serde_json::json!({ "order_id": saga, "amount": amount(i) });
                    let event_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, saga.as_bytes());
                    insert.execute(params![event_id.to_string(), saga, payload.to_string()])?;
                }
            }
            tx.execute(
                "INSERT INTO demo_meta (key, value) VALUES ('sagas', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [to],
            )?;
            tx.commit()
        })
        .await
        .map_err(|source| WorldError::Sqlite {
            path: (*path).clone(),
            source,
        })
    }

    /// A one-off write on its own connection (setup and bookkeeping, not the hot path).
    async fn write(
        &self,
        f: impl FnOnce(&Connection) -> Result<(), rusqlite::Error> + Send + 'static,
    ) -> Result<(), rusqlite::Error> {
        let path = (*self.path).clone();
        tokio::task::spawn_blocking(move || f(&connect(&path)?))
            .await
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?
    }

    /// Events after `seq`, in log order, at most `limit`.
    pub async fn events_after(&self, seq: i64, limit: i64) -> Result<Vec<LoggedEvent>, WorldError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, event_id, event_type, saga, payload FROM demo_events
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![seq, limit], |r| {
                Ok(LoggedEvent {
                    seq: r.get(0)?,
                    event_id: r.get(1)?,
                    event_type: r.get(2)?,
                    saga: r.get(3)?,
                    payload: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Every applied effect as (saga, command type, times applied).
    pub async fn effects(&self) -> Result<Vec<(String, String, i64)>, WorldError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT saga, command_type, COUNT(*) FROM demo_effects GROUP BY saga, command_type",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
        .await
    }
}

/// The id of saga number `i`.
pub fn saga_id(i: i64) -> String {
    format!("order-{i:07}")
}

fn write_loop(mut conn: Connection, jobs: Receiver<Job>, path: &Path) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let result = apply_batch(&mut conn, &batch);
        for (_, reply) in batch {
            let answer = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(WorldError::Sqlite {
                    path: path.to_owned(),
                    source: rusqlite::Error::ToSqlConversionFailure(e.to_string().into()),
                }),
            };
            let _ = reply.send(answer);
        }
    }
}

fn apply_batch(conn: &mut Connection, batch: &[Job]) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    {
        let mut effect = tx.prepare_cached(
            "INSERT OR IGNORE INTO demo_effects (idempotency_key, saga, command_type) VALUES (?1, ?2, ?3)",
        )?;
        let mut event = tx.prepare_cached(
            "INSERT OR IGNORE INTO demo_events (event_id, event_type, saga, payload) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (e, _) in batch {
            let applied = effect.execute(params![e.key, e.saga, e.command_type])?;
            if applied == 0 {
                // Already applied: the event was appended with it the first time.
                continue;
            }
            if let Some((event_id, event_type, payload)) = &e.event {
                event.execute(params![event_id, event_type, e.saga, payload])?;
            }
        }
    }
    tx.commit()
}
