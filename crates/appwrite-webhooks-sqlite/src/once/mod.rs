//! Exactly-once effects: a handler's writes to the ledger's file and its delivery's `done`
//! in one transaction, and, opt-in, per-resource ordering in that same transaction.

mod guard;
pub(crate) mod handler;
mod ordering;
pub(crate) mod transaction;
