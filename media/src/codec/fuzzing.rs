//! The body of the `annexb_h264_sps` fuzz target (`fuzz/fuzz_targets/`), shared with the
//! unit test that replays the fuzz corpus, so both run exactly the same checks.
//!
//! Also packetizes the input into RTP payloads and back (`crate::payload`).
//!
//! Not part of the media API: it panics when a parser breaks one of its own invariants,
//! which is what a fuzzer looks for.

use bytes::Bytes;

use super::bits::{BitReader, rbsp_from_ebsp};
use super::{annexb, h264, h265};

/// Splits `data` into Annex B NAL units and parses every unit as an H.264 SPS, an H.265
/// SPS, NAL headers and a slice header; then `data` as one bare NAL unit; then `data` as an
/// H.264 access unit (slice types, the fast first-slice path checked against them); then
/// as a raw Exp-Golomb stream. Panics if an invariant of the parsers does not hold.
pub fn annexb_h264_sps(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let shared: Vec<Bytes> = annexb::nal_units_bytes(&bytes).collect();
    let mut count = 0;
    for (i, nal) in annexb::nal_units(data).enumerate() {
        assert!(!nal.is_empty(), "empty NAL unit yielded");
        assert_ne!(nal.last(), Some(&0), "trailing zero kept");
        assert!(
            !nal.windows(3).any(|w| w == [0, 0, 1]),
            "start code inside a NAL unit"
        );
        assert_eq!(
            shared.get(i).map(|b| &b[..]),
            Some(nal),
            "slice/Bytes mismatch"
        );
        count += 1;
        parse_all(nal);
    }
    assert_eq!(count, shared.len());
    parse_all(data);

    // The per-frame B-picture check must agree with the full walk over the slices.
    let slices = h264::slice_types(data).count();
    assert!(slices <= count, "more slices than NAL units");
    let first = h264::first_slice_type(data);
    assert_eq!(
        first,
        h264::slice_types(data).next().and_then(Result::ok),
        "first_slice_type disagrees with slice_types"
    );
    assert_eq!(h264::is_b_picture(data), first == Some(h264::SliceType::B));

    let rbsp = rbsp_from_ebsp(data);
    assert!(rbsp.len() <= data.len());
    let mut r = BitReader::new(&rbsp, "fuzz");
    while r.bits_left() > 0 {
        let before = r.bits_left();
        if r.ue("x").is_err() {
            break;
        }
        assert!(r.bits_left() < before, "ue(v) consumed nothing");
    }
    rtp_round_trip(data);
}

/// Packetizes `data` as an H.264 and as an H.265 access unit (`crate::payload`) at a
/// few payload budgets: every payload fits, and depacketizing gives back exactly the NAL
/// units that are not access unit delimiters or of a type the payload format reserves.
fn rtp_round_trip(data: &[u8]) {
    use crate::payload::{Format, depacketize, packetize};
    for (format, header, is_aud) in [
        (
            Format::H264,
            1,
            (|n: &[u8]| matches!(n[0] & 0x1f, 9 | 24..=31)) as fn(&[u8]) -> bool,
        ),
        (Format::H265, 2, |n: &[u8]| {
            matches!((n[0] >> 1) & 0x3f, 35 | 48..=63)
        }),
    ] {
        let expected: Vec<&[u8]> = annexb::nal_units(data)
            .filter(|n| n.len() >= header && !is_aud(n))
            .collect();
        for max in [16, 100, 1100] {
            let payloads = packetize(format, data, max);
            assert!(
                payloads.iter().all(|p| p.len() <= max),
                "payload over budget"
            );
            let back = depacketize(format, &payloads).expect("our own payloads parse");
            assert_eq!(
                back, expected,
                "{format:?} at {max} bytes: NAL units changed"
            );
        }
    }
}

fn parse_all(nal: &[u8]) {
    if let Ok(sps) = h264::Sps::parse(nal) {
        assert!(sps.width > 0 && sps.width <= sps.coded_width);
        assert!(sps.height > 0 && sps.height <= sps.coded_height);
        assert!(sps.coded_width.is_multiple_of(16) && sps.coded_height.is_multiple_of(16));
        assert!((8..=14).contains(&sps.bit_depth_luma));
        let codec = sps.rfc6381();
        assert!(codec.starts_with("avc1.") && codec.len() == 11, "{codec}");
        let _ = (
            sps.may_have_b_frames(),
            sps.frame_rate(),
            sps.profile_name(),
        );
    }
    if let Ok(sps) = h265::Sps::parse(nal) {
        assert!(sps.width > 0 && sps.width <= sps.coded_width);
        assert!(sps.height > 0 && sps.height <= sps.coded_height);
        let codec = sps.rfc6381();
        assert!(codec.starts_with("hvc1.") && codec.bytes().all(|b| b.is_ascii_graphic()));
        let _ = (sps.may_have_b_frames(), sps.profile_name());
    }
    let _ = h264::slice_type(nal);
    let _ = (h264::NalHeader::parse(nal), h265::NalHeader::parse(nal));
    let _ = (h264::contains_idr(nal), h265::contains_irap(nal));
}
