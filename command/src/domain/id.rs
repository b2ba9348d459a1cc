//! Identifiers of incidents, intake reports, tasks and dispatched units.
//!
//! The domain does not generate ids (storage does: sequence numbers, UUIDs, ledger
//! codes); it only checks that an id is safe to put in a URL path and a log line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::error::quote;

/// What an id may contain: 1 to 64 characters, ASCII letters, digits, `-`, `_`, `.` and `:`,
/// starting with a letter or digit.
pub const ID_RULE: &str = "1 to 64 characters: ASCII letters, digits, '-', '_', '.' and ':', starting with a letter or digit";

fn valid(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && text.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// Follows [`ID_RULE`]; serialized as a plain string, checked when deserialized.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks `text` against [`ID_RULE`]; the error is the reason, quoting `text`.
            pub fn parse(text: &str) -> Result<$name, String> {
                if valid(text) {
                    Ok($name(text.to_owned()))
                } else {
                    Err(format!(
                        "{} is not a valid {}: {}",
                        quote(text),
                        $what,
                        ID_RULE
                    ))
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// An incident's stable identifier.
    IncidentId,
    "incident id"
);
id_type!(
    /// A dispatch task's stable identifier.
    TaskId,
    "task id"
);
id_type!(
    /// A dispatched unit's identifier (rescue team, expert, vehicle: its resource id).
    UnitId,
    "unit id"
);
id_type!(
    /// An intake report's stable identifier (a phone call, an enterprise self-report, an
    /// alarm, a superior's or a peer platform's notice; see `crate::incidents`).
    ReportId,
    "report id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_rule() {
        for ok in ["1", "inc-2024-0001", "a.b:c_d", &"x".repeat(64)] {
            assert!(IncidentId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a b", "a/b", &"x".repeat(65), "事故"] {
            let err = TaskId::parse(bad).expect_err(bad);
            assert!(err.contains("task id"), "{err}");
        }
        let id: UnitId = serde_json::from_str(r#""team-7""#).expect("parse");
        assert_eq!(id.as_str(), "team-7");
        assert!(serde_json::from_str::<UnitId>(r#""team 7""#).is_err());
    }
}
