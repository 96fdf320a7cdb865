//! Test-only crate: see `tests/` and `ui/`.
