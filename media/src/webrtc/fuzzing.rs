//! The body of the `whep_offer` fuzz target (`fuzz/fuzz_targets/`), shared with the unit
//! test that replays its corpus, so both run exactly the same checks.
//!
//! Not part of the media API: it panics when a parser breaks one of its own invariants,
//! which is what a fuzzer looks for.

use std::sync::Arc;

use bytes::Bytes;

use super::mux::stun_local_ufrag;
use super::negotiate::{OfferSummary, Plan, negotiate};
use crate::frame::{CodecParams, MediaKind, Track};

/// Treats `data` as a datagram (STUN USERNAME routing) and, when it is UTF-8, as a WHEP
/// offer negotiated against an H.264 + PCMA path and an H.265-only path. Panics if an
/// invariant does not hold: a ufrag is a piece of the datagram, and a plan only uses
/// codecs the offer listed, for tracks the path has.
pub fn whep_input(data: &[u8]) {
    if let Some(ufrag) = stun_local_ufrag(data) {
        assert!(!ufrag.contains(':'), "ufrag with a colon: {ufrag:?}");
        assert!(
            data.windows(ufrag.len().max(1))
                .any(|w| ufrag.is_empty() || w == ufrag.as_bytes()),
            "ufrag not taken from the datagram"
        );
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(offer) = OfferSummary::parse(text) else {
        return;
    };
    for tracks in [h264_pcma(), h265_only()] {
        if let Ok(plan) = negotiate(&tracks, &offer) {
            check_plan(&plan, &tracks, &offer);
        }
    }
}

fn check_plan(plan: &Plan, tracks: &[Track], offer: &OfferSummary) {
    for track_plan in [&plan.video, &plan.audio].into_iter().flatten() {
        assert!(
            track_plan.track < tracks.len(),
            "plan names a missing track"
        );
        let offered = offer
            .media
            .iter()
            .flat_map(|m| &m.codecs)
            .any(|c| c.pt == track_plan.codec.pt && c.name == track_plan.codec.name);
        assert!(
            offered,
            "plan uses a codec the offer does not list: {track_plan:?}"
        );
    }
}

fn h264_pcma() -> Vec<Track> {
    vec![
        Track {
            clock_rate: 90_000,
            kind: MediaKind::Video,
            params: Some(Arc::new(CodecParams::H264 {
                sps: Bytes::from_static(&[0x67, 0x4d, 0x40, 0x1e]),
                pps: Bytes::from_static(&[0x68, 0xee, 0x3c, 0x80]),
                width: 320,
                height: 240,
                rfc6381: "avc1.4d401e".into(),
            })),
        },
        Track {
            clock_rate: 8000,
            kind: MediaKind::Audio,
            params: Some(Arc::new(CodecParams::Pcma {
                sample_rate: 8000,
                channels: 1,
            })),
        },
    ]
}

fn h265_only() -> Vec<Track> {
    vec![Track {
        clock_rate: 90_000,
        kind: MediaKind::Video,
        params: Some(Arc::new(CodecParams::H265 {
            vps: Bytes::from_static(&[0x40, 0x01]),
            sps: Bytes::from_static(&[0x42, 0x01]),
            pps: Bytes::from_static(&[0x44, 0x01]),
            width: 320,
            height: 240,
            rfc6381: "hvc1.1.6.L93.B0".into(),
        })),
    }]
}

#[cfg(test)]
mod tests {
    //! Replays the `whep_offer` fuzz corpus (seeds and regressions under `fuzz/`).

    use std::path::Path;

    #[test]
    fn whep_fuzz_corpus_does_not_panic() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut count = 0;
        for sub in ["seeds/whep_offer", "regressions/whep_offer"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(sub)) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                super::whep_input(&std::fs::read(entry.path()).unwrap());
                count += 1;
            }
        }
        assert!(count > 0, "no whep_offer corpus under {}", fuzz.display());
    }
}
