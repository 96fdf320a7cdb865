//! `pm-demo --postgres`: the same sagas on the PostgreSQL store, one node per process.
//!
//! The world lives in the database too, so that any number of nodes share it: the effects
//! table and the store's event log (`pm_events`), which the command side appends to in the
//! transaction that records the effect, and every node's event reader feeds from.

use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use pm_runtime::{EventEnvelope, EventLog, PostgresOptions, PostgresStore, Runtime};
use tokio_postgres::NoTls;

use super::world::{Effect, saga_id};
use super::{Args, DemoError, Summary, Tally, command_side, report, saga::DemoOrder};

/// Why the demo's tables in PostgreSQL failed.
#[derive(Debug, thiserror::Error)]
pub enum PgWorldError {
    /// The server refused a statement.
    #[error("demo tables in postgres: {0}")]
    Sql(#[from] tokio_postgres::Error),
    /// No connection.
    #[error("demo tables in postgres: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The pool could not be built, or the event log refused an append.
    #[error("demo tables in postgres: {0}")]
    Other(String),
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS demo_meta (key text PRIMARY KEY, value bigint NOT NULL);
    CREATE TABLE IF NOT EXISTS demo_effects (
        idempotency_key text PRIMARY KEY,
        saga text NOT NULL,
        command_type text NOT NULL);
";

/// The demo's tables in PostgreSQL, beside the store's.
#[derive(Clone)]
pub struct PgWorld {
    pool: Pool,
}

impl PgWorld {
    /// Connects to `url`, in `schema` (which the store has created).
    pub async fn open(url: &str, schema: &str) -> Result<Self, PgWorldError> {
        let mut config: tokio_postgres::Config = url.parse()?;
        config.options(format!("-c search_path={schema}"));
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(|e| PgWorldError::Other(e.to_string()))?;
        let client = pool.get().await?;
        // Several nodes start at once: one creates the tables.
        client
            .execute("SELECT pg_advisory_lock(hashtext('pm-demo'))", &[])
            .await?;
        let created = client.batch_execute(SCHEMA).await;
        client
            .execute("SELECT pg_advisory_unlock(hashtext('pm-demo'))", &[])
            .await?;
        created?;
        Ok(Self { pool })
    }

    /// Applies one effect once per idempotency key, with the event it produces, in one
    /// transaction.
    pub async fn apply(&self, effect: Effect) -> Result<(), PgWorldError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO demo_effects (idempotency_key, saga, command_type) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .await?;
        let applied = tx
            .execute(&insert, &[&effect.key, &effect.saga, &effect.command_type])
            .await?;
        if applied == 1
            && let Some((event_id, event_type, payload)) = effect.event
        {
            let event_id =
                uuid::Uuid::parse_str(&event_id).map_err(|e| PgWorldError::Other(e.to_string()))?;
            let payload: serde_json::Value =
                serde_json::from_str(&payload).map_err(|e| PgWorldError::Other(e.to_string()))?;
            let mut envelope = EventEnvelope::from_json(event_id, event_type, payload);
            envelope.stream_id = Some(effect.saga);
            EventLog::append(&*tx, &[envelope])
                .await
                .map_err(|e| PgWorldError::Other(e.to_string()))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Appends the start events of sagas `0..to` that are not in the log yet.
    async fn create_sagas(&self, to: i64, reject: impl Fn(i64) -> u64) -> Result<(), PgWorldError> {
        let client = self.pool.get().await?;
        for chunk in (0..to).collect::<Vec<_>>().chunks(1_000) {
            let events: Vec<EventEnvelope> = chunk
                .iter()
                .map(|&i| {
                    let saga = saga_id(i);
                    let payload = serde_json::json!({ "order_id": saga, "amount": reject(i) });
                    let event_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, saga.as_bytes());
                    let mut e = EventEnvelope::from_json(event_id, "OrderPlaced", payload);
                    e.stream_id = Some(saga);
                    e
                })
                .collect();
            EventLog::append(&**client, &events)
                .await
                .map_err(|e| PgWorldError::Other(e.to_string()))?;
        }
        client
            .execute(
                "INSERT INTO demo_meta (key, value) VALUES ('sagas', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = greatest(demo_meta.value, excluded.value)",
                &[&to],
            )
            .await?;
        Ok(())
    }

    /// Sagas finished (completed, compensated or parked), across every node.
    async fn finished(&self) -> Result<i64, PgWorldError> {
        let client = self.pool.get().await?;
        Ok(client
            .query_one(
                "SELECT count(*) FROM pm_instance WHERE pm = 'order_fulfillment' \
                 AND status IN ('completed', 'compensated', 'parked')",
                &[],
            )
            .await?
            .get(0))
    }

    /// Every applied effect as (saga, command type, times applied).
    async fn effects(&self) -> Result<Vec<(String, String, i64)>, PgWorldError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT saga, command_type, count(*) FROM demo_effects GROUP BY saga, command_type",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// The baseline: `rows` instance-sized rows written with raw tokio-postgres, batched
    /// 1000 per `INSERT ... SELECT FROM unnest`, one transaction per batch. Returns rows/s.
    async fn raw_baseline(&self, rows: usize) -> Result<f64, PgWorldError> {
        let client = self.pool.get().await?;
        client
            .batch_execute(
                "DROP TABLE IF EXISTS demo_raw; CREATE TABLE demo_raw (
                     id text PRIMARY KEY, state bytea NOT NULL, outbox jsonb NOT NULL)",
            )
            .await?;
        let state = br#"{"amount":42,"charged":true,"reserved":false,"shipped":false}"#.to_vec();
        let outbox = serde_json::json!([{ "command_type": "ReserveStock", "order_id": "x" }]);
        let started = Instant::now();
        for start in (0..rows).step_by(1_000) {
            let n = 1_000.min(rows - start);
            let ids: Vec<String> = (start..start + n).map(|i| format!("raw-{i}")).collect();
            let states = vec![state.clone(); n];
            let outboxes = vec![outbox.clone(); n];
            client
                .execute(
                    "INSERT INTO demo_raw (id, state, outbox) \
                     SELECT * FROM unnest($1::text[], $2::bytea[], $3::jsonb[])",
                    &[&ids, &states, &outboxes],
                )
                .await?;
        }
        let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
        client.batch_execute("DROP TABLE demo_raw").await?;
        Ok(rate)
    }
}

/// Runs one node until every saga of the schema has finished (on whichever node).
pub(super) async fn run(args: &Args, url: &str) -> Result<Summary, DemoError> {
    let mut options = PostgresOptions {
        schema: args.schema.clone(),
        ..PostgresOptions::default()
    };
    if let Some(node) = &args.node {
        options.node_id = node.clone();
    }
    if let Some(ttl) = args.lease_ttl {
        options.lease_ttl = ttl;
        options.heartbeat = ttl / 4;
    }
    let store = PostgresStore::connect(url, options)
        .await
        .map_err(DemoError::Open)?;
    let world = PgWorld::open(url, &args.schema).await?;
    world
        .create_sagas(args.sagas, |i| 10 + (i as u64 % 90))
        .await?;
    let runtime = Runtime::builder()
        .store(store.clone())
        .dispatcher(command_side::CommandSide::postgres(
            world.clone(),
            args.reject_rate,
        ))
        .idle_timeout(Duration::from_secs(2))
        .register::<DemoOrder>()
        .start()
        .await?;
    let reader = store.event_reader(runtime.clone()).batch(2_000).spawn();
    let started = Instant::now();
    let mut last = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let finished = world.finished().await?;
        if !args.quiet {
            let instances = runtime.instances::<DemoOrder>().await?;
            report::progress(
                &Tally::count(args.sagas, &instances),
                rate(&runtime, started),
            );
        }
        if finished >= args.sagas {
            break;
        }
        if finished != last.0 {
            last = (finished, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(120) {
            eprintln!("pm-demo: no saga finished for two minutes; stopping");
            break;
        }
    }
    let events_per_s = rate(&runtime, started);
    reader.abort();
    runtime.settled().await;
    // The last effect of a saga lands before its instance records the outcome, possibly on
    // another node: give the statuses a moment to catch up before counting them.
    let catch_up = Instant::now() + Duration::from_secs(60);
    let mut instances = runtime.instances::<DemoOrder>().await?;
    while Tally::count(args.sagas, &instances).in_flight > 0 && Instant::now() < catch_up {
        tokio::time::sleep(Duration::from_millis(100)).await;
        instances = runtime.instances::<DemoOrder>().await?;
    }
    let mut tally = Tally::count(args.sagas, &instances);
    tally.check_effects(&instances, &world.effects().await?);
    runtime.shutdown().await?;
    if let Err(error) = store.release().await {
        eprintln!("pm-demo: cannot release the leases ({error}); they expire by themselves");
    }
    if !args.quiet {
        report::progress(&tally, events_per_s);
        eprintln!();
    }
    let baseline = if args.raw_baseline {
        let rows = runtime_rows(&instances);
        Some((rows, world.raw_baseline(rows).await?))
    } else {
        None
    };
    Ok(Summary {
        tally,
        events_per_s,
        baseline,
    })
}

/// Writes the runtime made: one per handled event (a commit), at least one per instance.
fn runtime_rows(instances: &[pm_runtime::InstanceSummary]) -> usize {
    instances.iter().map(|i| i.revision as usize).sum()
}

fn rate(runtime: &Runtime, started: Instant) -> f64 {
    runtime.stats().handled as f64 / started.elapsed().as_secs_f64().max(1e-3)
}
