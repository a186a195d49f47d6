//! Deciding an event's variant from its name, and parsing the payload into the variant's model.

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::events::event::Event;
use crate::events::fields::{Action, DatabaseApi, DeploymentOwner, TokenKind};
use crate::events::name::EventName;
use crate::events::signed_ids::{check_ids, check_signed_ids, checked, is_action};
use crate::models::User;

impl Event {
    /// Decides the variant from `name` and the signed body, and parses the body into the
    /// variant's model. A body that is JSON but does not fit the model becomes
    /// [`Event::Unparsed`] (logged at warn) unless `strict`, which refuses it
    /// ([`Error::InvalidPayload`]). A body that is not JSON, or a header that contradicts the
    /// body, is refused either way.
    pub(crate) fn from_parts(
        name: Option<&EventName>,
        body: &[u8],
        strict: bool,
    ) -> Result<Self, Error> {
        match Self::typed(name, body) {
            Err(Error::InvalidPayload(error)) if !strict => {
                let Ok(raw) = serde_json::from_slice::<serde_json::Value>(body) else {
                    return Err(Error::InvalidPayload(error));
                };
                let name = name.map(ToString::to_string).unwrap_or_default();
                metrics::counter!(crate::observe::UNPARSED).increment(1);
                tracing::warn!(
                    event = %name,
                    %error,
                    "Appwrite payload does not fit its model; handing it on as Event::Unparsed"
                );
                Ok(Event::Unparsed {
                    name,
                    raw,
                    error: error.to_string(),
                })
            }
            other => other,
        }
    }

    fn typed(name: Option<&EventName>, body: &[u8]) -> Result<Self, Error> {
        let Some(name) = name else {
            return Ok(Event::Unknown {
                name: String::new(),
                raw: parse(body)?,
            });
        };
        let db = DatabaseApi::from_service(name.service());
        // A database event's kind and parent ids are read from the body before its model (one
        // pass for the ids, one for the model). Every other event checks only the `$id` its
        // model carries, after the one parse ([`checked`]); only a body that does not fit the
        // model, or an event without one, takes the separate pass.
        let signed = match db {
            Some(_) => check_signed_ids(name, body)?,
            None => None,
        };
        let action = || Action::from(name.action().unwrap_or(""));
        let attribute = || name.attribute().map(str::to_owned);
        let id = |resource: &str| name.id(resource).unwrap_or_default().to_owned();
        let resources: Vec<&str> = name.path().map(|(resource, _)| resource).collect();
        let unknown = || -> Result<Event, Error> {
            if db.is_none() {
                check_signed_ids(name, body)?;
            }
            Ok(Event::Unknown {
                name: name.to_string(),
                raw: parse(body)?,
            })
        };
        // Rows and documents are told apart by the signed body, not the name: a TablesDB row
        // created through a documents route is announced under the documents name (1.8+).
        let resources = match (db, resources.as_slice(), &signed) {
            (Some(_), [service, "collections", "documents"], Some(ids))
                if ids.table_id.is_some() && ids.collection_id.is_none() =>
            {
                vec![*service, "tables", "rows"]
            }
            (Some(_), [service, "tables", "rows"], Some(ids))
                if ids.collection_id.is_some() && ids.table_id.is_none() =>
            {
                vec![*service, "collections", "documents"]
            }
            _ => resources,
        };

        let event = match (db, resources.as_slice()) {
            // A users event whose signed body is not that user (MFA recovery codes announced as
            // `users.U.create`, an authenticator deletion's `[]`, an MFA type) is not a user
            // event, whatever the name says.
            (None, ["users"]) => match serde_json::from_slice::<User>(body) {
                Ok(user) => {
                    check_ids(name, Some(&user.id), None, None, None)?;
                    if Some(user.id.as_str()) == name.id("users") {
                        Event::User {
                            action: action(),
                            attribute: attribute(),
                            user,
                        }
                    } else {
                        unknown()?
                    }
                }
                Err(error) => {
                    let signed = check_signed_ids(name, body)?;
                    if signed.as_ref().and_then(|ids| ids.id.as_deref()) != name.id("users") {
                        unknown()?
                    } else {
                        return Err(Error::InvalidPayload(error));
                    }
                }
            },
            // `users.U.sessions.delete`: every session of the user deleted, the user as the
            // body. The user still exists: never `Action::Delete`.
            (None, ["users", "sessions"]) if name.id("sessions").is_some_and(is_action) => {
                Event::User {
                    action: Action::Other(format!("sessions.{}", id("sessions"))),
                    attribute: Some("sessions".to_owned()),
                    user: checked(name, body)?,
                }
            }
            (None, ["users", "sessions"]) => Event::Session {
                user_id: id("users"),
                action: action(),
                session: checked(name, body)?,
            },
            (None, ["users", kind @ ("recovery" | "verification" | "tokens")]) => Event::Token {
                user_id: id("users"),
                kind: match *kind {
                    "recovery" => TokenKind::Recovery,
                    "verification" => TokenKind::Verification,
                    _ => TokenKind::Token,
                },
                action: action(),
                token: checked(name, body)?,
            },
            (None, ["users", "targets"]) => Event::Target {
                user_id: id("users"),
                action: action(),
                target: checked(name, body)?,
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
                bucket: checked(name, body)?,
            },
            (None, ["buckets", "files"]) => Event::File {
                bucket_id: id("buckets"),
                action: action(),
                file: checked(name, body)?,
            },
            (None, ["teams"]) => Event::Team {
                action: action(),
                attribute: attribute(),
                team: checked(name, body)?,
            },
            (None, ["teams", "memberships"]) => Event::Membership {
                team_id: id("teams"),
                action: action(),
                attribute: attribute(),
                membership: checked(name, body)?,
            },
            (None, ["functions"]) => Event::Function {
                action: action(),
                function: checked(name, body)?,
            },
            (None, ["functions", "executions"]) => Event::Execution {
                function_id: id("functions"),
                action: action(),
                execution: checked(name, body)?,
            },
            // A site's logs are executions (1.7.5+); `function_id` is the site's id.
            (None, ["sites", "logs"]) => Event::Execution {
                function_id: id("sites"),
                action: action(),
                execution: checked(name, body)?,
            },
            (None, ["functions", "deployments"]) => Event::Deployment {
                owner: DeploymentOwner::Function(id("functions")),
                action: action(),
                deployment: checked(name, body)?,
            },
            (None, ["sites", "deployments"]) => Event::Deployment {
                owner: DeploymentOwner::Site(id("sites")),
                action: action(),
                deployment: checked(name, body)?,
            },
            (None, ["sites"]) => Event::Site {
                action: action(),
                site: checked(name, body)?,
            },
            (None, ["messages"]) => Event::Message {
                action: action(),
                message: checked(name, body)?,
            },
            (None, ["topics"]) => Event::Topic {
                action: action(),
                topic: checked(name, body)?,
            },
            (None, ["topics", "subscribers"]) => Event::Subscriber {
                topic_id: id("topics"),
                action: action(),
                subscriber: checked(name, body)?,
            },
            (None, ["providers"]) => Event::Provider {
                action: action(),
                provider: checked(name, body)?,
            },
            (None, ["schedules"]) => Event::Schedule {
                action: action(),
                schedule: checked(name, body)?,
            },
            (None, ["rules"]) => Event::ProxyRule {
                action: action(),
                rule: checked(name, body)?,
            },
            (None, ["reports"]) => Event::Report {
                action: action(),
                report: checked(name, body)?,
            },
            (None, ["reports", "insights"]) => Event::Insight {
                report_id: id("reports"),
                action: action(),
                insight: checked(name, body)?,
            },
            _ => unknown()?,
        };
        Ok(event.with_parent_ids_from_body())
    }

    /// Parent ids the model carries replace the ones read from the (unsigned) name: the signed
    /// body decides. A real Appwrite delivery has the same ids in both; the samples built from
    /// Appwrite's model examples do not, which is why a difference here is not refused.
    fn with_parent_ids_from_body(mut self) -> Self {
        fn take(field: &mut String, signed: &str) {
            if !signed.is_empty() {
                signed.clone_into(field);
            }
        }
        match &mut self {
            Event::Session {
                user_id, session, ..
            } => take(user_id, &session.user_id),
            Event::Token { user_id, token, .. } => take(user_id, &token.user_id),
            Event::Target {
                user_id, target, ..
            } => take(user_id, &target.user_id),
            Event::File {
                bucket_id, file, ..
            } => take(bucket_id, &file.bucket_id),
            Event::Membership {
                team_id,
                membership,
                ..
            } => take(team_id, &membership.team_id),
            Event::Execution {
                function_id,
                execution,
                ..
            } => take(function_id, &execution.resource_id),
            Event::Subscriber {
                topic_id,
                subscriber,
                ..
            } => take(topic_id, &subscriber.topic_id),
            Event::Deployment {
                owner: DeploymentOwner::Function(id) | DeploymentOwner::Site(id),
                deployment,
                ..
            } => take(id, &deployment.resource_id),
            _ => {}
        }
        self
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(Error::InvalidPayload)
}
