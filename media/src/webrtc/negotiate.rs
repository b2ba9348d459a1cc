//! Codec negotiation from a WHEP offer (sans-IO, pure functions).
//!
//! Calling contract: [`OfferSummary::parse`] the offer's SDP text, then
//! [`negotiate`] it against the path's [`Track`]s (the hub's `ReaderEvent::Tracks`). The
//! [`Plan`] says which track goes out on which payload type; [`NegotiationError`] says why
//! nothing can be sent (406 at the HTTP layer).
//!
//! Only what the offer lists is ever sent: a codec the viewer did not offer is never
//! chosen. The payload type, `profile-level-id` and `packetization-mode` come from the
//! offer, so the answer echoes parameters the viewer accepts.
//!
//! AAC is never sent (WebRTC has no AAC). When [`OfferSummary::accepts_opus`], the session
//! asks the hub for Opus audio (`ReaderOptions::opus_audio`), so with the `gstreamer`
//! feature an AAC path's tracks already say Opus here; otherwise the AAC track is omitted
//! with a reason.

use std::fmt::Write as _;

use crate::frame::{CodecParams, MediaKind, Track};

/// One `a=rtpmap` entry of an offered media section, with its `a=fmtp` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedCodec {
    /// RTP payload type.
    pub pt: u8,
    /// Encoding name in upper case (`H264`, `PCMA`, `OPUS`, `RTX`, …).
    pub name: String,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Channels (audio), when given.
    pub channels: Option<u8>,
    /// The `a=fmtp` parameters (`key=value;…`), empty when absent.
    pub fmtp: String,
}

impl OfferedCodec {
    fn fmtp_value(&self, key: &str) -> Option<&str> {
        self.fmtp.split(';').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
        })
    }

    /// For RTX: the payload type it repairs (`apt=`).
    pub fn apt(&self) -> Option<u8> {
        self.fmtp_value("apt")?.parse().ok()
    }

    /// For H.264: `packetization-mode` (0 when absent, as RFC 6184 says).
    pub fn packetization_mode(&self) -> u8 {
        self.fmtp_value("packetization-mode")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// For H.264: `profile-level-id` as a number (`42e01f` → 0x42e01f).
    pub fn profile_level_id(&self) -> Option<u32> {
        u32::from_str_radix(self.fmtp_value("profile-level-id")?, 16).ok()
    }

    fn describe(&self) -> String {
        match self.name.as_str() {
            "H264" => match self.profile_level_id() {
                Some(p) => format!(
                    "H264 (profile-level-id {p:06x}, packetization-mode {})",
                    self.packetization_mode()
                ),
                None => format!("H264 (packetization-mode {})", self.packetization_mode()),
            },
            _ => self.name.clone(),
        }
    }
}

/// One `m=` section of the offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedMedia {
    /// `audio`, `video`, `application`.
    pub kind: String,
    /// `a=mid`, when given.
    pub mid: Option<String>,
    /// The codecs in offer order (preference order).
    pub codecs: Vec<OfferedCodec>,
}

/// What the media sections of an SDP offer accept. Parsing is lenient (it only reads
/// `m=`, `a=mid`, `a=rtpmap`, `a=fmtp`); str0m validates the offer as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OfferSummary {
    /// Media sections in order.
    pub media: Vec<OfferedMedia>,
}

impl OfferSummary {
    /// Reads the media sections of `sdp`. Fails when there is no `m=` line at all.
    pub fn parse(sdp: &str) -> Result<OfferSummary, String> {
        let mut media: Vec<OfferedMedia> = Vec::new();
        for line in sdp.lines() {
            let line = line.trim_end_matches('\r');
            if let Some(rest) = line.strip_prefix("m=") {
                let mut fields = rest.split_whitespace();
                let kind = fields.next().unwrap_or_default().to_owned();
                media.push(OfferedMedia {
                    kind,
                    mid: None,
                    codecs: Vec::new(),
                });
                continue;
            }
            let Some(section) = media.last_mut() else {
                continue;
            };
            if let Some(mid) = line.strip_prefix("a=mid:") {
                section.mid = Some(mid.trim().to_owned());
            } else if let Some(rest) = line.strip_prefix("a=rtpmap:") {
                let Some((pt, enc)) = rest.split_once(' ') else {
                    continue;
                };
                let Ok(pt) = pt.trim().parse::<u8>() else {
                    continue;
                };
                let mut parts = enc.trim().split('/');
                let name = parts.next().unwrap_or_default().to_ascii_uppercase();
                let clock_rate = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
                let channels = parts.next().and_then(|c| c.parse().ok());
                section.codecs.push(OfferedCodec {
                    pt,
                    name,
                    clock_rate,
                    channels,
                    fmtp: String::new(),
                });
            } else if let Some(rest) = line.strip_prefix("a=fmtp:") {
                let Some((pt, params)) = rest.split_once(' ') else {
                    continue;
                };
                let Ok(pt) = pt.trim().parse::<u8>() else {
                    continue;
                };
                if let Some(c) = section.codecs.iter_mut().find(|c| c.pt == pt) {
                    c.fmtp = params.trim().to_owned();
                }
            }
        }
        if media.is_empty() {
            return Err("the offer has no media section (m= line)".into());
        }
        Ok(OfferSummary { media })
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a OfferedMedia> + 'a {
        self.media.iter().filter(move |m| m.kind == kind)
    }

    /// The offer accepts Opus audio (48 kHz): the viewer can get an AAC path's audio
    /// transcoded.
    pub fn accepts_opus(&self) -> bool {
        self.of_kind("audio")
            .flat_map(|m| m.codecs.iter())
            .any(|c| c.name == "OPUS" && c.clock_rate == 48000)
    }

    /// What the offer accepts, for messages: `video: H264 (…), VP8; audio: OPUS, PCMA`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for kind in ["video", "audio"] {
            let mut names: Vec<String> = Vec::new();
            for m in self.of_kind(kind) {
                for c in &m.codecs {
                    if matches!(
                        c.name.as_str(),
                        "RTX" | "RED" | "ULPFEC" | "FLEXFEC-03" | "CN"
                    ) || c.name.starts_with("TELEPHONE-EVENT")
                    {
                        continue;
                    }
                    let d = c.describe();
                    if !names.contains(&d) {
                        names.push(d);
                    }
                }
            }
            if !out.is_empty() {
                out.push_str("; ");
            }
            let _ = write!(
                out,
                "{kind}: {}",
                if names.is_empty() {
                    "nothing".to_owned()
                } else {
                    names.join(", ")
                }
            );
        }
        out
    }
}

/// A track and the offered payload type it goes out on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackPlan {
    /// Index of the track in the path's track list.
    pub track: usize,
    /// The offered codec chosen (its payload type is used as is).
    pub codec: OfferedCodec,
    /// The offer's RTX payload type repairing `codec`, if any (NACK answers go on it).
    pub rtx: Option<u8>,
    /// Ticks per second of the track's timestamps.
    pub clock_rate: u32,
}

/// The outcome of negotiation: what this viewer gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The video track and its payload type, if the path has video.
    pub video: Option<TrackPlan>,
    /// The audio track and its payload type, if the path's audio codec was offered.
    pub audio: Option<TrackPlan>,
    /// Why a track of the path is not sent (for the log).
    pub omitted: Vec<String>,
}

/// Why a viewer's offer cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The path's codecs and the offer's have nothing in common.
    #[error("no codec in common: the camera sends {camera}; the offer accepts {offer}")]
    NoCommonCodec {
        /// What the camera sends (`video H.265 (hvc1…)`, `audio PCMA`).
        camera: String,
        /// What the offer accepts.
        offer: String,
    },
    /// The path has no track that WebRTC could carry.
    #[error("the path has no video or audio track known yet")]
    NoTracks,
}

fn describe_track(params: Option<&CodecParams>, kind: MediaKind) -> String {
    let kind_name = match kind {
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
    };
    match params {
        Some(CodecParams::H264 { rfc6381, .. }) => format!("{kind_name} H.264 ({rfc6381})"),
        Some(CodecParams::H265 { rfc6381, .. }) => format!("{kind_name} H.265 ({rfc6381})"),
        Some(p) => format!("{kind_name} {}", p.name().to_ascii_uppercase()),
        None => format!("{kind_name} (codec not yet known)"),
    }
}

/// The H.264 profile_idc and constraint byte of the camera's stream (`avc1.PPCCLL`).
fn camera_h264_profile(rfc6381: &str) -> Option<(u8, u8)> {
    let hex = rfc6381.strip_prefix("avc1.")?;
    let v = u32::from_str_radix(hex.get(..6)?, 16).ok()?;
    Some(((v >> 16) as u8, (v >> 8) as u8))
}

/// Picks the offered H.264 payload type for a camera stream: packetization-mode 1 only
/// (str0m fragments with FU-A), preferring the camera's own profile, then constrained
/// baseline (every decoder has it), then the offer's first.
fn pick_h264<'a>(media: &'a OfferedMedia, rfc6381: &str) -> Option<&'a OfferedCodec> {
    let mode1: Vec<&OfferedCodec> = media
        .codecs
        .iter()
        .filter(|c| c.name == "H264" && c.packetization_mode() == 1)
        .collect();
    let profile_of = |c: &OfferedCodec| c.profile_level_id().map(|p| (p >> 16) as u8);
    if let Some((camera_profile, _)) = camera_h264_profile(rfc6381)
        && let Some(c) = mode1.iter().find(|c| profile_of(c) == Some(camera_profile))
    {
        return Some(c);
    }
    mode1
        .iter()
        .find(|c| c.profile_level_id().map(|p| p >> 8) == Some(0x42e0))
        .or_else(|| mode1.first())
        .copied()
}

fn rtx_for(media: &OfferedMedia, pt: u8) -> Option<u8> {
    media
        .codecs
        .iter()
        .find(|c| c.name == "RTX" && c.apt() == Some(pt))
        .map(|c| c.pt)
}

/// Chooses the payload type for each of the path's tracks (first video, first audio).
///
/// Video decides: if the path has video and the offer accepts none of its codec, the
/// result is [`NegotiationError::NoCommonCodec`]. Audio that cannot be sent (AAC until
/// the Opus transcoder exists, or a codec the offer lacks) is left out and named in
/// [`Plan::omitted`]; an audio-only path whose codec the offer lacks is an error too.
pub fn negotiate(tracks: &[Track], offer: &OfferSummary) -> Result<Plan, NegotiationError> {
    let mut plan = Plan::default();
    let video = tracks
        .iter()
        .enumerate()
        .find(|(_, t)| t.kind == MediaKind::Video);
    let audio = tracks
        .iter()
        .enumerate()
        .find(|(_, t)| t.kind == MediaKind::Audio);
    if video.is_none() && audio.is_none() {
        return Err(NegotiationError::NoTracks);
    }
    let no_common = |params: Option<&CodecParams>, kind| NegotiationError::NoCommonCodec {
        camera: describe_track(params, kind),
        offer: offer.describe(),
    };

    if let Some((index, track)) = video {
        let params = track.params.as_deref();
        let chosen = offer.of_kind("video").find_map(|m| {
            let c = match params {
                Some(CodecParams::H264 { rfc6381, .. }) => pick_h264(m, rfc6381),
                // Parameter sets only in-band: still H.264 or H.265 is unknown until the
                // first key frame; sources announce the codec, so this is rare.
                None => None,
                Some(CodecParams::H265 { .. }) => m.codecs.iter().find(|c| c.name == "H265"),
                Some(_) => None,
            }?;
            Some((m, c))
        });
        let Some((media, codec)) = chosen else {
            return Err(no_common(params, MediaKind::Video));
        };
        plan.video = Some(TrackPlan {
            track: index,
            codec: codec.clone(),
            rtx: rtx_for(media, codec.pt),
            clock_rate: track.clock_rate,
        });
    }

    if let Some((index, track)) = audio {
        let params = track.params.as_deref();
        let wanted = match params {
            Some(CodecParams::Pcma { .. }) => Some(("PCMA", 8000)),
            Some(CodecParams::Pcmu { .. }) => Some(("PCMU", 8000)),
            Some(CodecParams::Opus { .. }) => Some(("OPUS", 48000)),
            _ => None,
        };
        let chosen = wanted.and_then(|(name, rate)| {
            offer
                .of_kind("audio")
                .flat_map(|m| m.codecs.iter())
                .find(|c| c.name == name && c.clock_rate == rate)
        });
        match chosen {
            Some(codec) => {
                plan.audio = Some(TrackPlan {
                    track: index,
                    codec: codec.clone(),
                    rtx: None,
                    clock_rate: track.clock_rate,
                });
            }
            None if plan.video.is_none() => {
                return Err(no_common(params, MediaKind::Audio));
            }
            None => {
                let why = if matches!(params, Some(CodecParams::Aac { .. })) {
                    "AAC cannot travel over WebRTC (transcoding to Opus needs the `gstreamer` \
                     feature and an offer with Opus)"
                        .to_owned()
                } else {
                    format!("the offer does not accept it ({})", offer.describe())
                };
                plan.omitted.push(format!(
                    "{}: {why}",
                    describe_track(params, MediaKind::Audio)
                ));
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;

    pub(crate) fn h264_track() -> Track {
        Track {
            clock_rate: 90000,
            kind: MediaKind::Video,
            params: Some(Arc::new(CodecParams::H264 {
                sps: Bytes::new(),
                pps: Bytes::new(),
                width: 320,
                height: 240,
                rfc6381: "avc1.4d401e".into(),
            })),
        }
    }

    fn pcma_track() -> Track {
        Track {
            clock_rate: 8000,
            kind: MediaKind::Audio,
            params: Some(Arc::new(CodecParams::Pcma {
                sample_rate: 8000,
                channels: 1,
            })),
        }
    }

    const CHROME_LIKE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 106 107\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n\
a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\na=rtpmap:102 H264/90000\r\n\
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\na=rtpmap:106 H264/90000\r\n\
a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n\
a=rtpmap:107 rtx/90000\r\na=fmtp:107 apt=106\r\n";

    #[test]
    fn picks_the_cameras_h264_profile_and_its_rtx_and_pcma() {
        let offer = OfferSummary::parse(CHROME_LIKE).unwrap();
        let plan = negotiate(&[h264_track(), pcma_track()], &offer).unwrap();
        let video = plan.video.unwrap();
        assert_eq!(video.codec.pt, 106, "main profile (4d) like the camera");
        assert_eq!(video.rtx, Some(107));
        let audio = plan.audio.unwrap();
        assert_eq!((audio.codec.pt, audio.track), (8, 1));
        assert!(plan.omitted.is_empty());
    }

    #[test]
    fn packetization_mode_0_is_never_chosen() {
        let sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 100\r\na=rtpmap:100 H264/90000\r\n\
a=fmtp:100 profile-level-id=42e01f\r\n";
        let offer = OfferSummary::parse(sdp).unwrap();
        let err = negotiate(&[h264_track()], &offer).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("H.264 (avc1.4d401e)"), "{msg}");
        assert!(msg.contains("packetization-mode 0"), "{msg}");
    }

    #[test]
    fn aac_audio_is_omitted_with_a_reason() {
        let aac = Track {
            clock_rate: 48000,
            kind: MediaKind::Audio,
            params: Some(Arc::new(CodecParams::Aac {
                config: Bytes::new(),
                sample_rate: 48000,
                channels: 1,
            })),
        };
        let offer = OfferSummary::parse(CHROME_LIKE).unwrap();
        let plan = negotiate(&[h264_track(), aac], &offer).unwrap();
        assert!(plan.audio.is_none());
        assert!(plan.omitted[0].contains("AAC"), "{:?}", plan.omitted);
    }

    /// An audio-only AAC path (a sound-only camera, or a path whose video is not known)
    /// for a viewer that offers no Opus: nothing can go out, and the 406 says why.
    #[test]
    fn an_audio_only_aac_path_without_opus_in_the_offer_is_not_acceptable() {
        let aac = Track {
            clock_rate: 16000,
            kind: MediaKind::Audio,
            params: Some(Arc::new(CodecParams::Aac {
                config: Bytes::from_static(&[0x14, 0x08]),
                sample_rate: 16000,
                channels: 1,
            })),
        };
        let pcma_only = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 8\r\na=mid:0\r\n\
                         a=rtpmap:8 PCMA/8000\r\n";
        let offer = OfferSummary::parse(pcma_only).unwrap();
        assert!(!offer.accepts_opus());
        let err = negotiate(&[aac], &offer).unwrap_err();
        let NegotiationError::NoCommonCodec { camera, offer } = &err else {
            panic!("expected no common codec, got {err:?}");
        };
        assert!(camera.contains("AAC"), "{camera}");
        assert!(offer.contains("PCMA"), "{offer}");
        let msg = err.to_string();
        assert!(msg.contains("AAC") && msg.contains("PCMA"), "{msg}");
    }

    #[test]
    fn an_sdp_without_media_is_rejected() {
        assert!(OfferSummary::parse("v=0\r\ns=-\r\n").is_err());
    }
}
