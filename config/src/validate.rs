//! Checks that types cannot express: ranges, URL schemes, unique names.

use std::collections::HashSet;
use std::time::Duration;

use crate::load::{ConfigError, Origin, Problem};
use crate::{Config, SecretUrl};

/// What a camera name may contain; it becomes part of stream paths and URLs.
pub const CAMERA_NAME_RULE: &str =
    "1 to 64 characters: lowercase letters, digits, '-' and '_', starting with a letter or digit";

const LOG_LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

impl Config {
    /// Checks the whole configuration and lists every problem (not only the first).
    ///
    /// [`crate::load`] calls this already; call it yourself on a configuration built in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_keys().map_err(|issues| ConfigError {
            problems: issues
                .into_iter()
                .map(|(key, message)| Problem {
                    origin: Origin::Default,
                    key,
                    message,
                })
                .collect(),
        })
    }

    /// The problems as (dotted key, message) pairs; the loader adds where each came from.
    pub(crate) fn validate_keys(&self) -> Result<(), Vec<(String, String)>> {
        let mut out = Vec::new();
        let mut bad = |key: &str, message: String| out.push((key.to_owned(), message));

        if self.server.shutdown_grace.as_secs() > 300 {
            bad(
                "server.shutdown_grace",
                "must be at most 5m: a stuck shutdown delays a restart".into(),
            );
        }
        match (&self.server.tls_cert, &self.server.tls_key) {
            (Some(_), None) => bad(
                "server.tls_key",
                "must be set when server.tls_cert is: the PEM file of the certificate's \
                 private key (set both for HTTPS, neither for HTTP)"
                    .into(),
            ),
            (None, Some(_)) => bad(
                "server.tls_cert",
                "must be set when server.tls_key is: the PEM file of the certificate chain \
                 (set both for HTTPS, neither for HTTP)"
                    .into(),
            ),
            _ => {}
        }
        for (key, path) in [
            ("server.tls_cert", &self.server.tls_cert),
            ("server.tls_key", &self.server.tls_key),
        ] {
            if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                bad(
                    key,
                    "must not be empty: a PEM file path (leave both tls_cert and tls_key \
                     out for plain HTTP)"
                        .into(),
                );
            }
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            bad("storage.data_dir", "must not be empty".into());
        }
        if let Some(url) = &self.storage.database_url {
            let text = url.expose();
            let known = ["sqlite:", "postgres://", "postgresql://"];
            if !known.iter().any(|p| text.starts_with(p)) {
                bad(
                    "storage.database_url",
                    format!(
                        "expected a sqlite: or postgres:// URL, got {:?}",
                        url.redacted()
                    ),
                );
            }
        }

        if let Some(key) = &self.devices.credential_key
            && let Err(message) = check_credential_key(key.expose())
        {
            bad("devices.credential_key", message);
        }
        if let Some(key) = &self.security.token_key
            && let Err(message) = check_credential_key(key.expose())
        {
            bad("security.token_key", message);
        }
        let security = &self.security;
        for (field, value, min, max) in [
            (
                "security.session_ttl",
                security.session_ttl,
                Duration::from_secs(60),
                Duration::from_secs(7 * 86_400),
            ),
            (
                "security.stream_token_max_ttl",
                security.stream_token_max_ttl,
                Duration::from_secs(60),
                Duration::from_secs(30 * 86_400),
            ),
            (
                "security.login_window",
                security.login_window,
                Duration::from_secs(1),
                Duration::from_secs(86_400),
            ),
        ] {
            if value < min || value > max {
                bad(
                    field,
                    format!("must be between {min:?} and {max:?}, not {value:?}"),
                );
            }
        }
        for (field, value) in [
            (
                "security.login_failures_per_account",
                security.login_failures_per_account,
            ),
            (
                "security.login_failures_per_address",
                security.login_failures_per_address,
            ),
        ] {
            if !(1..=10_000).contains(&value) {
                bad(field, format!("must be between 1 and 10000, not {value}"));
            }
        }
        let health = self.devices.health_interval;
        if health < Duration::from_secs(1) || health > Duration::from_secs(3600) {
            bad(
                "devices.health_interval",
                format!("must be between 1s and 1h, not {health:?}"),
            );
        }

        let media = &self.media;
        if media.on_demand.start_timeout.is_zero() {
            bad(
                "media.on_demand.start_timeout",
                "must be longer than 0s".into(),
            );
        }
        if media.retry.initial_backoff.is_zero() {
            bad(
                "media.retry.initial_backoff",
                "must be longer than 0s: retrying in a tight loop floods the camera".into(),
            );
        }
        if media.retry.max_backoff < media.retry.initial_backoff {
            bad(
                "media.retry.max_backoff",
                "must not be shorter than media.retry.initial_backoff".into(),
            );
        }
        if !(0.0..1.0).contains(&media.retry.jitter) {
            bad(
                "media.retry.jitter",
                format!(
                    "expected a fraction from 0.0 up to (not including) 1.0, got {}",
                    media.retry.jitter
                ),
            );
        }
        if !(8..=65_536).contains(&media.reader.queue_frames) {
            bad(
                "media.reader.queue_frames",
                format!(
                    "expected 8 to 65536 frames, got {}",
                    media.reader.queue_frames
                ),
            );
        }
        if media.gop_cache.max_bytes > 1 << 30 {
            bad("media.gop_cache.max_bytes", "must be at most 1GiB".into());
        }

        if let Some(tcp) = self.webrtc.tcp_listen
            && tcp.port() != 0
            && tcp == self.server.http_listen
        {
            bad(
                "webrtc.tcp_listen",
                "must differ from server.http_listen".into(),
            );
        }
        for (i, server) in self.webrtc.ice_servers.iter().enumerate() {
            let key = format!("webrtc.ice_servers[{i}]");
            if server.urls.is_empty() {
                bad(
                    &format!("{key}.urls"),
                    "must list at least one stun: or turn: URL".into(),
                );
            }
            for url in &server.urls {
                let is_turn = url.starts_with("turn:") || url.starts_with("turns:");
                if !is_turn && !url.starts_with("stun:") && !url.starts_with("stuns:") {
                    bad(
                        &format!("{key}.urls"),
                        format!(
                            "expected a URL like \"stun:host:3478\" or \"turn:host:3478\", got {url:?}"
                        ),
                    );
                }
                if is_turn && (server.username.is_none() || server.credential.is_none()) {
                    bad(&key, "a TURN server needs username and credential".into());
                }
            }
        }

        let mut names = HashSet::new();
        for (i, camera) in self.cameras.iter().enumerate() {
            let key = format!("cameras[{i}]");
            if !valid_camera_name(&camera.name) {
                bad(
                    &format!("{key}.name"),
                    format!(
                        "{:?} is not a valid camera name: {CAMERA_NAME_RULE}",
                        camera.name
                    ),
                );
            } else if !names.insert(camera.name.as_str()) {
                bad(
                    &format!("{key}.name"),
                    format!("camera name {:?} is used twice", camera.name),
                );
            }
            let urls = [
                ("main_url", Some(&camera.main_url)),
                ("sub_url", camera.sub_url.as_ref()),
            ];
            for (field, url) in urls {
                let Some(url) = url else { continue };
                match check_rtsp_url(url) {
                    Err(message) => bad(&format!("{key}.{field}"), message),
                    Ok(has_user) if has_user && camera.username.is_some() => bad(
                        &format!("{key}.{field}"),
                        "credentials are given both in the URL and in username/password: use one"
                            .into(),
                    ),
                    Ok(_) => {}
                }
            }
            if camera.password.is_some() && camera.username.is_none() {
                bad(
                    &format!("{key}.password"),
                    "a password needs a username".into(),
                );
            }
        }

        if let Err(message) = check_log_filter(&self.log.level) {
            bad("log.level", message);
        }

        if out.is_empty() { Ok(()) } else { Err(out) }
    }
}

fn valid_camera_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Checks scheme and host; returns whether the URL carries a user name.
fn check_rtsp_url(url: &SecretUrl) -> Result<bool, String> {
    let parsed = url::Url::parse(url.expose()).map_err(|e| {
        format!(
            "expected a URL like \"rtsp://192.0.2.10:554/stream1\", got {:?} ({e})",
            url.redacted()
        )
    })?;
    if !matches!(parsed.scheme(), "rtsp" | "rtsps") {
        return Err(format!(
            "expected an rtsp:// or rtsps:// URL, got scheme {:?}",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{:?} has no host", url.redacted()));
    }
    Ok(!parsed.username().is_empty())
}

/// The credential key must be the standard, padded base64 of 32 bytes (what
/// `openssl rand -base64 32` prints): 43 alphabet characters and one `=`. Never quotes it.
fn check_credential_key(key: &str) -> Result<(), String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let key = key.trim().as_bytes();
    let expected = "expected the standard base64 of 32 random bytes (44 characters ending in \
                    '=', e.g. from `openssl rand -base64 32`)";
    let Some((data, b"=")) = (key.len() == 44).then(|| key.split_at(43)) else {
        return Err(format!("{expected}, got {} characters", key.len()));
    };
    let mut last = 0;
    for c in data {
        match ALPHABET.iter().position(|a| a == c) {
            Some(v) => last = v,
            None => return Err(format!("{expected}; the value is not base64")),
        }
    }
    // 43 characters carry 258 bits: the last two must be zero in canonical base64.
    if last & 0b11 != 0 {
        return Err(format!("{expected}; the value is not canonical base64"));
    }
    Ok(())
}

/// Accepts `level` or comma-separated `target=level` directives (tracing's syntax, without
/// span filters).
fn check_log_filter(filter: &str) -> Result<(), String> {
    if filter.trim().is_empty() {
        return Err(format!(
            "must not be empty; one of {}",
            LOG_LEVELS.join(", ")
        ));
    }
    for directive in filter.split(',').map(str::trim) {
        let (target, level) = match directive.split_once('=') {
            Some((t, l)) => (Some(t.trim()), l.trim()),
            None => (None, directive),
        };
        let target_ok = target.is_none_or(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        });
        let level_ok = LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str());
        let is_bare_target = target.is_none()
            && !level.is_empty()
            && level
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && level.contains("::");
        if !(is_bare_target || target_ok && level_ok) {
            return Err(format!(
                "expected a level ({}) or target=level directives, got {directive:?}",
                LOG_LEVELS.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_names() {
        for ok in ["gas-station", "cam_01", "7eleven", "a"] {
            assert!(valid_camera_name(ok), "{ok}");
        }
        for bad in ["", "-x", "Gas", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(!valid_camera_name(bad), "{bad}");
        }
    }

    #[test]
    fn credential_keys() {
        // `openssl rand -base64 32` output, and its shape with every alphabet edge.
        for ok in [
            "q3JXq6d0ZQ8m0r5m7cHfJc1k9q9v3T0pQmJ9s0Yy1/A=",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8=",
        ] {
            assert!(check_credential_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-=",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
        ] {
            let message = check_credential_key(bad).unwrap_err();
            assert!(bad.is_empty() || !message.contains(bad), "{message}");
        }
    }

    #[test]
    fn log_filters() {
        for ok in [
            "info",
            "INFO",
            "info,watchpost_media=debug",
            "warn, tower_http=off",
        ] {
            assert!(check_log_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["", "loud", "info,=debug", "x=verbose"] {
            assert!(check_log_filter(bad).is_err(), "{bad}");
        }
    }
}
