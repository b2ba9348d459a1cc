//! RFC 4180 records: the tokenizer under [`super::parse_csv`].
//!
//! Fields are separated by `,`, records by LF or CRLF; a field in double quotes may hold
//! commas, line breaks (read as one LF, with any carriage returns before them) and doubled
//! quotes (`""` is one `"`); a UTF-8 byte-order mark at the
//! start is skipped; empty lines are skipped. A record's *line* is the physical line (1-based)
//! where it starts, so a record with an embedded line break spans several lines and the
//! next record's number says so. The tokenizer never stops at an error: it marks the
//! record (a quote inside an unquoted field, text after a closing quote, a quote left
//! open at the end) and goes on, so one broken record does not hide the others.

/// The columns an inventory CSV file may have (a file uses any of them, in any order). `tags`
/// holds `;`-separated tags; `username`/`password` set credentials; `number` is the camera
/// number (optional: files written before it existed import unchanged).
pub const CSV_COLUMNS: [&str; 20] = [
    "id",
    "number",
    "name",
    "category",
    "enterprise_id",
    "district",
    "street",
    "lon",
    "lat",
    "vendor",
    "model",
    "firmware",
    "onvif_url",
    "main_url",
    "sub_url",
    "transport",
    "username",
    "password",
    "tags",
    "enabled",
];

/// One CSV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRecord {
    /// The physical line (1-based) where the record starts.
    pub line: usize,
    /// The fields, unquoted.
    pub fields: Vec<String>,
    /// The first syntax problem of the record, if any. It never quotes the record's text.
    pub error: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// Inside a field that did not start with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: the end of the field, or the first half
    /// of a doubled quote.
    QuoteSeen,
}

/// Splits `text` into records (see the module documentation).
pub fn parse_records(text: &str) -> Vec<CsvRecord> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut records = Vec::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut error: Option<String> = None;
    let mut state = State::FieldStart;
    let mut chars = text.chars().peekable();

    let mut end_record = |fields: &mut Vec<String>,
                          field: &mut String,
                          error: &mut Option<String>,
                          record_line: usize| {
        fields.push(std::mem::take(field));
        let fields = std::mem::take(fields);
        let error = error.take();
        let blank = fields.len() == 1 && fields[0].is_empty();
        if !blank || error.is_some() {
            records.push(CsvRecord {
                line: record_line,
                fields,
                error,
            });
        }
    };

    while let Some(c) = chars.next() {
        match state {
            State::FieldStart | State::Unquoted => match c {
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    state = State::FieldStart;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    end_record(&mut fields, &mut field, &mut error, record_line);
                    line += 1;
                    record_line = line;
                    state = State::FieldStart;
                }
                '"' if state == State::FieldStart => state = State::Quoted,
                '"' => {
                    error.get_or_insert_with(|| {
                        format!(
                            "a quote inside an unquoted field (field {}): enclose the whole \
                             field in quotes and double the quotes inside it",
                            fields.len() + 1
                        )
                    });
                    field.push('"');
                }
                c => {
                    field.push(c);
                    state = State::Unquoted;
                }
            },
            State::Quoted => match c {
                '"' => state = State::QuoteSeen,
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    // A line break inside a value is one LF, whatever carriage returns
                    // came before it (`\r\r\n` too): a value never holds `\r\n`, so a
                    // value written back and read again is the same.
                    while field.ends_with('\r') {
                        field.pop();
                    }
                    field.push('\n');
                    line += 1;
                }
                c => field.push(c),
            },
            State::QuoteSeen => match c {
                '"' => {
                    field.push('"');
                    state = State::Quoted;
                }
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    state = State::FieldStart;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    end_record(&mut fields, &mut field, &mut error, record_line);
                    line += 1;
                    record_line = line;
                    state = State::FieldStart;
                }
                c => {
                    error.get_or_insert_with(|| {
                        format!(
                            "text after the closing quote of field {}: a quoted field ends \
                             at its closing quote (write \"\" for a quote inside it)",
                            fields.len() + 1
                        )
                    });
                    field.push(c);
                    state = State::Unquoted;
                }
            },
        }
    }
    if state == State::Quoted {
        error.get_or_insert_with(|| {
            format!(
                "field {} opens a quote that is never closed (up to the end of the file)",
                fields.len() + 1
            )
        });
    }
    if !(fields.is_empty() && field.is_empty() && state == State::FieldStart && error.is_none()) {
        end_record(&mut fields, &mut field, &mut error, record_line);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<(usize, Vec<&'static str>)> {
        parse_records(text)
            .into_iter()
            .map(|r| {
                assert_eq!(r.error, None, "{text:?}");
                let f = r
                    .fields
                    .into_iter()
                    .map(|f| &*Box::leak(f.into_boxed_str()))
                    .collect();
                (r.line, f)
            })
            .collect()
    }

    #[test]
    fn plain_records_lf_and_crlf() {
        let expected = vec![(1, vec!["a", "b", ""]), (2, vec!["1", "", "3"])];
        assert_eq!(fields("a,b,\n1,,3\n"), expected);
        assert_eq!(fields("a,b,\r\n1,,3\r\n"), expected);
        assert_eq!(fields("a,b,\r\n1,,3"), expected, "no final line break");
    }

    #[test]
    fn quotes_commas_doubled_quotes_and_embedded_newlines() {
        let text =
            "name,note\n\"Pump, island 1\",\"say \"\"hi\"\"\"\n\"two\nlines\",x\r\nlast,\"\"\n";
        assert_eq!(
            fields(text),
            vec![
                (1, vec!["name", "note"]),
                (2, vec!["Pump, island 1", "say \"hi\""]),
                (3, vec!["two\nlines", "x"]),
                (5, vec!["last", ""]),
            ]
        );
        // CRLF inside a quoted field reads as LF; line numbers still count it.
        assert_eq!(
            fields("\"a\r\nb\",c\r\nd,e\r\n"),
            vec![(1, vec!["a\nb", "c"]), (3, vec!["d", "e"])]
        );
        // Carriage returns before a line break in a value go with it (found by the fuzzer:
        // `\r\r\r\n` read as `\r\r\n`, which read back as `\r\n`); a lone one stays.
        assert_eq!(
            fields("\"a\r\r\r\nb\rc\",d\n"),
            vec![(1, vec!["a\nb\rc", "d"])]
        );
    }

    #[test]
    fn bom_and_blank_lines_are_skipped() {
        assert_eq!(
            fields("\u{FEFF}a,b\n\n1,2\n\r\n\n3,4\n\n"),
            vec![
                (1, vec!["a", "b"]),
                (3, vec!["1", "2"]),
                (6, vec!["3", "4"])
            ]
        );
        assert_eq!(fields(""), vec![]);
        assert_eq!(fields("\u{FEFF}"), vec![]);
    }

    #[test]
    fn errors_mark_the_record_and_parsing_goes_on() {
        let records = parse_records("a,b\nx\"y,1\n\"q\"z,2\nok,3\n\"open,4\nmore\n");
        let summary: Vec<(usize, bool)> = records
            .iter()
            .map(|r| (r.line, r.error.is_some()))
            .collect();
        assert_eq!(
            summary,
            [(1, false), (2, true), (3, true), (4, false), (5, true)]
        );
        assert!(records[1].error.as_ref().unwrap().contains("field 1"));
        assert!(records[2].error.as_ref().unwrap().contains("closing quote"));
        assert!(records[4].error.as_ref().unwrap().contains("never closed"));
        assert_eq!(records[3].fields, ["ok", "3"]);
    }
}
