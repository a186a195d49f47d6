//! The workspace's root package: it owns the top-level `examples/`, and compiles the README's
//! code blocks as doc tests. Not published; depend on the `appwrite-webhooks` crates instead.
//! The conformance tests over Appwrite's data are `crates/testkit/tests/`.

/// The README's code, compiled and run by `cargo test` (`cargo test --doc -p
/// appwrite-webhooks-workspace`) like any doc example.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
