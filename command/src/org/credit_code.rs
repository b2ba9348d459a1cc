//! The unified social credit code (统一社会信用代码) of GB 32100-2015.
//!
//! Eighteen characters from a 31-character set — the digits and the capital letters
//! except I, O, S, V and Z ([`CREDIT_CODE_CHARSET`]):
//!
//! | position | meaning |
//! |---|---|
//! | 1 | registration authority (`9` market regulation, `1` institutional staffing, `5` civil affairs, …) |
//! | 2 | organisation category under that authority (`1` enterprise, `2` individual business, …) |
//! | 3–8 | administrative division code (GB/T 2260, digits) |
//! | 9–17 | organisation code (GB 11714, with its own check character) |
//! | 18 | check character over positions 1–17 |
//!
//! The check character: with each character's value its index in the set (`0`–`9` →
//! 0–9, `A` → 10, …, `Y` → 30) and the weights 3^(i-1) mod 31 ([`CREDIT_CODE_WEIGHTS`]),
//! C18 = 31 − (Σ value × weight mod 31), where 31 is written `0`.
//!
//! [`CreditCode::parse`] checks the length, the set, that positions 3–8 are digits and
//! the check character. It does not check the meaning of positions 1–2 (new authority
//! codes appear) nor the embedded organisation code's check character.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::model::quote;

/// The characters of a credit code, in value order: `0` is 0, `Y` is 30.
pub const CREDIT_CODE_CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weight of positions 1 to 17: 3^(i-1) mod 31.
pub const CREDIT_CODE_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn value(c: char) -> Option<u32> {
    CREDIT_CODE_CHARSET
        .find(c)
        .and_then(|i| u32::try_from(i).ok())
}

/// The check character (position 18) for a code's first 17 characters, or `None` when
/// `first17` is not 17 characters of [`CREDIT_CODE_CHARSET`].
pub fn credit_code_check(first17: &str) -> Option<char> {
    if first17.chars().count() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, weight) in first17.chars().zip(CREDIT_CODE_WEIGHTS) {
        sum += value(c)? * weight;
    }
    let check = (31 - sum % 31) % 31;
    CREDIT_CODE_CHARSET
        .chars()
        .nth(usize::try_from(check).ok()?)
}

/// A unified social credit code that passed [`CreditCode::parse`]: 18 characters,
/// upper case. Serialized as the plain string, checked when deserialized.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CreditCode(String);

impl CreditCode {
    /// Checks `text` (surrounding spaces ignored, lower case letters accepted and
    /// upper-cased). The error is the reason, in words naming the position at fault.
    pub fn parse(text: &str) -> Result<CreditCode, String> {
        let code = text.trim().to_ascii_uppercase();
        let count = code.chars().count();
        if count != 18 {
            return Err(format!(
                "{} has {count} characters: a unified social credit code has 18",
                quote(text.trim())
            ));
        }
        if let Some((i, c)) = code.chars().enumerate().find(|&(_, c)| value(c).is_none()) {
            return Err(format!(
                "{} has {c:?} at position {}: a unified social credit code uses the digits and \
                 the capital letters except I, O, S, V and Z",
                quote(&code),
                i + 1
            ));
        }
        if !code[2..8].bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{}: positions 3 to 8 are the administrative division code and must be digits, \
                 got {:?}",
                quote(&code),
                &code[2..8]
            ));
        }
        let expected = credit_code_check(&code[..17]);
        let given = code[17..].chars().next();
        if expected != given {
            return Err(format!(
                "{}: the check character (position 18) is {}, GB 32100-2015 gives {} — is a \
                 character mistyped?",
                quote(&code),
                given.map(|c| format!("{c:?}")).unwrap_or_default(),
                expected.map(|c| format!("{c:?}")).unwrap_or_default(),
            ));
        }
        Ok(CreditCode(code))
    }

    /// The code, 18 upper-case characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The administrative division code, positions 3 to 8 (e.g. `110105`, Chaoyang).
    pub fn division_code(&self) -> &str {
        &self.0[2..8]
    }
}

impl utoipa::PartialSchema for CreditCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some(
                "Unified social credit code (GB 32100-2015): 18 characters, the last a check \
                 character; lower case letters are accepted and stored upper case.",
            ))
            .pattern(Some("^[0-9A-HJ-NP-RT-UW-Ya-hj-np-rt-uw-y]{18}$"))
            .into()
    }
}

impl utoipa::ToSchema for CreditCode {}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CreditCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CreditCode::parse(s)
    }
}

impl<'de> Deserialize<'de> for CreditCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        CreditCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published codes of well-known enterprises (from their public registration records).
    const KNOWN_VALID: [(&str, &str); 7] = [
        ("914403001922038216", "Huawei Technologies Co., Ltd."),
        (
            "91110000802100433B",
            "Beijing Baidu Netcom Science and Technology Co., Ltd.",
        ),
        (
            "91440300708461136T",
            "Shenzhen Tencent Computer Systems Co., Ltd.",
        ),
        ("91330100799655058B", "Alibaba (China) Co., Ltd."),
        ("91110108551385082Q", "Xiaomi Inc."),
        (
            "91110000710926094P",
            "China Petroleum & Chemical Corporation",
        ),
        ("91110000710925462X", "PetroChina Company Limited"),
    ];

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1u32;
        for weight in CREDIT_CODE_WEIGHTS {
            assert_eq!(weight, w);
            w = w * 3 % 31;
        }
        assert_eq!(CREDIT_CODE_CHARSET.len(), 31);
    }

    #[test]
    fn known_codes_pass() {
        for (code, who) in KNOWN_VALID {
            let parsed = CreditCode::parse(code).unwrap_or_else(|e| panic!("{who}: {e}"));
            assert_eq!(parsed.as_str(), code);
            assert_eq!(credit_code_check(&code[..17]), code.chars().last());
        }
        let lower = CreditCode::parse(" 91110000802100433b ").unwrap();
        assert_eq!(lower.as_str(), "91110000802100433B");
        assert_eq!(lower.division_code(), "110000");
    }

    #[test]
    fn every_single_character_change_is_caught() {
        // The check detects any one substituted character (31 is prime, no weight is 0).
        for (code, _) in KNOWN_VALID {
            for i in 0..18 {
                for c in CREDIT_CODE_CHARSET.chars() {
                    let mut changed: Vec<char> = code.chars().collect();
                    if changed[i] == c {
                        continue;
                    }
                    changed[i] = c;
                    let changed: String = changed.into_iter().collect();
                    assert!(CreditCode::parse(&changed).is_err(), "{changed}");
                }
            }
        }
    }

    #[test]
    fn reasons_name_the_problem() {
        let short = CreditCode::parse("9111000080210043").unwrap_err();
        assert!(short.contains("16 characters"), "{short}");
        let letter = CreditCode::parse("91110000802100I33B").unwrap_err();
        assert!(letter.contains("'I' at position 15"), "{letter}");
        let division = CreditCode::parse("9111A000802100433B").unwrap_err();
        assert!(division.contains("positions 3 to 8"), "{division}");
        let check = CreditCode::parse("91110000802100433C").unwrap_err();
        assert!(check.contains("is 'C', GB 32100-2015 gives 'B'"), "{check}");
        assert!(serde_json::from_str::<CreditCode>(r#""91110000802100433C""#).is_err());
        assert_eq!(credit_code_check("123"), None);
        assert_eq!(credit_code_check("9111000080210043I"), None);
    }
}
