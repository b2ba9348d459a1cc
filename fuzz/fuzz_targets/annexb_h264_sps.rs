//! Annex B splitting, H.264/H.265 NAL headers and SPS parsing, Exp-Golomb reading
//! (`watchpost_media::codec`) on arbitrary bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    watchpost_media::codec::fuzzing::annexb_h264_sps(data);
});
