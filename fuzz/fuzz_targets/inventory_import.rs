//! What an operator uploads as a camera inventory file: the RFC 4180 tokenizer, the CSV
//! import parser (header, per-row conversion and validation, password redaction) and the
//! JSON import parser of `watchpost_devices::inventory`, on arbitrary bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    watchpost_devices::inventory::fuzzing::import_text(data);
});
