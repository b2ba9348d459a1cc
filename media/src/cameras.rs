//! Paths for the cameras declared in the configuration: `<camera>/main` and, when the
//! camera has a sub stream, `<camera>/sub`, each pulled over RTSP.

use std::sync::Arc;

use watchpost_config::{CameraConfig, SecretUrl};

use crate::hub::{HubError, PathName, PathSpec};
use crate::ingest::SourceError;
use crate::ingest::rtsp::{RtspSource, RtspSourceSpec};

/// Why a configured camera could not become a path.
#[derive(Debug, thiserror::Error)]
pub enum CameraPathError {
    /// The camera's name does not make a valid path name.
    #[error("camera {camera}: {source}")]
    Name {
        /// The camera.
        camera: String,
        /// The rejected path.
        source: HubError,
    },
    /// The stream URL cannot be used (redacted in the message).
    #[error("camera {camera}, {profile} stream: {source}")]
    Source {
        /// The camera.
        camera: String,
        /// `main` or `sub`.
        profile: &'static str,
        /// What is wrong.
        source: SourceError,
    },
}

/// Builds one path per configured camera stream.
pub fn camera_paths(cameras: &[CameraConfig]) -> Result<Vec<PathSpec>, CameraPathError> {
    let mut paths = Vec::new();
    for camera in cameras {
        let streams = [
            ("main", Some(&camera.main_url)),
            ("sub", camera.sub_url.as_ref()),
        ];
        for (profile, url) in streams {
            let Some(url) = url else { continue };
            paths.push(camera_path(camera, profile, url)?);
        }
    }
    Ok(paths)
}

fn camera_path(
    camera: &CameraConfig,
    profile: &'static str,
    url: &SecretUrl,
) -> Result<PathSpec, CameraPathError> {
    let name = PathName::new(format!("{}/{profile}", camera.name)).map_err(|source| {
        CameraPathError::Name {
            camera: camera.name.clone(),
            source,
        }
    })?;
    let source = RtspSource::new(RtspSourceSpec::from_camera(camera, url)).map_err(|source| {
        CameraPathError::Source {
            camera: camera.name.clone(),
            profile,
            source,
        }
    })?;
    Ok(PathSpec {
        name,
        source: Arc::new(source),
        always_on: camera.always_on,
    })
}
