//! The workloads of pm-runtime's benchmarks, shared by the `pm-bench` binary and the
//! criterion benches.
//!
//! Every measure compares the runtime with what a user would otherwise write, in the same run
//! on the same machine: a hand-written tokio actor-per-instance router
//! ([`baseline_router`]), a direct call of the handlers ([`direct`]), raw `rusqlite`
//! ([`durable`]), raw `tokio-postgres` ([`postgres`]), decoding the concrete struct ([`decode`]). The modules hold the workloads
//! and return durations or byte counts; printing and goals live in the binary. No test
//! asserts on timing.

pub mod activation;
pub mod baseline_router;
pub mod counting;
pub mod decode;
pub mod direct;
pub mod drive;
pub mod durable;
pub mod ids;
pub mod latency;
pub mod memory;
pub mod postgres;
pub mod report;
pub mod routed;
pub mod saga;
