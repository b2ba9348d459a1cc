//! The body of the `onvif_soap` fuzz target (`fuzz/fuzz_targets/`), shared with the unit
//! test that replays its corpus, so both run exactly the same checks.
//!
//! Not part of the device API: it panics when a parser breaks one of its own invariants,
//! which is what a fuzzer looks for.

use super::media::MediaVersion;
use super::{OnvifError, device, discovery, media, ptz, soap, xml};

/// Runs every ONVIF parser on `data` (when it is UTF-8) and checks their invariants:
/// errors name an operation and print; parsed tokens, URIs and dates are well-formed;
/// text escaped by the request builders reads back unchanged.
pub fn soap_response(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    escape_round_trip(text);

    check(soap::response_name(text, "Fuzz"), |_| {});
    check(device::parse_system_date_and_time(text), |t| {
        assert!(t.utc.is_valid(), "invalid date accepted: {:?}", t.utc);
    });
    check(device::parse_device_information(text), |info| {
        assert!(!info.manufacturer.is_empty() && !info.model.is_empty());
    });
    for parsed in [
        device::parse_capabilities(text),
        device::parse_services(text),
    ] {
        check(parsed, |addrs| {
            for xaddr in [
                &addrs.device,
                &addrs.media,
                &addrs.media2,
                &addrs.ptz,
                &addrs.events,
            ]
            .into_iter()
            .flatten()
            {
                assert!(!xaddr.is_empty() && xaddr.trim() == xaddr, "{xaddr:?}");
            }
        });
    }
    for version in [MediaVersion::Media1, MediaVersion::Media2] {
        check(media::parse_profiles(version, text), |profiles| {
            for p in profiles {
                assert!(!p.token.is_empty() && p.token.trim() == p.token);
                if let Some(t) = &p.ptz_configuration_token {
                    assert!(!t.is_empty());
                }
            }
        });
        for parsed in [
            media::parse_stream_uri(version, text),
            media::parse_snapshot_uri(version, text),
        ] {
            check(parsed, |uri| {
                assert!(uri.contains("://") && !uri.contains(char::is_whitespace));
            });
        }
    }
    check(ptz::parse_presets(text), |presets| {
        for p in presets {
            assert!(!p.token.is_empty());
        }
    });
    check(ptz::parse_set_preset(text), |token| {
        assert!(!token.is_empty())
    });
    for op in ["ContinuousMove", "Stop", "GotoPreset"] {
        check(ptz::parse_ack(op, text), |()| {});
    }
    check(discovery::parse_probe_matches(text), |m| {
        for one in &m.matches {
            assert!(!one.endpoint_reference.is_empty());
            for list in [&one.types, &one.scopes, &one.xaddrs] {
                assert!(
                    list.iter()
                        .all(|s| !s.is_empty() && !s.contains(char::is_whitespace))
                );
            }
        }
    });
}

/// Any error must name its operation and print; auth failures are faults.
fn check<T>(result: Result<T, OnvifError>, ok: impl FnOnce(&T)) {
    match &result {
        Ok(value) => ok(value),
        Err(err) => {
            assert!(!err.operation().is_empty());
            assert!(!err.to_string().is_empty());
            if err.is_auth_failure() {
                assert!(matches!(err, OnvifError::Fault { .. }));
            }
        }
    }
}

/// What the request builders escape must read back as written (control characters aside,
/// which become U+FFFD).
fn escape_round_trip(text: &str) {
    let expected: String = text
        .chars()
        .map(|c| {
            if ((c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
                || c == '\u{FFFE}'
                || c == '\u{FFFF}'
            {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    let doc = format!("<a>{}</a>", xml::escape(text));
    match xml::parse(&doc) {
        Ok(root) => assert_eq!(root.text, expected, "escaped text did not round-trip"),
        Err(e) => panic!("escaped text does not parse: {e:?}"),
    }
}

#[cfg(test)]
mod tests {
    //! Replays the `onvif_soap` fuzz corpus (seeds and regressions under `fuzz/`).

    use std::path::Path;

    #[test]
    fn onvif_fuzz_corpus_does_not_panic() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut count = 0;
        for sub in ["seeds/onvif_soap", "regressions/onvif_soap"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(sub)) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                super::soap_response(&std::fs::read(entry.path()).unwrap());
                count += 1;
            }
        }
        assert!(count > 0, "no onvif_soap corpus under {}", fuzz.display());
    }
}
