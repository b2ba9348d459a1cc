//! A small namespace-resolved element tree over quick-xml, and XML text escaping.
//!
//! Vocabulary: an [`Element`] is named by its *namespace URI* and *local name* — never by
//! its prefix, which differs from vendor to vendor (`tt:`, `onvif:`, a default namespace…).
//! Text is the concatenation of an element's direct character data, entities and character
//! references resolved. Documents with a DTD are refused (SOAP forbids them), and so is
//! nesting deeper than [`MAX_DEPTH`], so a hostile answer cannot exhaust the stack.
//!
//! Public so that the other side of the wire — the camera simulator in
//! `watchpost-fixtures`, which parses requests — reads SOAP the same way as the client.

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// Deepest element nesting accepted; ONVIF answers stay below 20.
pub const MAX_DEPTH: usize = 64;

/// The namespace bound to the reserved `xml` prefix.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// One element of a parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI, `None` for an element in no namespace.
    pub ns: Option<String>,
    /// Local name (without prefix).
    pub local: String,
    /// Attributes other than namespace declarations, in document order.
    pub attrs: Vec<Attr>,
    /// Direct character data, untrimmed.
    pub text: String,
    /// When the trimmed text is a QName (`prefix:local`, or `local` under a default
    /// namespace), the namespace its prefix was bound to here — for SOAP fault codes.
    pub text_ns: Option<String>,
    /// Child elements, in document order.
    pub children: Vec<Element>,
}

/// One attribute; unprefixed attributes are in no namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Namespace URI of a prefixed attribute, `None` for an unprefixed one.
    pub ns: Option<String>,
    /// Local name.
    pub local: String,
    /// Value, entities resolved.
    pub value: String,
}

impl Element {
    /// Whether this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }

    /// The first child `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// Every child `{ns}local`, in document order.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    /// The first child whose local name is `local`, in any namespace (for the few places
    /// where vendors disagree on the namespace of an element, e.g. SOAP 1.1 fault parts).
    pub fn child_local(&self, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.local == local)
    }

    /// The trimmed text of the first child `{ns}local`.
    pub fn child_text(&self, ns: &str, local: &str) -> Option<&str> {
        self.child(ns, local).map(Element::trimmed)
    }

    /// The trimmed text.
    pub fn trimmed(&self) -> &str {
        self.text.trim()
    }

    /// The value of the unqualified attribute `local` (ONVIF's `token`, `x`, `y`…).
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// `{ns}local`, for messages.
    pub fn expanded_name(&self) -> String {
        match &self.ns {
            Some(ns) => format!("{{{ns}}}{}", self.local),
            None => self.local.clone(),
        }
    }
}

/// Why a document could not be read; the message names the position where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

/// Parses `text` into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;

    let mut stack: Vec<Element> = Vec::new();
    // In-scope namespace declarations (prefix, uri; "" = default namespace) and how many
    // each open element pushed.
    let mut scope: Vec<(String, String)> = Vec::new();
    let mut pushed: Vec<usize> = Vec::new();
    let mut root: Option<Element> = None;

    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| XmlError(format!("at byte {position}: {e}")))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError(format!(
                        "at byte {position}: content after the root element"
                    )));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError(format!(
                        "at byte {position}: elements nested deeper than {MAX_DEPTH}"
                    )));
                }
                let (element, count) = open(&start, &mut scope)
                    .map_err(|e| XmlError(format!("at byte {position}: {e}")))?;
                pushed.push(count);
                stack.push(element);
            }
            Event::End(_) => {
                let Some(mut element) = stack.pop() else {
                    return Err(XmlError(format!("at byte {position}: unmatched end tag")));
                };
                element.text_ns = qname_namespace(element.trimmed(), &scope);
                let count = pushed.pop().unwrap_or(0);
                scope.truncate(scope.len().saturating_sub(count));
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Empty(_) => {
                // `expand_empty_elements` turns these into Start + End.
                return Err(XmlError(format!(
                    "at byte {position}: unexpanded empty element"
                )));
            }
            Event::Text(text) => {
                let text = text
                    .decode()
                    .map_err(|e| XmlError(format!("at byte {position}: {e}")))?;
                push_text(&mut stack, &text, position)?;
            }
            Event::CData(data) => {
                let text = data
                    .decode()
                    .map_err(|e| XmlError(format!("at byte {position}: {e}")))?;
                push_text(&mut stack, &text, position)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    match reference.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) | Err(_) => {
                            return Err(XmlError(format!(
                                "at byte {position}: invalid character reference"
                            )));
                        }
                    }
                } else {
                    let name = reference
                        .decode()
                        .map_err(|e| XmlError(format!("at byte {position}: {e}")))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => s.to_owned(),
                        None => {
                            return Err(XmlError(format!(
                                "at byte {position}: unknown entity &{name};"
                            )));
                        }
                    }
                };
                push_text(&mut stack, &resolved, position)?;
            }
            Event::DocType(_) => {
                return Err(XmlError(format!(
                    "at byte {position}: document type declarations are not allowed"
                )));
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError(format!(
            "unexpected end of document inside <{}>",
            open.local
        )));
    }
    root.ok_or_else(|| XmlError("no root element".into()))
}

fn push_text(stack: &mut [Element], text: &str, position: u64) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError(format!(
            "at byte {position}: text outside the root element"
        ))),
    }
}

/// Builds the element for a start tag: declares its namespaces in `scope` (returning how
/// many it pushed) and resolves its name and attributes.
fn open(
    start: &BytesStart<'_>,
    scope: &mut Vec<(String, String)>,
) -> Result<(Element, usize), String> {
    let mut raw_attrs = Vec::new();
    let mut count = 0;
    for attr in start.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let key = std::str::from_utf8(attr.key.as_ref())
            .map_err(|_| "attribute name is not UTF-8".to_owned())?
            .to_owned();
        let value = attr
            .unescape_value()
            .map_err(|e| e.to_string())?
            .into_owned();
        if key == "xmlns" {
            scope.push((String::new(), value));
            count += 1;
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(format!("prefix {prefix} bound to the empty namespace"));
            }
            scope.push((prefix.to_owned(), value));
            count += 1;
        } else {
            raw_attrs.push((key, value));
        }
    }
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|_| "element name is not UTF-8".to_owned())?
        .to_owned();
    let (ns, local) = resolve(&name, scope, true)?;
    let mut attrs = Vec::with_capacity(raw_attrs.len());
    for (key, value) in raw_attrs {
        let (ns, local) = resolve(&key, scope, false)?;
        attrs.push(Attr { ns, local, value });
    }
    Ok((
        Element {
            ns,
            local,
            attrs,
            text: String::new(),
            text_ns: None,
            children: Vec::new(),
        },
        count,
    ))
}

/// Resolves a `prefix:local` or `local` name; unprefixed attributes are in no namespace,
/// unprefixed elements in the default namespace.
fn resolve(
    name: &str,
    scope: &[(String, String)],
    use_default: bool,
) -> Result<(Option<String>, String), String> {
    match name.split_once(':') {
        Some((prefix, local)) => {
            if prefix.is_empty() || local.is_empty() || local.contains(':') {
                return Err(format!("malformed name {name}"));
            }
            let ns = lookup(prefix, scope).ok_or_else(|| format!("unbound prefix {prefix}:"))?;
            Ok((Some(ns), local.to_owned()))
        }
        None if use_default => Ok((lookup("", scope), name.to_owned())),
        None => Ok((None, name.to_owned())),
    }
}

fn lookup(prefix: &str, scope: &[(String, String)]) -> Option<String> {
    if prefix == "xml" {
        return Some(XML_NS.to_owned());
    }
    scope
        .iter()
        .rev()
        .find(|(p, _)| p == prefix)
        .map(|(_, uri)| uri.clone())
        .filter(|uri| !uri.is_empty())
}

/// The namespace of a QName-valued text, if it looks like one and its prefix is bound.
fn qname_namespace(text: &str, scope: &[(String, String)]) -> Option<String> {
    if text.is_empty() || text.len() > 256 || text.contains(char::is_whitespace) {
        return None;
    }
    match text.split_once(':') {
        Some((prefix, local)) if !prefix.is_empty() && !local.is_empty() => lookup(prefix, scope),
        Some(_) => None,
        None => lookup("", scope),
    }
}

/// The local part of a QName-valued text (`ter:NotAuthorized` → `NotAuthorized`).
pub(crate) fn qname_local(text: &str) -> &str {
    text.rsplit_once(':').map_or(text, |(_, local)| local)
}

/// Escapes `text` for element content or a double-quoted attribute value. Characters XML
/// 1.0 does not allow (C0 controls other than tab, LF and CR) become U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // CR would be normalised away by a receiving parser: keep it as a reference.
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_prefixes_and_default_namespaces() {
        let doc = r#"<a:root xmlns:a="urn:a" xmlns="urn:d"><child x="1" a:y="2">t&amp;<![CDATA[<c>]]>&#65;</child><a:other/></a:root>"#;
        let root = parse(doc).unwrap();
        assert!(root.is("urn:a", "root"));
        let child = root.child("urn:d", "child").unwrap();
        assert_eq!(child.attr("x"), Some("1"));
        assert_eq!(child.attr("y"), None, "prefixed attribute is namespaced");
        assert_eq!(child.text, "t&<c>A");
        assert!(root.child("urn:a", "other").is_some());
    }

    #[test]
    fn qname_text_resolves_against_scope() {
        let root = parse(r#"<v xmlns:ter="urn:ter">ter:NotAuthorized</v>"#).unwrap();
        assert_eq!(root.text_ns.as_deref(), Some("urn:ter"));
        assert_eq!(qname_local(root.trimmed()), "NotAuthorized");
    }

    #[test]
    fn refuses_malformed_documents() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<p:a/>",
            "<a/><b/>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "<a>&bogus;</a>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn escape_round_trips() {
        let text = "a<b>&\"c\"'d'\r\n\té";
        let root = parse(&format!("<a x=\"{0}\">{0}</a>", escape(text))).unwrap();
        assert_eq!(root.text, text);
        assert_eq!(escape("\u{1}"), "\u{FFFD}");
    }
}
