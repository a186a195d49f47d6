//! Deciding an event's variant from its name, and parsing the payload into the variant's model.

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::events::event::{Action, DatabaseApi, DeploymentOwner, Event, TokenKind};
use crate::events::name::EventName;

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
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(Error::InvalidPayload)
}
