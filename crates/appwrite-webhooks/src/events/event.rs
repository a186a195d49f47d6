//! The typed event of a delivery: which resource, which action, and the payload as its model.

use crate::events::fields::{Action, DatabaseApi, DeploymentOwner, TokenKind};
use crate::models::{
    Attribute, Bucket, Collection, Column, ColumnIndex, Database, Deployment, Document, Execution,
    File, Function, Index, Insight, Membership, Message, Provider, ProxyRule, Report, Row,
    Schedule, Session, Site, Subscriber, Table, Target, Team, Token, Topic, User,
};

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
    /// An alert from Appwrite's notifications worker ([`Scheme::Alert`](crate::Scheme::Alert)):
    /// not an event about a resource, so it has no action.
    Alert(crate::events::alert::Alert),
    /// An event this version does not map (a new service or resource, an MFA factor, a
    /// challenge, recovery codes, an empty body), or a delivery with no concrete event name.
    Unknown {
        /// The primary event name, or the whole events header when none parses.
        name: String,
        /// The payload as untyped JSON.
        raw: serde_json::Value,
    },
    /// A verified event whose body is JSON but does not fit the model its name promises: a
    /// newer or older Appwrite than the models know. It is handed on rather than refused,
    /// because Appwrite counts every answer of 400 or more as a failed attempt and disables
    /// the webhook after ten in a row; a warning is logged. Ask for
    /// [`Strict`](crate::Strict) (or [`Delivery::event_strict`](crate::Delivery::event_strict))
    /// to refuse it with `400` instead.
    Unparsed {
        /// The primary event name.
        name: String,
        /// The payload as untyped JSON.
        raw: serde_json::Value,
        /// Why it did not fit the model.
        error: String,
    },
}
