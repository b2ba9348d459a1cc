//! One managed camera's ONVIF side: what Watchpost learned about it and the operations the
//! rest of the server asks of it (a stream's RTSP URI, the snapshot URI, PTZ).
//!
//! Vocabulary: *learning* a camera is reading its clock (`GetSystemDateAndTime`), where its
//! services are (`GetServices`, or `GetCapabilities` on ONVIF 1.x firmware) and its media
//! profiles (`GetProfiles`); the result ([`Learned`]) is cached until [`OnvifCamera::forget`]
//! (the stream source forgets it when a connect fails: cameras change URIs and tokens after
//! a reboot or a configuration change). The *main* stream is the video profile with the
//! most pixels, the *sub* stream the one with the fewest among the others
//! ([`choose_profiles`]); PTZ commands go to the main profile's PTZ configuration.
//!
//! Media2 is used where the device offers it (it is the only way to H.265 profiles),
//! Media (ver10) otherwise.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::onvif::client::{ClientError, HttpTransport, OnvifClient, SoapTransport};
use crate::onvif::device::DeviceInformation;
use crate::onvif::media::{MediaProfile, MediaVersion};
use crate::onvif::ptz::{Preset, PtzStatus, PtzVector};

/// Our clock, injected so tests can pass their own time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Which of a camera's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamProfile {
    /// High resolution (recording, a maximised tile).
    Main,
    /// Low resolution (small tiles, 4G links).
    Sub,
}

impl StreamProfile {
    /// `main` or `sub`, as in hub path names (`cam/<id>/main`).
    pub fn as_str(self) -> &'static str {
        match self {
            StreamProfile::Main => "main",
            StreamProfile::Sub => "sub",
        }
    }
}

impl fmt::Display for StreamProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What learning a camera found.
#[derive(Debug, Clone, PartialEq)]
pub struct Learned {
    /// Manufacturer, model, firmware (`None` when the camera refused to say; it is not
    /// needed for streaming).
    pub info: Option<DeviceInformation>,
    /// The media service used and its XAddr.
    pub media: (MediaVersion, String),
    /// The PTZ service's XAddr, when the camera has one.
    pub ptz_url: Option<String>,
    /// The main stream's profile.
    pub main: MediaProfile,
    /// The sub stream's profile, when the camera has a second video profile.
    pub sub: Option<MediaProfile>,
}

impl Learned {
    /// The profile behind `profile`, if the camera has it.
    pub fn profile(&self, profile: StreamProfile) -> Option<&MediaProfile> {
        match profile {
            StreamProfile::Main => Some(&self.main),
            StreamProfile::Sub => self.sub.as_ref(),
        }
    }

    /// Whether PTZ commands can be sent: a PTZ service and a main profile with a PTZ
    /// configuration.
    pub fn has_ptz(&self) -> bool {
        self.ptz_url.is_some() && self.main.ptz_configuration_token.is_some()
    }
}

/// Picks the main and sub profiles among `profiles`: only profiles with a video encoder
/// count; main has the most pixels (the first such in document order on a tie), sub the
/// fewest among the rest (`None` with a single video profile).
pub fn choose_profiles(profiles: &[MediaProfile]) -> Option<(MediaProfile, Option<MediaProfile>)> {
    let area = |p: &MediaProfile| {
        p.video
            .as_ref()
            .map(|v| u64::from(v.width) * u64::from(v.height))
    };
    let video: Vec<(usize, u64)> = profiles
        .iter()
        .enumerate()
        .filter_map(|(i, p)| area(p).map(|a| (i, a)))
        .collect();
    // max_by_key keeps the last of equal maxima: reverse to keep the first.
    let &(main, _) = video.iter().rev().max_by_key(|(_, a)| *a)?;
    let sub = video
        .iter()
        .filter(|(i, _)| *i != main)
        .min_by_key(|(_, a)| *a)
        .map(|&(i, _)| profiles[i].clone());
    Some((profiles[main].clone(), sub))
}

/// A PTZ command, as the API takes it (`{"action": "move", "pan": 0.5, ...}`). Values are
/// in ONVIF's generic spaces: pan/tilt `-1..=1`, zoom `0..=1` for positions and `-1..=1`
/// for velocities and relative moves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum PtzCommand {
    /// Continuous move at a velocity until `stop` or `timeout_ms` (the camera's default
    /// timeout when absent). An operator holding a button sends this, then `stop`.
    Move {
        /// Pan velocity, `-1` (left) to `1` (right).
        #[serde(default)]
        pan: f32,
        /// Tilt velocity, `-1` (down) to `1` (up).
        #[serde(default)]
        tilt: f32,
        /// Zoom velocity, `-1` (out) to `1` (in).
        #[serde(default)]
        zoom: f32,
        /// Longest move in milliseconds.
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Stops pan, tilt and zoom.
    Stop,
    /// Moves by a translation.
    RelativeMove {
        /// Pan translation.
        #[serde(default)]
        pan: f32,
        /// Tilt translation.
        #[serde(default)]
        tilt: f32,
        /// Zoom translation.
        #[serde(default)]
        zoom: f32,
    },
    /// Moves to an absolute position.
    AbsoluteMove {
        /// Pan position.
        pan: f32,
        /// Tilt position.
        tilt: f32,
        /// Zoom position, `0..=1`; left unchanged when absent.
        #[serde(default)]
        zoom: Option<f32>,
    },
    /// Moves to a stored preset.
    GotoPreset {
        /// The preset's token.
        preset: String,
    },
    /// Stores the current position as a preset (a new one, or over `preset`).
    SetPreset {
        /// Display name of a new preset.
        #[serde(default)]
        name: Option<String>,
        /// The token of the preset to overwrite.
        #[serde(default)]
        preset: Option<String>,
    },
    /// Lists the stored presets.
    Presets,
    /// Reads the current position.
    Status,
}

impl PtzCommand {
    /// Whether the command moves the camera or changes its presets (what an audit log
    /// records and a viewer may not do), as opposed to reading.
    pub fn changes_camera(&self) -> bool {
        !matches!(self, PtzCommand::Presets | PtzCommand::Status)
    }
}

/// What a PTZ command answered.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PtzReply {
    /// The camera accepted the command.
    Done,
    /// `set_preset`: the preset's token.
    Preset {
        /// Token to pass to `goto_preset`.
        preset: String,
    },
    /// `presets`.
    Presets {
        /// The stored presets.
        presets: Vec<PresetView>,
    },
    /// `status`.
    Status {
        /// Current position, when reported.
        position: Option<Position3>,
        /// Whether the camera is moving.
        moving: bool,
    },
}

/// A preset as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PresetView {
    /// Token for `goto_preset`.
    pub token: String,
    /// Display name.
    pub name: String,
    /// Stored position, when reported.
    pub position: Option<Position3>,
}

/// A PTZ position in the generic spaces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Position3 {
    /// Pan, `-1..=1`.
    pub pan: Option<f32>,
    /// Tilt, `-1..=1`.
    pub tilt: Option<f32>,
    /// Zoom, `0..=1`.
    pub zoom: Option<f32>,
}

impl From<PtzVector> for Position3 {
    fn from(v: PtzVector) -> Self {
        Position3 {
            pan: v.pan_tilt.map(|p| p.0),
            tilt: v.pan_tilt.map(|p| p.1),
            zoom: v.zoom,
        }
    }
}

impl From<Preset> for PresetView {
    fn from(p: Preset) -> Self {
        PresetView {
            token: p.token,
            name: p.name,
            position: p.position.map(Position3::from),
        }
    }
}

/// Why an operation on a camera failed: which camera and why.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// The ONVIF exchange failed (transport, HTTP status, SOAP fault, authentication).
    #[error(transparent)]
    Onvif(#[from] ClientError),
    /// The camera has no media service or no video profile.
    #[error("camera {camera:?}: {what}")]
    Unsupported {
        /// The camera.
        camera: String,
        /// What it lacks (`no sub stream profile`, `no PTZ service`).
        what: String,
    },
}

impl CameraError {
    /// Whether the camera refused the credentials.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, CameraError::Onvif(e) if e.is_auth_failure())
    }
}

/// A camera reached over ONVIF; see the [module documentation](self).
pub struct OnvifCamera<T = HttpTransport> {
    client: OnvifClient<T>,
    clock: Arc<dyn Clock>,
    learned: Mutex<Option<Arc<Learned>>>,
}

impl<T> fmt::Debug for OnvifCamera<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnvifCamera")
            .field("client", &self.client)
            .field("learned", &self.cached().is_some())
            .finish_non_exhaustive()
    }
}

impl<T> OnvifCamera<T> {
    /// Wraps a client; nothing is sent yet.
    pub fn new(client: OnvifClient<T>, clock: Arc<dyn Clock>) -> Self {
        OnvifCamera {
            client,
            clock,
            learned: Mutex::new(None),
        }
    }

    /// The camera's name (its inventory id), as used in errors.
    pub fn camera(&self) -> &str {
        self.client.camera()
    }

    /// What was learned, if it is cached.
    pub fn cached(&self) -> Option<Arc<Learned>> {
        self.learned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Drops what was learned: the next operation asks the camera again.
    pub fn forget(&self) {
        *self.learned.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn unsupported(&self, what: &str) -> CameraError {
        CameraError::Unsupported {
            camera: self.camera().to_owned(),
            what: what.to_owned(),
        }
    }
}

impl<T: SoapTransport> OnvifCamera<T> {
    /// Learns the camera (see the module documentation), or returns the cached result.
    pub async fn learn(&self) -> Result<Arc<Learned>, CameraError> {
        if let Some(learned) = self.cached() {
            return Ok(learned);
        }
        let client = &self.client;
        // Unauthenticated; its failure is not fatal (the token then uses our clock, and the
        // client re-syncs on an authentication failure).
        let _ = client.sync_clock(self.clock.now()).await;
        let services = match client.services(self.clock.now()).await {
            Ok(services) => services,
            Err(err) if err.is_auth_failure() => return Err(err.into()),
            // ONVIF 1.x firmware without GetServices.
            Err(_) => client.capabilities(self.clock.now()).await?,
        };
        let media = match (services.media2, services.media) {
            (Some(url), _) => (MediaVersion::Media2, url),
            (None, Some(url)) => (MediaVersion::Media1, url),
            (None, None) => return Err(self.unsupported("no media service")),
        };
        let profiles = client.profiles(self.clock.now(), &media.1, media.0).await?;
        let (main, sub) =
            choose_profiles(&profiles).ok_or_else(|| self.unsupported("no video profile"))?;
        let info = client.device_information(self.clock.now()).await.ok();
        let learned = Arc::new(Learned {
            info,
            media,
            ptz_url: services.ptz,
            main,
            sub,
        });
        *self.learned.lock().unwrap_or_else(PoisonError::into_inner) = Some(learned.clone());
        Ok(learned)
    }

    fn profile_of(&self, learned: &Learned, profile: StreamProfile) -> Result<String, CameraError> {
        learned
            .profile(profile)
            .map(|p| p.token.clone())
            .ok_or_else(|| self.unsupported(&format!("no {profile} stream profile")))
    }

    /// The RTSP URI of `profile`, as the camera reports it (`GetStreamUri`).
    pub async fn stream_uri(&self, profile: StreamProfile) -> Result<String, CameraError> {
        let learned = self.learn().await?;
        let token = self.profile_of(&learned, profile)?;
        let (version, url) = &learned.media;
        Ok(self
            .client
            .stream_uri(self.clock.now(), url, *version, &token)
            .await?)
    }

    /// The HTTP URI of a JPEG snapshot of `profile` (`GetSnapshotUri`).
    pub async fn snapshot_uri(&self, profile: StreamProfile) -> Result<String, CameraError> {
        let learned = self.learn().await?;
        let token = self.profile_of(&learned, profile)?;
        let (version, url) = &learned.media;
        Ok(self
            .client
            .snapshot_uri(self.clock.now(), url, *version, &token)
            .await?)
    }

    /// Reads the camera's clock: the cheapest exchange, unauthenticated (health checks).
    pub async fn ping(&self) -> Result<(), CameraError> {
        self.client.sync_clock(self.clock.now()).await?;
        Ok(())
    }

    /// Runs one PTZ command on the main profile.
    pub async fn ptz(&self, command: &PtzCommand) -> Result<PtzReply, CameraError> {
        let learned = self.learn().await?;
        let (Some(url), true) = (learned.ptz_url.as_deref(), learned.has_ptz()) else {
            return Err(self.unsupported("no PTZ service or PTZ configuration"));
        };
        let token = learned.main.token.as_str();
        let now = self.clock.now();
        let c = &self.client;
        let vector = |pan: f32, tilt: f32, zoom: Option<f32>| PtzVector {
            pan_tilt: Some((pan, tilt)),
            zoom,
        };
        Ok(match command {
            PtzCommand::Move {
                pan,
                tilt,
                zoom,
                timeout_ms,
            } => {
                let timeout = timeout_ms.map(Duration::from_millis);
                c.continuous_move(now, url, token, vector(*pan, *tilt, Some(*zoom)), timeout)
                    .await?;
                PtzReply::Done
            }
            PtzCommand::Stop => {
                c.stop(now, url, token, true, true).await?;
                PtzReply::Done
            }
            PtzCommand::RelativeMove { pan, tilt, zoom } => {
                c.relative_move(now, url, token, vector(*pan, *tilt, Some(*zoom)), None)
                    .await?;
                PtzReply::Done
            }
            PtzCommand::AbsoluteMove { pan, tilt, zoom } => {
                c.absolute_move(now, url, token, vector(*pan, *tilt, *zoom), None)
                    .await?;
                PtzReply::Done
            }
            PtzCommand::GotoPreset { preset } => {
                c.goto_preset(now, url, token, preset, None).await?;
                PtzReply::Done
            }
            PtzCommand::SetPreset { name, preset } => PtzReply::Preset {
                preset: c
                    .set_preset(now, url, token, name.as_deref(), preset.as_deref())
                    .await?,
            },
            PtzCommand::Presets => PtzReply::Presets {
                presets: c
                    .presets(now, url, token)
                    .await?
                    .into_iter()
                    .map(PresetView::from)
                    .collect(),
            },
            PtzCommand::Status => {
                let PtzStatus { position, moving } = c.ptz_status(now, url, token).await?;
                PtzReply::Status {
                    position: position.map(Position3::from),
                    moving,
                }
            }
        })
    }
}

impl OnvifCamera<HttpTransport> {
    /// A snapshot of `profile`: `GetSnapshotUri`, then the image fetched from that URI with
    /// the camera's credentials (HTTP Digest or Basic). Only a complete JPEG is accepted.
    pub async fn snapshot(&self, profile: StreamProfile) -> Result<Vec<u8>, CameraError> {
        let uri = self.snapshot_uri(profile).await?;
        let shot = self.client.fetch_snapshot(&uri).await?;
        if is_jpeg(&shot.bytes) {
            Ok(shot.bytes)
        } else {
            Err(self.unsupported(&format!(
                "the snapshot URI answered {} bytes of {}, not a JPEG",
                shot.bytes.len(),
                shot.content_type.as_deref().unwrap_or("unknown type")
            )))
        }
    }
}

/// Whether `data` looks like a complete JPEG (SOI at the start, EOI at the end).
pub fn is_jpeg(data: &[u8]) -> bool {
    data.len() > 4 && data.starts_with(&[0xFF, 0xD8]) && data.ends_with(&[0xFF, 0xD9])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::media::{VideoCodec, VideoEncoder};

    fn profile(token: &str, size: Option<(u32, u32)>) -> MediaProfile {
        MediaProfile {
            token: token.to_owned(),
            name: token.to_owned(),
            video: size.map(|(width, height)| VideoEncoder {
                codec: VideoCodec::H264,
                width,
                height,
            }),
            ptz_configuration_token: None,
        }
    }

    #[test]
    fn main_is_the_largest_and_sub_the_smallest_other_video_profile() {
        let profiles = [
            profile("audio", None),
            profile("third", Some((640, 360))),
            profile("main", Some((1920, 1080))),
            profile("sub", Some((352, 288))),
        ];
        let (main, sub) = choose_profiles(&profiles).unwrap();
        assert_eq!(main.token, "main");
        assert_eq!(sub.unwrap().token, "sub");
    }

    #[test]
    fn ties_keep_document_order_and_one_profile_has_no_sub() {
        let profiles = [
            profile("a", Some((1280, 720))),
            profile("b", Some((1280, 720))),
        ];
        let (main, sub) = choose_profiles(&profiles).unwrap();
        assert_eq!(
            (main.token.as_str(), sub.unwrap().token.as_str()),
            ("a", "b")
        );
        let (main, sub) = choose_profiles(&profiles[..1]).unwrap();
        assert_eq!(main.token, "a");
        assert!(sub.is_none());
        assert!(choose_profiles(&[profile("audio", None)]).is_none());
    }

    #[test]
    fn ptz_commands_parse_from_api_json() {
        let cmd: PtzCommand =
            serde_json::from_str(r#"{"action":"move","pan":0.5,"timeout_ms":800}"#).unwrap();
        assert_eq!(
            cmd,
            PtzCommand::Move {
                pan: 0.5,
                tilt: 0.0,
                zoom: 0.0,
                timeout_ms: Some(800)
            }
        );
        assert!(cmd.changes_camera());
        let cmd: PtzCommand = serde_json::from_str(r#"{"action":"presets"}"#).unwrap();
        assert!(!cmd.changes_camera());
        let err = serde_json::from_str::<PtzCommand>(r#"{"action":"spin"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
        let err = serde_json::from_str::<PtzCommand>(
            r#"{"action":"goto_preset","preset":"1","speed":1}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
