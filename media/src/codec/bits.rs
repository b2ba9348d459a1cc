//! Emulation-prevention removal and a most-significant-bit-first bit reader with
//! Exp-Golomb codes, shared by the H.264 and H.265 parsers.

use std::borrow::Cow;

use super::CodecError;

/// Removes emulation prevention bytes: every `03` that follows two zero bytes inside a NAL
/// unit payload (EBSP → RBSP, H.264 § 7.4.1 / H.265 § 7.4.2).
///
/// Borrows the input when it contains no emulation prevention byte.
pub fn rbsp_from_ebsp(ebsp: &[u8]) -> Cow<'_, [u8]> {
    let first = ebsp.windows(3).position(|w| w == [0, 0, 3]).map(|p| p + 2);
    let Some(first) = first else {
        return Cow::Borrowed(ebsp);
    };
    let mut out = Vec::with_capacity(ebsp.len());
    out.extend_from_slice(&ebsp[..first]);
    let mut zeros = 0usize;
    for &b in &ebsp[first + 1..] {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    Cow::Owned(out)
}

/// Reads bits most-significant first from an RBSP (a payload after [`rbsp_from_ebsp`]).
///
/// Every read names the syntax element it reads, so errors say where the input ended or
/// which value was out of range. Reads never panic: past the end they return
/// [`CodecError::Truncated`].
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
    what: &'static str,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `rbsp`; `what` names the structure for errors
    /// (`"H.264 SPS"`).
    pub fn new(rbsp: &'a [u8], what: &'static str) -> Self {
        BitReader {
            data: rbsp,
            pos: 0,
            what,
        }
    }

    /// Bits not read yet.
    pub fn bits_left(&self) -> usize {
        (self.data.len() * 8).saturating_sub(self.pos)
    }

    /// Bits read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn truncated(&self, field: &'static str) -> CodecError {
        CodecError::Truncated {
            what: self.what,
            field,
        }
    }

    /// An [`CodecError::OutOfRange`] for this reader's structure.
    pub fn out_of_range(&self, field: &'static str, value: u64) -> CodecError {
        CodecError::OutOfRange {
            what: self.what,
            field,
            value,
        }
    }

    /// One bit, `u(1)`, as a flag.
    pub fn flag(&mut self, field: &'static str) -> Result<bool, CodecError> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or_else(|| self.truncated(field))?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// `n` bits, `u(n)`, for `n` in 0..=32 (more is reported as out of range).
    pub fn bits(&mut self, n: u32, field: &'static str) -> Result<u32, CodecError> {
        if n > 32 {
            return Err(self.out_of_range(field, u64::from(n)));
        }
        if self.bits_left() < n as usize {
            return Err(self.truncated(field));
        }
        let mut value: u64 = 0;
        for _ in 0..n {
            value = (value << 1) | u64::from(self.flag(field)?);
        }
        // n ≤ 32, so the value fits.
        Ok(value as u32)
    }

    /// `n` bits as a `u8`, for `n` in 0..=8.
    pub fn u8(&mut self, n: u32, field: &'static str) -> Result<u8, CodecError> {
        if n > 8 {
            return Err(self.out_of_range(field, u64::from(n)));
        }
        Ok(self.bits(n, field)? as u8)
    }

    /// Skips `n` bits.
    pub fn skip(&mut self, n: usize, field: &'static str) -> Result<(), CodecError> {
        if self.bits_left() < n {
            return Err(self.truncated(field));
        }
        self.pos += n;
        Ok(())
    }

    /// Unsigned Exp-Golomb code, `ue(v)`. Values above `u32::MAX - 1` (32 or more leading
    /// zero bits) are reported as out of range.
    pub fn ue(&mut self, field: &'static str) -> Result<u32, CodecError> {
        let mut leading_zeros = 0u32;
        while !self.flag(field)? {
            leading_zeros += 1;
            if leading_zeros > 31 {
                return Err(self.out_of_range(field, u64::from(u32::MAX)));
            }
        }
        if leading_zeros == 0 {
            return Ok(0);
        }
        let suffix = u64::from(self.bits(leading_zeros, field)?);
        let value = (1u64 << leading_zeros) - 1 + suffix;
        u32::try_from(value).map_err(|_| self.out_of_range(field, value))
    }

    /// `ue(v)` that must not exceed `max`.
    pub fn ue_max(&mut self, max: u32, field: &'static str) -> Result<u32, CodecError> {
        let value = self.ue(field)?;
        if value > max {
            return Err(self.out_of_range(field, u64::from(value)));
        }
        Ok(value)
    }

    /// Signed Exp-Golomb code, `se(v)`: 0, 1, −1, 2, −2, …
    pub fn se(&mut self, field: &'static str) -> Result<i32, CodecError> {
        let k = i64::from(self.ue(field)?);
        let value = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        // |value| ≤ 2^31, and u32::MAX - 1 maps to -(2^31 - 1): always in range.
        i32::try_from(value).map_err(|_| self.out_of_range(field, k as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulation_prevention_is_removed() {
        assert_eq!(&*rbsp_from_ebsp(&[1, 2, 3]), &[1, 2, 3]);
        assert!(matches!(rbsp_from_ebsp(&[0, 0, 1]), Cow::Borrowed(_)));
        assert_eq!(&*rbsp_from_ebsp(&[0, 0, 3, 1]), &[0, 0, 1]);
        assert_eq!(&*rbsp_from_ebsp(&[0, 0, 3, 0, 0, 3, 0]), &[0, 0, 0, 0, 0]);
        // `00 00 03 03`: only the first 03 is an emulation prevention byte.
        assert_eq!(&*rbsp_from_ebsp(&[0, 0, 3, 3]), &[0, 0, 3]);
        // A trailing 03 after two zeros is removed too (cabac_zero_words).
        assert_eq!(&*rbsp_from_ebsp(&[5, 0, 0, 3]), &[5, 0, 0]);
        assert_eq!(&*rbsp_from_ebsp(&[]), &[] as &[u8]);
    }

    #[test]
    fn exp_golomb_values() {
        // 1 | 010 | 011 | 00100 | 00101 → ue 0, 1, 2, 3, 4
        // bits: 1010 0110 0100 0010 1000 0000
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut r = BitReader::new(&data, "test");
        assert_eq!(r.ue("a").unwrap(), 0);
        assert_eq!(r.ue("b").unwrap(), 1);
        assert_eq!(r.ue("c").unwrap(), 2);
        assert_eq!(r.ue("d").unwrap(), 3);
        assert_eq!(r.ue("e").unwrap(), 4);
        let mut r = BitReader::new(&data, "test");
        assert_eq!(r.se("a").unwrap(), 0);
        assert_eq!(r.se("b").unwrap(), 1);
        assert_eq!(r.se("c").unwrap(), -1);
        assert_eq!(r.se("d").unwrap(), 2);
        assert_eq!(r.se("e").unwrap(), -2);
    }

    #[test]
    fn huge_and_truncated_exp_golomb() {
        // 32 leading zeros: rejected before reading the suffix.
        let mut r = BitReader::new(&[0, 0, 0, 0, 0xff], "test");
        assert!(matches!(r.ue("x"), Err(CodecError::OutOfRange { .. })));
        // 31 leading zeros, then 1 and 31 zero bits: exactly 2^31 - 1.
        let data = [0, 0, 0, 1, 0, 0, 0, 0];
        let mut r = BitReader::new(&data, "test");
        assert_eq!(r.ue("x").unwrap(), (1u32 << 31) - 1);
        // Largest value: 31 zeros, 1, 31 ones = 2^32 - 2.
        let data = [0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe];
        let mut r = BitReader::new(&data, "test");
        assert_eq!(r.ue("x").unwrap(), u32::MAX - 1);
        let mut r = BitReader::new(&data, "test");
        assert_eq!(r.se("x").unwrap(), -(i32::MAX));
        // All zero: truncated, not a hang.
        let mut r = BitReader::new(&[0, 0], "test");
        assert_eq!(
            r.ue("x"),
            Err(CodecError::Truncated {
                what: "test",
                field: "x"
            })
        );
        let mut r = BitReader::new(&[], "test");
        assert!(r.flag("x").is_err());
        assert!(r.bits(33, "x").is_err());
        assert_eq!(r.bits(0, "x").unwrap(), 0);
    }

    #[test]
    fn fixed_width_reads() {
        let data = [0xAB, 0xCD, 0xEF, 0x01, 0x23];
        let mut r = BitReader::new(&data, "test");
        assert_eq!(r.bits(4, "a").unwrap(), 0xA);
        assert_eq!(r.bits(32, "b").unwrap(), 0xBCDE_F012);
        assert_eq!(r.bits_left(), 4);
        assert!(r.bits(5, "c").is_err());
        assert_eq!(r.u8(4, "d").unwrap(), 3);
        assert_eq!(r.bits_left(), 0);
        assert!(r.skip(1, "e").is_err());
    }
}
