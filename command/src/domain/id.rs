//! Identifiers of incidents, intake reports, tasks and dispatched units.
//!
//! The domain does not generate ids (storage does: sequence numbers, UUIDs, ledger
//! codes); it only checks that an id is safe to put in a URL path and a log line.

/// What an id may contain: 1 to 64 characters, ASCII letters, digits, `-`, `_`, `.` and `:`,
/// starting with a letter or digit.
pub const ID_RULE: &str = "1 to 64 characters: ASCII letters, digits, '-', '_', '.' and ':', starting with a letter or digit";

/// Whether `text` follows [`ID_RULE`].
pub(crate) fn valid_id(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && text.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// The OpenAPI schema of an id type: a string following [`ID_RULE`].
pub(crate) fn id_schema(what: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .description(Some(format!("The {what}: {ID_RULE}.")))
        .pattern(Some(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"))
        .min_length(Some(1))
        .max_length(Some(64))
        .into()
}

/// Defines an id type `$name` (`$what` in its parse error) following [`ID_RULE`]: the
/// domain's ids and the organisation's (`org::CentreId`, `org::LedgerId`).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// Follows [`ID_RULE`](crate::domain::ID_RULE) (safe in a URL path and a log line);
        /// serialized as a plain string, checked when deserialized.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks `text` against [`ID_RULE`](crate::domain::ID_RULE); the error is the
            /// reason, quoting `text`.
            pub fn parse(text: &str) -> Result<$name, String> {
                if $crate::domain::valid_id(text) {
                    Ok($name(text.to_owned()))
                } else {
                    Err(format!(
                        "{} is not a valid {}: {}",
                        $crate::domain::quote(text),
                        $what,
                        $crate::domain::ID_RULE
                    ))
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::domain::id_schema($what)
            }
        }

        impl utoipa::ToSchema for $name {}

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use id_type;

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
