//! RTP payload formats for egress: one frame in, the payloads of its RTP packets out.
//!
//! - **H.264** (RFC 6184, packetization-mode 1): NAL units that fit go out alone or, when
//!   several small ones are next to each other (SPS, PPS, SEI before a slice), together in
//!   one STAP-A; a NAL unit larger than the payload budget is split into FU-A fragments.
//! - **H.265** (RFC 7798, no DONL): the same with Aggregation Packets (type 48) and
//!   Fragmentation Units (type 49).
//! - **Audio** (G.711, RFC 3551; Opus, RFC 7587): the frame is the payload.
//!
//! Access unit delimiters are dropped (RFC 6184 §8.3 allows it and browsers do not need
//! them), and so are NAL unit types the payload formats reserve for themselves. The RTP
//! marker bit belongs on the last payload of a video frame.
//!
//! Packetizing is done **once per frame, not once per viewer**: [`PayloadCache`] travels
//! with the [`Frame`](crate::Frame) (its clones share it), the first egress session that
//! needs the payloads computes them and every other session sends the same
//! reference-counted buffers. Sans-IO and allocation-light: one buffer per payload.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::codec::annexb;

/// How a frame becomes RTP payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// H.264, packetization-mode 1 (single NAL unit, STAP-A, FU-A).
    H264,
    /// H.265 (single NAL unit, AP, FU), without DONL.
    H265,
    /// One payload per frame (G.711, Opus).
    Whole,
}

/// The payloads of one frame's RTP packets, in order (the last one carries the marker
/// bit for video).
pub type Payloads = Arc<[Arc<[u8]>]>;

/// Splits `frame` (Annex B for H.264/H.265) into RTP payloads of at most `max` bytes
/// (`max` ≥ 16; smaller values are raised to 16). An empty frame, or one with no NAL unit,
/// gives no payloads.
pub fn packetize(format: Format, frame: &[u8], max: usize) -> Vec<Arc<[u8]>> {
    let max = max.max(16);
    match format {
        Format::Whole if frame.is_empty() => Vec::new(),
        Format::Whole => vec![Arc::from(frame)],
        Format::H264 => Nal::<1>::packetize(frame, max),
        Format::H265 => Nal::<2>::packetize(frame, max),
    }
}

/// The NAL-unit payload formats, by NAL header length: 1 = H.264, 2 = H.265.
struct Nal<const HEADER: usize>;

impl<const HEADER: usize> Nal<HEADER> {
    /// NAL units that are not sent: access unit delimiters, and the types the payload
    /// format takes for itself (H.264 24–31, H.265 48–63: "unspecified" in the video
    /// standards, so a stream that carries them is broken, and a receiver would take them
    /// for aggregation or fragmentation packets).
    fn is_dropped(nal: &[u8]) -> bool {
        match HEADER {
            1 => matches!(nal[0] & 0x1f, 9 | 24..=31),
            _ => matches!((nal[0] >> 1) & 0x3f, 35 | 48..=63),
        }
    }

    fn packetize(frame: &[u8], max: usize) -> Vec<Arc<[u8]>> {
        let mut out = Vec::new();
        // NAL units waiting to go out together (each fits `max` on its own).
        let mut group: Vec<&[u8]> = Vec::new();
        let mut group_len = HEADER; // The aggregation packet's own header.
        for nal in annexb::nal_units(frame) {
            if nal.len() < HEADER || Self::is_dropped(nal) {
                continue; // Shorter than a NAL unit header, an AUD or a reserved type.
            }
            if nal.len() > max {
                Self::flush(&mut group, &mut group_len, &mut out);
                Self::fragment(nal, max, &mut out);
                continue;
            }
            if group_len + 2 + nal.len() > max {
                Self::flush(&mut group, &mut group_len, &mut out);
            }
            group.push(nal);
            group_len += 2 + nal.len();
        }
        Self::flush(&mut group, &mut group_len, &mut out);
        out
    }

    /// Sends what is grouped: one NAL unit alone, several in an aggregation packet.
    fn flush(group: &mut Vec<&[u8]>, group_len: &mut usize, out: &mut Vec<Arc<[u8]>>) {
        match group.len() {
            0 => {}
            1 => out.push(Arc::from(group[0])),
            _ => {
                let mut p = Vec::with_capacity(*group_len);
                match HEADER {
                    1 => {
                        // STAP-A: F = any F, NRI = the highest NRI (RFC 6184 §5.7.1).
                        let f = group.iter().fold(0, |a, n| a | (n[0] & 0x80));
                        let nri = group.iter().map(|n| n[0] & 0x60).max().unwrap_or(0);
                        p.push(f | nri | 24);
                    }
                    _ => {
                        // AP: F = any F, LayerId and TID the lowest (RFC 7798 §4.4.2).
                        let f = group.iter().fold(0, |a, n| a | (n[0] & 0x80));
                        let layer = group
                            .iter()
                            .map(|n| (u16::from(n[0] & 1) << 5) | u16::from(n[1] >> 3))
                            .min()
                            .unwrap_or(0);
                        let tid = group.iter().map(|n| n[1] & 7).min().unwrap_or(1);
                        p.push(f | (48 << 1) | (layer >> 5) as u8);
                        p.push((((layer & 0x1f) as u8) << 3) | tid);
                    }
                }
                for nal in group.iter() {
                    p.extend_from_slice(&(nal.len() as u16).to_be_bytes());
                    p.extend_from_slice(nal);
                }
                out.push(Arc::from(p));
            }
        }
        group.clear();
        *group_len = HEADER;
    }

    /// FU-A (H.264) or FU (H.265) fragments of one NAL unit larger than `max`.
    fn fragment(nal: &[u8], max: usize, out: &mut Vec<Arc<[u8]>>) {
        // Payload header(s) + FU header, then a piece of the NAL unit without its header.
        let overhead = HEADER + 1;
        let body = &nal[HEADER..];
        let piece = max - overhead;
        let (indicator, kind): ([u8; 2], u8) = match HEADER {
            1 => ([(nal[0] & 0xe0) | 28, 0], nal[0] & 0x1f),
            _ => ([(nal[0] & 0x81) | (49 << 1), nal[1]], (nal[0] >> 1) & 0x3f),
        };
        let count = body.len().div_ceil(piece);
        for (i, chunk) in body.chunks(piece).enumerate() {
            let mut p = Vec::with_capacity(overhead + chunk.len());
            p.extend_from_slice(&indicator[..HEADER]);
            let start = if i == 0 { 0x80 } else { 0 };
            let end = if i + 1 == count { 0x40 } else { 0 };
            p.push(start | end | kind);
            p.extend_from_slice(chunk);
            out.push(Arc::from(p));
        }
    }
}

/// A frame's RTP payloads, computed by the first egress session that asks and shared by
/// all of the frame's clones (see the [module documentation](self)). Cloning is cheap.
#[derive(Clone, Default)]
pub struct PayloadCache(Arc<OnceLock<(Format, usize, Payloads)>>);

impl PayloadCache {
    /// The payloads of `frame` (the frame's own data) for `format` and `max`: from the
    /// cache when an earlier call asked for the same, computed (and, the first time,
    /// kept) otherwise.
    pub fn get(&self, format: Format, frame: &[u8], max: usize) -> Payloads {
        let (f, m, payloads) = self
            .0
            .get_or_init(|| (format, max, packetize(format, frame, max).into()));
        if *f == format && *m == max {
            payloads.clone()
        } else {
            // Another egress with other needs: computed for this caller only.
            packetize(format, frame, max).into()
        }
    }

    /// Whether the payloads have been computed.
    pub fn is_filled(&self) -> bool {
        self.0.get().is_some()
    }
}

impl fmt::Debug for PayloadCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get() {
            Some((format, max, p)) => write!(f, "PayloadCache({format:?}, ≤{max}: {})", p.len()),
            None => f.write_str("PayloadCache(empty)"),
        }
    }
}

/// Reassembles the NAL units of `format` payloads (the inverse of [`packetize`] for
/// H.264/H.265; for tests and the fuzz target). `None` if a payload is malformed.
pub fn depacketize(format: Format, payloads: &[Arc<[u8]>]) -> Option<Vec<Vec<u8>>> {
    let header = match format {
        Format::H264 => 1,
        Format::H265 => 2,
        Format::Whole => return Some(payloads.iter().map(|p| p.to_vec()).collect()),
    };
    let mut nals = Vec::new();
    let mut fu: Option<Vec<u8>> = None;
    for p in payloads {
        let kind = if header == 1 {
            p.first()? & 0x1f
        } else {
            (p.first()? >> 1) & 0x3f
        };
        let (aggregate, fragment) = if header == 1 { (24, 28) } else { (48, 49) };
        if kind == aggregate {
            let mut rest = p.get(header..)?;
            while !rest.is_empty() {
                let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
                nals.push(rest.get(2..2 + len)?.to_vec());
                rest = &rest[2 + len..];
            }
        } else if kind == fragment {
            let fu_header = *p.get(header)?;
            let body = p.get(header + 1..)?;
            if fu_header & 0x80 != 0 {
                let original = fu_header & 0x3f;
                let mut nal = if header == 1 {
                    vec![(p[0] & 0xe0) | (fu_header & 0x1f)]
                } else {
                    vec![(p[0] & 0x81) | (original << 1), p[1]]
                };
                nal.extend_from_slice(body);
                fu = Some(nal);
            } else {
                fu.as_mut()?.extend_from_slice(body);
            }
            if fu_header & 0x40 != 0 {
                nals.push(fu.take()?);
            }
        } else {
            nals.push(p.to_vec());
        }
    }
    fu.is_none().then_some(nals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annexb(nals: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for n in nals {
            v.extend_from_slice(&[0, 0, 0, 1]);
            v.extend_from_slice(n);
        }
        v
    }

    fn nal(header: &[u8], len: usize) -> Vec<u8> {
        let mut v = header.to_vec();
        v.extend((0..len - header.len()).map(|i| (i % 251) as u8 + 2));
        v
    }

    #[test]
    fn h264_parameter_sets_and_a_small_slice_share_one_stap_a() {
        let sps = nal(&[0x67], 12);
        let pps = nal(&[0x68], 4);
        let aud = [0x09, 0xf0];
        let idr = nal(&[0x65], 300);
        let frame = annexb(&[&aud, &sps, &pps, &idr]);
        let p = packetize(Format::H264, &frame, 1100);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0][0], 0x60 | 24, "STAP-A with the highest NRI (IDR: 3)");
        assert_eq!(&p[0][1..3], &[0, 12]);
        assert_eq!(&p[0][3..15], &sps[..]);
        assert_eq!(
            depacketize(Format::H264, &p).unwrap(),
            vec![sps, pps, idr],
            "the AUD is dropped, the rest comes back"
        );
    }

    #[test]
    fn h264_a_large_slice_is_split_into_fu_a_within_the_budget() {
        let sps = nal(&[0x67], 12);
        let idr = nal(&[0x65], 5000);
        let frame = annexb(&[&sps, &idr]);
        let p = packetize(Format::H264, &frame, 1100);
        assert!(p.iter().all(|p| p.len() <= 1100));
        assert_eq!(&p[0][..], &sps[..], "a lone small NAL unit goes out alone");
        let fus = &p[1..];
        assert_eq!(fus.len(), 5, "4999 bytes in pieces of 1098");
        assert_eq!(fus[0][0], 0x60 | 28);
        assert_eq!(fus[0][1], 0x80 | 5, "start bit and the type");
        assert_eq!(fus[4][1], 0x40 | 5, "end bit");
        assert!(fus[1..4].iter().all(|f| f[1] == 5));
        assert_eq!(depacketize(Format::H264, &p).unwrap(), vec![sps, idr]);
    }

    #[test]
    fn h265_uses_aggregation_packets_and_fragmentation_units() {
        let vps = nal(&[32 << 1, 1], 20);
        let sps = nal(&[33 << 1, 1], 40);
        let pps = nal(&[34 << 1, 1], 8);
        let aud = [35 << 1, 1, 0x50];
        let idr = nal(&[19 << 1, 1], 3000);
        let frame = annexb(&[&aud, &vps, &sps, &pps, &idr]);
        let p = packetize(Format::H265, &frame, 1100);
        assert_eq!((p[0][0] >> 1) & 0x3f, 48, "AP");
        assert_eq!(p[0][1], 1, "LayerId 0, TID 1");
        assert!(p[1..].iter().all(|f| (f[0] >> 1) & 0x3f == 49 && f[1] == 1));
        assert_eq!(p[1][2], 0x80 | 19);
        assert_eq!(p.last().unwrap()[2], 0x40 | 19);
        assert!(p.iter().all(|p| p.len() <= 1100));
        assert_eq!(
            depacketize(Format::H265, &p).unwrap(),
            vec![vps, sps, pps, idr]
        );
    }

    #[test]
    fn audio_is_one_payload_and_nothing_gives_nothing() {
        let p = packetize(Format::Whole, &[1, 2, 3], 1100);
        assert_eq!(p.len(), 1);
        assert_eq!(&p[0][..], &[1, 2, 3]);
        assert!(packetize(Format::Whole, &[], 1100).is_empty());
        assert!(packetize(Format::H264, &[], 1100).is_empty());
        assert!(
            packetize(Format::H264, &[1, 2, 3, 4], 1100).is_empty(),
            "no start code"
        );
    }

    /// Random access units (random NAL headers, lengths around the budgets, four- and
    /// three-byte start codes) through the fuzz target's round-trip check.
    #[test]
    fn random_access_units_round_trip() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..3000 {
            let mut frame = Vec::new();
            for _ in 0..next() % 6 {
                frame.extend_from_slice(if next() % 2 == 0 {
                    &[0, 0, 0, 1]
                } else {
                    &[0, 0, 1]
                });
                let len = [
                    1, 2, 3, 14, 15, 16, 17, 99, 100, 101, 1099, 1100, 1101, 2500,
                ][(next() % 14) as usize];
                // Bytes ≥ 2 keep start codes out of the body.
                frame.extend((0..len).map(|_| (next() % 254) as u8 + 2));
                let header = frame.len() - len;
                frame[header] = next() as u8 & 0x7f; // Any NAL type, F bit clear.
            }
            crate::codec::fuzzing::annexb_h264_sps(&frame);
        }
    }

    #[test]
    fn the_cache_computes_once_and_shares_the_buffers() {
        let frame = annexb(&[&nal(&[0x65], 2500)]);
        let cache = PayloadCache::default();
        assert!(!cache.is_filled());
        let a = cache.get(Format::H264, &frame, 1100);
        let b = cache.clone().get(Format::H264, &frame, 1100);
        assert!(cache.is_filled());
        assert!(Arc::ptr_eq(&a, &b), "one packetization for every session");
        let other = cache.get(Format::H264, &frame, 500);
        assert!(
            other.iter().all(|p| p.len() <= 500),
            "another budget is honoured"
        );
        assert!(Arc::ptr_eq(&a, &cache.get(Format::H264, &frame, 1100)));
    }
}
