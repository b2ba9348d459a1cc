//! The recording formats and RTSP framing of `watchpost_fixtures::replay` on arbitrary
//! bytes: transcript + interleaved data parsing and round trips, RTSP message splitting
//! and round trips, `Transport` channel parsing.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    watchpost_fixtures::replay::fuzzing::replay_transcript(data);
});
