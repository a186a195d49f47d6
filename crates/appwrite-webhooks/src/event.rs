//! The typed event of a delivery: which resource, which action, and the payload as its model.

use serde::de::DeserializeOwned;

use crate::models::{
    Attribute, Bucket, Collection, Column, ColumnIndex, Database, Deployment, Document, Execution,
    File, Function, Index, Insight, Membership, Message, Provider, ProxyRule, Report, Row,
    Schedule, Session, Site, Subscriber, Table, Target, Team, Token, Topic, User,
};
use crate::{Error, EventName};

/// What happened to the resource.
///
/// ```
/// use appwrite_webhooks::Action;
/// assert_eq!(Action::from("create"), Action::Create);
/// assert_eq!(Action::from("archive"), Action::Other("archive".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
pub enum DeploymentOwner {
    /// `functions.[functionId].deployments.*`
    Function(String),
    /// `sites.[siteId].deployments.*`
    Site(String),
}

/// A delivery's event, typed: decided by its primary event name, with the payload parsed into
/// the model Appwrite's catalogue names for it. Ids are those of the event name.
///
/// `Unknown` keeps any event this version does not know, with its payload as JSON.
///
/// ```
/// use appwrite_webhooks::{Action, Event};
///
/// # let delivery = appwrite_webhooks::sender::example_delivery();
/// match delivery.event()? {
///     Event::User { action: Action::Create, user, .. } => println!("welcome {}", user.name),
///     Event::Row { table_id, row, .. } if table_id == "orders" => println!("order {}", row.id),
///     Event::Unknown { name, .. } => println!("not handled: {name}"),
///     _ => {}
/// }
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
// Events are handled one at a time and rarely moved; boxing each payload would cost an
// allocation per delivery for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `users.[userId].{create,update,delete}` and `users.[userId].update.{email,name,…}`.
    User {
        /// What happened.
        action: Action,
        /// What was updated: `email`, `name`, `password`, `status`, `prefs`, `phone`, `mfa`,
        /// `labels`, `verification`, `impersonator`.
        attribute: Option<String>,
        /// The user.
        user: User,
    },
    /// `users.[userId].sessions.[sessionId].*`
    Session {
        /// The user's id.
        user_id: String,
        /// What happened.
        action: Action,
        /// The session.
        session: Session,
    },
    /// `users.[userId].{recovery,verification,tokens}.[tokenId].*`
    Token {
        /// The user's id.
        user_id: String,
        /// Which kind of token.
        kind: TokenKind,
        /// What happened.
        action: Action,
        /// The token.
        token: Token,
    },
    /// `users.[userId].targets.[targetId].*`
    Target {
        /// The user's id.
        user_id: String,
        /// What happened.
        action: Action,
        /// The messaging target.
        target: Target,
    },
    /// `{databases,tablesdb,documentsdb,vectorsdb}.[databaseId].*`
    Database {
        /// Which database API.
        api: DatabaseApi,
        /// What happened.
        action: Action,
        /// The database.
        database: Database,
    },
    /// `….[databaseId].tables.[tableId].*`
    Table {
        /// Which database API.
        api: DatabaseApi,
        /// The database's id.
        database_id: String,
        /// What happened.
        action: Action,
        /// The table.
        table: Table,
    },
    /// `….[databaseId].collections.[collectionId].*`
    Collection {
        /// Which database API.
        api: DatabaseApi,
        /// The database's id.
        database_id: String,
        /// What happened.
        action: Action,
        /// The collection.
        collection: Collection,
    },
    /// `….tables.[tableId].columns.[columnId].*`
    Column {
        /// Which database API.
        api: DatabaseApi,
        /// The database's id.
        database_id: String,
        /// The table's id.
        table_id: String,
        /// The column's id (its key).
        column_id: String,
        /// What happened.
        action: Action,
        /// The column (any variant; see [`Column`]).
        column: Column,
    },
    /// `….collections.[collectionId].attributes.[attributeId].*`
    Attribute {
        /// Which database API.
        api: DatabaseApi,
        /// The database's id.
        database_id: String,
        /// The collection's id.
        collection_id: String,
        /// The attribute's id (its key).
        attribute_id: String,
        /// What happened.
        action: Action,
        /// The attribute (any variant; see [`Attribute`]).
        attribute: Attribute,
    },
    /// `….tables.[tableId].indexes.[indexId].*`
    ColumnIndex {
        /// Which database API.
        api: DatabaseApi,
        /// The database's id.
        database_id: String,
        /// The table's id.
        table_id: String,
        /// What happened.
        action: Action,
        /// The index.
        index: ColumnIndex,
    },
    /// `….collections.[collectionId].indexes.[indexId].*`
    Index {
        /// Which database API.
        api: DatabaseApi,
        /// The database's id.
        database_id: String,
        /// The collection's id.
        collection_id: String,
        /// What happened.
        action: Action,
        /// The index.
        index: Index,
    },
    /// `….tables.[tableId].rows.[rowId].*` — deserialize the body as `Row<YourType>` with
    /// [`Delivery::json`](crate::Delivery::json) for typed columns.
    Row {
        /// Which database API.
        api: DatabaseApi,
        /// The database's id.
        database_id: String,
        /// The table's id.
        table_id: String,
        /// What happened.
        action: Action,
        /// The row, user columns in `row.data`.
        row: Row,
    },
    /// `….collections.[collectionId].documents.[documentId].*`
    Document {
        /// Which database API.
        api: DatabaseApi,
        /// The database's id.
        database_id: String,
        /// The collection's id.
        collection_id: String,
        /// What happened.
        action: Action,
        /// The document, user attributes in `document.data`.
        document: Document,
    },
    /// `buckets.[bucketId].*`
    Bucket {
        /// What happened.
        action: Action,
        /// The bucket.
        bucket: Bucket,
    },
    /// `buckets.[bucketId].files.[fileId].*`
    File {
        /// The bucket's id.
        bucket_id: String,
        /// What happened.
        action: Action,
        /// The file.
        file: File,
    },
    /// `teams.[teamId].*`, including `update.prefs`.
    Team {
        /// What happened.
        action: Action,
        /// What was updated (`prefs`).
        attribute: Option<String>,
        /// The team.
        team: Team,
    },
    /// `teams.[teamId].memberships.[membershipId].*`, including `update.status`.
    Membership {
        /// The team's id.
        team_id: String,
        /// What happened.
        action: Action,
        /// What was updated (`status`).
        attribute: Option<String>,
        /// The membership.
        membership: Membership,
    },
    /// `functions.[functionId].*`
    Function {
        /// What happened.
        action: Action,
        /// The function.
        function: Function,
    },
    /// `functions.[functionId].executions.[executionId].*`
    Execution {
        /// The function's id.
        function_id: String,
        /// What happened.
        action: Action,
        /// The execution.
        execution: Execution,
    },
    /// `{functions,sites}.[id].deployments.[deploymentId].*`
    Deployment {
        /// The function or site it belongs to.
        owner: DeploymentOwner,
        /// What happened.
        action: Action,
        /// The deployment.
        deployment: Deployment,
    },
    /// `sites.[siteId].*`
    Site {
        /// What happened.
        action: Action,
        /// The site.
        site: Site,
    },
    /// `messages.[messageId].*`
    Message {
        /// What happened.
        action: Action,
        /// The message.
        message: Message,
    },
    /// `topics.[topicId].*`
    Topic {
        /// What happened.
        action: Action,
        /// The topic.
        topic: Topic,
    },
    /// `topics.[topicId].subscribers.[subscriberId].*`
    Subscriber {
        /// The topic's id.
        topic_id: String,
        /// What happened.
        action: Action,
        /// The subscriber.
        subscriber: Subscriber,
    },
    /// `providers.[providerId].*`
    Provider {
        /// What happened.
        action: Action,
        /// The messaging provider.
        provider: Provider,
    },
    /// `schedules.[scheduleId].*`
    Schedule {
        /// What happened.
        action: Action,
        /// The schedule.
        schedule: Schedule,
    },
    /// `rules.[ruleId].*`
    ProxyRule {
        /// What happened.
        action: Action,
        /// The proxy rule.
        rule: ProxyRule,
    },
    /// `reports.[reportId].*`
    Report {
        /// What happened.
        action: Action,
        /// The report.
        report: Report,
    },
    /// `reports.[reportId].insights.[insightId].*`
    Insight {
        /// The report's id.
        report_id: String,
        /// What happened.
        action: Action,
        /// The insight.
        insight: Insight,
    },
    /// An event this version does not map (a new service or resource), or a delivery with no
    /// concrete event name.
    Unknown {
        /// The primary event name, or the whole events header when none parses.
        name: String,
        /// The payload as untyped JSON.
        raw: serde_json::Value,
    },
}

/// Which variant an [`Event`] is, without its data: for routing by kind.
///
/// ```
/// # let delivery = appwrite_webhooks::sender::example_delivery();
/// assert_eq!(delivery.event()?.kind(), appwrite_webhooks::EventKind::User);
/// # Ok::<(), appwrite_webhooks::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // each is the `Event` variant of the same name
pub enum EventKind {
    User,
    Session,
    Token,
    Target,
    Database,
    Table,
    Collection,
    Column,
    Attribute,
    ColumnIndex,
    Index,
    Row,
    Document,
    Bucket,
    File,
    Team,
    Membership,
    Function,
    Execution,
    Deployment,
    Site,
    Message,
    Topic,
    Subscriber,
    Provider,
    Schedule,
    ProxyRule,
    Report,
    Insight,
    Unknown,
}

impl Event {
    /// Decides the variant from `name` and parses `body` into its model.
    pub(crate) fn from_parts(name: Option<&EventName>, body: &[u8]) -> Result<Self, Error> {
        let Some(name) = name else {
            return Ok(Event::Unknown {
                name: String::new(),
                raw: parse(body)?,
            });
        };
        let action = || Action::from(name.action().unwrap_or(""));
        let attribute = || name.attribute().map(str::to_owned);
        let id = |resource: &str| name.id(resource).unwrap_or_default().to_owned();
        let resources: Vec<&str> = name.path().map(|(resource, _)| resource).collect();
        let db = DatabaseApi::from_service(name.service());

        let event = match (db, resources.as_slice()) {
            (None, ["users"]) => Event::User {
                action: action(),
                attribute: attribute(),
                user: parse(body)?,
            },
            (None, ["users", "sessions"]) => Event::Session {
                user_id: id("users"),
                action: action(),
                session: parse(body)?,
            },
            (None, ["users", kind @ ("recovery" | "verification" | "tokens")]) => Event::Token {
                user_id: id("users"),
                kind: match *kind {
                    "recovery" => TokenKind::Recovery,
                    "verification" => TokenKind::Verification,
                    _ => TokenKind::Token,
                },
                action: action(),
                token: parse(body)?,
            },
            (None, ["users", "targets"]) => Event::Target {
                user_id: id("users"),
                action: action(),
                target: parse(body)?,
            },
            (Some(api), [_]) => Event::Database {
                api,
                action: action(),
                database: parse(body)?,
            },
            (Some(api), [_, "tables"]) => Event::Table {
                api,
                database_id: id(name.service()),
                action: action(),
                table: parse(body)?,
            },
            (Some(api), [_, "collections"]) => Event::Collection {
                api,
                database_id: id(name.service()),
                action: action(),
                collection: parse(body)?,
            },
            (Some(api), [_, "tables", "columns"]) => Event::Column {
                api,
                database_id: id(name.service()),
                table_id: id("tables"),
                column_id: id("columns"),
                action: action(),
                column: parse(body)?,
            },
            (Some(api), [_, "collections", "attributes"]) => Event::Attribute {
                api,
                database_id: id(name.service()),
                collection_id: id("collections"),
                attribute_id: id("attributes"),
                action: action(),
                attribute: parse(body)?,
            },
            (Some(api), [_, "tables", "indexes"]) => Event::ColumnIndex {
                api,
                database_id: id(name.service()),
                table_id: id("tables"),
                action: action(),
                index: parse(body)?,
            },
            (Some(api), [_, "collections", "indexes"]) => Event::Index {
                api,
                database_id: id(name.service()),
                collection_id: id("collections"),
                action: action(),
                index: parse(body)?,
            },
            (Some(api), [_, "tables", "rows"]) => Event::Row {
                api,
                database_id: id(name.service()),
                table_id: id("tables"),
                action: action(),
                row: parse(body)?,
            },
            (Some(api), [_, "collections", "documents"]) => Event::Document {
                api,
                database_id: id(name.service()),
                collection_id: id("collections"),
                action: action(),
                document: parse(body)?,
            },
            (None, ["buckets"]) => Event::Bucket {
                action: action(),
                bucket: parse(body)?,
            },
            (None, ["buckets", "files"]) => Event::File {
                bucket_id: id("buckets"),
                action: action(),
                file: parse(body)?,
            },
            (None, ["teams"]) => Event::Team {
                action: action(),
                attribute: attribute(),
                team: parse(body)?,
            },
            (None, ["teams", "memberships"]) => Event::Membership {
                team_id: id("teams"),
                action: action(),
                attribute: attribute(),
                membership: parse(body)?,
            },
            (None, ["functions"]) => Event::Function {
                action: action(),
                function: parse(body)?,
            },
            (None, ["functions", "executions"]) => Event::Execution {
                function_id: id("functions"),
                action: action(),
                execution: parse(body)?,
            },
            (None, ["functions", "deployments"]) => Event::Deployment {
                owner: DeploymentOwner::Function(id("functions")),
                action: action(),
                deployment: parse(body)?,
            },
            (None, ["sites", "deployments"]) => Event::Deployment {
                owner: DeploymentOwner::Site(id("sites")),
                action: action(),
                deployment: parse(body)?,
            },
            (None, ["sites"]) => Event::Site {
                action: action(),
                site: parse(body)?,
            },
            (None, ["messages"]) => Event::Message {
                action: action(),
                message: parse(body)?,
            },
            (None, ["topics"]) => Event::Topic {
                action: action(),
                topic: parse(body)?,
            },
            (None, ["topics", "subscribers"]) => Event::Subscriber {
                topic_id: id("topics"),
                action: action(),
                subscriber: parse(body)?,
            },
            (None, ["providers"]) => Event::Provider {
                action: action(),
                provider: parse(body)?,
            },
            (None, ["schedules"]) => Event::Schedule {
                action: action(),
                schedule: parse(body)?,
            },
            (None, ["rules"]) => Event::ProxyRule {
                action: action(),
                rule: parse(body)?,
            },
            (None, ["reports"]) => Event::Report {
                action: action(),
                report: parse(body)?,
            },
            (None, ["reports", "insights"]) => Event::Insight {
                report_id: id("reports"),
                action: action(),
                insight: parse(body)?,
            },
            _ => Event::Unknown {
                name: name.to_string(),
                raw: parse(body)?,
            },
        };
        Ok(event)
    }

    /// The variant, without its data.
    ///
    /// ```
    /// # let delivery = appwrite_webhooks::sender::example_delivery();
    /// assert_eq!(delivery.event()?.kind(), appwrite_webhooks::EventKind::User);
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn kind(&self) -> EventKind {
        match self {
            Event::User { .. } => EventKind::User,
            Event::Session { .. } => EventKind::Session,
            Event::Token { .. } => EventKind::Token,
            Event::Target { .. } => EventKind::Target,
            Event::Database { .. } => EventKind::Database,
            Event::Table { .. } => EventKind::Table,
            Event::Collection { .. } => EventKind::Collection,
            Event::Column { .. } => EventKind::Column,
            Event::Attribute { .. } => EventKind::Attribute,
            Event::ColumnIndex { .. } => EventKind::ColumnIndex,
            Event::Index { .. } => EventKind::Index,
            Event::Row { .. } => EventKind::Row,
            Event::Document { .. } => EventKind::Document,
            Event::Bucket { .. } => EventKind::Bucket,
            Event::File { .. } => EventKind::File,
            Event::Team { .. } => EventKind::Team,
            Event::Membership { .. } => EventKind::Membership,
            Event::Function { .. } => EventKind::Function,
            Event::Execution { .. } => EventKind::Execution,
            Event::Deployment { .. } => EventKind::Deployment,
            Event::Site { .. } => EventKind::Site,
            Event::Message { .. } => EventKind::Message,
            Event::Topic { .. } => EventKind::Topic,
            Event::Subscriber { .. } => EventKind::Subscriber,
            Event::Provider { .. } => EventKind::Provider,
            Event::Schedule { .. } => EventKind::Schedule,
            Event::ProxyRule { .. } => EventKind::ProxyRule,
            Event::Report { .. } => EventKind::Report,
            Event::Insight { .. } => EventKind::Insight,
            Event::Unknown { .. } => EventKind::Unknown,
        }
    }

    /// The action, `None` for [`Event::Unknown`].
    ///
    /// ```
    /// # let delivery = appwrite_webhooks::sender::example_delivery();
    /// assert_eq!(delivery.event()?.action(), Some(&appwrite_webhooks::Action::Create));
    /// # Ok::<(), appwrite_webhooks::Error>(())
    /// ```
    pub fn action(&self) -> Option<&Action> {
        match self {
            Event::User { action, .. }
            | Event::Session { action, .. }
            | Event::Token { action, .. }
            | Event::Target { action, .. }
            | Event::Database { action, .. }
            | Event::Table { action, .. }
            | Event::Collection { action, .. }
            | Event::Column { action, .. }
            | Event::Attribute { action, .. }
            | Event::ColumnIndex { action, .. }
            | Event::Index { action, .. }
            | Event::Row { action, .. }
            | Event::Document { action, .. }
            | Event::Bucket { action, .. }
            | Event::File { action, .. }
            | Event::Team { action, .. }
            | Event::Membership { action, .. }
            | Event::Function { action, .. }
            | Event::Execution { action, .. }
            | Event::Deployment { action, .. }
            | Event::Site { action, .. }
            | Event::Message { action, .. }
            | Event::Topic { action, .. }
            | Event::Subscriber { action, .. }
            | Event::Provider { action, .. }
            | Event::Schedule { action, .. }
            | Event::ProxyRule { action, .. }
            | Event::Report { action, .. }
            | Event::Insight { action, .. } => Some(action),
            Event::Unknown { .. } => None,
        }
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(Error::InvalidPayload)
}
