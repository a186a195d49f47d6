//! The workspace's root package: it owns the top-level `examples/` and the conformance tests in
//! `tests/`, which run against the data in `../shared/appwrite`. Not published; depend on the
//! `appwrite-webhooks` crates instead.
