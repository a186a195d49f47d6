//! Verification: the [`Verifier`](crate::Verifier), its configuration and entry points, the
//! signed URL, and the streaming state a body is fed through.

pub(crate) mod basic;
pub(crate) mod config;
pub(crate) mod deprecated;
pub(crate) mod entry;
pub(crate) mod keys;
pub(crate) mod operating;
pub(crate) mod options;
pub(crate) mod resolver;
pub(crate) mod source;
pub(crate) mod streaming;
pub(crate) mod url;
pub(crate) mod verifier;
