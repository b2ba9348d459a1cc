//! The body of the `inventory_import` fuzz target (`fuzz/fuzz_targets/`), shared with the
//! unit test that replays its corpus, so both run exactly the same checks.
//!
//! Not part of the inventory API: it panics when a parser breaks one of its own
//! invariants, which is what a fuzzer looks for.

use super::csv::{CSV_COLUMNS, parse_records};
use super::{ImportFormat, parse_csv, parse_json};

/// Runs the CSV tokenizer, the CSV import parser and the JSON import parser on `data`
/// (when it is UTF-8) and checks their invariants: records and rows come in increasing
/// line order within the text; clean records survive a write-and-reparse round trip;
/// every row error names a line of the text and, past the header, a known column.
pub fn import_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.matches('\n').count() + 1;

    let records = parse_records(text);
    let mut last = 0;
    for r in &records {
        assert!(r.line > last && r.line <= lines, "record line {}", r.line);
        assert!(!r.fields.is_empty());
        if let Some(e) = &r.error {
            assert!(!e.is_empty());
        }
        last = r.line;
    }
    let clean: Vec<Vec<String>> = records
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| r.fields.clone())
        .collect();
    let again: Vec<Vec<String>> = parse_records(&write_csv(&clean))
        .into_iter()
        .map(|r| {
            assert_eq!(r.error, None, "a written record reads back without error");
            r.fields
        })
        .collect();
    assert_eq!(again, clean, "records did not round-trip");

    let header_line = records.first().map_or(1, |r| r.line);
    let (rows, errors) = parse_csv(text);
    let mut last = 0;
    for row in &rows {
        assert!(row.line > last && row.line <= lines && row.line > header_line);
        assert_eq!(row.format, ImportFormat::Csv);
        let _ = row.input.validate();
        last = row.line;
    }
    for e in &errors {
        assert!(e.line >= 1 && e.line <= lines, "error line {}", e.line);
        assert!(!e.reason.is_empty());
        if e.line != header_line
            && let Some(field) = &e.field
        {
            assert!(CSV_COLUMNS.contains(&field.as_str()), "field {field:?}");
        }
    }

    if let Ok((rows, errors)) = parse_json(text) {
        let mut last = 0;
        for row in &rows {
            assert!(row.line >= last && row.line <= lines);
            let _ = row.input.validate();
            last = row.line;
        }
        for e in &errors {
            assert!(e.line >= 1 && e.line <= lines);
        }
    }
}

/// Writes records with every field quoted (the round trip's reference writer).
fn write_csv(records: &[Vec<String>]) -> String {
    let mut out = String::new();
    for record in records {
        let fields: Vec<String> = record
            .iter()
            .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    //! Replays the `inventory_import` fuzz corpus (seeds and regressions under `fuzz/`).

    use std::path::Path;

    #[test]
    fn inventory_fuzz_corpus_does_not_panic() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut count = 0;
        for sub in ["seeds/inventory_import", "regressions/inventory_import"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(sub)) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                super::import_text(&std::fs::read(entry.path()).unwrap());
                count += 1;
            }
        }
        assert!(
            count > 0,
            "no inventory_import corpus under {}",
            fuzz.display()
        );
    }

    #[test]
    fn hand_made_edge_cases() {
        for text in [
            "",
            "\u{FEFF}",
            "\"",
            "\"\"\"",
            "a,b\n\"x\ny\",\"",
            "name,category,district\r\n\r\n,,\r\n",
            "name,category,district,lon,lat\nx,other,d,nan,inf\n",
            "[{\"name\": \"\\\"[\"}, 1, [], {}]",
        ] {
            super::import_text(text.as_bytes());
        }
    }
}
