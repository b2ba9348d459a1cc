//! Bulk import: CSV and JSON files into [`ImportRow`]s, and the per-row report.
//!
//! A *row error* ([`RowError`]) names the line and, where there is one, the field. Field
//! names are the file's own: CSV column names (`lon`, `district`, `password`), JSON paths
//! (`position.lon`, `division.district`, `credentials.password`). Reasons never quote a
//! password, a user name or a URL (see [`super::FieldError`]).

use serde::{Deserialize, Serialize};
use watchpost_command::import::{json_array, strip_position};
use watchpost_config::{Secret, SecretUrl};

use super::InventoryError;
use super::csv::{CSV_COLUMNS, parse_records};
use super::model::{
    CameraId, CameraInput, Credentials, CredentialsChange, FieldError, MAX_CAMERA_NUMBER, Position,
    quote, scrub,
};

/// Where an [`ImportRow`] came from; decides how its errors name fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// CSV: fields are column names.
    Csv,
    /// JSON: fields are paths in the object.
    Json,
}

/// What an import does with a row whose id exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CameraImportMode)]
#[serde(rename_all = "lowercase")]
pub enum ImportMode {
    /// The row is an error ("already exists"); the stored camera is untouched.
    #[default]
    Create,
    /// The row replaces the stored camera.
    Upsert,
}

/// One camera read from an import file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    /// Line where the row starts (CSV: the record's first physical line; JSON: the line of
    /// the element's opening brace), 1-based.
    pub line: usize,
    /// The file's format.
    pub format: ImportFormat,
    /// The camera.
    pub input: CameraInput,
}

pub use watchpost_command::import::RowError;

/// What an import did: the cameras created and updated, and every row error, in line
/// order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CameraImportReport)]
pub struct ImportReport {
    /// Cameras created, in file order.
    pub created: Vec<CameraId>,
    /// Cameras replaced (upsert), in file order.
    pub updated: Vec<CameraId>,
    /// Rows not imported, with why.
    pub errors: Vec<RowError>,
}

/// The CSV column of an input field path.
fn csv_column(path: &str) -> &str {
    match path {
        "division.district" => "district",
        "division.street" => "street",
        "position.lon" => "lon",
        "position.lat" => "lat",
        "credentials" | "credentials.username" => "username",
        "credentials.password" => "password",
        p if p.starts_with("tags") => "tags",
        p => p,
    }
}

/// The row errors of a failed write.
pub(crate) fn row_errors(
    line: usize,
    format: ImportFormat,
    mode: ImportMode,
    err: InventoryError,
) -> Vec<RowError> {
    let field = |path: &str| match format {
        ImportFormat::Csv => csv_column(path).to_owned(),
        ImportFormat::Json => path.to_owned(),
    };
    match err {
        InventoryError::Invalid { errors } => errors
            .into_iter()
            .map(|e| RowError {
                line,
                field: Some(field(&e.field)),
                reason: e.reason,
            })
            .collect(),
        InventoryError::NumberTaken { .. } => vec![RowError {
            line,
            field: Some("number".to_owned()),
            reason: err.to_string(),
        }],
        InventoryError::Conflict { id } => vec![RowError {
            line,
            field: Some("id".to_owned()),
            reason: match mode {
                ImportMode::Create => {
                    format!("camera {id} already exists (import in upsert mode to replace it)")
                }
                ImportMode::Upsert => format!("camera {id} already exists"),
            },
        }],
        other => vec![RowError {
            line,
            field: None,
            reason: other.to_string(),
        }],
    }
}

/// Reads an inventory CSV file (RFC 4180; see [`parse_records`]).
///
/// The first record is the header: it names the columns, in any order, from
/// [`CSV_COLUMNS`] (case-insensitive, surrounding spaces ignored); `name`, `category` and
/// `district` are required. A header problem (unknown, repeated or missing column) fails
/// the whole file — every row would be read wrongly —: the errors are at line 1, naming
/// the column, and no row is returned. Each data record must have as many fields as the
/// header. Values are trimmed (except `password`); empty means absent. `lon` and `lat`
/// are decimal degrees and go together; `number` is a whole number from 1 to 99999 (empty:
/// assigned on create, kept on upsert); `tags` are `;`-separated; `enabled` is
/// `true`/`false` (also `1`/`0`, `yes`/`no`), default true; a non-empty `username` sets
/// the credentials, both empty keep them.
///
/// Returns the rows that could be read and the errors of those that could not (with every
/// problem of such a row, validation included). Rows that were read are validated again by
/// [`super::Inventory::import`].
pub fn parse_csv(text: &str) -> (Vec<ImportRow>, Vec<RowError>) {
    let mut records = parse_records(text).into_iter();
    let mut errors = Vec::new();
    let Some(header) = records.next() else {
        errors.push(RowError {
            line: 1,
            field: None,
            reason: format!(
                "the file is empty: expected a header row naming the columns ({})",
                CSV_COLUMNS.join(",")
            ),
        });
        return (Vec::new(), errors);
    };
    let header_line = header.line;
    if let Some(reason) = header.error {
        errors.push(RowError {
            line: header_line,
            field: None,
            reason: format!("header: {reason}"),
        });
        return (Vec::new(), errors);
    }
    let mut columns: Vec<usize> = Vec::with_capacity(header.fields.len());
    for name in &header.fields {
        let clean = name.trim().to_ascii_lowercase();
        match CSV_COLUMNS.iter().position(|c| *c == clean) {
            Some(i) if columns.contains(&i) => errors.push(RowError {
                line: header_line,
                field: Some(clean),
                reason: "the column appears twice in the header".to_owned(),
            }),
            Some(i) => columns.push(i),
            None => errors.push(RowError {
                line: header_line,
                field: Some(name.trim().to_owned()),
                reason: format!(
                    "unknown column {}: the columns are {}",
                    quote(name.trim()),
                    CSV_COLUMNS.join(", ")
                ),
            }),
        }
    }
    for required in ["name", "category", "district"] {
        let index = CSV_COLUMNS.iter().position(|c| *c == required);
        if !index.is_some_and(|i| columns.contains(&i)) {
            errors.push(RowError {
                line: header_line,
                field: Some(required.to_owned()),
                reason: "required column missing from the header".to_owned(),
            });
        }
    }
    if !errors.is_empty() {
        return (Vec::new(), errors);
    }

    let mut rows = Vec::new();
    for record in records {
        let line = record.line;
        if let Some(reason) = record.error {
            errors.push(RowError {
                line,
                field: None,
                reason,
            });
            continue;
        }
        if record.fields.len() != columns.len() {
            errors.push(RowError {
                line,
                field: None,
                reason: format!(
                    "expected {} fields, as in the header, found {}",
                    columns.len(),
                    record.fields.len()
                ),
            });
            continue;
        }
        let mut values: [Option<&str>; CSV_COLUMNS.len()] = [None; CSV_COLUMNS.len()];
        for (&column, value) in columns.iter().zip(&record.fields) {
            values[column] = Some(value.as_str());
        }
        match csv_row(&values) {
            Ok(input) => rows.push(ImportRow {
                line,
                format: ImportFormat::Csv,
                input,
            }),
            Err(row_errors) => errors.extend(row_errors.into_iter().map(|e| RowError {
                line,
                field: Some(e.field),
                reason: e.reason,
            })),
        }
    }
    (rows, errors)
}

/// Builds a camera input from one record's values (indexed like [`CSV_COLUMNS`]); on
/// failure, every problem of the row, with CSV column names.
fn csv_row(values: &[Option<&str>; CSV_COLUMNS.len()]) -> Result<CameraInput, Vec<FieldError>> {
    let raw = |name: &str| {
        CSV_COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|i| values[i])
    };
    let text = |name: &str| raw(name).map(str::trim).unwrap_or("");
    let optional = |name: &str| {
        Some(text(name))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let url = |name: &str| optional(name).map(SecretUrl::new);
    let mut errors = Vec::new();

    let number = match text("number") {
        "" => None,
        value => match value.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError::new(
                    "number",
                    format!(
                        "expected a camera number from 1 to {MAX_CAMERA_NUMBER}, got {}",
                        quote(value)
                    ),
                ));
                None
            }
        },
    };
    let mut coordinate = |name: &str, what: &str| -> Option<f64> {
        let value = text(name);
        if value.is_empty() {
            return None;
        }
        match value.parse::<f64>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(FieldError::new(
                    name,
                    format!(
                        "expected the {what} in decimal degrees, got {}",
                        quote(value)
                    ),
                ));
                None
            }
        }
    };
    let lon = coordinate("lon", "longitude");
    let lat = coordinate("lat", "latitude");
    let position = match (lon, lat, text("lon").is_empty(), text("lat").is_empty()) {
        (Some(lon), Some(lat), _, _) => Some(Position { lon, lat }),
        (_, _, true, false) => {
            errors.push(FieldError::new("lon", "required with lat"));
            None
        }
        (_, _, false, true) => {
            errors.push(FieldError::new("lat", "required with lon"));
            None
        }
        _ => None,
    };

    let enabled = match text("enabled").to_ascii_lowercase().as_str() {
        "" => None,
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        other => {
            errors.push(FieldError::new(
                "enabled",
                format!("expected true or false, got {}", quote(other)),
            ));
            None
        }
    };

    let username = text("username");
    let password = raw("password").unwrap_or("");
    let credentials = if !username.is_empty() {
        CredentialsChange::Set(Credentials {
            username: username.to_owned(),
            password: Secret::new(password),
        })
    } else {
        if !password.is_empty() {
            errors.push(FieldError::new(
                "password",
                "a password needs a username (the username column is empty)",
            ));
        }
        CredentialsChange::Keep
    };

    let tags = text("tags")
        .split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();

    let input = CameraInput {
        id: optional("id"),
        number,
        name: text("name").to_owned(),
        category: text("category").to_owned(),
        enterprise_id: optional("enterprise_id"),
        division: super::Division {
            district: text("district").to_owned(),
            street: optional("street"),
        },
        position,
        vendor: optional("vendor"),
        model: optional("model"),
        firmware: optional("firmware"),
        onvif_url: url("onvif_url"),
        main_url: url("main_url"),
        sub_url: url("sub_url"),
        transport: optional("transport"),
        credentials,
        tags,
        enabled,
    };
    if errors.is_empty() {
        return Ok(input);
    }
    // Report the rest of the row's problems along with the unreadable values.
    if let Err(more) = input.validate() {
        for e in more {
            let column = csv_column(&e.field);
            if !errors.iter().any(|known| known.field == column) {
                errors.push(FieldError::new(column, e.reason));
            }
        }
    }
    scrub(&mut errors, Some(password));
    Err(errors)
}

/// Reads a JSON import: an array of camera objects (the API's input format, see
/// [`CameraInput`]).
///
/// A row's line is the line of the text where its element starts (its opening brace).
/// An element that does not decode (a wrong type, an unknown field) is a row error naming
/// its path (`position.lon`); the others are returned. Fails with
/// [`InventoryError::JsonSyntax`] only when the text is not a JSON array.
pub fn parse_json(text: &str) -> Result<(Vec<ImportRow>, Vec<RowError>), InventoryError> {
    let elements = json_array(text, "expected a JSON array of camera objects").map_err(|e| {
        InventoryError::JsonSyntax {
            line: e.line,
            column: e.column,
            reason: e.reason,
        }
    })?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (line, value) in elements {
        let password = value
            .pointer("/credentials/password")
            .and_then(|p| p.as_str())
            .map(str::to_owned);
        match serde_path_to_error::deserialize::<_, CameraInput>(value) {
            Ok(input) => rows.push(ImportRow {
                line,
                format: ImportFormat::Json,
                input,
            }),
            Err(e) => {
                let error = decode_error(&e, password.as_deref());
                errors.push(RowError {
                    line,
                    field: Some(error.field).filter(|f| !f.is_empty()),
                    reason: error.reason,
                });
            }
        }
    }
    Ok((rows, errors))
}

/// Decodes one camera from a JSON body (an API request), with the same field-naming and
/// redaction as [`parse_json`]: a syntax error is [`InventoryError::JsonSyntax`], a shape
/// error (wrong type, unknown field) is [`InventoryError::Invalid`] naming the field's path.
/// Call [`CameraInput::validate`] (or let the inventory do it) for the rest.
pub fn decode_camera_json(body: &[u8]) -> Result<CameraInput, InventoryError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| InventoryError::JsonSyntax {
            line: e.line(),
            column: e.column(),
            reason: match e.classify() {
                serde_json::error::Category::Data => "expected a JSON object".to_owned(),
                _ => strip_position(&e.to_string()),
            },
        })?;
    if !value.is_object() {
        return Err(InventoryError::JsonSyntax {
            line: 1,
            column: 1,
            reason: "expected a JSON object".to_owned(),
        });
    }
    let password = value
        .pointer("/credentials/password")
        .and_then(|p| p.as_str())
        .map(str::to_owned);
    serde_path_to_error::deserialize::<_, CameraInput>(value).map_err(|e| InventoryError::Invalid {
        errors: vec![decode_error(&e, password.as_deref())],
    })
}

/// A decoding error as a field error, never quoting credentials.
fn decode_error(
    e: &serde_path_to_error::Error<serde_json::Error>,
    password: Option<&str>,
) -> FieldError {
    let path = e.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let message = strip_position(&e.inner().to_string());
    let under_credentials = path == "credentials" || path.starts_with("credentials.");
    let reason = if under_credentials
        && !(message.starts_with("unknown field") || message.starts_with("missing field"))
    {
        "expected null or an object {\"username\": \"…\", \"password\": \"…\"} with string \
         values"
            .to_owned()
    } else {
        message
    };
    let mut errors = [FieldError::new(path, reason)];
    scrub(&mut errors, password);
    let [error] = errors;
    error
}

/// Whether a reason shows `[redacted]` where a password stood.
#[cfg(test)]
fn redacted(reason: &str) -> bool {
    reason.contains(watchpost_config::REDACTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "id,name,category,district,street,lon,lat,main_url,username,password,tags,enabled";

    #[test]
    fn csv_good_rows_become_inputs() {
        let text = format!(
            "\u{FEFF}{HEADER}\r\n\
             gas-1,\"Pump, island 1\",gas_station,North,Elm,116.4,39.9,rtsp://192.0.2.1/main,admin,\" s3cret \",night; perimeter ;,\r\n\
             ,Depot,oil_depot,South,,,,rtsp://192.0.2.2/main,,,,false\r\n"
        );
        let (rows, errors) = parse_csv(&text);
        assert_eq!(errors, []);
        assert_eq!(rows.len(), 2);
        let first = &rows[0];
        assert_eq!(first.line, 2);
        assert_eq!(first.input.id.as_deref(), Some("gas-1"));
        assert_eq!(first.input.name, "Pump, island 1");
        assert_eq!(
            first.input.position,
            Some(Position {
                lon: 116.4,
                lat: 39.9
            })
        );
        assert_eq!(first.input.tags, ["night", "perimeter"]);
        match &first.input.credentials {
            CredentialsChange::Set(c) => {
                assert_eq!(c.username, "admin");
                assert_eq!(c.password.expose(), " s3cret ", "passwords are not trimmed");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(first.input.enabled, None);
        let second = &rows[1].input;
        assert_eq!(second.id, None);
        assert_eq!(second.division.street, None);
        assert_eq!(second.position, None);
        assert_eq!(second.credentials, CredentialsChange::Keep);
        assert_eq!(second.enabled, Some(false));
        assert!(rows.iter().all(|r| r.input.validate().is_ok()));
    }

    #[test]
    fn csv_header_problems_fail_the_file() {
        let (rows, errors) = parse_csv("name,Category,colour,name\nx,other,red,y\n");
        assert!(rows.is_empty());
        let named: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            named,
            [
                (1, Some("colour")),
                (1, Some("name")),
                (1, Some("district"))
            ]
        );
        assert!(errors[0].reason.contains("unknown column \"colour\""));
        let (rows, errors) = parse_csv("");
        assert!(rows.is_empty() && errors.len() == 1);
    }

    #[test]
    fn csv_unreadable_rows_report_every_problem_without_the_password() {
        let text = format!(
            "{HEADER}\n\
             a,,gas-station,North,,east,39,rtsp://192.0.2.1/x,admin,hunter22,,maybe\n\
             b,B,other,North,,,91,rtsp://192.0.2.1/x,,,,\n\
             c,C,other,North,,,,rtsp://192.0.2.1/x,,lonely-pw,,\n\
             d,D,other,North,,hunter22,1,rtsp://192.0.2.1/x,admin,hunter22,,\n\
             e,E,other\n"
        );
        let (rows, errors) = parse_csv(&text);
        assert!(rows.is_empty(), "{rows:?}");
        let named: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            named,
            [
                (2, Some("lon")),
                (2, Some("enabled")),
                (2, Some("name")),
                (2, Some("category")),
                (3, Some("lon")),
                (4, Some("password")),
                (5, Some("lon")),
                (6, None),
            ],
            "{errors:#?}"
        );
        let all = format!("{errors:?}");
        assert!(!all.contains("hunter22"), "{all}");
        assert!(!all.contains("lonely-pw"), "{all}");
        assert!(redacted(&errors[6].reason), "{:?}", errors[6]);
    }

    #[test]
    fn json_rows_carry_their_lines_and_paths() {
        let text = r#"[
  {"name": "A", "category": "other", "division": {"district": "N"},
   "main_url": "rtsp://192.0.2.1/a"},
  {"name": "B", "position": {"lon": "east", "lat": 1}},
  {"name": "C", "credentials": "admin:hunter22"},
  {"name": "D", "colour": "red"},
  {"name": "E", "credentials": {"username": "u", "password": 1.5}},
  7
]"#;
        let (rows, errors) = parse_json(text).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
        let named: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.field.as_deref()))
            .collect();
        assert_eq!(
            named,
            [
                (4, Some("position.lon")),
                (5, Some("credentials")),
                (6, Some("colour")),
                (7, Some("credentials.password")),
                (8, None),
            ],
            "{errors:#?}"
        );
        assert!(
            errors[2].reason.starts_with("unknown field `colour`"),
            "{errors:?}"
        );
        let all = format!("{errors:?}");
        assert!(!all.contains("hunter22") && !all.contains("1.5"), "{all}");
    }

    #[test]
    fn json_that_is_not_an_array_fails_whole() {
        for (text, line) in [
            ("{\"name\": 1}", 1),
            ("[\n{\"name\": \"x\",}\n]", 2),
            ("", 1),
        ] {
            match parse_json(text) {
                Err(InventoryError::JsonSyntax { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(parse_json("[]").unwrap(), (vec![], vec![]));
    }

    #[test]
    fn body_decoding_names_fields() {
        let err = decode_camera_json(br#"{"position": {"lon": 1}}"#).unwrap_err();
        match err {
            InventoryError::Invalid { errors } => {
                assert_eq!(errors[0].field, "position");
                assert!(errors[0].reason.contains("lat"), "{errors:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode_camera_json(b"{"),
            Err(InventoryError::JsonSyntax { .. })
        ));
        assert!(matches!(
            decode_camera_json(b"[]"),
            Err(InventoryError::JsonSyntax { .. })
        ));
        assert!(decode_camera_json(br#"{"name": "x"}"#).is_ok());
    }
}
