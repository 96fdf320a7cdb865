//! Criterion: durable events on SQLite (NORMAL) through the runtime with 1,000 instances and
//! 1,000 publishers, against raw rusqlite doing the same writes in transactions of 64 (see
//! `pm_bench::durable`). `pm-bench` measures FULL too and matches the raw transaction size to
//! the runtime's observed group size.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pm_bench::durable::{raw_rusqlite, runtime_sqlite};
use pm_bench::saga::tokio_runtime;
use pm_runtime::Synchronous;

const EVENTS: usize = 2_000;
const INSTANCES: usize = 1_000;
const PUBLISHERS: usize = 1_000;
const RAW_GROUP: usize = 64;

fn durable(c: &mut Criterion) {
    let tokio = tokio_runtime();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut group = c.benchmark_group("durable_sqlite_normal");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(EVENTS as u64));
    let mut run = 0;
    group.bench_function("runtime", |b| {
        b.iter_custom(|iters| {
            run += 1;
            let runs = dir.path().join(format!("runtime-{run}"));
            std::fs::create_dir_all(&runs).expect("a run directory");
            tokio.block_on(runtime_sqlite(
                &runs,
                Synchronous::Normal,
                INSTANCES,
                iters as usize * EVENTS,
                PUBLISHERS,
            ))
        })
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter_custom(|iters| {
            run += 1;
            let runs = dir.path().join(format!("raw-{run}"));
            std::fs::create_dir_all(&runs).expect("a run directory");
            raw_rusqlite(
                &runs,
                Synchronous::Normal,
                INSTANCES,
                iters as usize * EVENTS,
                RAW_GROUP,
            )
        })
    });
    group.finish();
}

// `criterion_group!` declares an undocumented `pub fn`.
#[allow(missing_docs, unreachable_pub)]
mod group {
    use super::*;
    criterion_group!(benches, durable);
}
criterion_main!(group::benches);
