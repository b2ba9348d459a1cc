//! Video bitstream parsers that Watchpost owns: Annex B framing, H.264 and H.265 NAL unit
//! headers and sequence parameter sets.
//!
//! Everything here is synchronous, allocation-light, does no IO and never panics, whatever
//! the input: cameras are untrusted peers, and these parsers see their bytes first. Errors
//! are [`CodecError`]s that name the syntax element being read.
//!
//! # Vocabulary
//!
//! - **NAL unit** (network abstraction layer unit): one header byte (H.264) or two (H.265)
//!   followed by a payload. Every slice of a picture and every parameter set is a NAL unit.
//! - **Annex B**: NAL units separated by *start codes* `00 00 01` or `00 00 00 01`
//!   ([`annexb`]); the format of [`Frame::data`](crate::Frame::data).
//! - **EBSP / RBSP**: the NAL payload as sent (*encapsulated byte sequence payload*, with
//!   *emulation prevention* bytes: an `03` inserted after every `00 00` so that the payload
//!   never contains a start code) and after removing them (*raw byte sequence payload*).
//! - **Exp-Golomb** codes `ue(v)` / `se(v)`: the variable-length integers most parameter-set
//!   fields use ([`BitReader`]).
//! - **SPS / PPS / VPS**: sequence, picture and video parameter sets; the SPS carries the
//!   profile, level, chroma format and picture size ([`h264::Sps`], [`h265::Sps`]).
//! - **IDR / IRAP**: pictures a decoder can start from (H.264 IDR, H.265 intra random
//!   access point).
//! - **B-frames / reordering**: pictures transmitted before pictures they are displayed
//!   after. Browsers' WebRTC H.264 decoders show them out of order (WebRTC does not
//!   reorder). [`h264::Sps::may_have_b_frames`] says whether the SPS allows them;
//!   [`h264::is_b_picture`] says whether an access unit really is one (from its first
//!   slice header, cheap enough for every frame).
//! - **Slice header**: the start of every coded slice NAL unit; its second field,
//!   `slice_type`, says whether the slice is I, P or B ([`h264::slice_type`],
//!   [`h264::first_slice_type`], [`h264::slice_types`]).

pub mod annexb;
mod bits;
#[doc(hidden)]
pub mod fuzzing;
pub mod h264;
pub mod h265;

use std::fmt;

pub use bits::{BitReader, rbsp_from_ebsp};

/// Why a bitstream structure could not be parsed.
///
/// Every variant names *what* was being parsed (`"H.264 SPS"`) and the syntax element
/// (`"pic_width_in_mbs_minus1"`, spelled as in the ITU-T specifications).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The input ended in the middle of a syntax element.
    Truncated {
        /// The structure being parsed, e.g. `"H.264 SPS"`.
        what: &'static str,
        /// The syntax element being read.
        field: &'static str,
    },
    /// A syntax element has a value the specification does not allow (or that is too large
    /// for this parser, such as a picture wider than 65535 pixels).
    OutOfRange {
        /// The structure being parsed.
        what: &'static str,
        /// The syntax element.
        field: &'static str,
        /// The value read (saturated to `u64`).
        value: u64,
    },
    /// The NAL unit is not of the type the parser expects.
    WrongNalType {
        /// The structure the caller asked for.
        what: &'static str,
        /// The NAL unit type found.
        found: u8,
    },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Truncated { what, field } => {
                write!(f, "{what}: input ends while reading `{field}`")
            }
            CodecError::OutOfRange { what, field, value } => {
                write!(f, "{what}: `{field}` = {value} is out of range")
            }
            CodecError::WrongNalType { what, found } => {
                write!(f, "{what}: NAL unit type {found} is not the expected type")
            }
        }
    }
}

impl std::error::Error for CodecError {}

#[cfg(test)]
mod tests {
    //! Replays the fuzzing corpus: regression inputs (crashes found by `cargo fuzz`, see
    //! `fuzz/regressions/`) and the seed corpus (`fuzz/seeds/`), so CI covers them without
    //! cargo-fuzz.

    use std::path::{Path, PathBuf};

    use super::fuzzing::annexb_h264_sps;

    fn corpus_files(dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn fuzz_regressions_and_seeds_do_not_panic() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut count = 0;
        for sub in ["regressions/annexb_h264_sps", "seeds/annexb_h264_sps"] {
            for file in corpus_files(&fuzz.join(sub)) {
                let data = std::fs::read(&file).expect("read corpus file");
                annexb_h264_sps(&data);
                count += 1;
            }
        }
        assert!(count > 0, "no corpus files found under {}", fuzz.display());
    }
}
