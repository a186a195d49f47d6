//! The cryptographic ground floor: the signing key (kept out of logs), keyed HMAC states of
//! either hash, and the decoded signature tag (compared in constant time, never with `==`).

pub(crate) mod hex;
pub(crate) mod key;
pub(crate) mod mac;
pub(crate) mod signature;
