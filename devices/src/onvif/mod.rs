//! ONVIF without IO: SOAP requests built as strings, answers parsed from strings.
//!
//! Vocabulary:
//! - a *service* is one ONVIF endpoint of a camera (device, media, media2, PTZ, events),
//!   reached at its *XAddr* (an HTTP URL the device service reports);
//! - a *request* ([`Request`]) is one operation's SOAP *action* URI plus its body element;
//!   [`soap::envelope`] wraps it, optionally with a WS-Security *UsernameToken*
//!   ([`security`]), into the document a transport POSTs;
//! - a *response* is parsed by the operation's `parse_*` function from the HTTP body text
//!   into a typed model; a SOAP *fault* becomes [`OnvifError::Fault`];
//! - a *profile* is a media profile (token, encoder resolution and codec, PTZ
//!   configuration); a *preset* is a stored PTZ position of a profile;
//! - *discovery* is WS-Discovery: a multicast *Probe* and the *ProbeMatches* answers.
//!
//! Elements are matched by namespace URI and local name, never by prefix: vendors write
//! `tt:`/`trt:`/`tds:`, `env:`/`SOAP-ENV:`/`s:`, or default namespaces. Nothing here opens
//! a socket or reads a clock: times are passed in, randomness is asked for explicitly
//! ([`security::random_nonce`]). The one exception is [`client`], the IO edge: a
//! transport that POSTs envelopes and a client that drives a camera through it.

pub mod client;
pub mod device;
pub mod discovery;
pub mod fuzzing;
pub mod media;
pub mod ptz;
pub mod security;
pub mod soap;
pub mod xml;

/// Namespace URIs used by the requests and matched in the answers.
pub mod ns {
    /// SOAP 1.2 envelope.
    pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
    /// SOAP 1.1 envelope (older firmware answers faults in it).
    pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    /// ONVIF common schema (`tt:`).
    pub const SCHEMA: &str = "http://www.onvif.org/ver10/schema";
    /// Device service (`tds:`).
    pub const DEVICE: &str = "http://www.onvif.org/ver10/device/wsdl";
    /// Media service (`trt:`).
    pub const MEDIA: &str = "http://www.onvif.org/ver10/media/wsdl";
    /// Media2 service (`tr2:`).
    pub const MEDIA2: &str = "http://www.onvif.org/ver20/media/wsdl";
    /// PTZ service (`tptz:`).
    pub const PTZ: &str = "http://www.onvif.org/ver20/ptz/wsdl";
    /// Event service (`tev:`).
    pub const EVENTS: &str = "http://www.onvif.org/ver10/events/wsdl";
    /// Imaging service (`timg:`).
    pub const IMAGING: &str = "http://www.onvif.org/ver20/imaging/wsdl";
    /// ONVIF fault subcodes (`ter:`).
    pub const ERROR: &str = "http://www.onvif.org/ver10/error";
    /// WS-Security extension (`wsse:`).
    pub const WSSE: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    /// WS-Security utility (`wsu:`).
    pub const WSU: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    /// WS-Addressing as WS-Discovery 2005/04 uses it (`wsa:`).
    pub const WSA: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
    /// WS-Discovery 2005/04 (`d:`).
    pub const DISCOVERY: &str = "http://schemas.xmlsoap.org/ws/2005/04/discovery";
    /// ONVIF network types (`dn:`), for `dn:NetworkVideoTransmitter`.
    pub const NETWORK: &str = "http://www.onvif.org/ver10/network/wsdl";
}

/// One ONVIF operation ready to be wrapped by [`soap::envelope`].
///
/// A SOAP 1.2 transport sends the action in the content type:
/// `application/soap+xml; charset=utf-8; action="<action>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The operation's name (`GetProfiles`), for messages and errors.
    pub operation: &'static str,
    /// The SOAP action URI (`http://www.onvif.org/ver10/media/wsdl/GetProfiles`).
    pub action: &'static str,
    /// The body's single element, with its namespace declarations, as XML text.
    pub body: String,
}

/// Why an ONVIF exchange failed. Every variant names the operation it belongs to.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OnvifError {
    /// The answer is not well-formed XML (or nests deeper than the parser allows).
    #[error("{operation}: malformed XML: {detail}")]
    Xml {
        /// The operation whose answer this was.
        operation: &'static str,
        /// What the XML reader found, with the byte position where known.
        detail: String,
    },
    /// Well-formed XML, but not a SOAP envelope with a body.
    #[error("{operation}: not a SOAP envelope: {detail}")]
    NotSoap {
        /// The operation whose answer this was.
        operation: &'static str,
        /// What is missing or unexpected.
        detail: String,
    },
    /// The device answered with a SOAP fault.
    #[error("{operation}: SOAP fault {code}{}: {reason}", subcodes_suffix(.subcodes))]
    Fault {
        /// The operation that failed.
        operation: &'static str,
        /// `env:Code/env:Value` (`Sender`, `Receiver`…), or SOAP 1.1's `faultcode`
        /// (boxed to keep the error small).
        code: Box<FaultCode>,
        /// The `env:Subcode` chain, outermost first (`ter:NotAuthorized`, or
        /// `ter:InvalidArgVal` then `ter:NoProfile`); empty when the fault has none.
        subcodes: Vec<FaultCode>,
        /// The first `env:Reason/env:Text` (or `faultstring`); may be empty.
        reason: String,
    },
    /// The body's first element is not this operation's response.
    #[error("{operation}: expected {expected} in the body, found {found}")]
    UnexpectedResponse {
        /// The operation whose answer this was.
        operation: &'static str,
        /// The expected element's local name.
        expected: &'static str,
        /// The element found, as `{namespace}local`.
        found: String,
    },
    /// A required element or attribute is absent.
    #[error("{operation}: missing {element}")]
    Missing {
        /// The operation whose answer this was.
        operation: &'static str,
        /// The element path or attribute (`Profiles/@token`).
        element: &'static str,
    },
    /// An element's value does not have the expected form.
    #[error("{operation}: {element} = {value:?} is not {expected}")]
    Invalid {
        /// The operation whose answer (or request argument) this was.
        operation: &'static str,
        /// The element, attribute or argument.
        element: &'static str,
        /// The value found (truncated to 64 characters).
        value: String,
        /// What was expected (`an integer`, `a finite number in -1..=1`).
        expected: &'static str,
    },
}

fn subcodes_suffix(subcodes: &[FaultCode]) -> String {
    subcodes.iter().map(|c| format!(" / {c}")).collect()
}

impl OnvifError {
    /// Whether the device refused the credentials: an ONVIF `ter:NotAuthorized` subcode, or
    /// a WS-Security `wsse:FailedAuthentication`, `wsse:InvalidSecurityToken` or
    /// `wsse:FailedCheck` code or subcode (some firmware uses those). A clock far off the
    /// camera's also shows up as this: the transport should refresh the clock offset
    /// ([`security::ClockOffset`]) and retry once.
    pub fn is_auth_failure(&self) -> bool {
        let Self::Fault { code, subcodes, .. } = self else {
            return false;
        };
        std::iter::once(&**code)
            .chain(subcodes)
            .any(FaultCode::is_auth_failure)
    }

    /// The operation this error belongs to.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Xml { operation, .. }
            | Self::NotSoap { operation, .. }
            | Self::Fault { operation, .. }
            | Self::UnexpectedResponse { operation, .. }
            | Self::Missing { operation, .. }
            | Self::Invalid { operation, .. } => operation,
        }
    }

    pub(crate) fn invalid(
        operation: &'static str,
        element: &'static str,
        value: &str,
        expected: &'static str,
    ) -> Self {
        Self::Invalid {
            operation,
            element,
            value: value.chars().take(64).collect(),
            expected,
        }
    }
}

/// A SOAP fault code: a QName resolved to its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultCode {
    /// The namespace its prefix was bound to, `None` if unbound or unprefixed without a
    /// default namespace.
    pub namespace: Option<String>,
    /// The local part (`NotAuthorized`).
    pub local: String,
    /// The text as written (`ter:NotAuthorized`).
    pub raw: String,
}

impl FaultCode {
    /// Whether this is `{namespace}local`.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.local == local && self.namespace.as_deref() == Some(namespace)
    }

    fn is_auth_failure(&self) -> bool {
        self.is(ns::ERROR, "NotAuthorized")
            || (self.namespace.as_deref() == Some(ns::WSSE)
                && matches!(
                    self.local.as_str(),
                    "FailedAuthentication" | "InvalidSecurityToken" | "FailedCheck"
                ))
    }
}

impl std::fmt::Display for FaultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod fixture_tests;

/// A required child `{ns}local` of `parent`, `path` naming it in the error.
pub(crate) fn required<'a>(
    parent: &'a xml::Element,
    namespace: &str,
    local: &str,
    operation: &'static str,
    path: &'static str,
) -> Result<&'a xml::Element, OnvifError> {
    parent.child(namespace, local).ok_or(OnvifError::Missing {
        operation,
        element: path,
    })
}

/// The trimmed, non-empty text of a required child.
pub(crate) fn required_text(
    parent: &xml::Element,
    namespace: &str,
    local: &str,
    operation: &'static str,
    path: &'static str,
) -> Result<String, OnvifError> {
    let text = required(parent, namespace, local, operation, path)?.trimmed();
    if text.is_empty() {
        return Err(OnvifError::Missing {
            operation,
            element: path,
        });
    }
    Ok(text.to_owned())
}

/// The trimmed text of an optional child, `None` when absent or empty.
pub(crate) fn optional_text(parent: &xml::Element, namespace: &str, local: &str) -> Option<String> {
    parent
        .child_text(namespace, local)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// A required non-empty attribute (`token`).
pub(crate) fn required_attr(
    element: &xml::Element,
    name: &str,
    operation: &'static str,
    path: &'static str,
) -> Result<String, OnvifError> {
    match element.attr(name).map(str::trim) {
        Some(value) if !value.is_empty() => Ok(value.to_owned()),
        _ => Err(OnvifError::Missing {
            operation,
            element: path,
        }),
    }
}

/// Parses `text` as a number of type `T`.
pub(crate) fn number<T: std::str::FromStr>(
    text: &str,
    operation: &'static str,
    element: &'static str,
) -> Result<T, OnvifError> {
    text.trim()
        .parse()
        .map_err(|_| OnvifError::invalid(operation, element, text, "a number in range"))
}

/// Parses an `xs:boolean`.
pub(crate) fn boolean(
    text: &str,
    operation: &'static str,
    element: &'static str,
) -> Result<bool, OnvifError> {
    match text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(OnvifError::invalid(operation, element, other, "a boolean")),
    }
}
