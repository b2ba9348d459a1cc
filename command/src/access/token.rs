//! Signed tokens: compact JWTs (RFC 7519) signed with HMAC-SHA256 (`HS256`).
//!
//! A token is `base64url(header) "." base64url(payload) "." base64url(signature)`, each
//! part without padding; the header is always `{"alg":"HS256","typ":"JWT"}`, the payload
//! the claims as JSON plus `"kind"`: `"session"` or `"stream"`. Standard tools (jwt.io,
//! `jq -R 'split(".") | .[1] | @base64d'`) can read them; only the holder of the
//! [`TokenKey`] can make them.
//!
//! [`TokenKey::verify`] checks, in order: the size and shape, the signature (constant-time
//! comparison), the header's algorithm, the kind (a stream token is never a session token
//! and the other way round), the claims' shape, and the expiry against the `now` it is
//! given (Unix seconds; a token is expired from its `exp` second on). It never reads the
//! clock. Other JWT claims (`nbf`, `aud`, `iss`) are not used.
//!
//! A session token alone does not authorise: its session must also be active in the
//! store ([`AccessStore::check_session`](super::AccessStore::check_session)), which is
//! what makes logout and disabling a user take effect before the token expires.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::model::{Jurisdiction, Role, Session, SessionId, User, UserId};

type HmacSha256 = Hmac<Sha256>;

/// Default lifetime of a session token, seconds: 8 hours, one duty shift. Tokens cannot
/// be renewed; the client logs in again.
pub const DEFAULT_SESSION_TTL_SECS: i64 = 8 * 3600;
/// Default lifetime of a stream token, seconds: 10 minutes. It is checked when a WHEP
/// session starts; a playing session outlives it.
pub const DEFAULT_STREAM_TTL_SECS: i64 = 600;
/// Longest token accepted, bytes; longer input is refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// The header of every token, as JSON.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Which kind of token: the payload's `"kind"` claim. Serialized in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A user's login session ([`SessionClaims`]).
    Session,
    /// Playing one hub path ([`StreamClaims`]).
    Stream,
}

impl TokenKind {
    /// `session` or `stream`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::Stream => "stream",
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::SessionClaims {}
    impl Sealed for super::StreamClaims {}
}

/// The claims of one kind of token: [`SessionClaims`] or [`StreamClaims`] (sealed).
pub trait Claims: Serialize + DeserializeOwned + sealed::Sealed {
    /// The kind recorded in, and required of, the token.
    const KIND: TokenKind;
    /// When the token expires, Unix seconds (`exp`).
    fn expires_at(&self) -> i64;
    /// When it was issued, Unix seconds (`iat`).
    fn issued_at(&self) -> i64;
}

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user's id.
    pub sub: UserId,
    /// The session's id (the store's session row).
    pub sid: SessionId,
    /// The user's role when the token was issued. Informative (for the UI): authorise
    /// with the user the store returns, which a change of role would have logged out.
    pub role: Role,
    /// The user's jurisdiction when the token was issued (as `role`).
    pub jurisdiction: Jurisdiction,
    /// Issued, Unix seconds.
    pub iat: i64,
    /// Expires, Unix seconds: the token is refused from this second on.
    pub exp: i64,
}

impl SessionClaims {
    /// The claims for `session` of `user`: issued at the session's start, expiring with
    /// it (times rounded down to the second, so the token never outlives the session).
    pub fn new(user: &User, session: &Session) -> SessionClaims {
        SessionClaims {
            sub: user.id.clone(),
            sid: session.id.clone(),
            role: user.role,
            jurisdiction: user.jurisdiction.clone(),
            iat: session.created_at.div_euclid(1000),
            exp: session.expires_at.div_euclid(1000),
        }
    }
}

impl Claims for SessionClaims {
    const KIND: TokenKind = TokenKind::Session;
    fn expires_at(&self) -> i64 {
        self.exp
    }
    fn issued_at(&self) -> i64 {
        self.iat
    }
}

/// The claims of a stream token: who may play which path until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamClaims {
    /// The hub path, e.g. `cam/<camera id>/main`; only this path.
    pub path: String,
    /// The user who issued the token (accountable for its views).
    pub issued_by: UserId,
    /// Issued, Unix seconds.
    pub iat: i64,
    /// Expires, Unix seconds.
    pub exp: i64,
    /// For a monitor page's kiosk token: its monitor's kiosk epoch when issued; the token
    /// is honoured only while that is still the monitor's epoch (revoking a monitor's
    /// links raises it). Absent (0) otherwise.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kiosk_epoch: i64,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

impl StreamClaims {
    /// Claims for `path`, issued by `issued_by` at `now` (Unix seconds), valid for
    /// `ttl_secs` seconds.
    pub fn new(path: impl Into<String>, issued_by: UserId, now: i64, ttl_secs: i64) -> Self {
        StreamClaims {
            path: path.into(),
            issued_by,
            iat: now,
            exp: now.saturating_add(ttl_secs),
            kiosk_epoch: 0,
        }
    }

    /// The same claims carrying kiosk epoch `epoch`.
    pub fn with_kiosk_epoch(self, epoch: i64) -> Self {
        StreamClaims {
            kiosk_epoch: epoch,
            ..self
        }
    }

    /// Whether the token allows playing `path`: exactly its own path.
    pub fn allows(&self, path: &str) -> bool {
        self.path == path
    }
}

impl Claims for StreamClaims {
    const KIND: TokenKind = TokenKind::Stream;
    fn expires_at(&self) -> i64 {
        self.exp
    }
    fn issued_at(&self) -> i64 {
        self.iat
    }
}

/// A signed token as handed to a client. `Debug` prints `***`; there is no `Display`
/// and no `Serialize`: put it into an answer or a cookie with [`SignedToken::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SignedToken(String);

impl SignedToken {
    /// The token text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The token text, owned.
    pub fn into_exposed(self) -> String {
        self.0
    }
}

impl fmt::Debug for SignedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignedToken(***)")
    }
}

/// Why a token was refused. Never quotes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of ours: too long, not three base64url parts, not JSON, another
    /// algorithm, claims of the wrong shape.
    #[error("malformed token: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The signature does not match (another key, or a changed header or payload).
    #[error("the token's signature does not match")]
    BadSignature,
    /// The token expired.
    #[error("the token expired at {exp} (Unix seconds; now {now})")]
    Expired {
        /// Its `exp`, Unix seconds.
        exp: i64,
        /// The `now` it was checked at, Unix seconds.
        now: i64,
    },
    /// A token of another kind (a stream token offered as a session token, or the other
    /// way round).
    #[error("a {found} token is not accepted where a {expected} token is required")]
    WrongKind {
        /// The kind required.
        expected: TokenKind,
        /// The kind the token has.
        found: TokenKind,
    },
}

impl TokenError {
    /// A stable snake_case name: `malformed`, `bad_signature`, `expired`, `wrong_kind`.
    /// All are HTTP 401.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed { .. } => "malformed",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired { .. } => "expired",
            TokenError::WrongKind { .. } => "wrong_kind",
        }
    }

    fn malformed(reason: impl Into<String>) -> TokenError {
        TokenError::Malformed {
            reason: reason.into(),
        }
    }
}

/// Why a token key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Fewer than [`TokenKey::MIN_BYTES`] bytes.
    #[error(
        "a token key has at least {} bytes, this one {bytes}",
        TokenKey::MIN_BYTES
    )]
    TooShort {
        /// Its length.
        bytes: usize,
    },
    /// Not base64 (the reason never quotes the key).
    #[error("a token key is base64 (standard or URL-safe alphabet): {reason}")]
    NotBase64 {
        /// The decoder's reason.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("cannot generate a token key: {0}")]
    Entropy(String),
}

/// The secret that signs and verifies tokens: at least 32 bytes (HS256's security level;
/// RFC 7518 §3.2). Every node of a cluster needs the same key. `Debug` prints `***`.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

impl TokenKey {
    /// Shortest key, bytes.
    pub const MIN_BYTES: usize = 32;

    /// A new random 32-byte key from the operating system.
    pub fn generate() -> Result<TokenKey, KeyError> {
        let mut key = vec![0u8; TokenKey::MIN_BYTES];
        getrandom::getrandom(&mut key).map_err(|e| KeyError::Entropy(e.to_string()))?;
        Ok(TokenKey(key))
    }

    /// A key from raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<TokenKey, KeyError> {
        if bytes.len() < TokenKey::MIN_BYTES {
            return Err(KeyError::TooShort { bytes: bytes.len() });
        }
        Ok(TokenKey(bytes.to_vec()))
    }

    /// A key from base64 text (a configuration value or key file): the standard or the
    /// URL-safe alphabet, with or without padding, surrounding white space ignored.
    pub fn from_base64(text: &str) -> Result<TokenKey, KeyError> {
        let text = text.trim();
        let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok());
        match decoded {
            Some(bytes) => TokenKey::from_bytes(&bytes),
            None => Err(KeyError::NotBase64 {
                reason: STANDARD
                    .decode(text)
                    .err()
                    .map_or_else(String::new, |e| e.to_string()),
            }),
        }
    }

    /// The key as standard padded base64, for writing a key file. Handle as a secret.
    pub fn expose_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC takes any key"))
    }

    /// Signs `claims` as a token of kind `C::KIND`.
    pub fn sign<C: Claims>(&self, claims: &C) -> SignedToken {
        let mut payload = match serde_json::to_value(claims) {
            Ok(Value::Object(map)) => map,
            // Both claim types are structs of strings, numbers and enums.
            _ => unreachable!("claims serialize to a JSON object"),
        };
        payload.insert(
            "kind".to_owned(),
            Value::String(C::KIND.as_str().to_owned()),
        );
        let payload = Value::Object(payload).to_string();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        SignedToken(format!("{signing_input}.{signature}"))
    }

    /// Checks `token` (see the module documentation for the order of checks) at `now`,
    /// Unix seconds, and returns its claims.
    pub fn verify<C: Claims>(&self, token: &str, now: i64) -> Result<C, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::malformed(format!(
                "longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::malformed("not three dot-separated parts"));
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::malformed("the signature is not base64url"))?;
        let signing_input = &token[..header.len() + 1 + payload.len()];
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        // Constant-time comparison (subtle, inside hmac).
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;

        let header = decode_json(header, "header")?;
        if header.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err(TokenError::malformed("the algorithm is not HS256"));
        }
        let mut payload = decode_json(payload, "payload")?;
        let found = match payload.remove("kind") {
            Some(Value::String(kind)) if kind == "session" => TokenKind::Session,
            Some(Value::String(kind)) if kind == "stream" => TokenKind::Stream,
            _ => return Err(TokenError::malformed("no known \"kind\" claim")),
        };
        if found != C::KIND {
            return Err(TokenError::WrongKind {
                expected: C::KIND,
                found,
            });
        }
        let claims: C = serde_json::from_value(Value::Object(payload))
            .map_err(|e| TokenError::malformed(format!("claims: {e}")))?;
        if now >= claims.expires_at() {
            return Err(TokenError::Expired {
                exp: claims.expires_at(),
                now,
            });
        }
        Ok(claims)
    }
}

/// A base64url part of a token holding a JSON object.
fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::malformed(format!("the {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(TokenError::malformed(format!(
            "the {what} is not a JSON object"
        ))),
    }
}

/// `time` as Unix seconds (negative before 1970), for [`TokenKey::verify`] and the claims'
/// `iat`/`exp`.
pub fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    const NOW: i64 = 1_764_460_800;

    fn key() -> TokenKey {
        TokenKey::from_bytes(&[7u8; 32]).unwrap()
    }

    fn user_id() -> UserId {
        UserId::parse("U-0123456789abcdef").unwrap()
    }

    fn session_claims() -> SessionClaims {
        SessionClaims {
            sub: user_id(),
            sid: SessionId::parse("S-00112233445566778899aabbccddeeff").unwrap(),
            role: Role::Operator,
            jurisdiction: Jurisdiction::District {
                district: "Dongcheng".to_owned(),
            },
            iat: NOW,
            exp: NOW + 3600,
        }
    }

    fn b64json(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn session_token_round_trip_and_format() {
        let claims = session_claims();
        let token = key().sign(&claims);
        let text = token.expose();
        let parts: Vec<&str> = text.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            b64json(parts[0]),
            serde_json::json!({"alg": "HS256", "typ": "JWT"})
        );
        let payload = b64json(parts[1]);
        assert_eq!(payload["kind"], "session");
        assert_eq!(payload["sub"], "U-0123456789abcdef");
        assert_eq!(payload["jurisdiction"]["level"], "district");
        assert_eq!(payload["exp"], NOW + 3600);
        assert!(!text.contains('='));
        assert_eq!(key().verify::<SessionClaims>(text, NOW), Ok(claims.clone()));
        assert_eq!(
            key().verify::<SessionClaims>(text, NOW + 3599),
            Ok(claims.clone())
        );
        assert_eq!(
            key().verify::<SessionClaims>(text, NOW + 3600),
            Err(TokenError::Expired {
                exp: NOW + 3600,
                now: NOW + 3600
            })
        );
        assert_eq!(format!("{token:?}"), "SignedToken(***)");
    }

    /// A token made by another implementation (Python's `hmac`/`hashlib`, header keys in
    /// another order, spaces in the payload) with the key `[7; 32]` verifies; and the
    /// primitive itself matches RFC 4231 test case 2.
    #[test]
    fn verifies_an_independently_made_token() {
        let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJraW5kIjogInN0cmVhbSIsICJwYXRoIjog\
            ImNhbS9jMS9tYWluIiwgImlzc3VlZF9ieSI6ICJVLTAxMjM0NTY3ODlhYmNkZWYiLCAiaWF0IjogMTc2\
            NDQ2MDgwMCwgImV4cCI6IDE3NjQ0NjA4NjB9.ee3DuEBEAGO3pe9cEjUAG1bHZ0oJTtlpkFqZyUyCaY8";
        assert_eq!(
            key().verify::<StreamClaims>(token, NOW),
            Ok(StreamClaims::new("cam/c1/main", user_id(), NOW, 60))
        );
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn kinds_never_cross() {
        let session = key().sign(&session_claims());
        let stream = key().sign(&StreamClaims::new("cam/c1/main", user_id(), NOW, 60));
        assert_eq!(
            key().verify::<StreamClaims>(session.expose(), NOW),
            Err(TokenError::WrongKind {
                expected: TokenKind::Stream,
                found: TokenKind::Session
            })
        );
        assert_eq!(
            key().verify::<SessionClaims>(stream.expose(), NOW),
            Err(TokenError::WrongKind {
                expected: TokenKind::Session,
                found: TokenKind::Stream
            })
        );
        let claims = key()
            .verify::<StreamClaims>(stream.expose(), NOW + 59)
            .unwrap();
        assert!(claims.allows("cam/c1/main"));
        assert!(!claims.allows("cam/c1/sub"));
        assert!(matches!(
            key().verify::<StreamClaims>(stream.expose(), NOW + 60),
            Err(TokenError::Expired { .. })
        ));
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let token = key().sign(&session_claims()).into_exposed();
        let other = TokenKey::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(
            other.verify::<SessionClaims>(&token, NOW),
            Err(TokenError::BadSignature)
        );
        // A payload changed to admin, signature kept.
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload = b64json(parts[1]);
        payload["role"] = "admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            parts[2]
        );
        assert_eq!(
            key().verify::<SessionClaims>(&forged, NOW),
            Err(TokenError::BadSignature)
        );
        // alg "none" with an empty signature.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert_eq!(
            key().verify::<SessionClaims>(&none, NOW),
            Err(TokenError::BadSignature)
        );
        for garbage in [
            "",
            "a.b",
            "a.b.c.d",
            "...",
            "a.b.!!!",
            &format!("{token}="),
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            let err = key().verify::<SessionClaims>(garbage, NOW).unwrap_err();
            assert!(
                matches!(err, TokenError::Malformed { .. } | TokenError::BadSignature),
                "{garbage:.20}: {err}"
            );
            assert!(!err.to_string().contains(&token));
        }
        // Validly signed, but not our header or claims.
        let sign_raw = |header: &str, payload: &str| {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload)
            );
            let mut mac = HmacSha256::new_from_slice(&[7u8; 32]).unwrap();
            mac.update(input.as_bytes());
            format!(
                "{input}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            )
        };
        for (header, payload) in [
            (r#"{"alg":"HS512"}"#, r#"{"kind":"session"}"#),
            (HEADER, r#"{"sub":"U-1"}"#),
            (HEADER, r#"{"kind":"other"}"#),
            (HEADER, r#"{"kind":"session","sub":"U-1"}"#),
            (HEADER, "[]"),
        ] {
            assert!(
                matches!(
                    key().verify::<SessionClaims>(&sign_raw(header, payload), NOW),
                    Err(TokenError::Malformed { .. })
                ),
                "{header} {payload}"
            );
        }
    }

    #[test]
    fn keys() {
        assert_eq!(
            TokenKey::from_bytes(&[0; 31]).unwrap_err(),
            KeyError::TooShort { bytes: 31 }
        );
        let k = TokenKey::generate().unwrap();
        let text = k.expose_base64();
        let again = TokenKey::from_base64(&format!(" {text}\n")).unwrap();
        let token = k.sign(&session_claims());
        assert!(again.verify::<SessionClaims>(token.expose(), NOW).is_ok());
        let url_safe = URL_SAFE_NO_PAD.encode([0xfbu8; 40]);
        assert!(TokenKey::from_base64(&url_safe).is_ok());
        let err = TokenKey::from_base64("not base64 at all!!").unwrap_err();
        assert!(matches!(err, KeyError::NotBase64 { .. }));
        assert!(!err.to_string().contains("at all"));
        assert_eq!(format!("{k:?}"), "TokenKey(***)");
        assert_ne!(
            TokenKey::generate().unwrap().expose_base64(),
            k.expose_base64()
        );
    }

    #[test]
    fn unix_seconds_of_system_time() {
        assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_millis(1500)), 1);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(2)), -2);
    }

    proptest! {
        /// Any stream claims (with or without a kiosk epoch) survive signing; flipping any
        /// one character of the token makes it fail.
        #[test]
        fn sign_verify_and_any_flip_fails(
            path in "[a-z0-9/_.-]{1,40}",
            iat in 0i64..4_000_000_000,
            ttl in 1i64..100_000,
            epoch in 0i64..5,
            at in 0usize..1000,
        ) {
            let claims = StreamClaims::new(path, user_id(), iat, ttl).with_kiosk_epoch(epoch);
            let token = key().sign(&claims).into_exposed();
            prop_assert_eq!(key().verify::<StreamClaims>(&token, iat), Ok(claims));
            let mut bytes = token.into_bytes();
            let i = at % bytes.len();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let flipped = String::from_utf8(bytes).unwrap();
            prop_assert!(key().verify::<StreamClaims>(&flipped, iat).is_err());
        }
    }
}
