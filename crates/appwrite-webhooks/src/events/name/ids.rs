//! Shortcuts for the ids the common resources' names carry (`user_id`, `database_id`, …),
//! on top of [`EventName::id`].

use crate::events::name::EventName;

impl EventName {
    /// The user id of a `users.*` event.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("users.u1.sessions.s1.create")?;
    /// assert_eq!(name.user_id(), Some("u1"));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn user_id(&self) -> Option<&str> {
        self.id("users")
    }

    /// The database id of a `databases`, `tablesdb`, `documentsdb` or `vectorsdb` event.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("tablesdb.shop.create")?;
    /// assert_eq!(name.database_id(), Some("shop"));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn database_id(&self) -> Option<&str> {
        matches!(
            self.service(),
            "databases" | "tablesdb" | "documentsdb" | "vectorsdb"
        )
        .then(|| self.seg(1))
    }

    /// The table id (the collection id in the legacy vocabulary).
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("databases.d.collections.c.create")?;
    /// assert_eq!(name.table_id(), Some("c"));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn table_id(&self) -> Option<&str> {
        self.id("tables")
    }

    /// The collection id (the table id in the newer vocabulary).
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("databases.d.tables.t.create")?;
    /// assert_eq!(name.collection_id(), Some("t"));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn collection_id(&self) -> Option<&str> {
        self.id("collections")
    }

    /// The row id (the document id in the legacy vocabulary).
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("databases.d.tables.t.rows.r.delete")?;
    /// assert_eq!(name.row_id(), Some("r"));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn row_id(&self) -> Option<&str> {
        self.id("rows")
    }

    /// The document id (the row id in the newer vocabulary).
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("documentsdb.d.collections.c.documents.x.create")?;
    /// assert_eq!(name.document_id(), Some("x"));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn document_id(&self) -> Option<&str> {
        self.id("documents")
    }

    /// The bucket id of a `buckets.*` event.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("buckets.b1.files.f1.create")?;
    /// assert_eq!((name.bucket_id(), name.file_id()), (Some("b1"), Some("f1")));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn bucket_id(&self) -> Option<&str> {
        self.id("buckets")
    }

    /// The file id of a `buckets.*.files.*` event.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("buckets.b1.files.f1.delete")?;
    /// assert_eq!(name.file_id(), Some("f1"));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn file_id(&self) -> Option<&str> {
        self.id("files")
    }

    /// The team id of a `teams.*` event.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("teams.t1.memberships.m1.create")?;
    /// assert_eq!((name.team_id(), name.id("memberships")), (Some("t1"), Some("m1")));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn team_id(&self) -> Option<&str> {
        self.id("teams")
    }

    /// The function id of a `functions.*` event.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("functions.f1.executions.e1.create")?;
    /// assert_eq!((name.function_id(), name.id("executions")), (Some("f1"), Some("e1")));
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn function_id(&self) -> Option<&str> {
        self.id("functions")
    }
}
