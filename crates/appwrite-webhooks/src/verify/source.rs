//! Where a verifier's keys come from, as a type: fixed keys, which a synchronous entry point can
//! use, or keys resolved per tenant, which need an `await`. A verifier that resolves keys has no
//! synchronous entry point, so the pairing fails to compile instead of failing at run time.

/// Where a [`Verifier`](crate::Verifier)'s keys come from: [`FixedKeys`] (the default, what
/// `Verifier` alone names) or [`PerTenant`]. Sealed: this crate's two markers are the only
/// ones. Adapters accept a verifier of either kind.
///
/// A verifier that resolves keys per tenant cannot be handed to a synchronous entry point:
///
/// ```compile_fail
/// use appwrite_webhooks::{StoreError, Tenant, Verifier};
/// let verifier = Verifier::per_tenant(|_: Tenant| async { Ok::<_, StoreError>(vec![]) }, "https://example.com/hook");
/// let _ = verifier.verify(&http::HeaderMap::new(), b"{}"); // no `verify` on Verifier<PerTenant>
/// ```
///
/// ```compile_fail
/// use appwrite_webhooks::{StoreError, Tenant, Verifier};
/// let verifier = Verifier::per_tenant(|_: Tenant| async { Ok::<_, StoreError>(vec![]) }, "https://example.com/hook");
/// let _ = verifier.verify_signature(&http::HeaderMap::new(), b"{}");
/// ```
///
/// Nor can it take fixed keys, which it would never try:
///
/// ```compile_fail
/// use appwrite_webhooks::{StoreError, Tenant, Verifier};
/// let verifier = Verifier::per_tenant(|_: Tenant| async { Ok::<_, StoreError>(vec![]) }, "https://example.com/hook")
///     .with_key("k");
/// ```
///
/// And a verifier with fixed keys has no resolver cache to tune:
///
/// ```compile_fail
/// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook")
///     .with_key_cache_ttl(std::time::Duration::from_secs(10));
/// ```
pub trait KeySource: sealed::Sealed + Send + Sync + 'static {}

/// The keys are given when the verifier is built (and may be replaced while it runs): every
/// entry point works, synchronous ones included. What `Verifier` alone means.
#[derive(Debug, Clone, Copy)]
pub enum FixedKeys {}

/// The keys are chosen per delivery by an asynchronous [`KeyResolver`](crate::KeyResolver)
/// ([`Verifier::per_tenant`](crate::Verifier::per_tenant)): only the asynchronous entry points
/// exist.
#[derive(Debug, Clone, Copy)]
pub enum PerTenant {}

/// Inside the crate only: a verifier whose key source no longer matters (inbox workers, which
/// only run asynchronous entry points), so one type holds either kind.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AnyKeys {}

impl KeySource for FixedKeys {}
impl KeySource for PerTenant {}
impl KeySource for AnyKeys {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::FixedKeys {}
    impl Sealed for super::PerTenant {}
    impl Sealed for super::AnyKeys {}
}
