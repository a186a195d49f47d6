//! The guide: everything the README leaves out, one chapter per module.
//!
//! | chapter | what it answers |
//! |---|---|
//! | [`concepts`] | what a delivery is, the ledger, the delivery guarantee, inbox mode, what Appwrite signs and what it does not, keys |
//! | [`versions`] | which Appwrite versions send what, the other signing schemes, Appwrite's alerts |
//! | [`operating`] | metrics, logs and alerts for a receiver in production |
//! | [`cli`] | the `appwrite-webhooks` command: `sign`, `verify`, `send`, `listen`, `inspect`, `inbox` |
//! | [`conformance`] | the grader: `appwrite-webhooks conformance` against any receiver, in any language |
//! | [`security`] | the security model and the threats, with what answers each |
//! | [`benchmarks`] | what verification, the layer, the ledger and the inbox cost (summary of BENCHMARKS.md) |
//!
//! **Why a module, not a book.** The guide lives here, as documentation modules of the core
//! crate (like `clap::_tutorial`), rather than in an mdBook: docs.rs publishes it next to the
//! API it talks about, its links to items are checked by `cargo doc`, and every Rust code block
//! in it is a doc test that `cargo test` compiles and runs with no extra tool — so the guide
//! cannot drift from the code, and CI (25 minutes on 2 cores) pays nothing for a second build
//! system. The chapters are Markdown files in `crates/appwrite-webhooks/docs/guide/`, readable
//! on GitHub as well. The modules contain no items.

#[doc = include_str!("../docs/guide/concepts.md")]
pub mod concepts {}

#[doc = include_str!("../docs/guide/versions.md")]
pub mod versions {}

#[doc = include_str!("../docs/guide/operating.md")]
pub mod operating {}

#[doc = include_str!("../docs/guide/cli.md")]
pub mod cli {}

#[doc = include_str!("../docs/guide/conformance.md")]
pub mod conformance {}

#[doc = include_str!("../docs/guide/security.md")]
pub mod security {}

#[doc = include_str!("../docs/guide/benchmarks.md")]
pub mod benchmarks {}
