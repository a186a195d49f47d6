//! Verification: the [`Verifier`] and what it is built from — keys, keyed MACs, the signature
//! value, the signed URL — and the streaming state a body is fed through.

pub(crate) mod config;
pub(crate) mod key;
pub(crate) mod mac;
pub(crate) mod signature;
pub(crate) mod streaming;
pub(crate) mod url;
pub(crate) mod verifier;
