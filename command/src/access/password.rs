//! Passwords and their argon2id hashes.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), carrying their
//! own parameters: a hash made with older parameters still verifies, and
//! [`PasswordHasher::needs_rehash`] says when to replace it after a successful login.
//! The default parameters are OWASP's recommendation for argon2id (m = 19 456 KiB, t = 2,
//! p = 1: about 20 ms and 19 MiB per hash on a server core); [`PasswordParams::TESTING`]
//! is a cheap set for tests only.
//!
//! Hashing and verifying are deliberately slow and synchronous: call them from a
//! blocking thread (`tokio::task::spawn_blocking`), not on an async executor's thread.

use std::fmt;

use argon2::password_hash::{self, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Deserialize;

/// Shortest password accepted for a new or changed password, in characters (Unicode
/// scalar values). Twelve characters is NIST SP 800-63B's floor raised to what OWASP
/// advises for accounts without a second factor; there are no composition rules.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted, in characters: enough for any passphrase, and a bound on
/// the work an attacker can ask for by sending megabytes.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Salt length, bytes (the PHC recommendation).
const SALT_BYTES: usize = 16;
/// The largest memory cost a stored hash may ask for, KiB (1 GiB): a hash beyond it is
/// refused as corrupt rather than allocated.
const MAX_STORED_M_KIB: u32 = 1 << 20;
/// The largest time cost a stored hash may ask for.
const MAX_STORED_T: u32 = 64;
/// The largest parallelism a stored hash may ask for.
const MAX_STORED_P: u32 = 16;

/// A password in clear, as a client sent it. `Debug` prints `***`; there is no
/// `Display` and no `Serialize`. Deserializes from a JSON string.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }

    /// The password, for hashing or verifying.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A random password of `len` characters (at least [`MIN_PASSWORD_CHARS`]) from 56
    /// letters and digits that cannot be mistaken for one another (no `0 O o 1 l I`):
    /// about 5.8 bits each, 116 bits for 20 characters. For generated accounts (the
    /// demo's) that a person reads once and types.
    pub fn generate(len: usize) -> Result<Password, PasswordError> {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
        let len = len.max(MIN_PASSWORD_CHARS);
        let mut out = String::with_capacity(len);
        let mut byte = [0u8; 1];
        while out.len() < len {
            getrandom::getrandom(&mut byte).map_err(|e| PasswordError::Entropy(e.to_string()))?;
            // Rejection sampling: 224 = 4 × 56, so every character is equally likely.
            if usize::from(byte[0]) < 4 * ALPHABET.len() {
                out.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
            }
        }
        Ok(Password(out))
    }

    /// Whether it may be set as a new password: [`MIN_PASSWORD_CHARS`] to
    /// [`MAX_PASSWORD_CHARS`] characters (leading and trailing spaces count; nothing is
    /// trimmed). The error is the reason, which never quotes the password. Passwords
    /// checked at login are not held to this (an old, shorter one still verifies).
    pub fn check(&self) -> Result<(), String> {
        let len = self.0.chars().count();
        if len < MIN_PASSWORD_CHARS {
            Err(format!(
                "is {len} characters long: a password has at least {MIN_PASSWORD_CHARS}"
            ))
        } else if len > MAX_PASSWORD_CHARS {
            Err(format!(
                "is {len} characters long: a password has at most {MAX_PASSWORD_CHARS}"
            ))
        } else {
            Ok(())
        }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A stored password hash: an argon2id PHC string, checked when made from text
/// ([`PasswordHash::parse`]). `Debug` prints `***`; no `Display`, no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Checks a stored PHC string: argon2id, version 19, a salt and an output, and costs
    /// no larger than 1 GiB of memory, 64 passes and 16 lanes (so a tampered row cannot
    /// make a login allocate without bound). The error is the reason (never quoting the
    /// string).
    pub fn parse(phc: &str) -> Result<PasswordHash, String> {
        let parsed = password_hash::PasswordHash::new(phc)
            .map_err(|e| format!("is not a PHC string: {e}"))?;
        if parsed.algorithm != Algorithm::Argon2id.ident() {
            return Err(format!("uses {}, not argon2id", parsed.algorithm));
        }
        if parsed.version != Some(Version::V0x13.into()) {
            return Err("is not argon2 version 19".to_owned());
        }
        if parsed.salt.is_none() || parsed.hash.is_none() {
            return Err("has no salt or no hash".to_owned());
        }
        let params = Params::try_from(&parsed).map_err(|e| format!("has bad parameters: {e}"))?;
        if params.m_cost() > MAX_STORED_M_KIB
            || params.t_cost() > MAX_STORED_T
            || params.p_cost() > MAX_STORED_P
        {
            return Err(format!(
                "asks for m={} KiB, t={}, p={}: beyond m={MAX_STORED_M_KIB}, \
                 t={MAX_STORED_T}, p={MAX_STORED_P}",
                params.m_cost(),
                params.t_cost(),
                params.p_cost()
            ));
        }
        Ok(PasswordHash(phc.to_owned()))
    }

    /// The PHC string, for storage.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The parameters the hash was made with.
    pub fn params(&self) -> PasswordParams {
        let parsed = password_hash::PasswordHash::new(&self.0)
            .ok()
            .and_then(|h| Params::try_from(&h).ok());
        // Checked by `parse`.
        parsed.map_or(PasswordParams::OWASP, |p| PasswordParams {
            memory_kib: p.m_cost(),
            iterations: p.t_cost(),
            parallelism: p.p_cost(),
        })
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory, KiB (argon2's `m`); at least `8 × parallelism`.
    pub memory_kib: u32,
    /// Passes over the memory (argon2's `t`); at least 1.
    pub iterations: u32,
    /// Lanes (argon2's `p`); at least 1.
    pub parallelism: u32,
}

impl PasswordParams {
    /// OWASP's argon2id recommendation: m = 19 456 KiB (19 MiB), t = 2, p = 1. The
    /// default.
    pub const OWASP: PasswordParams = PasswordParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The cheapest parameters argon2 allows (m = 8 KiB, t = 1, p = 1): for tests only,
    /// never for real accounts.
    pub const TESTING: PasswordParams = PasswordParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };

    fn argon2_params(self) -> Result<Params, PasswordError> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None).map_err(|e| {
            PasswordError::Params {
                params: self,
                reason: e.to_string(),
            }
        })
    }
}

impl Default for PasswordParams {
    fn default() -> PasswordParams {
        PasswordParams::OWASP
    }
}

/// Why hashing or verifying failed. Never quotes the password or the hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The parameters are not ones argon2 accepts.
    #[error("argon2 parameters {params:?} are invalid: {reason}")]
    Params {
        /// The parameters.
        params: PasswordParams,
        /// argon2's reason.
        reason: String,
    },
    /// The operating system's random number generator failed (no salt).
    #[error("cannot generate a salt: {0}")]
    Entropy(String),
    /// argon2 failed (a password beyond its limit, out of memory).
    #[error("argon2 failed: {0}")]
    Hash(String),
}

/// Hashes and verifies passwords with argon2id at fixed parameters. Cheap to clone.
///
/// It also keeps a hash of a random password, made at construction with the same
/// parameters, for [`PasswordHasher::verify_dummy`]: a login for a username that does not
/// exist costs the same as one for a username that does, so response times do not reveal
/// which usernames exist.
#[derive(Clone)]
pub struct PasswordHasher {
    params: PasswordParams,
    dummy: PasswordHash,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with `params`; makes one hash (the dummy), so it costs what a login
    /// costs.
    pub fn new(params: PasswordParams) -> Result<PasswordHasher, PasswordError> {
        params.argon2_params()?;
        let mut random = [0u8; 24];
        getrandom::getrandom(&mut random).map_err(|e| PasswordError::Entropy(e.to_string()))?;
        let dummy_password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let mut hasher = PasswordHasher {
            params,
            dummy: PasswordHash(String::new()),
        };
        hasher.dummy = hasher.hash(&Password::new(dummy_password))?;
        Ok(hasher)
    }

    /// The parameters new hashes are made with.
    pub fn params(&self) -> PasswordParams {
        self.params
    }

    fn argon2(&self, params: PasswordParams) -> Result<Argon2<'static>, PasswordError> {
        Ok(Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            params.argon2_params()?,
        ))
    }

    /// Hashes `password` with a fresh 16-byte random salt. Does not check the password's
    /// length rules ([`Password::check`] does).
    pub fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordError> {
        let mut salt = [0u8; SALT_BYTES];
        getrandom::getrandom(&mut salt).map_err(|e| PasswordError::Entropy(e.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
        let phc = self
            .argon2(self.params)?
            .hash_password(password.expose().as_bytes(), &salt)
            .map_err(|e| PasswordError::Hash(e.to_string()))?
            .to_string();
        Ok(PasswordHash(phc))
    }

    /// Whether `password` matches `hash`, computed with the parameters stored in the hash
    /// and compared in constant time. `Ok(false)` for a wrong password; an error only
    /// when argon2 itself fails.
    pub fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, PasswordError> {
        let parsed = password_hash::PasswordHash::new(hash.expose())
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        match self
            .argon2(hash.params())?
            .verify_password(password.expose().as_bytes(), &parsed)
        {
            Ok(()) => Ok(true),
            Err(password_hash::Error::Password) => Ok(false),
            Err(e) => Err(PasswordError::Hash(e.to_string())),
        }
    }

    /// Verifies `password` against the dummy hash and returns `false`: call it when the
    /// username does not exist (or the account is disabled, before saying so), so that
    /// the answer takes as long as a real verification.
    pub fn verify_dummy(&self, password: &Password) -> bool {
        let _ = self.verify(password, &self.dummy);
        false
    }

    /// Whether `hash` was made with other parameters than this hasher's: hash the
    /// password again after a successful login and store the new hash.
    pub fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        hash.params() != self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(PasswordParams::TESTING).unwrap()
    }

    #[test]
    fn hash_and_verify() {
        let h = hasher();
        let pw = Password::new("correct horse battery");
        let hash = h.hash(&pw).unwrap();
        assert!(hash.expose().starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
        assert!(h.verify(&pw, &hash).unwrap());
        assert!(
            !h.verify(&Password::new("correct horse battery!"), &hash)
                .unwrap()
        );
        // A fresh salt each time.
        assert_ne!(h.hash(&pw).unwrap(), hash);
        // The stored string parses back.
        assert_eq!(PasswordHash::parse(hash.expose()).unwrap(), hash);
        assert!(!h.needs_rehash(&hash));
        assert!(!h.verify_dummy(&pw));
    }

    #[test]
    fn owasp_parameters_are_the_default_and_verify_across_parameters() {
        assert_eq!(PasswordParams::default(), PasswordParams::OWASP);
        assert_eq!(
            (
                PasswordParams::OWASP.memory_kib,
                PasswordParams::OWASP.iterations,
                PasswordParams::OWASP.parallelism
            ),
            (19456, 2, 1)
        );
        let owasp = PasswordHasher::new(PasswordParams::OWASP).unwrap();
        let pw = Password::new("a long enough password");
        let hash = owasp.hash(&pw).unwrap();
        assert!(hash.expose().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        // A hasher with other parameters verifies with the hash's own and asks for a
        // rehash.
        let cheap = hasher();
        assert!(cheap.verify(&pw, &hash).unwrap());
        assert!(cheap.needs_rehash(&hash));
        assert!(!owasp.needs_rehash(&hash));
    }

    #[test]
    fn bad_parameters_and_hashes_are_refused() {
        let bad = PasswordParams {
            memory_kib: 1,
            iterations: 1,
            parallelism: 1,
        };
        assert!(matches!(
            PasswordHasher::new(bad),
            Err(PasswordError::Params { .. })
        ));
        for phc in [
            "",
            "plain",
            "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=16$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0",
        ] {
            assert!(PasswordHash::parse(phc).is_err(), "{phc}");
        }
    }

    #[test]
    fn length_rules_and_redaction() {
        assert!(Password::new("x".repeat(11)).check().is_err());
        assert!(Password::new("x".repeat(12)).check().is_ok());
        assert!(Password::new("密".repeat(12)).check().is_ok());
        assert!(Password::new("x".repeat(1024)).check().is_ok());
        assert!(Password::new("x".repeat(1025)).check().is_err());
        assert!(
            !Password::new("hunter2")
                .check()
                .unwrap_err()
                .contains("hunter")
        );
        let pw = Password::new("hunter2hunter2");
        assert_eq!(format!("{pw:?}"), "Password(***)");
        let hash = hasher().hash(&pw).unwrap();
        assert_eq!(format!("{hash:?}"), "PasswordHash(***)");
        assert!(!format!("{:?}", hasher()).contains("argon2id$"));
        let decoded: Password = serde_json::from_str(r#""from json""#).unwrap();
        assert_eq!(decoded.expose(), "from json");
    }

    #[test]
    fn generated_passwords_are_long_enough_unambiguous_and_differ() {
        let a = Password::generate(20).unwrap();
        let b = Password::generate(20).unwrap();
        assert_eq!(a.expose().chars().count(), 20);
        assert!(a.check().is_ok());
        assert_ne!(a.expose(), b.expose());
        assert!(!a.expose().contains(['0', 'O', 'o', '1', 'l', 'I']));
        assert_eq!(
            Password::generate(3).unwrap().expose().len(),
            MIN_PASSWORD_CHARS
        );
    }
}
