//! WS-Security UsernameToken with a password digest, as ONVIF devices require.
//!
//! Vocabulary: the *nonce* is 16 random bytes, sent Base64-encoded; *created* is the UTC
//! time of the request as the camera's clock would read it (`2026-11-28T09:30:00Z`); the
//! *digest* is `Base64(SHA-1(nonce ‖ created ‖ password))`. Cameras reject tokens whose
//! created time is far from their own clock, so *created* is our time plus a
//! [`ClockOffset`] — the camera's `GetSystemDateAndTime` minus our time when we asked.
//! Everything here is a pure function of its arguments except [`random_nonce`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::ns;
use super::xml::escape;

/// The `Type` of a digest password.
pub const PASSWORD_DIGEST_TYPE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
/// The `EncodingType` of a Base64 nonce.
pub const BASE64_ENCODING_TYPE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// A calendar time in UTC, second precision, proleptic Gregorian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcDateTime {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of the month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=60 (60 only for a leap second a camera reports; counted as 59 + 1).
    pub second: u8,
}

impl UtcDateTime {
    /// The calendar time `seconds` after 1970-01-01T00:00:00Z (negative: before).
    pub fn from_unix_seconds(seconds: i64) -> Self {
        let days = seconds.div_euclid(86_400);
        let secs = seconds.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year: i32::try_from(year).unwrap_or(if year < 0 { i32::MIN } else { i32::MAX }),
            month: month as u8,
            day: day as u8,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
        }
    }

    /// Seconds since 1970-01-01T00:00:00Z. Meaningful for [`Self::is_valid`] values.
    pub fn to_unix_seconds(&self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let month = i64::from(self.month);
        let year = i64::from(self.year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let mp = if month > 2 { month - 3 } else { month + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// `time` truncated to the second; times before 1970 count backwards.
    pub fn from_system_time(time: SystemTime) -> Self {
        Self::from_unix_seconds(unix_seconds(time))
    }

    /// Whether every field is in range (the day within its month).
    pub fn is_valid(&self) -> bool {
        let leap = self.year % 4 == 0 && (self.year % 100 != 0 || self.year % 400 == 0);
        let days_in_month = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        (1..=days_in_month).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
    }

    /// The `xs:dateTime` form WS-Security uses: `2026-11-28T09:30:00Z`.
    pub fn to_xs_datetime(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            -secs - i64::from(d.subsec_nanos() > 0)
        }
    }
}

/// How far the camera's clock is ahead of ours, in whole seconds (negative: behind).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockOffset {
    /// Camera time minus our time, seconds.
    pub seconds: i64,
}

impl ClockOffset {
    /// The offset between the camera's reported UTC time and `ours`, our clock when the
    /// answer arrived (half the round trip off at most; cameras allow minutes).
    pub fn between(camera: UtcDateTime, ours: SystemTime) -> Self {
        Self {
            seconds: camera.to_unix_seconds().saturating_sub(unix_seconds(ours)),
        }
    }

    /// What the camera's clock reads when ours reads `now`.
    pub fn camera_time(&self, now: SystemTime) -> UtcDateTime {
        UtcDateTime::from_unix_seconds(unix_seconds(now).saturating_add(self.seconds))
    }

    /// The offset as a duration and a sign (`true`: the camera is ahead).
    pub fn as_duration(&self) -> (Duration, bool) {
        (
            Duration::from_secs(self.seconds.unsigned_abs()),
            self.seconds >= 0,
        )
    }
}

/// `Base64(SHA-1(nonce ‖ created ‖ password))`, `created` exactly as it is sent.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY);
    context.update(nonce);
    context.update(created.as_bytes());
    context.update(password.as_bytes());
    BASE64.encode(context.finish().as_ref())
}

/// The system random generator failed (it practically never does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

/// 16 fresh random bytes for a [`UsernameToken`]'s nonce. Never reuse one: devices may
/// refuse a replayed nonce.
pub fn random_nonce() -> Result<[u8; 16], RandomError> {
    let mut nonce = [0; 16];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| RandomError)?;
    Ok(nonce)
}

/// A WS-Security UsernameToken with a digest password. The password itself is not kept.
#[derive(Clone, PartialEq, Eq)]
pub struct UsernameToken {
    /// The user name, as configured.
    pub username: String,
    /// The nonce, Base64.
    pub nonce: String,
    /// The created time as sent.
    pub created: String,
    /// [`password_digest`] of the three.
    pub digest: String,
}

impl std::fmt::Debug for UsernameToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The digest is a password equivalent for replay within the camera's window.
        f.debug_struct("UsernameToken")
            .field("username", &self.username)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl UsernameToken {
    /// A token created at `created`.
    pub fn new(username: &str, password: &str, nonce: &[u8], created: UtcDateTime) -> Self {
        let created = created.to_xs_datetime();
        Self {
            username: username.to_owned(),
            nonce: BASE64.encode(nonce),
            digest: password_digest(nonce, &created, password),
            created,
        }
    }

    /// A token created at the camera's time when ours is `now`.
    pub fn at(
        username: &str,
        password: &str,
        nonce: &[u8],
        now: SystemTime,
        offset: ClockOffset,
    ) -> Self {
        Self::new(username, password, nonce, offset.camera_time(now))
    }

    /// The `wsse:Security` header element, `soap_prefix` being the envelope's prefix
    /// (for `mustUnderstand`).
    pub fn security_header(&self, soap_prefix: &str) -> String {
        format!(
            concat!(
                r#"<wsse:Security {p}:mustUnderstand="true" xmlns:wsse="{wsse}" xmlns:wsu="{wsu}">"#,
                "<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>",
                r#"<wsse:Password Type="{ptype}">{digest}</wsse:Password>"#,
                r#"<wsse:Nonce EncodingType="{etype}">{nonce}</wsse:Nonce>"#,
                "<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
            ),
            p = soap_prefix,
            wsse = ns::WSSE,
            wsu = ns::WSU,
            user = escape(&self.username),
            ptype = PASSWORD_DIGEST_TYPE,
            digest = self.digest,
            etype = BASE64_ENCODING_TYPE,
            nonce = self.nonce,
            created = self.created,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_independent_computations() {
        // python3 -c "import hashlib,base64; n=bytes(range(16)); \
        //   print(base64.b64encode(hashlib.sha1(n+b'2026-11-28T09:30:00Z'+b'Secr3t&<pw>').digest()).decode())"
        // → mRupKIfaW04b5WL+jYUYTCvgcvE=
        let nonce: Vec<u8> = (0..16).collect();
        let created = UtcDateTime::from_unix_seconds(1_795_858_200);
        assert_eq!(created.to_xs_datetime(), "2026-11-28T09:30:00Z");
        let token = UsernameToken::new("admin", "Secr3t&<pw>", &nonce, created);
        assert_eq!(token.nonce, "AAECAwQFBgcICQoLDA0ODw==");
        assert_eq!(token.digest, "mRupKIfaW04b5WL+jYUYTCvgcvE=");

        // The ONVIF Application Programmer's Guide example (nonce given in Base64);
        // python3: n=base64.b64decode('LKqI6G/AikKCQrN0zqZFlg=='), same formula.
        let nonce = BASE64.decode("LKqI6G/AikKCQrN0zqZFlg==").unwrap();
        assert_eq!(
            password_digest(&nonce, "2010-09-16T07:50:45Z", "userpassword"),
            "tuOSpGlFlIXsozq4HFNeeGeFLEI="
        );
    }

    #[test]
    fn created_applies_the_clock_offset() {
        let ours = UNIX_EPOCH + Duration::from_secs(1_795_858_200);
        let camera = UtcDateTime::from_unix_seconds(1_795_858_200 - 125);
        let offset = ClockOffset::between(camera, ours);
        assert_eq!(offset.seconds, -125);
        assert_eq!(offset.as_duration(), (Duration::from_secs(125), false));
        let later = ours + Duration::from_millis(10_900);
        let token = UsernameToken::at("u", "p", &[1; 16], later, offset);
        assert_eq!(token.created, "2026-11-28T09:28:05Z");
        assert!(!format!("{token:?}").contains(&token.digest));
    }

    #[test]
    fn calendar_conversions_round_trip() {
        // python3 -c "import calendar; print(calendar.timegm((2000,2,29,0,0,0)))" → 951782400
        let leap = UtcDateTime::from_unix_seconds(951_782_400);
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
        assert_eq!(
            UtcDateTime::from_unix_seconds(-1).to_xs_datetime(),
            "1969-12-31T23:59:59Z"
        );
        let before = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(UtcDateTime::from_system_time(before).second, 59);
        for s in (-100_000_000_000i64..100_000_000_000).step_by(7_777_777_777) {
            let t = UtcDateTime::from_unix_seconds(s);
            assert!(t.is_valid(), "{t:?}");
            assert_eq!(t.to_unix_seconds(), s);
        }
        assert!(
            !UtcDateTime {
                month: 2,
                day: 29,
                year: 1900,
                hour: 0,
                minute: 0,
                second: 0
            }
            .is_valid()
        );
    }

    #[test]
    fn nonces_differ_and_header_names_the_digest_type() {
        assert_ne!(random_nonce().unwrap(), random_nonce().unwrap());
        let token = UsernameToken::new("a<b", "p", &[0; 16], UtcDateTime::from_unix_seconds(0));
        let header = token.security_header("s");
        assert!(header.contains("<wsse:Username>a&lt;b</wsse:Username>"));
        assert!(header.contains("#PasswordDigest"));
        assert!(header.contains("<wsu:Created>1970-01-01T00:00:00Z</wsu:Created>"));
    }
}
