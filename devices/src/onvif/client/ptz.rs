//! [`OnvifClient`]'s PTZ operations (the PTZ service's XAddr is passed in, as the media
//! service's is for the media operations).

use std::time::{Duration, SystemTime};

use super::{ClientError, OnvifClient, SoapTransport};
use crate::onvif::ptz::{self, Preset, PtzStatus, PtzVector};

impl<T: SoapTransport> OnvifClient<T> {
    /// `ContinuousMove` of `profile_token` at `velocity` until `Stop` or `timeout`.
    pub async fn continuous_move(
        &self,
        now: SystemTime,
        ptz_url: &str,
        profile_token: &str,
        velocity: PtzVector,
        timeout: Option<Duration>,
    ) -> Result<(), ClientError> {
        let request = ptz::continuous_move(profile_token, velocity, timeout)
            .map_err(|e| self.onvif_error(e))?;
        let op = request.operation;
        self.call(now, ptz_url, request, |t| ptz::parse_ack(op, t))
            .await
    }

    /// `Stop` of the pan/tilt and/or zoom movement of `profile_token`.
    pub async fn stop(
        &self,
        now: SystemTime,
        ptz_url: &str,
        profile_token: &str,
        pan_tilt: bool,
        zoom: bool,
    ) -> Result<(), ClientError> {
        let request = ptz::stop(profile_token, pan_tilt, zoom);
        let op = request.operation;
        self.call(now, ptz_url, request, |t| ptz::parse_ack(op, t))
            .await
    }

    /// `RelativeMove` by `translation`, at `speed` or the camera's default.
    pub async fn relative_move(
        &self,
        now: SystemTime,
        ptz_url: &str,
        profile_token: &str,
        translation: PtzVector,
        speed: Option<PtzVector>,
    ) -> Result<(), ClientError> {
        let request = ptz::relative_move(profile_token, translation, speed)
            .map_err(|e| self.onvif_error(e))?;
        let op = request.operation;
        self.call(now, ptz_url, request, |t| ptz::parse_ack(op, t))
            .await
    }

    /// `AbsoluteMove` to `position`, at `speed` or the camera's default.
    pub async fn absolute_move(
        &self,
        now: SystemTime,
        ptz_url: &str,
        profile_token: &str,
        position: PtzVector,
        speed: Option<PtzVector>,
    ) -> Result<(), ClientError> {
        let request =
            ptz::absolute_move(profile_token, position, speed).map_err(|e| self.onvif_error(e))?;
        let op = request.operation;
        self.call(now, ptz_url, request, |t| ptz::parse_ack(op, t))
            .await
    }

    /// `GetPresets` of `profile_token`.
    pub async fn presets(
        &self,
        now: SystemTime,
        ptz_url: &str,
        profile_token: &str,
    ) -> Result<Vec<Preset>, ClientError> {
        self.call(
            now,
            ptz_url,
            ptz::get_presets(profile_token),
            ptz::parse_presets,
        )
        .await
    }

    /// `GotoPreset` `preset_token`, at `speed` or the camera's default.
    pub async fn goto_preset(
        &self,
        now: SystemTime,
        ptz_url: &str,
        profile_token: &str,
        preset_token: &str,
        speed: Option<PtzVector>,
    ) -> Result<(), ClientError> {
        let request = ptz::goto_preset(profile_token, preset_token, speed)
            .map_err(|e| self.onvif_error(e))?;
        let op = request.operation;
        self.call(now, ptz_url, request, |t| ptz::parse_ack(op, t))
            .await
    }

    /// `SetPreset`: stores the current position as a new preset called `name` (or
    /// overwrites `existing_token`); returns the preset's token.
    pub async fn set_preset(
        &self,
        now: SystemTime,
        ptz_url: &str,
        profile_token: &str,
        name: Option<&str>,
        existing_token: Option<&str>,
    ) -> Result<String, ClientError> {
        self.call(
            now,
            ptz_url,
            ptz::set_preset(profile_token, name, existing_token),
            ptz::parse_set_preset,
        )
        .await
    }

    /// `GetStatus`: the current position and move status.
    pub async fn ptz_status(
        &self,
        now: SystemTime,
        ptz_url: &str,
        profile_token: &str,
    ) -> Result<PtzStatus, ClientError> {
        self.call(
            now,
            ptz_url,
            ptz::get_status(profile_token),
            ptz::parse_status,
        )
        .await
    }
}
