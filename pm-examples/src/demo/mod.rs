//! `pm-demo`: order sagas on the embedded SQLite store, against a simulated command side that
//! records every effect durably, so a run can be killed at any moment and resumed.
//!
//! One file holds everything: the runtime's tables (`pm_*`) and the demo's world (`demo_*`):
//! the event log the aggregates append to, the effects applied, and the feed's cursor.
//!
//! With `--postgres URL` the same sagas run on the PostgreSQL store instead, world included
//! (see `pg`), so several `pm-demo` processes with distinct `--node` ids share the work.

mod args;
mod command_side;
mod feed;
mod pg;
mod report;
mod saga;
mod world;

use std::time::{Duration, Instant};

use pm_runtime::{Runtime, SqliteOptions, SqliteStore, StoreError, Synchronous};

pub use args::{Args, USAGE};
pub use command_side::stock_refused;
pub use pg::{PgWorld, PgWorldError};
pub use report::Tally;
pub use saga::DemoOrder;
pub use world::{World, WorldError, saga_id};

/// Why a demo run failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The database could not be opened as ours (the message names the path): exit code 2.
    #[error(transparent)]
    Open(StoreError),
    /// The demo's tables failed.
    #[error(transparent)]
    World(#[from] WorldError),
    /// The runtime failed.
    #[error(transparent)]
    Runtime(#[from] pm_runtime::Error),
    /// The demo's tables in PostgreSQL failed.
    #[error(transparent)]
    Pg(#[from] PgWorldError),
}

/// What a run reports: the tally and the throughput of this run.
#[derive(Debug)]
pub struct Summary {
    /// Saga outcomes and the effect checks.
    pub tally: Tally,
    /// Events handled per second during this run (by this node).
    pub events_per_s: f64,
    /// With `--raw-baseline`: rows written by raw batched inserts, and rows per second.
    pub baseline: Option<(usize, f64)>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} events_per_s={:.0}", self.tally, self.events_per_s)?;
        if let Some((rows, per_s)) = self.baseline {
            write!(f, " raw_rows={rows} raw_rows_per_s={per_s:.0}")?;
        }
        Ok(())
    }
}

/// Events read from the log per feed round.
const FEED_BATCH: i64 = 2_000;

/// Runs the demo to the end: every saga finished, or nothing left that can move.
pub async fn run(args: &Args) -> Result<Summary, DemoError> {
    if let Some(url) = &args.postgres {
        return pg::run(args, url).await;
    }
    let options = SqliteOptions {
        synchronous: if args.normal_sync {
            Synchronous::Normal
        } else {
            Synchronous::Full
        },
        ..SqliteOptions::default()
    };
    let db = args.db.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open_with(&db, options))
        .await
        .map_err(|e| {
            DemoError::World(WorldError::Sqlite {
                path: args.db.clone(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })
        })?
        .map_err(DemoError::Open)?;
    let world = World::open(&args.db)?;
    let requested = world.meta("sagas").await?;
    if args.sagas > requested {
        world
            .create_sagas(requested, args.sagas, |i| 10 + (i as u64 % 90))
            .await?;
    }
    let sagas = args.sagas.max(requested);

    let runtime = Runtime::builder()
        .store(store)
        .dispatcher(command_side::CommandSide::new(
            world.clone(),
            args.reject_rate,
        ))
        .idle_timeout(Duration::from_secs(2))
        .register::<DemoOrder>()
        .start()
        .await?;

    let started = Instant::now();
    let mut cursor = world.meta("cursor").await?;
    let mut last_report = Instant::now();
    let mut idle_rounds = 0;
    loop {
        let (next, published) = feed::pump(&runtime, &world, cursor, FEED_BATCH).await?;
        cursor = next;
        if !args.quiet && last_report.elapsed() > Duration::from_millis(200) {
            let instances = runtime.instances::<DemoOrder>().await?;
            report::progress(&Tally::count(sagas, &instances), rate(&runtime, started));
            last_report = Instant::now();
        }
        if published > 0 {
            idle_rounds = 0;
            continue;
        }
        // Nothing new in the log: let the outboxes drain, which may append more.
        runtime.settled().await;
        if world.events_after(cursor, 1).await?.is_empty() {
            idle_rounds += 1;
            // Two quiet rounds after settling: nothing can move any more.
            if idle_rounds >= 2 {
                break;
            }
        }
    }
    let events_per_s = rate(&runtime, started);
    let instances = runtime.instances::<DemoOrder>().await?;
    let mut tally = Tally::count(sagas, &instances);
    tally.check_effects(&instances, &world.effects().await?);
    runtime.shutdown().await?;
    if !args.quiet {
        report::progress(&tally, events_per_s);
        eprintln!();
    }
    Ok(Summary {
        tally,
        events_per_s,
        baseline: None,
    })
}

fn rate(runtime: &Runtime, started: Instant) -> f64 {
    runtime.stats().handled as f64 / started.elapsed().as_secs_f64().max(1e-3)
}
