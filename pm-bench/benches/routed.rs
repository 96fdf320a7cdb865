//! Criterion: routed in-memory events through the runtime, the hand-written actor router and
//! the direct handler loop, at 1k instances (see `pm_bench::routed` for what each includes).

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pm_bench::baseline_router::Baseline;
use pm_bench::direct::direct_loop;
use pm_bench::routed::Routed;
use pm_bench::saga::tokio_runtime;

/// Events per criterion iteration.
const EVENTS: usize = 1_000;
const INSTANCES: usize = 1_000;
const PUBLISHERS: usize = 64;

fn routed(c: &mut Criterion) {
    let tokio = tokio_runtime();
    let mut group = c.benchmark_group("routed_1k");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(EVENTS as u64));

    let (runtime, _) = tokio.block_on(Routed::start(INSTANCES, PUBLISHERS));
    group.bench_function("runtime", |b| {
        b.iter_custom(|iters| tokio.block_on(runtime.publish(iters as usize * EVENTS, PUBLISHERS)))
    });
    tokio.block_on(runtime.shutdown());

    let (baseline, _) = tokio.block_on(Baseline::start(INSTANCES, PUBLISHERS));
    group.bench_function("baseline_router", |b| {
        b.iter_custom(|iters| tokio.block_on(baseline.publish(iters as usize * EVENTS, PUBLISHERS)))
    });
    tokio.block_on(baseline.shutdown());

    group.bench_function("direct", |b| {
        b.iter_custom(|iters| direct_loop(INSTANCES, iters as usize * EVENTS))
    });
    group.finish();
}

// `criterion_group!` declares an undocumented `pub fn`.
#[allow(missing_docs, unreachable_pub)]
mod group {
    use super::*;
    criterion_group!(benches, routed);
}
criterion_main!(group::benches);
