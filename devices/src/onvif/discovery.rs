//! WS-Discovery (2005/04, as ONVIF uses it): the Probe a client multicasts to
//! `239.255.255.250:3702` and the ProbeMatches cameras answer with.
//!
//! Vocabulary: the *message id* (`urn:uuid:…`) of a Probe comes back as *RelatesTo* in
//! the matches, so answers can be tied to the probe; a match's *endpoint reference* is the
//! device's stable id (`urn:uuid:…`); its *XAddrs* are device-service URLs; its *scopes*
//! are URIs, ONVIF's `onvif://www.onvif.org/<kind>/<value>` carrying the name, hardware and
//! location (percent-encoded).

use super::xml::escape;
use super::{OnvifError, ns, number, optional_text, soap};

/// The WS-Discovery multicast group and port (IPv4).
pub const MULTICAST_ADDR: &str = "239.255.255.250:3702";

/// The Probe document for ONVIF video transmitters (`dn:NetworkVideoTransmitter`),
/// `message_id` being a fresh `urn:uuid:…` (see [`message_id`]).
pub fn probe(message_id: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<s:Envelope xmlns:s="{soap}" xmlns:a="{wsa}" xmlns:d="{d}" xmlns:dn="{dn}">"#,
            "<s:Header><a:MessageID>{id}</a:MessageID>",
            r#"<a:To s:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>"#,
            r#"<a:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"#,
            "</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"
        ),
        soap = ns::SOAP12,
        wsa = ns::WSA,
        d = ns::DISCOVERY,
        dn = ns::NETWORK,
        id = escape(message_id),
    )
}

/// `urn:uuid:…` of 16 random bytes (made a version-4 UUID).
pub fn message_id(random: [u8; 16]) -> String {
    urn_uuid(random, 4)
}

/// `urn:uuid:…` of `bytes` with the UUID `version` (4: random, 3: name-based MD5) and the
/// RFC 4122 variant set.
pub fn urn_uuid(bytes: [u8; 16], version: u8) -> String {
    let mut b = bytes;
    b[6] = (b[6] & 0x0f) | (version << 4);
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// One camera's answer to a Probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeMatch {
    /// `wsa:EndpointReference/wsa:Address`: the device's stable id (non-empty).
    pub endpoint_reference: String,
    /// The types, as written (`dn:NetworkVideoTransmitter tds:Device`).
    pub types: Vec<String>,
    /// Every scope URI.
    pub scopes: Vec<String>,
    /// Device-service URLs (one per address family or interface).
    pub xaddrs: Vec<String>,
    /// `MetadataVersion`, when given and numeric.
    pub metadata_version: Option<u32>,
    /// The first `onvif://www.onvif.org/name/…` scope, decoded.
    pub name: Option<String>,
    /// The first `onvif://www.onvif.org/hardware/…` scope, decoded.
    pub hardware: Option<String>,
    /// The first `onvif://www.onvif.org/location/…` scope, decoded (may contain `/`).
    pub location: Option<String>,
}

/// A ProbeMatches message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeMatches {
    /// `wsa:RelatesTo`: the probe's message id, when the camera says.
    pub relates_to: Option<String>,
    /// The matches (usually one per camera).
    pub matches: Vec<ProbeMatch>,
}

/// Parses a ProbeMatches datagram (UTF-8 text). A body holding a bare `d:ProbeMatch`
/// instead of `d:ProbeMatches` (as some device simulators send) counts as one match.
pub fn parse_probe_matches(text: &str) -> Result<ProbeMatches, OnvifError> {
    const OP: &str = "ProbeMatches";
    let first = soap::body_element(text, OP)?;
    let body = if first.is(ns::DISCOVERY, "ProbeMatches") {
        first
    } else if first.is(ns::DISCOVERY, "ProbeMatch") {
        super::xml::Element {
            ns: Some(ns::DISCOVERY.to_owned()),
            local: "ProbeMatches".to_owned(),
            attrs: Vec::new(),
            text: String::new(),
            text_ns: None,
            children: vec![first],
        }
    } else {
        return Err(OnvifError::UnexpectedResponse {
            operation: OP,
            expected: "ProbeMatches",
            found: first.expanded_name(),
        });
    };
    // RelatesTo is in the header, which `expect_response` skips: look it up separately.
    let relates_to = super::xml::parse(text).ok().and_then(|root| {
        root.children
            .iter()
            .find(|c| {
                c.local == "Header"
                    && (c.ns.as_deref() == Some(ns::SOAP12) || c.ns.as_deref() == Some(ns::SOAP11))
            })
            .and_then(|h| optional_text(h, ns::WSA, "RelatesTo"))
    });
    let mut matches = Vec::new();
    for m in body.children_named(ns::DISCOVERY, "ProbeMatch") {
        // Some device simulators put EndpointReference in the discovery namespace.
        let endpoint_reference = m
            .child(ns::WSA, "EndpointReference")
            .or_else(|| m.child_local("EndpointReference"))
            .and_then(|e| optional_text(e, ns::WSA, "Address"))
            .ok_or(OnvifError::Missing {
                operation: OP,
                element: "ProbeMatch/EndpointReference/Address",
            })?;
        let list = |local| -> Vec<String> {
            m.child_text(ns::DISCOVERY, local)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        let scopes = list("Scopes");
        let metadata_version = match m.child_text(ns::DISCOVERY, "MetadataVersion") {
            Some(text) if !text.is_empty() => Some(number(text, OP, "MetadataVersion")?),
            _ => None,
        };
        let scope = |kind: &str| {
            let prefix = format!("onvif://www.onvif.org/{kind}/");
            scopes
                .iter()
                .find_map(|s| s.strip_prefix(&prefix))
                .map(percent_decode)
        };
        matches.push(ProbeMatch {
            endpoint_reference,
            types: list("Types"),
            xaddrs: list("XAddrs"),
            metadata_version,
            name: scope("name"),
            hardware: scope("hardware"),
            location: scope("location"),
            scopes,
        });
    }
    Ok(ProbeMatches {
        relates_to,
        matches,
    })
}

/// Decodes `%XX` escapes (UTF-8; invalid sequences become U+FFFD); `+` stays `+`.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_is_a_soap_envelope_with_the_message_id() {
        let id = message_id([0xff; 16]);
        assert_eq!(id, "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff");
        let doc = probe(&id);
        let (namespace, local) = soap::response_name(&doc, "Probe").unwrap();
        assert_eq!(
            (namespace.as_deref(), local.as_str()),
            (Some(ns::DISCOVERY), "Probe")
        );
        assert!(doc.contains(&format!("<a:MessageID>{id}</a:MessageID>")));
        assert!(doc.contains("dn:NetworkVideoTransmitter"));
    }

    #[test]
    fn a_bare_probe_match_counts_as_one_match() {
        let doc = format!(
            r#"<s:Envelope xmlns:s="{}" xmlns:a="{}" xmlns:d="{}"><s:Header><a:RelatesTo>urn:uuid:1</a:RelatesTo></s:Header>
            <s:Body><d:ProbeMatch><d:EndpointReference><a:Address>urn:uuid:cam</a:Address></d:EndpointReference>
            <d:Scopes>onvif://www.onvif.org/name/Virtual%20Camera</d:Scopes><d:XAddrs>http://127.0.0.1:8080/onvif/device_service</d:XAddrs>
            </d:ProbeMatch></s:Body></s:Envelope>"#,
            ns::SOAP12,
            ns::WSA,
            ns::DISCOVERY
        );
        let parsed = parse_probe_matches(&doc).unwrap();
        assert_eq!(parsed.relates_to.as_deref(), Some("urn:uuid:1"));
        assert_eq!(parsed.matches.len(), 1);
        assert_eq!(parsed.matches[0].name.as_deref(), Some("Virtual Camera"));
        let probe = probe("urn:uuid:2");
        assert!(matches!(
            parse_probe_matches(&probe),
            Err(OnvifError::UnexpectedResponse { .. })
        ));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("Gate%20North%2F2"), "Gate North/2");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%E5%8C%97"), "北");
        assert_eq!(percent_decode("%zz%ff"), "%zz\u{FFFD}");
    }
}
