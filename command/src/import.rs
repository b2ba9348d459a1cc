//! Bulk imports shared by the stores (the organisation's ledger, the camera inventory): a
//! JSON array read element by element, each with the line where it starts, and the
//! per-row error ([`RowError`]) naming that line and, where there is one, the field.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A row that was not imported, or one problem of it (a row with three bad fields gives
/// three errors with the same line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// 1-based line where the row starts (a JSON element: its opening brace; a CSV record:
    /// its first physical line, and 1 for problems with the header).
    pub line: usize,
    /// The field, when the problem has one: a path in the row's object for JSON
    /// (`division.district`, `hazard_sources[1].quantity`), a column name for CSV.
    pub field: Option<String>,
    /// What is wrong. Never contains a password.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}, {field}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Why a text is not a JSON array: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnArray {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// serde_json's message without its position, or the `expected` text given to
    /// [`json_array`] when the JSON is valid but not an array.
    pub reason: String,
}

/// The elements of the JSON array `text` (a leading byte-order mark is skipped), each
/// with the 1-based line where it starts, for decoding one by one.
///
/// Fails only when `text` is not a JSON array: a syntax error, or valid JSON of another
/// shape (then the reason is `expected`, e.g. "expected a JSON array of objects").
pub fn json_array(
    text: &str,
    expected: &str,
) -> Result<Vec<(usize, serde_json::Value)>, NotAnArray> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let values: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| NotAnArray {
        line: e.line(),
        column: e.column(),
        reason: match e.classify() {
            serde_json::error::Category::Data => expected.to_owned(),
            _ => strip_position(&e.to_string()),
        },
    })?;
    let starts = element_lines(text);
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, value)| (starts.get(i).copied().unwrap_or(1), value))
        .collect())
}

/// Decodes one element of [`json_array`] into `T`; a failure (a wrong type, an unknown
/// field) is the row error of `line`, naming the field's path (none for the element
/// itself).
pub fn decode_element<T: DeserializeOwned>(
    line: usize,
    value: serde_json::Value,
) -> Result<T, RowError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        RowError {
            line,
            field: Some(path).filter(|p| p != "." && !p.is_empty()),
            reason: strip_position(&e.inner().to_string()),
        }
    })
}

/// serde_json's message without its " at line L column C" suffix.
pub fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The 1-based line where each element of the top-level array starts. `text` must be
/// valid JSON.
fn element_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut line = 1;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut expect_element = false;
    for b in text.bytes() {
        if b == b'\n' {
            line += 1;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        if b.is_ascii_whitespace() {
            continue;
        }
        if depth == 1 && expect_element && b != b']' {
            lines.push(line);
            expect_element = false;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    expect_element = true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_element = true,
            _ => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_lines_skip_strings_and_nesting() {
        let text = "[ {\"a\": \"[,{\\\"\"},\n\n [1, [2]],\n \"x\" , 3\n]";
        assert_eq!(element_lines(text), [1, 3, 4, 4]);
    }
}
