//! The media services: Media (`trt:`, ONVIF Profile S) and Media2 (`tr2:`, Profile T).
//!
//! Vocabulary: a *profile* (token + name) bundles a video encoder configuration
//! (resolution, codec) and optionally a PTZ configuration; a *stream URI* is the RTSP URL
//! of a profile (RTP unicast over RTSP); a *snapshot URI* is an HTTP URL for a JPEG. The
//! same operations exist in both services with different element shapes; [`MediaVersion`]
//! selects which, and both parse into the same models.

use super::soap::expect_response;
use super::xml::{Element, escape};
use super::{
    OnvifError, Request, ns, number, optional_text, required, required_attr, required_text,
};

/// Which media service a request goes to (and its answer comes from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaVersion {
    /// `http://www.onvif.org/ver10/media/wsdl`.
    Media1,
    /// `http://www.onvif.org/ver20/media/wsdl`.
    Media2,
}

impl MediaVersion {
    /// The service namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Media1 => ns::MEDIA,
            Self::Media2 => ns::MEDIA2,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Media1 => "trt",
            Self::Media2 => "tr2",
        }
    }

    fn request(self, operation: &'static str, inner: &str) -> Request {
        let action = match (self, operation) {
            (Self::Media1, "GetProfiles") => "http://www.onvif.org/ver10/media/wsdl/GetProfiles",
            (Self::Media1, "GetStreamUri") => "http://www.onvif.org/ver10/media/wsdl/GetStreamUri",
            (Self::Media1, _) => "http://www.onvif.org/ver10/media/wsdl/GetSnapshotUri",
            (Self::Media2, "GetProfiles") => "http://www.onvif.org/ver20/media/wsdl/GetProfiles",
            (Self::Media2, "GetStreamUri") => "http://www.onvif.org/ver20/media/wsdl/GetStreamUri",
            (Self::Media2, _) => "http://www.onvif.org/ver20/media/wsdl/GetSnapshotUri",
        };
        let p = self.prefix();
        Request {
            operation,
            action,
            body: format!(
                r#"<{p}:{operation} xmlns:{p}="{}" xmlns:tt="{}">{inner}</{p}:{operation}>"#,
                self.namespace(),
                ns::SCHEMA
            ),
        }
    }
}

/// `GetProfiles`; for Media2 with `Type` = `All`, so configurations are included.
pub fn get_profiles(version: MediaVersion) -> Request {
    match version {
        MediaVersion::Media1 => version.request("GetProfiles", ""),
        MediaVersion::Media2 => version.request("GetProfiles", "<tr2:Type>All</tr2:Type>"),
    }
}

/// `GetStreamUri` for RTP unicast over RTSP of the profile `profile_token`.
pub fn get_stream_uri(version: MediaVersion, profile_token: &str) -> Request {
    let token = escape(profile_token);
    match version {
        MediaVersion::Media1 => version.request(
            "GetStreamUri",
            &format!(
                "<trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup><trt:ProfileToken>{token}</trt:ProfileToken>"
            ),
        ),
        MediaVersion::Media2 => version.request(
            "GetStreamUri",
            &format!("<tr2:Protocol>RtspUnicast</tr2:Protocol><tr2:ProfileToken>{token}</tr2:ProfileToken>"),
        ),
    }
}

/// `GetSnapshotUri` of the profile `profile_token`.
pub fn get_snapshot_uri(version: MediaVersion, profile_token: &str) -> Request {
    let p = version.prefix();
    version.request(
        "GetSnapshotUri",
        &format!(
            "<{p}:ProfileToken>{}</{p}:ProfileToken>",
            escape(profile_token)
        ),
    )
}

/// A video codec as the encoder configuration names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// `H264` (Media2 also `H.264`).
    H264,
    /// `H265` (also `H.265`, `HEVC`).
    H265,
    /// `JPEG` (Motion JPEG).
    Jpeg,
    /// `MPEG4` (MPEG-4 part 2).
    Mpeg4,
    /// Anything else, as written.
    Other(String),
}

impl VideoCodec {
    /// Normalises an `Encoding` value; case-insensitive.
    pub fn from_encoding(text: &str) -> Self {
        match text.trim().to_ascii_uppercase().as_str() {
            "H264" | "H.264" | "AVC" => Self::H264,
            "H265" | "H.265" | "HEVC" => Self::H265,
            "JPEG" | "MJPEG" => Self::Jpeg,
            "MPEG4" | "MPV4-ES" | "MP4V-ES" => Self::Mpeg4,
            _ => Self::Other(text.trim().to_owned()),
        }
    }
}

/// A profile's video encoder configuration, as far as Watchpost uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoEncoder {
    /// The codec.
    pub codec: VideoCodec,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
}

/// One media profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaProfile {
    /// The profile token (non-empty), the argument of the other media and PTZ operations.
    pub token: String,
    /// The display name (may be empty).
    pub name: String,
    /// The video encoder, `None` for a profile without one (audio-only, metadata).
    pub video: Option<VideoEncoder>,
    /// The PTZ configuration's token, when the profile has one (PTZ works with it).
    pub ptz_configuration_token: Option<String>,
}

/// Parses a `GetProfilesResponse` of either media service, in document order.
pub fn parse_profiles(version: MediaVersion, text: &str) -> Result<Vec<MediaProfile>, OnvifError> {
    const OP: &str = "GetProfiles";
    let service = version.namespace();
    let response = expect_response(text, OP, service, "GetProfilesResponse")?;
    let mut profiles = Vec::new();
    for profile in response.children_named(service, "Profiles") {
        let token = required_attr(profile, "token", OP, "Profiles/@token")?;
        let (name, video, ptz) = match version {
            MediaVersion::Media1 => (
                profile.child_text(ns::SCHEMA, "Name"),
                profile.child(ns::SCHEMA, "VideoEncoderConfiguration"),
                profile.child(ns::SCHEMA, "PTZConfiguration"),
            ),
            MediaVersion::Media2 => {
                let configurations = profile.child(service, "Configurations");
                (
                    profile.child_text(service, "Name"),
                    configurations.and_then(|c| c.child(service, "VideoEncoder")),
                    configurations.and_then(|c| c.child(service, "PTZ")),
                )
            }
        };
        profiles.push(MediaProfile {
            token,
            name: name.unwrap_or_default().to_owned(),
            video: video.map(|v| video_encoder(v, OP)).transpose()?,
            ptz_configuration_token: ptz
                .and_then(|p| p.attr("token"))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        });
    }
    Ok(profiles)
}

fn video_encoder(config: &Element, op: &'static str) -> Result<VideoEncoder, OnvifError> {
    let encoding = required_text(config, ns::SCHEMA, "Encoding", op, "VideoEncoder/Encoding")?;
    let resolution = required(
        config,
        ns::SCHEMA,
        "Resolution",
        op,
        "VideoEncoder/Resolution",
    )?;
    let width = required_text(resolution, ns::SCHEMA, "Width", op, "Resolution/Width")?;
    let height = required_text(resolution, ns::SCHEMA, "Height", op, "Resolution/Height")?;
    // Hikvision firmware streaming H.265 still writes `H264` into Media1's `tt:Encoding`
    // (the schema has no H.265 there) and names the real codec in a non-schema,
    // unqualified `encoding` attribute: a codec named there wins.
    let codec = match config.attr("encoding").map(VideoCodec::from_encoding) {
        Some(codec) if !matches!(codec, VideoCodec::Other(_)) => codec,
        _ => VideoCodec::from_encoding(&encoding),
    };
    Ok(VideoEncoder {
        codec,
        width: number(&width, op, "Resolution/Width")?,
        height: number(&height, op, "Resolution/Height")?,
    })
}

/// Parses a `GetStreamUriResponse`: the RTSP URI (Media1 `trt:MediaUri/tt:Uri`, Media2
/// `tr2:Uri`). The URI is returned as written; it may lack credentials and may name a host
/// other than the one asked (cameras behind NAT), which the caller decides about.
pub fn parse_stream_uri(version: MediaVersion, text: &str) -> Result<String, OnvifError> {
    parse_uri(version, text, "GetStreamUri", "GetStreamUriResponse")
}

/// Parses a `GetSnapshotUriResponse`: the HTTP URI of a JPEG snapshot.
pub fn parse_snapshot_uri(version: MediaVersion, text: &str) -> Result<String, OnvifError> {
    parse_uri(version, text, "GetSnapshotUri", "GetSnapshotUriResponse")
}

fn parse_uri(
    version: MediaVersion,
    text: &str,
    op: &'static str,
    response: &'static str,
) -> Result<String, OnvifError> {
    let service = version.namespace();
    let r = expect_response(text, op, service, response)?;
    let uri = match version {
        MediaVersion::Media1 => {
            let media_uri = required(&r, service, "MediaUri", op, "MediaUri")?;
            optional_text(media_uri, ns::SCHEMA, "Uri")
        }
        MediaVersion::Media2 => optional_text(&r, service, "Uri"),
    };
    let uri = uri.ok_or(OnvifError::Missing {
        operation: op,
        element: "Uri",
    })?;
    if uri.contains(char::is_whitespace) || !uri.contains("://") {
        return Err(OnvifError::invalid(op, "Uri", &uri, "an absolute URI"));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::soap::{envelope, response_name};

    #[test]
    fn requests_escape_tokens_and_use_the_right_service() {
        for version in [MediaVersion::Media1, MediaVersion::Media2] {
            for request in [
                get_profiles(version),
                get_stream_uri(version, "Profile<1>&"),
                get_snapshot_uri(version, "Profile<1>&"),
            ] {
                let doc = envelope(&request.body, None);
                let (namespace, local) = response_name(&doc, "t").unwrap();
                assert_eq!(namespace.as_deref(), Some(version.namespace()));
                assert_eq!(local, request.operation);
                assert!(request.action.starts_with(version.namespace()));
                assert!(request.action.ends_with(request.operation));
                assert!(!request.body.contains("<1>"));
            }
        }
        assert!(get_profiles(MediaVersion::Media2).body.contains(">All<"));
    }

    #[test]
    fn an_encoding_attribute_naming_a_codec_overrides_the_media1_element() {
        // As Hikvision firmware writes an H.265 stream into Media1 (see
        // fixtures/onvif/captures/hikvision/GetProfiles.xml).
        let doc = |attr: &str| {
            format!(
                r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:m="http://www.onvif.org/ver10/media/wsdl" xmlns:t="http://www.onvif.org/ver10/schema"><e:Body><m:GetProfilesResponse><m:Profiles token="P"><t:VideoEncoderConfiguration token="V"{attr}><t:Encoding>H264</t:Encoding><t:Resolution><t:Width>2688</t:Width><t:Height>1520</t:Height></t:Resolution></t:VideoEncoderConfiguration></m:Profiles></m:GetProfilesResponse></e:Body></e:Envelope>"#
            )
        };
        let codec = |attr: &str| {
            parse_profiles(MediaVersion::Media1, &doc(attr)).unwrap()[0]
                .video
                .clone()
                .unwrap()
                .codec
        };
        assert_eq!(codec(r#" encoding="H265""#), VideoCodec::H265);
        assert_eq!(codec(""), VideoCodec::H264);
        // Only an unqualified attribute naming a known codec counts.
        assert_eq!(codec(r#" encoding="vendor-x""#), VideoCodec::H264);
        assert_eq!(
            codec(r#" xmlns:v="urn:v" v:encoding="H265""#),
            VideoCodec::H264
        );
    }

    #[test]
    fn codecs_normalise() {
        assert_eq!(VideoCodec::from_encoding(" h.265 "), VideoCodec::H265);
        assert_eq!(VideoCodec::from_encoding("H264"), VideoCodec::H264);
        assert_eq!(
            VideoCodec::from_encoding("SVAC"),
            VideoCodec::Other("SVAC".into())
        );
    }
}
