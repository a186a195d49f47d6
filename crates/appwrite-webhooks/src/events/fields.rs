//! The values an [`Event`](crate::Event) carries besides its ids and payload: what happened, which
//! database API, which kind of token, what owns a deployment.

/// What happened to the resource.
///
/// ```
/// use appwrite_webhooks::Action;
/// assert_eq!(Action::from("create"), Action::Create);
/// assert_eq!(Action::from("archive"), Action::Other("archive".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// `create`
    Create,
    /// `update` (see the variant's `attribute` for `update.email` and the like)
    Update,
    /// `upsert`
    Upsert,
    /// `delete`
    Delete,
    /// An action this version does not know.
    Other(String),
}

impl From<&str> for Action {
    fn from(action: &str) -> Self {
        match action {
            "create" => Action::Create,
            "update" => Action::Update,
            "upsert" => Action::Upsert,
            "delete" => Action::Delete,
            other => Action::Other(other.to_owned()),
        }
    }
}

/// Which database API an event comes from: its first segment.
///
/// ```
/// use appwrite_webhooks::DatabaseApi;
/// assert_eq!(DatabaseApi::from_service("tablesdb"), Some(DatabaseApi::TablesDb));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DatabaseApi {
    /// `databases.` names (the legacy API, and the mirror of `tablesdb.`).
    Databases,
    /// `tablesdb.` names.
    TablesDb,
    /// `documentsdb.` names.
    DocumentsDb,
    /// `vectorsdb.` names.
    VectorsDb,
}

impl DatabaseApi {
    /// The API for an event's service segment, if it is a database service.
    ///
    /// ```
    /// assert_eq!(appwrite_webhooks::DatabaseApi::from_service("users"), None);
    /// ```
    pub fn from_service(service: &str) -> Option<Self> {
        Some(match service {
            "databases" => Self::Databases,
            "tablesdb" => Self::TablesDb,
            "documentsdb" => Self::DocumentsDb,
            "vectorsdb" => Self::VectorsDb,
            _ => return None,
        })
    }
}

/// Which kind of token a `users.*` token event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// `users.[userId].recovery.[tokenId]`: a password recovery.
    Recovery,
    /// `users.[userId].verification.[tokenId]`: an email verification.
    Verification,
    /// `users.[userId].tokens.[tokenId]`: a token created for the user (magic URL, OTP, …).
    Token,
}

/// What owns a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeploymentOwner {
    /// `functions.[functionId].deployments.*`
    Function(String),
    /// `sites.[siteId].deployments.*`
    Site(String),
}
