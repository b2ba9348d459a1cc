//! Bulk loads (the ledger import): a JSON array of inputs into [`ImportRow`]s, and the
//! per-row report.
//!
//! A *row error* ([`RowError`]) names the line where the row's element starts and, where
//! there is one, the field as a path in the object (`credit_code`, `division.district`,
//! `hazard_sources[1].quantity`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Entity, FieldError, OrgError};
use crate::import::{decode_element, json_array};

/// What an import does with a row whose id exists already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// The row is an error ("already exists"); the stored record is untouched.
    #[default]
    Create,
    /// The row replaces the stored record (a unit keeps its availability unless the row
    /// gives one).
    Upsert,
    /// The row is skipped and reported in [`ImportReport::skipped`]; the stored record,
    /// with any changes made since, is kept. For loading a sample into a database that may
    /// hold it already.
    Skip,
}

/// One input read from an import file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow<T> {
    /// The 1-based line where the row's element (its opening brace) starts.
    pub line: usize,
    /// The input.
    pub input: T,
}

pub use crate::import::RowError;

/// What an import did: the ids created, replaced and skipped (in file order), and every
/// row error, in line order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Records created.
    pub created: Vec<String>,
    /// Records replaced ([`ImportMode::Upsert`]).
    pub updated: Vec<String>,
    /// Records left as they were ([`ImportMode::Skip`]).
    pub skipped: Vec<String>,
    /// Rows not imported, with why.
    pub errors: Vec<RowError>,
}

/// Reads a JSON array of `T` (an input type: [`super::CentreInput`],
/// [`super::UnitInput`], [`super::EnterpriseInput`]).
///
/// Returns the rows that decode and the errors of those that do not (a wrong type, an
/// unknown field), each naming its line and path. Fails with [`OrgError::JsonSyntax`]
/// (naming `what`, e.g. the file name) only when the text is not a JSON array. Rows that
/// decode are validated when they are written.
pub fn parse_rows<T: DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<(Vec<ImportRow<T>>, Vec<RowError>), OrgError> {
    let elements =
        json_array(text, "expected a JSON array of objects").map_err(|e| OrgError::JsonSyntax {
            what: what.to_owned(),
            line: e.line,
            column: e.column,
            reason: e.reason,
        })?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (line, value) in elements {
        match decode_element::<T>(line, value) {
            Ok(input) => rows.push(ImportRow { line, input }),
            Err(error) => errors.push(error),
        }
    }
    Ok((rows, errors))
}

/// The row errors of a failed write. `id_field` names the row's id field for conflicts.
pub(crate) fn row_errors(line: usize, id_field: &str, err: OrgError) -> Vec<RowError> {
    match err {
        OrgError::Invalid { errors, .. } => errors
            .into_iter()
            .map(|FieldError { field, reason }| RowError {
                line,
                field: Some(field),
                reason,
            })
            .collect(),
        OrgError::Conflict { entity, id, reason } => vec![RowError {
            line,
            field: Some(id_field.to_owned()),
            reason: match (entity, reason.as_str()) {
                (_, "already exists") => format!(
                    "{entity} {id} already exists (import in upsert or skip mode to replace or \
                     keep it)"
                ),
                _ => format!("{entity} {id}: {reason}"),
            },
        }],
        other => vec![RowError {
            line,
            field: None,
            reason: other.to_string(),
        }],
    }
}

/// The error of a row whose id appeared on an earlier line.
pub(crate) fn duplicate_row(
    line: usize,
    id_field: &str,
    entity: Entity,
    id: &str,
    first: usize,
) -> RowError {
    RowError {
        line,
        field: Some(id_field.to_owned()),
        reason: format!("{entity} {id} is also on line {first}: import each record once"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::EnterpriseInput;
    use super::*;

    #[test]
    fn rows_carry_their_lines_and_paths() {
        let text = r#"[
  {"ledger_id": "E-1", "name": "A"},
  {"ledger_id": "E-2", "position": {"lon": "east", "lat": 1}},
  {"ledger_id": "E-3", "hazard_sources": [{"id": "T1", "quantity": "lots"}]},
  {"ledger_id": "E-4", "colour": "red"},
  7
]"#;
        let (rows, errors) = parse_rows::<EnterpriseInput>(text, "ledger.json").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
        let named: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            named,
            [
                (3, Some("position.lon")),
                (4, Some("hazard_sources[0].quantity")),
                (5, Some("colour")),
                (6, None),
            ],
            "{errors:#?}"
        );
        assert!(errors[2].reason.starts_with("unknown field `colour`"));
    }

    #[test]
    fn text_that_is_not_an_array_fails_whole() {
        for (text, line) in [
            ("{\"name\": 1}", 1),
            ("[\n{\"name\": \"x\",}\n]", 2),
            ("", 1),
        ] {
            match parse_rows::<EnterpriseInput>(text, "x.json") {
                Err(OrgError::JsonSyntax { line: l, what, .. }) => {
                    assert_eq!((l, what.as_str()), (line, "x.json"), "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let (rows, errors) = parse_rows::<EnterpriseInput>("\u{FEFF}[]", "x").unwrap();
        assert!(rows.is_empty() && errors.is_empty());
    }
}
