//! The ids an (unsigned) events header names, checked against the ones the signed body
//! states: a contradiction means the header was changed after signing.

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::events::fields::DatabaseApi;
use crate::events::name::{EventName, KNOWN_ACTIONS};

/// The ids a signed body states about itself, read without parsing the rest of it.
#[derive(serde::Deserialize)]
pub(crate) struct SignedIds {
    #[serde(rename = "$id", default, deserialize_with = "text")]
    pub(super) id: Option<String>,
    #[serde(rename = "$databaseId", default, deserialize_with = "text")]
    pub(super) database_id: Option<String>,
    #[serde(rename = "$tableId", default, deserialize_with = "text")]
    pub(super) table_id: Option<String>,
    #[serde(rename = "$collectionId", default, deserialize_with = "text")]
    pub(super) collection_id: Option<String>,
}

/// A string field, or `None` for any other JSON value (the model parse reports those).
fn text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value: serde_json::Value = serde::Deserialize::deserialize(deserializer)?;
    Ok(value.as_str().map(str::to_owned))
}

/// A model that carries its `$id` (required, a string): every payload outside the databases.
pub(super) trait Identified: DeserializeOwned {
    fn signed_id(&self) -> &str;
}

macro_rules! identified {
    ($($model:ident),* $(,)?) => {$(
        impl Identified for crate::models::$model {
            fn signed_id(&self) -> &str {
                &self.id
            }
        }
    )*};
}

identified!(
    User, Session, Token, Target, Bucket, File, Team, Membership, Function, Execution, Deployment,
    Site, Message, Topic, Subscriber, Provider, Schedule, ProxyRule, Report, Insight,
);

/// Parses the body into the model of an event outside the databases and checks the name's ids
/// against it, in one pass over the body. Such a name names no database, table or collection,
/// so `$id` is the only id [`check_signed_ids`] would compare, and a model that parsed holds
/// exactly the body's `$id`. A body that does not fit the model gets the separate pass, so a
/// contradiction is still reported before the parse error, as before.
pub(super) fn checked<T: Identified>(name: &EventName, body: &[u8]) -> Result<T, Error> {
    match serde_json::from_slice::<T>(body) {
        Ok(model) => {
            check_ids(name, Some(model.signed_id()), None, None, None)?;
            Ok(model)
        }
        Err(error) => {
            check_signed_ids(name, body)?;
            Err(Error::InvalidPayload(error))
        }
    }
}

/// The name's ids against the ones the signed body states: the resource's own `$id` (the
/// name's last id), `$databaseId`, and `$tableId` / `$collectionId` (either vocabulary). A
/// contradiction means the events header was changed after signing:
/// [`Error::EventContradictsBody`]. Bodies that are not objects, or lack a field, pass.
pub(crate) fn check_signed_ids(name: &EventName, body: &[u8]) -> Result<Option<SignedIds>, Error> {
    let Ok(signed) = serde_json::from_slice::<SignedIds>(body) else {
        return Ok(None);
    };
    check_ids(
        name,
        signed.id.as_deref(),
        signed.database_id.as_deref(),
        signed.table_id.as_deref(),
        signed.collection_id.as_deref(),
    )?;
    Ok(Some(signed))
}

/// [`check_signed_ids`]'s comparison, for ids read from the body or from a parsed model.
pub(super) fn check_ids(
    name: &EventName,
    id: Option<&str>,
    database_id: Option<&str>,
    table_id: Option<&str>,
    collection_id: Option<&str>,
) -> Result<(), Error> {
    // `id` reads either vocabulary: `tables` finds a `collections` id too.
    let table = name.id("tables");
    let database = DatabaseApi::from_service(name.service()).and_then(|_| name.id(name.service()));
    // A last "id" that is an action word (`users.U.sessions.delete`) names no resource.
    let leaf = name
        .path()
        .last()
        .map(|(_, id)| id)
        .filter(|id| !is_action(id));
    let checks = [
        ("$id", id, leaf),
        ("$databaseId", database_id, database),
        ("$tableId", table_id, table),
        ("$collectionId", collection_id, table),
    ];
    for (field, body, header) in checks {
        if let (Some(body), Some(header)) = (body, header)
            && body != header
        {
            return Err(Error::EventContradictsBody {
                field,
                body: body.to_owned(),
                header: header.to_owned(),
            });
        }
    }
    Ok(())
}

/// Whether `segment` is one of the actions Appwrite puts after a resource.
pub(super) fn is_action(segment: &str) -> bool {
    KNOWN_ACTIONS.contains(&segment)
}
