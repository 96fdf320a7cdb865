//! Runnable sagas on pm-runtime: the examples in `examples/` and the `pm-demo` binary.

pub mod demo;
