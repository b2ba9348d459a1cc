//! Human-friendly units in configuration values.
//!
//! Durations are written with a unit, `"500ms"`, `"10s"`, `"2m"`, `"1h"`, and may be
//! combined, `"1m30s"`. A bare number is rejected: a timeout of `10` is ambiguous.
//! Byte sizes are written `"512KiB"`, `"8MiB"`, `"1GiB"` (or `"4096"`, `"4096B"`, and the
//! decimal `kB`/`MB`/`GB`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

/// Parses a duration such as `"10s"`, `"250ms"` or `"1m30s"`.
///
/// Units: `ms`, `s`, `m`, `h`. Returns `None` for anything else, including a number without
/// a unit and an empty string.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value.checked_mul(60)?),
            "h" => Duration::from_secs(value.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// Formats a duration the way [`parse_duration`] reads it (`"10s"`, `"1500ms"`, `"2m"`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Parses a byte size such as `"8MiB"`, `"512KiB"`, `"1GB"` or `"4096"`.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits == 0 {
        return None;
    }
    let value: u64 = text[..digits].parse().ok()?;
    let factor: u64 = match text[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    value.checked_mul(factor)
}

/// Formats a byte count the way [`parse_bytes`] reads it, in the largest exact binary unit.
pub fn format_bytes(n: u64) -> String {
    for (unit, factor) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= factor && n.is_multiple_of(factor) {
            return format!("{}{unit}", n / factor);
        }
    }
    format!("{n}B")
}

/// Describes a value that failed to parse, for error messages: strings are quoted,
/// numbers and booleans are shown as they are.
fn describe<E: de::Error>(unexp: de::Unexpected<'_>, expected: &str) -> E {
    let got = match unexp {
        de::Unexpected::Str(s) => format!("{s:?}"),
        de::Unexpected::Unsigned(n) => format!("{n} (a number without a unit)"),
        de::Unexpected::Signed(n) => format!("{n} (a number without a unit)"),
        de::Unexpected::Float(n) => format!("{n} (a number without a unit)"),
        other => other.to_string(),
    };
    E::custom(format!("expected {expected}, got {got}"))
}

/// Serde adapter for [`Duration`] fields: `#[serde(with = "crate::units::duration")]`.
pub mod duration {
    use super::*;

    const EXPECTED: &str = "a duration like \"10s\"";

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse_duration(v).ok_or_else(|| describe(de::Unexpected::Str(v), EXPECTED))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                Err(describe(de::Unexpected::Signed(v), EXPECTED))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Err(describe(de::Unexpected::Unsigned(v), EXPECTED))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                Err(describe(de::Unexpected::Float(v), EXPECTED))
            }
        }
        d.deserialize_any(V)
    }
}

/// Serde adapter for byte sizes stored as `u64`: `#[serde(with = "crate::units::bytes")]`.
pub mod bytes {
    use super::*;

    const EXPECTED: &str = "a size like \"8MiB\"";

    pub fn serialize<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_bytes(*n))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = u64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
                parse_bytes(v).ok_or_else(|| describe(de::Unexpected::Str(v), EXPECTED))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
                u64::try_from(v).map_err(|_| describe(de::Unexpected::Signed(v), EXPECTED))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
                Ok(v)
            }
        }
        d.deserialize_any(V)
    }
}

/// Serde adapter for socket addresses with an error message that shows an example.
pub mod socket_addr {
    use super::*;
    use std::net::SocketAddr;

    const EXPECTED: &str = "an address like \"127.0.0.1:8080\"";

    pub fn serialize<S: Serializer>(a: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(a)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SocketAddr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SocketAddr, E> {
                v.trim()
                    .parse()
                    .map_err(|_| describe(de::Unexpected::Str(v), EXPECTED))
            }
        }
        d.deserialize_str(V)
    }

    /// The same for `Option<SocketAddr>`; an empty string means "none".
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(a: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
            match a {
                Some(a) => s.collect_str(a),
                None => s.serialize_str(""),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<SocketAddr>, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Option<SocketAddr>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(EXPECTED)
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<SocketAddr>, E> {
                    if v.trim().is_empty() {
                        return Ok(None);
                    }
                    v.trim()
                        .parse()
                        .map(Some)
                        .map_err(|_| describe(de::Unexpected::Str(v), EXPECTED))
                }
            }
            d.deserialize_str(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
        for bad in [
            "",
            "10",
            "ten",
            "s",
            "10 s",
            "-1s",
            "1.5s",
            "10sec",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        for d in [0, 1, 999, 1000, 1500, 60_000, 90_000, 3_600_000] {
            let d = Duration::from_millis(d);
            assert_eq!(parse_duration(&format_duration(d)), Some(d));
        }
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("8MiB"), Some(8 << 20));
        assert_eq!(parse_bytes("512KiB"), Some(512 << 10));
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("1GB"), Some(1_000_000_000));
        for bad in ["", "MiB", "8 mebibytes", "-1", "1.5MiB"] {
            assert_eq!(parse_bytes(bad), None, "{bad:?}");
        }
        for n in [0, 1, 1024, 8 << 20, 3 << 30, 1000] {
            assert_eq!(parse_bytes(&format_bytes(n)), Some(n));
        }
    }
}
