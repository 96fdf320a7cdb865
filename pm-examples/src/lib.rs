//! Runnable sagas on pm-runtime: the examples in `examples/` and the `pm-demo` binary.
//!
//! The sagas of the examples live in [`sagas`], so that `tests/` can check them with the
//! [`pm_runtime::testing::Fixture`]; [`trace`] is the event loop the examples share, and
//! [`cqrs_bank`] the cqrs-es command side of the `cqrs_es` example.

pub mod cqrs_bank;
pub mod demo;
pub mod sagas;
pub mod trace;
