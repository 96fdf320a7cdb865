//! Durable events on SQLite: the runtime on `SqliteStore` against raw `rusqlite` doing the
//! same writes, in the same run, on files in the same temporary directory.
//!
//! The runtime side: `instances` live instances, `publishers` concurrent publishers each
//! awaiting `Runtime::publish_envelope` (an event from outside, whose id is recorded), so
//! the store's writer thread groups the commits waiting for it into one transaction (one
//! fsync under FULL). Per event it runs the whole runtime path (see [`crate::routed`]) plus
//! the store's commit: encode on the caller, then on the writer thread the instance write
//! with the revision check folded in (`INSERT … ON CONFLICT DO NOTHING` for a new instance,
//! `UPDATE … WHERE revision = n - 1` otherwise), the handled-event `INSERT`, and one
//! transaction commit per group (no savepoint per commit).
//!
//! The raw side: one thread, one connection in WAL mode with the same `synchronous`, tables
//! of the same shape, and per event what an application writing its own state would do: the
//! same handler on an in-memory `Counter`, its JSON encoding, one state UPSERT and one
//! handled-event INSERT (a fresh UUID as text), in transactions of the same size as the
//! runtime's groups. It keeps no mailboxes, no dedup set and no revision check.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pm_runtime::{SqliteOptions, SqliteStore, Synchronous};
use rusqlite::{Connection, TransactionBehavior, params};
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::routed::Routed;
use crate::saga::{Counter, Ticked, instance_id};

/// The runtime on SQLite: the wall time of `events` events after `instances` were opened.
pub async fn runtime_sqlite(
    dir: &Path,
    synchronous: Synchronous,
    instances: usize,
    events: usize,
    publishers: usize,
) -> Duration {
    let path = dir.join(format!("runtime-{synchronous:?}.db"));
    let options = SqliteOptions {
        synchronous,
        ..SqliteOptions::default()
    };
    let store = tokio::task::spawn_blocking(move || SqliteStore::open_with(path, options))
        .await
        .expect("open task")
        .expect("the store opens");
    let (routed, _) = Routed::start_on(store, instances, publishers).await;
    let elapsed = routed.publish_envelopes(events, publishers).await;
    routed.shutdown().await;
    elapsed
}

/// Raw rusqlite: `events` events over `instances` rows, `group` events per transaction.
pub fn raw_rusqlite(
    dir: &Path,
    synchronous: Synchronous,
    instances: usize,
    events: usize,
    group: usize,
) -> Duration {
    let path = dir.join(format!("raw-{synchronous:?}.db"));
    let mut conn = Connection::open(path).expect("the raw database opens");
    let sync = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update_and_check(None, "journal_mode", "wal", |_| Ok(()))
        .expect("WAL");
    conn.pragma_update(None, "synchronous", sync)
        .expect("synchronous");
    // The store's `pm_instance` and `pm_handled`, as an application would keep them.
    conn.execute_batch(
        "CREATE TABLE instance (
             pm TEXT NOT NULL, process_id TEXT NOT NULL, status TEXT NOT NULL,
             revision INTEGER NOT NULL, state BLOB NOT NULL, state_version INTEGER NOT NULL,
             updated_at_ms INTEGER NOT NULL, PRIMARY KEY (pm, process_id));
         CREATE TABLE handled (
             seq INTEGER PRIMARY KEY, pm TEXT NOT NULL, process_id TEXT NOT NULL,
             event_id TEXT NOT NULL);
         CREATE INDEX handled_instance ON handled (pm, process_id);",
    )
    .expect("the raw schema");
    let ids: Vec<String> = (0..instances.max(1)).map(instance_id).collect();
    let mut states: HashMap<&str, Counter> = HashMap::with_capacity(ids.len());
    let upsert = "INSERT INTO instance \
        (pm, process_id, status, revision, state, state_version, updated_at_ms) \
        VALUES (?1, ?2, 'running', 1, ?3, 1, ?4) \
        ON CONFLICT (pm, process_id) DO UPDATE SET revision = revision + 1, \
        state = excluded.state, updated_at_ms = excluded.updated_at_ms";
    let handled = "INSERT INTO handled (pm, process_id, event_id) VALUES (?1, ?2, ?3)";
    {
        let tx = conn.transaction().expect("begin");
        for id in &ids {
            let state = states.entry(id).or_default();
            state.events = 1;
            let bytes = serde_json::to_vec(state).expect("state encodes");
            tx.prepare_cached(upsert)
                .expect("prepare")
                .execute(params!["bench_counter", id, bytes, now_ms()])
                .expect("open row");
        }
        tx.commit().expect("commit");
    }
    let group = group.max(1);
    let started = Instant::now();
    let mut k = 0;
    while k < events {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin");
        {
            let mut upsert = tx.prepare_cached(upsert).expect("prepare");
            let mut handled = tx.prepare_cached(handled).expect("prepare");
            for k in k..(k + group).min(events) {
                let id = &ids[k % ids.len()];
                let event = Ticked {
                    id: id.clone(),
                    amount: k as u64,
                };
                let state = states.entry(id).or_default();
                state.ticked(&event);
                let bytes = serde_json::to_vec(state).expect("state encodes");
                upsert
                    .execute(params!["bench_counter", id, bytes, now_ms()])
                    .expect("upsert");
                let event_id = uuid::Uuid::new_v4().to_string();
                handled
                    .execute(params!["bench_counter", id, event_id])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
        k += group;
    }
    started.elapsed()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Counts the SQLite store's group commits from its `trace` event, so the raw side can use
/// the same transaction size.
#[derive(Debug, Default)]
pub struct GroupSizes {
    groups: AtomicU64,
    commits: AtomicU64,
}

impl GroupSizes {
    /// A fresh counter.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// `(groups, commits)` counted so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.groups.load(Ordering::Relaxed),
            self.commits.load(Ordering::Relaxed),
        )
    }

    /// The tracing layer that counts into `self`; install it as the global subscriber.
    pub fn layer(self: &Arc<Self>) -> GroupLayer {
        GroupLayer(Arc::clone(self))
    }
}

/// A tracing layer that sees only the SQLite writer's group events.
#[derive(Debug)]
pub struct GroupLayer(Arc<GroupSizes>);

fn is_group_event(metadata: &Metadata<'_>) -> bool {
    metadata.is_event() && metadata.target().starts_with("pm_runtime::store::sqlite")
}

impl<S: Subscriber> Layer<S> for GroupLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Every other callsite stays disabled, so the runtime's hot path pays nothing.
        if is_group_event(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        is_group_event(metadata)
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        struct Size(Option<u64>);
        impl Visit for Size {
            fn record_u64(&mut self, field: &Field, value: u64) {
                if field.name() == "size" {
                    self.0 = Some(value);
                }
            }
            fn record_i64(&mut self, field: &Field, value: i64) {
                if field.name() == "size" {
                    self.0 = u64::try_from(value).ok();
                }
            }
            fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
        }
        let mut size = Size(None);
        event.record(&mut size);
        if let Some(size) = size.0 {
            self.0.groups.fetch_add(1, Ordering::Relaxed);
            self.0.commits.fetch_add(size, Ordering::Relaxed);
        }
    }
}
