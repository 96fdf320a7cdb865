//! Compile-time behaviour of the DSL: every accepted form compiles (`ui/pass`), every mistake
//! gives exactly one spanned error (`ui/fail`, one mistake per file, with its `.stderr`).
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p pm-tests --test ui`
//! and read every one before keeping it. They are pinned to the workspace's toolchain.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
