//! Values that must never be printed: passwords, tokens, credentials inside URLs.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What every secret prints as, in `Debug`, `Display`, logs and serialized output.
pub const REDACTED: &str = "[redacted]";

/// A secret string (a camera or database password, a TURN credential).
///
/// `Debug`, `Display` and `Serialize` all print [`REDACTED`]; the value is only reachable
/// through [`Secret::expose`], so every place that uses it is easy to find. Numbers and
/// booleans are accepted when deserializing (an environment override `...PASSWORD=123456`
/// arrives as a number) and kept as their text.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Call only where it is handed to the peer that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Rewrites a URL so that a password in its user-info part reads `***`.
///
/// Works on any `scheme://user:password@host/...` string, including ones the `url` crate
/// would not parse (`sqlite://data/x.db`). Text that is not such a URL is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..authority_start],
        &userinfo[..colon],
        &url[authority_start + at..]
    )
}

/// A URL that may carry credentials (`rtsp://admin:pw@10.1.2.3/stream1`,
/// `postgres://watchpost:pw@db/watchpost`).
///
/// `Debug`, `Display` and `Serialize` show it with the password replaced by `***`
/// (see [`redact_url`]); [`SecretUrl::expose`] gives the full text to the client library.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        SecretUrl(url.into())
    }

    /// The full URL, password included.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`, safe to log and show.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({:?})", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretUrl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        assert_eq!(
            redact_url("rtsp://admin:hunter2@10.0.0.5:554/Streaming/Channels/101"),
            "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101"
        );
        assert_eq!(
            redact_url("postgres://u:p%40ss@db:5432/x?sslmode=disable"),
            "postgres://u:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(redact_url("rtsp://admin@cam/x"), "rtsp://admin@cam/x");
        assert_eq!(redact_url("rtsp://cam/x@y"), "rtsp://cam/x@y");
        assert_eq!(redact_url("sqlite://data/w.db"), "sqlite://data/w.db");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s} {s:#?}").contains("hunter2"));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        let u = SecretUrl::new("rtsp://a:hunter2@h/p");
        assert!(!format!("{u:?} {u} {u:#?}").contains("hunter2"));
        assert!(!serde_json::to_string(&u).unwrap().contains("hunter2"));
        assert_eq!(u.expose(), "rtsp://a:hunter2@h/p");
    }
}
