//! Runnable sagas on pm-runtime; see `examples/`.
