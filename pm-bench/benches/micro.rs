//! Criterion: event decode through the generated dispatch against the concrete struct,
//! command id generation, and the `handle_event` round trip.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, criterion_group, criterion_main};
use pm_bench::decode::{Decoder, sample_json};
use pm_bench::ids::{command_ids_ns, uuid_v4_ns};
use pm_bench::latency;
use pm_bench::routed::Routed;
use pm_bench::saga::tokio_runtime;

fn short<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group
}

fn decode(c: &mut Criterion) {
    let bytes = sample_json();
    let mut decoder = Decoder::default();
    let mut group = short(c, "decode");
    // Owned buffers, as a driver hands them out; criterion builds each outside the timing.
    group.bench_function("json_dispatch_owned", |b| {
        b.iter_batched(
            || bytes.clone(),
            |buffer| decoder.dispatch_owned(buffer),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("json_concrete_owned", |b| {
        b.iter_batched(
            || bytes.clone(),
            |buffer| decoder.concrete_owned(buffer),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("json_dispatch", |b| {
        b.iter(|| decoder.dispatch_json(&bytes))
    });
    group.bench_function("json_payload", |b| b.iter(|| decoder.payload_json(&bytes)));
    group.bench_function("json_concrete", |b| {
        b.iter(|| decoder.concrete_json(&bytes))
    });
    group.bench_function("typed_dispatch", |b| b.iter(|| decoder.dispatch_typed()));
    group.bench_function("typed_concrete", |b| b.iter(|| decoder.concrete_typed()));
    group.finish();
    black_box(decoder.state());
}

fn ids(c: &mut Criterion) {
    let mut group = short(c, "ids");
    // `command_ids_ns` times its own loop; criterion times the whole call.
    group.bench_function("command_ids_x1000", |b| b.iter(|| command_ids_ns(1_000)));
    group.bench_function("uuid_v4_x1000", |b| b.iter(|| uuid_v4_ns(1_000)));
    group.finish();
}

fn round_trip(c: &mut Criterion) {
    let tokio = tokio_runtime();
    let (routed, _) = tokio.block_on(Routed::start(0, 1));
    let mut group = short(c, "round_trip");
    group.bench_function("handle_event", |b| {
        b.iter_custom(|iters| {
            tokio
                .block_on(latency::handle_event(&routed.runtime, iters as usize))
                .into_iter()
                .sum()
        })
    });
    group.bench_function("baseline_router", |b| {
        b.iter_custom(|iters| {
            tokio
                .block_on(latency::baseline(iters as usize))
                .into_iter()
                .sum()
        })
    });
    group.finish();
    tokio.block_on(routed.shutdown());
}

// `criterion_group!` declares an undocumented `pub fn`.
#[allow(missing_docs, unreachable_pub)]
mod group {
    use super::*;
    criterion_group!(benches, decode, ids, round_trip);
}
criterion_main!(group::benches);
