//! Events: names as Appwrite writes them, its expansion of one event into many names,
//! subscription patterns, and the typed [`Event`] a delivery carries.

pub(crate) mod alert;
pub(crate) mod event;
pub(crate) mod expand;
pub(crate) mod fields;
pub(crate) mod header;
pub(crate) mod kind;
pub(crate) mod name;
pub(crate) mod pattern;
pub(crate) mod signed_ids;
pub(crate) mod typing;
