//! `pm-bench`: every measure of pm-runtime beside its baseline, one line each.
//!
//! ```text
//! cargo run --release -p pm-bench -- [--quick] [--only routed,memory,...] [--publishers N]
//! ```
//!
//! Each line reads `name key=value ...`; where a measure has a baseline, the line carries it
//! and the ratio (runtime / baseline, higher is better for rates, lower for costs), and the
//! goal of the performance issue with `met=yes|no`. `--quick` runs everything in under two
//! minutes on a 2-core machine.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pm_bench::activation::{baseline_start, instance_start, reload_sqlite};
use pm_bench::baseline_router::Baseline;
use pm_bench::counting::{self, Counting, live_bytes};
use pm_bench::decode::{Decoder, ns_per_buffer, ns_per_iter, owned_buffers, sample_json};
use pm_bench::direct::direct_loop;
use pm_bench::drive::per_second;
use pm_bench::durable::{GroupSizes, raw_rusqlite, runtime_sqlite};
use pm_bench::ids::{command_ids_from_scratch_ns, command_ids_ns, uuid_v4_ns};
use pm_bench::latency;
use pm_bench::memory::{Host, per_idle_instance};
use pm_bench::postgres::{PgBenchError, raw_postgres, runtime_postgres};
use pm_bench::report::{Line, median, micros, quantile};
use pm_bench::routed::Routed;
use pm_bench::saga::{DiscardStore, Ticked, tokio_runtime};
use pm_runtime::{Event, EventEnvelope, Synchronous};
use tracing_subscriber::layer::SubscriberExt;
use uuid::Uuid;

// Counts allocations while a measure asks it to (see `pm_bench::counting`; the criterion
// benches do not have it).
#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations per event of `pass`, counted (and not timed).
async fn allocations_per_event(events: usize, pass: impl Future<Output = Duration>) -> f64 {
    let was = counting::switch(true);
    let before = counting::allocations();
    pass.await;
    let made = counting::allocations() - before;
    counting::switch(was);
    made as f64 / events.max(1) as f64
}

/// The reference numbers of the issue (evoq on Erlang/OTP 25, 2 cores).
mod evoq {
    pub(crate) const ROUTED_EVENTS_PER_S: f64 = 200_000.0;
    pub(crate) const STARTS_PER_S: f64 = 40_000.0;
    pub(crate) const IDLE_BYTES: f64 = 3.8 * 1000.0;
}

/// The goals of the issue on this machine.
mod goal {
    pub(crate) const ROUTED_VS_BASELINE: f64 = 1.0;
    pub(crate) const IDLE_BYTES: f64 = 1024.0;
    pub(crate) const STARTS_PER_S: f64 = 500_000.0;
    pub(crate) const DURABLE_VS_RAW: f64 = 0.5;
    pub(crate) const DECODE_VS_CONCRETE: f64 = 1.2;
    pub(crate) const COMMAND_ID_NS: f64 = 100.0;
}

#[derive(Debug, Clone)]
struct Config {
    quick: bool,
    only: Option<Vec<String>>,
    publishers: usize,
    /// Multiplies every workload size: below 1 for profiling under valgrind.
    scale: f64,
}

impl Config {
    fn parse() -> Result<Self, String> {
        let mut config = Self {
            quick: false,
            only: None,
            publishers: 64,
            scale: 1.0,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => config.quick = true,
                "--only" => {
                    let list = args
                        .next()
                        .ok_or("--only takes a list: routed,memory,...")?;
                    config.only = Some(list.split(',').map(str::to_owned).collect());
                }
                "--publishers" => {
                    let n = args.next().ok_or("--publishers takes a number")?;
                    config.publishers = n.parse().map_err(|_| format!("bad --publishers `{n}`"))?;
                }
                "--scale" => {
                    let f = args.next().ok_or("--scale takes a factor")?;
                    config.scale = f.parse().map_err(|_| format!("bad --scale `{f}`"))?;
                }
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
            }
        }
        Ok(config)
    }

    fn runs(&self, group: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == group))
    }

    /// The size `quick` in quick mode, `full` otherwise, times `--scale`.
    fn pick(&self, quick: usize, full: usize) -> usize {
        let size = if self.quick { quick } else { full };
        ((size as f64 * self.scale).round() as usize).max(1)
    }
}

const USAGE: &str = "usage: pm-bench [--quick] [--only routed,latency,memory,activation,durable,postgres,decode,ids] [--publishers N] [--scale F]
  --quick       everything in under two minutes (a million idle instances are estimated)
  --only        run these measure groups only
  --publishers  concurrent publisher tasks of the throughput measures (default 64)
  --scale       multiply every workload size by F (e.g. 0.02 under valgrind)";

fn main() -> ExitCode {
    let config = match Config::parse() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let groups = GroupSizes::new();
    let subscriber = tracing_subscriber::registry().with(groups.layer());
    tracing::subscriber::set_global_default(subscriber).expect("no other subscriber is set");

    let started = Instant::now();
    println!("{}", header(&config));
    let tokio = tokio_runtime();
    tokio.block_on(run(&config, &groups));
    drop(tokio);
    println!(
        "{}",
        Line::new("total").dec("wall_s", started.elapsed().as_secs_f64())
    );
    ExitCode::SUCCESS
}

async fn run(config: &Config, groups: &Arc<GroupSizes>) {
    if config.runs("routed") {
        for (name, instances) in [
            ("routed_1", 1),
            ("routed_1k", 1_000),
            ("routed_10k", 10_000),
            ("routed_100k", 100_000),
        ] {
            routed(config, name, instances).await;
        }
    }
    if config.runs("latency") {
        latency(config).await;
    }
    if config.runs("memory") {
        memory(config).await;
    }
    if config.runs("activation") {
        activation(config).await;
    }
    if config.runs("durable") {
        for synchronous in [Synchronous::Full, Synchronous::Normal] {
            durable(config, groups, synchronous).await;
        }
    }
    if config.runs("postgres") {
        postgres(config).await;
    }
    if config.runs("decode") {
        decode(config);
    }
    if config.runs("ids") {
        ids(config);
    }
}

fn header(config: &Config) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().replace(' ', "_"))
        })
        .unwrap_or_else(|| "unknown".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    Line::new("machine")
        .field("nproc", nproc)
        .field("date", utc_now())
        .field("mode", if config.quick { "quick" } else { "full" })
        .field("publishers", config.publishers)
        .field("cpu", cpu)
        .to_string()
}

/// Timed rounds of each routed measure. The runtime and the router take turns, so each
/// ratio compares passes run moments apart; the medians over rounds are reported, which a
/// change of the machine's speed during one pass (a neighbour on the host) does not move.
const ROUTED_ROUNDS: usize = 5;

/// 1. Routed in-memory events/s: runtime, hand-written router, direct loop.
async fn routed(config: &Config, name: &str, instances: usize) {
    let instances = config.pick(instances, instances);
    let events = config.pick(200_000, 1_000_000);
    let warmup = events / 10;
    let publishers = config.publishers;

    // The warm-up passes count allocations; the timed passes run with counting off.
    let (routed, _) = Routed::start(instances, publishers).await;
    let (baseline, _) = Baseline::start(instances, publishers).await;
    let runtime_allocs = allocations_per_event(warmup, routed.publish(warmup, publishers)).await;
    let baseline_allocs = allocations_per_event(warmup, baseline.publish(warmup, publishers)).await;
    // At 10k, two variants beside the default: events in envelopes, whose ids are recorded
    // for dedup where a typed publish's are not (see `Routed::publish_envelopes`), and a
    // runtime on a store that keeps nothing, which tells the store's share of the gap.
    let variants = instances == 10_000;
    let discarding = if variants {
        Some(
            Routed::start_on(DiscardStore, instances, publishers)
                .await
                .0,
        )
    } else {
        None
    };
    let (mut rates, mut baseline_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut envelope_rates, mut envelope_ratios) = (Vec::new(), Vec::new());
    let (mut discard_rates, mut discard_ratios) = (Vec::new(), Vec::new());
    for _ in 0..ROUTED_ROUNDS {
        let rate = per_second(events, routed.publish(events, publishers).await);
        let baseline_rate = per_second(events, baseline.publish(events, publishers).await);
        rates.push(rate);
        baseline_rates.push(baseline_rate);
        ratios.push(rate / baseline_rate);
        if variants {
            let rate = per_second(events, routed.publish_envelopes(events, publishers).await);
            envelope_rates.push(rate);
            envelope_ratios.push(rate / baseline_rate);
        }
        if let Some(discarding) = &discarding {
            let rate = per_second(events, discarding.publish(events, publishers).await);
            discard_rates.push(rate);
            discard_ratios.push(rate / baseline_rate);
        }
    }
    let state = routed.state(0).await;
    assert!(state.events > 1, "the events reached the instances");
    routed.shutdown().await;
    baseline.shutdown().await;
    if let Some(discarding) = discarding {
        discarding.shutdown().await;
    }

    let direct_time = tokio::task::spawn_blocking(move || direct_loop(instances, events))
        .await
        .expect("the direct loop runs");

    let rate = median(&mut rates);
    let baseline_rate = median(&mut baseline_rates);
    let ratio = median(&mut ratios);
    let direct_rate = per_second(events, direct_time);
    let mut line = Line::new(name)
        .int("events_per_s", rate)
        .int("baseline_events_per_s", baseline_rate)
        .dec("ratio", ratio)
        .int("direct_events_per_s", direct_rate)
        .dec("direct_ratio", rate / direct_rate)
        .dec("allocs_per_event", runtime_allocs)
        .dec("baseline_allocs_per_event", baseline_allocs)
        .field("instances", instances)
        .field("events", events)
        .field("rounds", ROUTED_ROUNDS)
        .field("publishers", publishers);
    if variants {
        line = line
            .int("envelope_events_per_s", median(&mut envelope_rates))
            .dec("envelope_ratio", median(&mut envelope_ratios))
            .int("discard_store_events_per_s", median(&mut discard_rates))
            .dec("discard_store_ratio", median(&mut discard_ratios));
    }
    if instances >= 10_000 {
        line = line.dec("evoq_ratio", rate / evoq::ROUTED_EVENTS_PER_S);
    }
    if instances == 10_000 {
        line = met(line, ratio >= goal::ROUTED_VS_BASELINE, ">=1.0x_baseline");
    }
    println!("{line}");
}

/// 2. Round-trip latency of one event on an idle runtime.
async fn latency(config: &Config) {
    let samples = config.pick(20_000, 100_000);
    let (routed, _) = Routed::start(0, 1).await;
    let mut handle = latency::handle_event(&routed.runtime, samples).await;
    let mut publish = latency::publish(&routed.runtime, samples).await;
    routed.shutdown().await;
    let mut baseline = latency::baseline(samples).await;
    let p = |s: &mut Vec<Duration>, q| micros(quantile(s, q));
    println!(
        "{}",
        Line::new("latency_handle_event")
            .dec("p50_us", p(&mut handle, 0.5))
            .dec("p99_us", p(&mut handle, 0.99))
            .dec("baseline_p50_us", p(&mut baseline, 0.5))
            .dec("baseline_p99_us", p(&mut baseline, 0.99))
            .field("samples", samples)
    );
    println!(
        "{}",
        Line::new("latency_publish")
            .dec("p50_us", p(&mut publish, 0.5))
            .dec("p99_us", p(&mut publish, 0.99))
            .field("samples", samples)
    );
}

/// 3. Memory per idle live instance.
async fn memory(config: &Config) {
    let was = counting::switch(true);
    memory_counted(config).await;
    counting::switch(was);
}

async fn memory_counted(config: &Config) {
    let publishers = config.publishers;
    let n = config.pick(100_000, 100_000);
    let alone = per_idle_instance(Host::RuntimeAlone, n, publishers, live_bytes).await;
    let awake = per_idle_instance(Host::RuntimeAwake, n, publishers, live_bytes).await;
    let in_memory = per_idle_instance(Host::RuntimeInMemory, n, publishers, live_bytes).await;
    let baseline = per_idle_instance(Host::Baseline, n, publishers, live_bytes).await;
    let line = memory_line("memory_100k", n, alone, in_memory, baseline)
        .int("awake_bytes_per_instance", awake);
    println!("{}", met(line, alone <= goal::IDLE_BYTES, "<=1024"));

    let million = config.pick(1_000_000, 1_000_000);
    if config.quick {
        // Quick mode measures the runtime alone at a million (hibernated instances take a few
        // hundred megabytes and seconds); the other variants take gigabytes and are left to
        // the full run.
        let line = Line::new("memory_1m");
        let line = if (alone * million as f64 * 1.3) < available_bytes().unwrap_or(0) as f64 {
            let bytes =
                per_idle_instance(Host::RuntimeAlone, million, publishers, live_bytes).await;
            line.int("bytes_per_instance", bytes)
                .dec("evoq_ratio", bytes / evoq::IDLE_BYTES)
                .field("instances", million)
                .field("others", "full_run_only")
                .field_met(bytes)
        } else {
            line.int("bytes_per_instance", alone)
                .field("estimated", "scaled_from_100k_(not_enough_free_memory)")
                .field("instances", million)
                .field_met(alone)
        };
        println!("{line}");
        return;
    }
    // Each variant runs alone and frees everything before the next; skip one that would not
    // fit in the memory the machine has free (others may be building on it).
    let fits = |per_instance: f64| {
        let need = per_instance * million as f64 * 1.3;
        available_bytes().is_some_and(|free| need < free as f64)
    };
    let mut line = Line::new("memory_1m");
    let mut alone_1m = None;
    if fits(alone) {
        let bytes = per_idle_instance(Host::RuntimeAlone, million, publishers, live_bytes).await;
        alone_1m = Some(bytes);
        line = line.int("bytes_per_instance", bytes);
    } else {
        line = line
            .int("bytes_per_instance", alone)
            .field("estimated", "scaled_from_100k_(not_enough_free_memory)");
    }
    if fits(in_memory) {
        let bytes = per_idle_instance(Host::RuntimeInMemory, million, publishers, live_bytes).await;
        line = line.int("with_in_memory_store_bytes", bytes);
    } else {
        line = line.field(
            "with_in_memory_store_bytes",
            "skipped_(not_enough_free_memory)",
        );
    }
    let baseline = per_idle_instance(Host::Baseline, million, publishers, live_bytes).await;
    let alone = alone_1m.unwrap_or(alone);
    line = line
        .int("baseline_bytes_per_instance", baseline)
        .dec("ratio", alone / baseline)
        .dec("evoq_ratio", alone / evoq::IDLE_BYTES)
        .field("instances", million);
    println!("{}", met(line, alone <= goal::IDLE_BYTES, "<=1024"));
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
fn available_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn memory_line(name: &str, n: usize, alone: f64, in_memory: f64, baseline: f64) -> Line {
    Line::new(name)
        .int("bytes_per_instance", alone)
        .int("with_in_memory_store_bytes", in_memory)
        .int("baseline_bytes_per_instance", baseline)
        .dec("ratio", alone / baseline)
        .dec("evoq_ratio", alone / evoq::IDLE_BYTES)
        .field("instances", n)
}

/// 4. Activation: instance starts, and reloads of passivated instances from SQLite.
async fn activation(config: &Config) {
    let n = config.pick(100_000, 300_000);
    let publishers = config.publishers;
    // The first rounds of a process pay its heap's growth (page faults), whichever side
    // runs first: the sides alternate over three rounds each and the medians are compared.
    let (mut runtime_rates, mut baseline_rates) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        runtime_rates.push(per_second(n, instance_start(n, publishers).await));
        baseline_rates.push(per_second(n, baseline_start(n, publishers).await));
    }
    let rate = median(&mut runtime_rates);
    let baseline_rate = median(&mut baseline_rates);
    let line = Line::new("instance_start")
        .int("starts_per_s", rate)
        .int("baseline_starts_per_s", baseline_rate)
        .dec("ratio", rate / baseline_rate)
        .dec("evoq_ratio", rate / evoq::STARTS_PER_S)
        .field("instances", n)
        .field("publishers", publishers);
    println!("{}", met(line, rate >= goal::STARTS_PER_S, ">=500000/s"));

    let n = config.pick(10_000, 50_000);
    let sequential = config.pick(500, 2_000);
    let mut reload = reload_sqlite(n, sequential, publishers).await;
    println!(
        "{}",
        Line::new("reload_sqlite")
            .int(
                "reloads_per_s",
                per_second(reload.concurrent, reload.concurrent_time)
            )
            .dec(
                "sequential_p50_us",
                micros(quantile(&mut reload.sequential, 0.5))
            )
            .dec(
                "sequential_p99_us",
                micros(quantile(&mut reload.sequential, 0.99))
            )
            .field("instances", n)
            .field("synchronous", "NORMAL")
    );
}

/// 5. Durable events/s on SQLite against raw rusqlite, same writes, same group size.
async fn durable(config: &Config, groups: &Arc<GroupSizes>, synchronous: Synchronous) {
    let instances = 1_000;
    let publishers = 1_000;
    let events = config.pick(40_000, 200_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (groups_before, commits_before) = groups.snapshot();
    let runtime_time = runtime_sqlite(dir.path(), synchronous, instances, events, publishers).await;
    let (groups_after, commits_after) = groups.snapshot();
    let group_count = groups_after - groups_before;
    // Mean commits per group over the whole run (the opening included).
    let mean_group = if group_count == 0 {
        1.0
    } else {
        (commits_after - commits_before) as f64 / group_count as f64
    };
    let group = mean_group.round().max(1.0) as usize;
    let path = dir.path().to_path_buf();
    let raw_time = tokio::task::spawn_blocking(move || {
        raw_rusqlite(&path, synchronous, instances, events, group)
    })
    .await
    .expect("the raw run");
    let rate = per_second(events, runtime_time);
    let raw_rate = per_second(events, raw_time);
    let name = match synchronous {
        Synchronous::Full => "durable_sqlite_full",
        Synchronous::Normal => "durable_sqlite_normal",
    };
    let line = Line::new(name)
        .int("events_per_s", rate)
        .int("raw_events_per_s", raw_rate)
        .dec("ratio", rate / raw_rate)
        .dec("mean_group", mean_group)
        .field("instances", instances)
        .field("publishers", publishers)
        .field("events", events);
    println!(
        "{}",
        met(line, rate / raw_rate >= goal::DURABLE_VS_RAW, ">=0.5x_raw")
    );
}

/// PostgreSQL (measure 6): the runtime against raw tokio-postgres batched inserts, when
/// `PM_TEST_POSTGRES_URL` names a server.
async fn postgres(config: &Config) {
    let Ok(url) = std::env::var("PM_TEST_POSTGRES_URL") else {
        println!("postgres skipped reason=PM_TEST_POSTGRES_URL_not_set");
        return;
    };
    let instances = 1_000;
    let publishers = 256;
    let events = config.pick(3_000, 20_000);
    let measured = async {
        let runtime = runtime_postgres(&url, instances, events, publishers).await?;
        let raw = raw_postgres(&url, instances, events).await?;
        Ok::<_, PgBenchError>((runtime, raw))
    };
    match measured.await {
        Ok((runtime, raw)) => {
            let (rate, raw_rate) = (per_second(events, runtime), per_second(events, raw));
            let line = Line::new("durable_postgres")
                .int("events_per_s", rate)
                .int("raw_batched_rows_per_s", raw_rate)
                .dec("ratio", rate / raw_rate)
                .field("instances", instances)
                .field("publishers", publishers)
                .field("events", events)
                .field("nodes", 1);
            println!("{line}");
        }
        // The URL was given, so a failure is reported, not skipped.
        Err(error) => println!(
            "postgres failed error={}",
            error.to_string().replace(' ', "_")
        ),
    }
}

/// Rounds of the decode and command id measures. Each decode round times every variant one
/// after the other, so a ratio compares figures taken moments apart; the medians over rounds
/// are reported, which a change of the machine's speed during one round (a neighbour on the
/// host) does not move.
const DECODE_ROUNDS: u64 = 9;

/// 7. Event decode through the generated dispatch against the concrete struct.
fn decode(config: &Config) {
    let iters = config.pick(1_000_000, 5_000_000) as u64;
    let bytes = sample_json();
    let mut decoder = Decoder::default();
    // Warm up each path once.
    decoder.dispatch_owned(bytes.clone());
    decoder.concrete_owned(bytes.clone());
    decoder.dispatch_json(&bytes);
    decoder.payload_json(&bytes);
    decoder.concrete_json(&bytes);
    let envelope = EventEnvelope::from_json_bytes(Uuid::from_u128(3), Ticked::NAME, bytes.clone());
    let per_round = iters / DECODE_ROUNDS;
    let buffers = || owned_buffers(&bytes, per_round as usize);
    let mut rounds: [Vec<f64>; 9] = Default::default();
    for _ in 0..DECODE_ROUNDS {
        let owned = ns_per_buffer(buffers(), |b| decoder.dispatch_owned(b));
        let concrete_owned = ns_per_buffer(buffers(), |b| decoder.concrete_owned(b));
        let borrowed = ns_per_iter(per_round, |_| decoder.dispatch_json(&bytes));
        let in_envelope = ns_per_iter(per_round, |_| decoder.dispatch_envelope(&envelope));
        let payload = ns_per_iter(per_round, |_| decoder.payload_json(&bytes));
        let concrete = ns_per_iter(per_round, |_| decoder.concrete_json(&bytes));
        let figures = [
            owned,
            concrete_owned,
            owned / concrete_owned,
            borrowed,
            in_envelope,
            payload,
            concrete,
            borrowed / concrete,
            in_envelope / concrete,
        ];
        for (round, figure) in rounds.iter_mut().zip(figures) {
            round.push(figure);
        }
    }
    let [
        owned,
        concrete_owned,
        ratio,
        borrowed,
        in_envelope,
        payload,
        concrete,
        borrowed_ratio,
        in_envelope_ratio,
    ] = rounds.map(|mut figures| median(&mut figures));
    let line = Line::new("decode_json")
        .dec("dispatch_ns", owned)
        .dec("concrete_ns", concrete_owned)
        .dec("ratio", ratio)
        .dec("borrowed_dispatch_ns", borrowed)
        .dec("borrowed_concrete_ns", concrete)
        .dec("borrowed_ratio", borrowed_ratio)
        .dec("dispatch_in_envelope_ns", in_envelope)
        .dec("in_envelope_ratio", in_envelope_ratio)
        .dec("payload_ns", payload)
        .field("iters", per_round * DECODE_ROUNDS)
        .field("rounds", DECODE_ROUNDS);
    println!("{}", met(line, ratio <= goal::DECODE_VS_CONCRETE, "<=1.2x"));
    let typed_iters = iters * 10;
    let dispatch = ns_per_iter(typed_iters, |_| decoder.dispatch_typed());
    let concrete = ns_per_iter(typed_iters, |_| decoder.concrete_typed());
    std::hint::black_box(decoder.state());
    println!(
        "{}",
        Line::new("decode_typed")
            .dec("dispatch_ns", dispatch)
            .dec("concrete_ns", concrete)
            .dec("ratio", dispatch / concrete.max(0.01))
            .field("iters", typed_iters)
    );
}

/// 8. Command id generation.
fn ids(config: &Config) {
    let iters = config.pick(2_000_000, 10_000_000) as u64;
    command_ids_ns(iters / 10);
    // The median of rounds, as for decode: one slow stretch of the VM moves it less.
    let mut rounds: Vec<f64> = (0..DECODE_ROUNDS)
        .map(|_| command_ids_ns(iters / DECODE_ROUNDS))
        .collect();
    let ns = median(&mut rounds);
    let scratch = command_ids_from_scratch_ns(iters / 2);
    let v4 = uuid_v4_ns(iters / 10);
    let line = Line::new("command_id")
        .dec("ns", ns)
        .dec("from_scratch_ns", scratch)
        .dec("uuid_v4_ns", v4)
        .field("iters", iters);
    println!("{}", met(line, ns <= goal::COMMAND_ID_NS, "<=100ns"));
}

/// The idle-memory goal on a `memory_1m` line.
trait IdleGoal {
    fn field_met(self, bytes: f64) -> Line;
}

impl IdleGoal for Line {
    fn field_met(self, bytes: f64) -> Line {
        met(self, bytes <= goal::IDLE_BYTES, "<=1024")
    }
}

fn met(line: Line, ok: bool, goal: &str) -> Line {
    line.field("goal", goal)
        .field("met", if ok { "yes" } else { "no" })
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}
