//! SOAP 1.2 envelopes: building a request document, and opening an answer down to its
//! body's first element or its fault.
//!
//! Vocabulary: the *envelope* holds an optional *header* (here only WS-Security) and a
//! *body* with one element — the operation's request or response, or a *fault*. Answers
//! in a SOAP 1.1 envelope are accepted too (older firmware faults in 1.1).

use super::security::UsernameToken;
use super::xml::{self, Element};
use super::{FaultCode, OnvifError, ns};

/// The media type of a SOAP 1.2 request; add `; action="<action>"` for ONVIF devices.
pub const CONTENT_TYPE: &str = "application/soap+xml; charset=utf-8";

/// The complete SOAP 1.2 document for `body` (one element as XML text, e.g.
/// [`super::Request::body`]), with a WS-Security header when `security` is given.
pub fn envelope(body: &str, security: Option<&UsernameToken>) -> String {
    let mut out = String::with_capacity(body.len() + 1024);
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push_str(r#"<s:Envelope xmlns:s=""#);
    out.push_str(ns::SOAP12);
    out.push_str(r#"">"#);
    if let Some(token) = security {
        out.push_str("<s:Header>");
        out.push_str(&token.security_header("s"));
        out.push_str("</s:Header>");
    }
    out.push_str("<s:Body>");
    out.push_str(body);
    out.push_str("</s:Body></s:Envelope>");
    out
}

/// Opens an answer: the body's first element as `(namespace, local name)`, or the fault as
/// [`OnvifError::Fault`]. `operation` names the exchange in errors.
pub fn response_name(
    text: &str,
    operation: &'static str,
) -> Result<(Option<String>, String), OnvifError> {
    let element = body_element(text, operation)?;
    Ok((element.ns, element.local))
}

/// The body's first element, or the fault as an error.
pub(crate) fn body_element(text: &str, operation: &'static str) -> Result<Element, OnvifError> {
    let root = xml::parse(text).map_err(|e| OnvifError::Xml {
        operation,
        detail: e.0,
    })?;
    let soap_ns = [ns::SOAP12, ns::SOAP11]
        .into_iter()
        .find(|n| root.is(n, "Envelope"))
        .ok_or_else(|| OnvifError::NotSoap {
            operation,
            detail: format!("root element is {}", root.expanded_name()),
        })?;
    let mut root = root;
    let body_index = root
        .children
        .iter()
        .position(|c| c.is(soap_ns, "Body"))
        .ok_or_else(|| OnvifError::NotSoap {
            operation,
            detail: "no Body".into(),
        })?;
    let mut body = root.children.swap_remove(body_index);
    if body.children.is_empty() {
        return Err(OnvifError::NotSoap {
            operation,
            detail: "empty Body".into(),
        });
    }
    let first = body.children.swap_remove(0);
    if first.is(soap_ns, "Fault") {
        return Err(fault(&first, soap_ns, operation));
    }
    Ok(first)
}

/// The body's first element, checked to be `{namespace}expected`.
pub(crate) fn expect_response(
    text: &str,
    operation: &'static str,
    namespace: &str,
    expected: &'static str,
) -> Result<Element, OnvifError> {
    let element = body_element(text, operation)?;
    if element.is(namespace, expected) {
        Ok(element)
    } else {
        Err(OnvifError::UnexpectedResponse {
            operation,
            expected,
            found: element.expanded_name(),
        })
    }
}

fn fault(element: &Element, soap_ns: &str, operation: &'static str) -> OnvifError {
    let code_of = |e: &Element| FaultCode {
        namespace: e.text_ns.clone(),
        local: xml::qname_local(e.trimmed()).to_owned(),
        raw: e.trimmed().to_owned(),
    };
    if soap_ns == ns::SOAP11 {
        // SOAP 1.1: unqualified faultcode / faultstring.
        let code = element.child_local("faultcode").map(code_of);
        let reason = element
            .child_local("faultstring")
            .map(|e| e.trimmed().to_owned())
            .unwrap_or_default();
        return OnvifError::Fault {
            operation,
            code: Box::new(code.unwrap_or_else(unknown_code)),
            subcodes: Vec::new(),
            reason,
        };
    }
    let code_element = element.child(soap_ns, "Code");
    let code = code_element
        .and_then(|c| c.child(soap_ns, "Value"))
        .map(code_of)
        .unwrap_or_else(unknown_code);
    let mut subcodes = Vec::new();
    let mut level = code_element.and_then(|c| c.child(soap_ns, "Subcode"));
    while let Some(subcode) = level {
        if let Some(value) = subcode.child(soap_ns, "Value") {
            subcodes.push(code_of(value));
        }
        level = subcode.child(soap_ns, "Subcode");
    }
    let reason = element
        .child(soap_ns, "Reason")
        .and_then(|r| r.child(soap_ns, "Text"))
        .map(|t| t.trimmed().to_owned())
        .unwrap_or_default();
    OnvifError::Fault {
        operation,
        code: Box::new(code),
        subcodes,
        reason,
    }
}

fn unknown_code() -> FaultCode {
    FaultCode {
        namespace: None,
        local: String::new(),
        raw: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_without_security_has_no_header() {
        let doc = envelope("<x:A xmlns:x=\"urn:x\"/>", None);
        assert!(!doc.contains("Header"));
        let (namespace, local) = response_name(&doc, "A").unwrap();
        assert_eq!((namespace.as_deref(), local.as_str()), (Some("urn:x"), "A"));
    }

    #[test]
    fn fault_with_onvif_subcode_is_an_auth_failure() {
        // Prefixes chosen unlike ONVIF's examples: matching must go by namespace.
        let doc = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
            xmlns:err="http://www.onvif.org/ver10/error"><SOAP-ENV:Body><SOAP-ENV:Fault>
            <SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value>
            <SOAP-ENV:Subcode><SOAP-ENV:Value>err:NotAuthorized</SOAP-ENV:Value></SOAP-ENV:Subcode>
            </SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">Sender not Authorized</SOAP-ENV:Text></SOAP-ENV:Reason>
            </SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        let err = body_element(doc, "GetProfiles").unwrap_err();
        assert!(err.is_auth_failure(), "{err}");
        let OnvifError::Fault {
            code,
            subcodes,
            reason,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(code.is(ns::SOAP12, "Sender"));
        assert_eq!(subcodes.len(), 1);
        assert_eq!(reason, "Sender not Authorized");
        assert_eq!(
            err.to_string(),
            "GetProfiles: SOAP fault SOAP-ENV:Sender / err:NotAuthorized: Sender not Authorized"
        );
    }

    #[test]
    fn nested_subcodes_and_soap11_faults() {
        let doc = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error">
            <env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value>
            <env:Subcode><env:Value>ter:InvalidArgVal</env:Value><env:Subcode><env:Value>ter:NoProfile</env:Value></env:Subcode></env:Subcode>
            </env:Code><env:Reason><env:Text xml:lang="en">No such profile</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#;
        let err = body_element(doc, "GetStreamUri").unwrap_err();
        assert!(!err.is_auth_failure());
        let OnvifError::Fault { subcodes, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(subcodes[1].is(ns::ERROR, "NoProfile"));

        let doc = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
            <s:Body><s:Fault><faultcode>wsse:FailedAuthentication</faultcode><faultstring>bad digest</faultstring></s:Fault></s:Body></s:Envelope>"#;
        let err = body_element(doc, "GetDeviceInformation").unwrap_err();
        assert!(err.is_auth_failure(), "{err:?}");
    }

    #[test]
    fn non_soap_answers_are_typed() {
        assert!(matches!(
            body_element("<html><body>401</body></html>", "X"),
            Err(OnvifError::NotSoap { .. })
        ));
        assert!(matches!(
            body_element("not xml <", "X"),
            Err(OnvifError::Xml { .. })
        ));
        let empty = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>"#;
        assert!(matches!(
            body_element(empty, "X"),
            Err(OnvifError::NotSoap { .. })
        ));
        let other = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><x:B xmlns:x="urn:x"/></e:Body></e:Envelope>"#;
        assert!(matches!(
            expect_response(other, "A", "urn:x", "AResponse"),
            Err(OnvifError::UnexpectedResponse { .. })
        ));
    }
}
