//! The one table of event kinds: each [`Event`] variant beside the catalogue model its payload
//! is. It yields [`EventKind`], [`Event::kind`], [`Event::action`] and
//! [`EventKind::from_model`], so no second copy of the mapping exists anywhere.

use crate::events::event::Event;
use crate::events::fields::Action;

macro_rules! kinds {
    ($($variant:ident => $model:literal,)*) => {
        /// Which variant an [`Event`] is, without its data: for routing by kind.
        ///
        /// ```
        /// # let delivery = appwrite_webhooks::sender::example_delivery();
        /// assert_eq!(delivery.event()?.kind(), appwrite_webhooks::EventKind::User);
        /// # Ok::<(), appwrite_webhooks::Error>(())
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum EventKind {
            $(
                #[doc = concat!("[`Event::", stringify!($variant), "`], a `", $model, "` payload.")]
                $variant,
            )*
            /// [`Event::Alert`]: an Appwrite alert, not an event about a resource.
            Alert,
            /// [`Event::Unknown`].
            Unknown,
            /// [`Event::Unparsed`]: the body did not fit its model.
            Unparsed,
        }

        impl EventKind {
            /// The kind whose payload is the catalogue model `model` (`user`, `row`,
            /// `proxyRule`, …), as Appwrite's event catalogue (`events.json`) names it.
            ///
            /// ```
            /// use appwrite_webhooks::EventKind;
            /// assert_eq!(EventKind::from_model("proxyRule"), Some(EventKind::ProxyRule));
            /// assert_eq!(EventKind::from_model("nothing"), None);
            /// ```
            pub fn from_model(model: &str) -> Option<Self> {
                match model {
                    $($model => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }

        impl Event {
            /// The variant, without its data.
            ///
            /// ```
            /// # let delivery = appwrite_webhooks::sender::example_delivery();
            /// assert_eq!(delivery.event()?.kind(), appwrite_webhooks::EventKind::User);
            /// # Ok::<(), appwrite_webhooks::Error>(())
            /// ```
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Event::$variant { .. } => EventKind::$variant,)*
                    Event::Alert(_) => EventKind::Alert,
                    Event::Unknown { .. } => EventKind::Unknown,
                    Event::Unparsed { .. } => EventKind::Unparsed,
                }
            }

            /// The action, `None` for [`Event::Alert`], [`Event::Unknown`] and [`Event::Unparsed`].
            ///
            /// ```
            /// # let delivery = appwrite_webhooks::sender::example_delivery();
            /// assert_eq!(delivery.event()?.action(), Some(&appwrite_webhooks::Action::Create));
            /// # Ok::<(), appwrite_webhooks::Error>(())
            /// ```
            pub fn action(&self) -> Option<&Action> {
                match self {
                    $(Event::$variant { action, .. } => Some(action),)*
                    Event::Alert(_) | Event::Unknown { .. } | Event::Unparsed { .. } => None,
                }
            }
        }
    };
}

kinds! {
    User => "user",
    Session => "session",
    Token => "token",
    Target => "target",
    Database => "database",
    Table => "table",
    Collection => "collection",
    Column => "column",
    Attribute => "attribute",
    ColumnIndex => "columnIndex",
    Index => "index",
    Row => "row",
    Document => "document",
    Bucket => "bucket",
    File => "file",
    Team => "team",
    Membership => "membership",
    Function => "function",
    Execution => "execution",
    Deployment => "deployment",
    Site => "site",
    Message => "message",
    Topic => "topic",
    Subscriber => "subscriber",
    Provider => "provider",
    Schedule => "schedule",
    ProxyRule => "proxyRule",
    Report => "report",
    Insight => "insight",
}
