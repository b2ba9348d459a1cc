//! Inventory cameras as hub sources: `cam/<id>/main` and `cam/<id>/sub`.
//!
//! A camera with an ONVIF endpoint gets its RTSP URIs from the camera (`GetStreamUri`); the
//! URI is resolved when the path first connects and kept while connections succeed. When a
//! connection fails before playing (connect refused, DESCRIBE or SETUP failed: the kinds a
//! changed URI produces) or the ONVIF exchange itself fails, the URI and what was learned
//! about the camera are forgotten, and the hub's next retry (after its backoff) asks the
//! camera again: cameras change their URIs and profile tokens after a reboot or a
//! reconfiguration. A camera without an ONVIF endpoint uses its configured URLs.
//!
//! The RTSP credentials are the camera's inventory credentials (ONVIF URIs usually carry
//! none); they are only ever sent to the camera, never shown.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::BoxFuture;
use watchpost_config::{CameraPolicy, RtspTransport, Secret, SecretUrl};
use watchpost_media::hub::{HubError, PathName, PathSpec};
use watchpost_media::ingest::{
    FrameSink, RtspSource, RtspSourceSpec, Source, SourceError, SourceErrorKind,
};

use crate::onvif::client::SoapTransport;
use crate::onvif_camera::{CameraError, OnvifCamera, StreamProfile};

/// The hub path of a camera's stream: `cam/<id>/<profile>`.
pub fn path_name(camera_id: &str, profile: StreamProfile) -> Result<PathName, HubError> {
    PathName::new(format!("cam/{camera_id}/{profile}"))
}

/// The camera id and profile of a hub path made by [`path_name`], if it is one.
pub fn parse_path_name(path: &str) -> Option<(&str, StreamProfile)> {
    let rest = path.strip_prefix("cam/")?;
    let (id, profile) = rest.split_once('/')?;
    let profile = match profile {
        "main" => StreamProfile::Main,
        "sub" => StreamProfile::Sub,
        _ => return None,
    };
    (!id.is_empty() && !id.contains('/')).then_some((id, profile))
}

/// How RTSP is spoken to one camera: credentials, transport, quirks.
#[derive(Clone)]
pub struct RtspSettings {
    /// User name for RTSP authentication.
    pub username: Option<String>,
    /// Password for RTSP authentication.
    pub password: Option<Secret>,
    /// Interleaved TCP or UDP.
    pub transport: RtspTransport,
    /// Named workarounds for the camera's quirks.
    pub policies: Vec<CameraPolicy>,
}

impl fmt::Debug for RtspSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtspSettings")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("transport", &self.transport)
            .field("policies", &self.policies)
            .finish()
    }
}

impl RtspSettings {
    fn source(&self, url: &str) -> Result<RtspSource, SourceError> {
        RtspSource::new(RtspSourceSpec {
            url: SecretUrl::new(url),
            username: self.username.clone(),
            password: self.password.clone(),
            transport: self.transport,
            policies: self.policies.clone(),
        })
    }
}

/// A camera stream whose URI comes from ONVIF; see the [module documentation](self).
pub struct OnvifStreamSource<T> {
    camera: Arc<OnvifCamera<T>>,
    profile: StreamProfile,
    rtsp: RtspSettings,
    /// The source for the last resolved URI, kept while connections succeed.
    resolved: Mutex<Option<Arc<RtspSource>>>,
}

impl<T> fmt::Debug for OnvifStreamSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnvifStreamSource")
            .field("camera", &self.camera.camera())
            .field("profile", &self.profile)
            .field("resolved", &self.current().map(|s| s.describe()))
            .finish_non_exhaustive()
    }
}

impl<T> OnvifStreamSource<T> {
    /// The `profile` stream of `camera`, pulled over RTSP with `rtsp`.
    pub fn new(camera: Arc<OnvifCamera<T>>, profile: StreamProfile, rtsp: RtspSettings) -> Self {
        OnvifStreamSource {
            camera,
            profile,
            rtsp,
            resolved: Mutex::new(None),
        }
    }

    fn current(&self) -> Option<Arc<RtspSource>> {
        self.resolved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, source: Option<Arc<RtspSource>>) {
        *self.resolved.lock().unwrap_or_else(PoisonError::into_inner) = source;
    }

    /// Forgets the URI and the camera's profiles: the next connection resolves again.
    fn forget(&self) {
        self.set(None);
        self.camera.forget();
    }
}

/// Whether a connection failure may come from a stale URI (so the URI is resolved again).
fn may_be_stale_uri(kind: SourceErrorKind) -> bool {
    matches!(
        kind,
        SourceErrorKind::Connect | SourceErrorKind::Describe | SourceErrorKind::Setup
    )
}

fn onvif_failure(camera: &str, profile: StreamProfile, err: &CameraError) -> SourceError {
    let kind = if err.is_auth_failure() {
        SourceErrorKind::Auth
    } else {
        SourceErrorKind::Connect
    };
    SourceError::new(
        kind,
        format!("camera {camera}, {profile} stream: resolving the RTSP URI over ONVIF: {err}"),
    )
}

impl<T: SoapTransport + Send + Sync + 'static> Source for OnvifStreamSource<T> {
    fn describe(&self) -> String {
        match self.current() {
            Some(source) => format!(
                "{} (from ONVIF, camera {})",
                source.describe(),
                self.camera.camera()
            ),
            None => format!(
                "ONVIF camera {} {} stream (URI not resolved yet)",
                self.camera.camera(),
                self.profile
            ),
        }
    }

    fn run<'a>(&'a self, sink: &'a mut dyn FrameSink) -> BoxFuture<'a, SourceError> {
        Box::pin(async move {
            let source = match self.current() {
                Some(source) => source,
                None => {
                    let uri = match self.camera.stream_uri(self.profile).await {
                        Ok(uri) => uri,
                        Err(err) => {
                            self.camera.forget();
                            return onvif_failure(self.camera.camera(), self.profile, &err);
                        }
                    };
                    match self.rtsp.source(&uri) {
                        Ok(source) => {
                            let source = Arc::new(source);
                            tracing::info!(
                                camera = self.camera.camera(),
                                profile = %self.profile,
                                uri = %source.describe(),
                                "stream URI resolved over ONVIF"
                            );
                            self.set(Some(source.clone()));
                            source
                        }
                        Err(err) => {
                            self.camera.forget();
                            return err;
                        }
                    }
                }
            };
            let err = source.run(sink).await;
            if may_be_stale_uri(err.kind) {
                self.forget();
            }
            err
        })
    }
}

/// Why a camera could not become hub paths.
#[derive(Debug, thiserror::Error)]
pub enum CameraPathError {
    /// The id does not make a valid path name.
    #[error("camera {camera}: {source}")]
    Name {
        /// The camera id.
        camera: String,
        /// Why.
        source: HubError,
    },
    /// A configured URL cannot be used (the message is redacted).
    #[error("camera {camera}, {profile} stream: {source}")]
    Url {
        /// The camera id.
        camera: String,
        /// Which stream.
        profile: StreamProfile,
        /// What is wrong.
        source: SourceError,
    },
}

/// Where a camera's streams come from.
#[derive(Debug)]
pub enum StreamOrigin<T> {
    /// From ONVIF (`GetStreamUri`): both `main` and `sub` paths exist; `sub` fails with a
    /// clear error on a camera with a single video profile.
    Onvif(Arc<OnvifCamera<T>>),
    /// Configured RTSP URLs: `main`, and `sub` when given.
    Static {
        /// Main stream URL.
        main: String,
        /// Sub stream URL.
        sub: Option<String>,
    },
}

/// The hub paths of one camera: `cam/<id>/main` and, where it has one, `cam/<id>/sub`.
pub fn camera_paths<T: SoapTransport + Send + Sync + 'static>(
    camera_id: &str,
    origin: &StreamOrigin<T>,
    rtsp: &RtspSettings,
) -> Result<Vec<PathSpec>, CameraPathError> {
    let name = |profile| {
        path_name(camera_id, profile).map_err(|source| CameraPathError::Name {
            camera: camera_id.to_owned(),
            source,
        })
    };
    let mut specs = Vec::new();
    match origin {
        StreamOrigin::Onvif(camera) => {
            for profile in [StreamProfile::Main, StreamProfile::Sub] {
                specs.push(PathSpec {
                    name: name(profile)?,
                    source: Arc::new(OnvifStreamSource::new(
                        camera.clone(),
                        profile,
                        rtsp.clone(),
                    )),
                    always_on: false,
                });
            }
        }
        StreamOrigin::Static { main, sub } => {
            let streams = [
                (StreamProfile::Main, Some(main)),
                (StreamProfile::Sub, sub.as_ref()),
            ];
            for (profile, url) in streams {
                let Some(url) = url else { continue };
                let source = rtsp.source(url).map_err(|source| CameraPathError::Url {
                    camera: camera_id.to_owned(),
                    profile,
                    source,
                })?;
                specs.push(PathSpec {
                    name: name(profile)?,
                    source: Arc::new(source),
                    always_on: false,
                });
            }
        }
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_names_round_trip() {
        let name = path_name("fengtai-oil-01", StreamProfile::Sub).unwrap();
        assert_eq!(name.as_str(), "cam/fengtai-oil-01/sub");
        assert_eq!(
            parse_path_name(name.as_str()),
            Some(("fengtai-oil-01", StreamProfile::Sub))
        );
        assert_eq!(parse_path_name("gas-station/main"), None);
        assert_eq!(parse_path_name("cam/x/third"), None);
        assert_eq!(parse_path_name("cam//main"), None);
        assert!(path_name("Bad Id", StreamProfile::Main).is_err());
    }

    #[test]
    fn static_urls_make_main_and_optional_sub_paths() {
        let rtsp = RtspSettings {
            username: Some("viewer".into()),
            password: Some(Secret::new("s3cret-pw")),
            transport: RtspTransport::Tcp,
            policies: Vec::new(),
        };
        let origin = StreamOrigin::<crate::onvif::client::HttpTransport>::Static {
            main: "rtsp://192.0.2.1/main".into(),
            sub: None,
        };
        let specs = camera_paths("c1", &origin, &rtsp).unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name.as_str(), "cam/c1/main");
        assert!(!specs[0].source.describe().contains("s3cret-pw"));
        assert!(!format!("{rtsp:?}").contains("s3cret-pw"));
        let bad = StreamOrigin::<crate::onvif::client::HttpTransport>::Static {
            main: "http://192.0.2.1/main".into(),
            sub: None,
        };
        assert!(matches!(
            camera_paths("c1", &bad, &rtsp),
            Err(CameraPathError::Url { .. })
        ));
    }
}
