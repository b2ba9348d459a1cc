//! Trickle ICE and ICE restart over WHEP `PATCH` (RFC 9725 §4.3): SDP fragments in the
//! `application/trickle-ice-sdpfrag` format of RFC 8840 (sans-IO, pure functions).
//!
//! Vocabulary:
//! - a **fragment** is the part of an SDP that concerns ICE: the ICE credentials
//!   (`a=ice-ufrag`, `a=ice-pwd`), candidates (`a=candidate`) and `a=end-of-candidates`,
//!   optionally inside `m=` sections with their `a=mid`;
//! - **trickle**: the viewer sends candidates it gathered after its offer, under the
//!   credentials of the current ICE session;
//! - **ICE restart**: the viewer sends new credentials (a different ufrag); every check
//!   starts over, the DTLS and SRTP state stay, and the answer is a fragment with the
//!   server's new credentials and its candidates.
//!
//! Calling contract: [`IceFragment::parse`] the PATCH body; the session
//! ([`super::session::WhepSession::patch`]) decides between trickle and restart by
//! comparing [`IceFragment::ufrag`] with the current remote ufrag; after a restart,
//! [`answer_fragment`] turns the new SDP answer into the response body.

use str0m::Candidate;

/// The content type of a WHEP `PATCH` body and of its `200` answer.
pub const CONTENT_TYPE: &str = "application/trickle-ice-sdpfrag";

/// A parsed trickle-ICE SDP fragment.
#[derive(Debug, Clone, Default)]
pub struct IceFragment {
    /// `a=ice-ufrag`, session level or the first media section's.
    pub ufrag: Option<String>,
    /// `a=ice-pwd`, likewise.
    pub pwd: Option<String>,
    /// The candidates, in order, deduplicated (with BUNDLE every section repeats them).
    pub candidates: Vec<Candidate>,
    /// Candidate lines that could not be used, with why (an mDNS `.local` name cannot be
    /// resolved here; the viewer's checks reach us anyway and are learnt peer-reflexive).
    pub ignored: Vec<String>,
    /// `a=end-of-candidates` was present.
    pub end_of_candidates: bool,
}

impl IceFragment {
    /// Parses a fragment. Lines other than the ICE attributes, `m=` and `a=mid` are
    /// ignored, as RFC 8840 allows. An error names the first line that breaks the format:
    /// a fragment with neither credentials nor candidates nor end-of-candidates, or a
    /// fragment whose sections disagree on the credentials.
    pub fn parse(text: &str) -> Result<IceFragment, String> {
        let mut out = IceFragment::default();
        let mut seen = std::collections::HashSet::new();
        let mut any = false;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r').trim();
            if line.is_empty() {
                continue;
            }
            if let Some(value) = line.strip_prefix("a=ice-ufrag:") {
                set_once(&mut out.ufrag, value.trim(), "a=ice-ufrag", n + 1)?;
                any = true;
            } else if let Some(value) = line.strip_prefix("a=ice-pwd:") {
                set_once(&mut out.pwd, value.trim(), "a=ice-pwd", n + 1)?;
                any = true;
            } else if let Some(value) = line.strip_prefix("a=candidate:") {
                any = true;
                let attr = format!("candidate:{}", value.trim());
                if !seen.insert(attr.clone()) {
                    continue;
                }
                match Candidate::from_sdp_string(&attr) {
                    Ok(c) => out.candidates.push(c),
                    Err(e) => out.ignored.push(format!("{attr}: {e}")),
                }
            } else if line == "a=end-of-candidates" {
                out.end_of_candidates = true;
                any = true;
            } else if !(line.starts_with("a=") || line.starts_with("m=") || line.contains('=')) {
                return Err(format!("line {}: not an SDP line: {line:?}", n + 1));
            }
        }
        if !any {
            return Err("the fragment has no ICE credentials, candidates or \
                 a=end-of-candidates"
                .into());
        }
        if out.ufrag.is_some() != out.pwd.is_some() {
            return Err("a=ice-ufrag and a=ice-pwd must come together".into());
        }
        Ok(out)
    }
}

fn set_once(slot: &mut Option<String>, value: &str, what: &str, line: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("line {line}: empty {what}"));
    }
    match slot {
        Some(old) if old != value => Err(format!(
            "line {line}: {what} differs between sections ({old:?}, {value:?})"
        )),
        _ => {
            *slot = Some(value.to_owned());
            Ok(())
        }
    }
}

/// `sdp` with every `a=ice-ufrag`/`a=ice-pwd` replaced by the given ones and every
/// candidate line removed: the viewer's original offer, re-issued as the offer of an
/// ICE restart (the new candidates are added separately).
pub fn with_credentials(sdp: &str, ufrag: &str, pwd: &str) -> String {
    let mut out = String::with_capacity(sdp.len());
    for raw in sdp.lines() {
        let line = raw.trim_end_matches('\r');
        if line.starts_with("a=candidate:") || line == "a=end-of-candidates" {
            continue;
        }
        if line.starts_with("a=ice-ufrag:") {
            out.push_str("a=ice-ufrag:");
            out.push_str(ufrag);
        } else if line.starts_with("a=ice-pwd:") {
            out.push_str("a=ice-pwd:");
            out.push_str(pwd);
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out
}

/// The fragment answering an ICE restart, cut from the new SDP answer: the ICE options
/// and credentials, and per `m=` section its `a=mid`, candidates and
/// `a=end-of-candidates` (RFC 9725 §4.3.2).
pub fn answer_fragment(answer_sdp: &str) -> String {
    let mut out = String::new();
    let mut session_level = true;
    let mut creds_written = false;
    let push = |out: &mut String, line: &str| {
        out.push_str(line);
        out.push_str("\r\n");
    };
    // Credentials first (session level), wherever the answer put them.
    for raw in answer_sdp.lines() {
        let line = raw.trim_end_matches('\r');
        if line.starts_with("a=ice-options:") && !out.contains(line) {
            push(&mut out, line);
        }
    }
    for raw in answer_sdp.lines() {
        let line = raw.trim_end_matches('\r');
        if !creds_written && (line.starts_with("a=ice-ufrag:") || line.starts_with("a=ice-pwd:")) {
            push(&mut out, line);
            creds_written = out.contains("a=ice-ufrag:") && out.contains("a=ice-pwd:");
        }
    }
    // Every candidate is in the answer (the server gathers nothing later): each section
    // ends with a=end-of-candidates.
    let mut section_ended = true;
    for raw in answer_sdp.lines() {
        let line = raw.trim_end_matches('\r');
        if line.starts_with("a=group:BUNDLE") {
            push(&mut out, line);
        } else if line.starts_with("m=") {
            if !section_ended {
                push(&mut out, "a=end-of-candidates");
            }
            session_level = false;
            section_ended = false;
            push(&mut out, line);
        } else if !session_level && (line.starts_with("a=mid:") || line.starts_with("a=candidate:"))
        {
            push(&mut out, line);
        } else if !session_level && line == "a=end-of-candidates" && !section_ended {
            section_ended = true;
            push(&mut out, line);
        }
    }
    if !section_ended {
        push(&mut out, "a=end-of-candidates");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chromium 156's PATCH body for a trickled candidate (host candidate rewritten to
    /// documentation addresses).
    const TRICKLE: &str = "a=ice-ufrag:EsAw\r\n\
        a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
        a=mid:0\r\n\
        a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
        a=mid:1\r\n\
        a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n\
        a=candidate:1 1 udp 2122194687 abcd-1234.local 61765 typ host\r\n\
        a=end-of-candidates\r\n";

    #[test]
    fn parses_credentials_candidates_and_end() {
        let f = IceFragment::parse(TRICKLE).unwrap();
        assert_eq!(f.ufrag.as_deref(), Some("EsAw"));
        assert_eq!(f.pwd.as_deref(), Some("bP+XJMM09aR8AiX1jdukzR6Y"));
        assert_eq!(f.candidates.len(), 1, "the bundled duplicate is dropped");
        assert_eq!(f.candidates[0].addr(), "192.0.2.1:61764".parse().unwrap());
        assert_eq!(
            f.ignored.len(),
            1,
            "the mDNS name cannot be used: {:?}",
            f.ignored
        );
        assert!(f.end_of_candidates);
    }

    #[test]
    fn rejects_what_is_not_a_fragment() {
        assert!(IceFragment::parse("").is_err());
        assert!(IceFragment::parse("hello world\r\n").is_err());
        assert!(
            IceFragment::parse("a=ice-ufrag:abcd\r\n").is_err(),
            "no password"
        );
        let clash = "m=video 9 X 96\r\na=ice-ufrag:a\r\na=ice-pwd:p\r\n\
                     m=audio 9 X 0\r\na=ice-ufrag:b\r\na=ice-pwd:p\r\n";
        assert!(IceFragment::parse(clash).unwrap_err().contains("differs"));
        let end_only = IceFragment::parse("a=end-of-candidates\r\n").unwrap();
        assert!(end_only.end_of_candidates && end_only.ufrag.is_none());
    }

    #[test]
    fn restart_offer_and_answer_fragment() {
        let offer = "v=0\r\na=group:BUNDLE 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n\
                     a=ice-ufrag:old\r\na=ice-pwd:oldpwd\r\na=candidate:1 1 udp 1 192.0.2.1 5 typ host\r\n\
                     a=end-of-candidates\r\na=rtpmap:96 H264/90000\r\n";
        let reissued = with_credentials(offer, "new", "newpwd");
        assert!(
            reissued.contains("a=ice-ufrag:new\r\n") && reissued.contains("a=ice-pwd:newpwd\r\n")
        );
        assert!(!reissued.contains("old") && !reissued.contains("candidate"));
        assert!(reissued.contains("a=rtpmap:96 H264/90000"));

        let answer = "v=0\r\na=group:BUNDLE 0\r\na=ice-options:trickle\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
                      a=mid:0\r\na=ice-ufrag:srv\r\na=ice-pwd:srvpwd\r\na=setup:passive\r\n\
                      a=candidate:1 1 udp 2130706175 127.0.0.1 40000 typ host\r\na=rtpmap:96 H264/90000\r\n";
        let frag = answer_fragment(answer);
        let parsed = IceFragment::parse(&frag).unwrap();
        assert_eq!(parsed.ufrag.as_deref(), Some("srv"));
        assert_eq!(parsed.candidates.len(), 1);
        assert!(frag.contains("a=mid:0") && !frag.contains("rtpmap") && !frag.contains("setup"));
    }
}
