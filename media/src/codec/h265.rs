//! H.265 / HEVC (ITU-T H.265): NAL unit headers, random-access detection and the first part
//! of the sequence parameter set (profile, tier, level, chroma format, bit depth, picture
//! size, reordering).
//!
//! [`Sps::parse`] reads an SPS NAL unit with its two-byte header, as
//! [`CodecParams::H265::sps`](crate::CodecParams::H265) stores it (§ 7.3.2.2). It stops
//! after `sps_max_num_reorder_pics`; later fields are not needed here.

use super::bits::{BitReader, rbsp_from_ebsp};
use super::{CodecError, annexb};

const SPS: &str = "H.265 SPS";

/// Largest accepted picture width or height, in pixels (more is reported as out of range).
const MAX_DIMENSION: u32 = 65536;

/// An H.265 NAL unit type (`nal_unit_type`, 6 bits; Table 7-1, plus the RTP packet types of
/// RFC 7798).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NalType(pub u8);

impl NalType {
    /// Trailing picture, non-reference.
    pub const TRAIL_N: NalType = NalType(0);
    /// Trailing picture, reference.
    pub const TRAIL_R: NalType = NalType(1);
    /// Broken link access, may have leading pictures.
    pub const BLA_W_LP: NalType = NalType(16);
    /// Broken link access with RADL leading pictures.
    pub const BLA_W_RADL: NalType = NalType(17);
    /// Broken link access, no leading pictures.
    pub const BLA_N_LP: NalType = NalType(18);
    /// IDR with RADL leading pictures.
    pub const IDR_W_RADL: NalType = NalType(19);
    /// IDR, no leading pictures.
    pub const IDR_N_LP: NalType = NalType(20);
    /// Clean random access.
    pub const CRA: NalType = NalType(21);
    /// Video parameter set.
    pub const VPS: NalType = NalType(32);
    /// Sequence parameter set.
    pub const SPS: NalType = NalType(33);
    /// Picture parameter set.
    pub const PPS: NalType = NalType(34);
    /// Access unit delimiter.
    pub const AUD: NalType = NalType(35);
    /// End of sequence.
    pub const EOS: NalType = NalType(36);
    /// End of bitstream.
    pub const EOB: NalType = NalType(37);
    /// Filler data.
    pub const FD: NalType = NalType(38);
    /// Prefix SEI.
    pub const PREFIX_SEI: NalType = NalType(39);
    /// Suffix SEI.
    pub const SUFFIX_SEI: NalType = NalType(40);
    /// RTP aggregation packet (RFC 7798); never in an Annex B stream.
    pub const AP: NalType = NalType(48);
    /// RTP fragmentation unit (RFC 7798); never in an Annex B stream.
    pub const FU: NalType = NalType(49);

    /// Whether this is a coded slice (VCL NAL unit, types 0–31).
    pub fn is_vcl(self) -> bool {
        self.0 < 32
    }

    /// Whether this is an intra random access point (IRAP, types 16–23: BLA, IDR, CRA and
    /// the reserved IRAP types): a picture a decoder can start from.
    pub fn is_irap(self) -> bool {
        (16..=23).contains(&self.0)
    }

    /// Whether this is an IDR picture (types 19 and 20).
    pub fn is_idr(self) -> bool {
        matches!(self.0, 19 | 20)
    }

    /// Short name for logs (`"IDR_W_RADL"`, `"SPS"`, …), or `"other"`.
    pub fn name(self) -> &'static str {
        match self.0 {
            0..=9 => "non-IRAP slice",
            16 => "BLA_W_LP",
            17 => "BLA_W_RADL",
            18 => "BLA_N_LP",
            19 => "IDR_W_RADL",
            20 => "IDR_N_LP",
            21 => "CRA",
            22 | 23 => "reserved IRAP",
            32 => "VPS",
            33 => "SPS",
            34 => "PPS",
            35 => "AUD",
            36 => "EOS",
            37 => "EOB",
            38 => "FD",
            39 => "prefix SEI",
            40 => "suffix SEI",
            48 => "AP",
            49 => "FU",
            _ => "other",
        }
    }
}

/// The two-byte H.265 NAL unit header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NalHeader {
    /// `forbidden_zero_bit`; a conforming stream has it clear.
    pub forbidden_zero_bit: bool,
    /// `nal_unit_type`.
    pub nal_type: NalType,
    /// `nuh_layer_id` (0 for single-layer streams).
    pub layer_id: u8,
    /// `nuh_temporal_id_plus1` (1–7; 0 is invalid but reported as read).
    pub temporal_id_plus1: u8,
}

impl NalHeader {
    /// Reads the header from the first two bytes of a NAL unit; `None` if there are fewer.
    pub fn parse(nal: &[u8]) -> Option<NalHeader> {
        let (&a, &b) = (nal.first()?, nal.get(1)?);
        Some(NalHeader {
            forbidden_zero_bit: a & 0x80 != 0,
            nal_type: NalType((a >> 1) & 0x3f),
            layer_id: ((a & 1) << 5) | (b >> 3),
            temporal_id_plus1: b & 7,
        })
    }
}

/// The NAL unit type of `nal` (`None` if shorter than the two-byte header).
pub fn nal_type(nal: &[u8]) -> Option<NalType> {
    NalHeader::parse(nal).map(|h| h.nal_type)
}

/// Whether an Annex B access unit contains an IRAP picture.
pub fn contains_irap(annexb: &[u8]) -> bool {
    annexb::nal_units(annexb).any(|nal| nal_type(nal).is_some_and(NalType::is_irap))
}

/// `general_tier_flag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Main tier (`L` in codec strings).
    Main,
    /// High tier (`H` in codec strings).
    High,
}

/// The general part of `profile_tier_level()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileTierLevel {
    /// `general_profile_space` (0 in every deployed stream).
    pub profile_space: u8,
    /// `general_tier_flag`.
    pub tier: Tier,
    /// `general_profile_idc`: 1 Main, 2 Main 10, 3 Main Still Picture, 4 range extensions.
    pub profile_idc: u8,
    /// `general_profile_compatibility_flag[0..32]`, flag 0 in the most significant bit.
    pub profile_compatibility_flags: u32,
    /// The 48 bits from `general_progressive_source_flag` to `general_inbld_flag` /
    /// reserved bit, in the low 48 bits (progressive source flag is bit 47).
    pub constraint_indicator_flags: u64,
    /// `general_level_idc`: thirty times the level number (93 = level 3.1).
    pub level_idc: u8,
}

/// A parsed H.265 sequence parameter set (its first part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    /// `sps_video_parameter_set_id`.
    pub video_parameter_set_id: u8,
    /// `sps_max_sub_layers_minus1 + 1` (1–7).
    pub max_sub_layers: u8,
    /// Profile, tier and level.
    pub profile_tier_level: ProfileTierLevel,
    /// `sps_seq_parameter_set_id` (0–15).
    pub seq_parameter_set_id: u32,
    /// `chroma_format_idc`: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u8,
    /// `separate_colour_plane_flag` (4:4:4 only).
    pub separate_colour_plane: bool,
    /// `pic_width_in_luma_samples`: coded width in pixels.
    pub coded_width: u32,
    /// `pic_height_in_luma_samples`: coded height in pixels.
    pub coded_height: u32,
    /// Displayed width in pixels (after the conformance window).
    pub width: u32,
    /// Displayed height in pixels (after the conformance window).
    pub height: u32,
    /// Luma bit depth (8–16).
    pub bit_depth_luma: u8,
    /// Chroma bit depth (8–16).
    pub bit_depth_chroma: u8,
    /// `sps_max_num_reorder_pics` of the highest sub-layer: how many pictures may precede
    /// another in decoding order and follow it in output order.
    pub max_num_reorder_pics: u32,
}

fn parse_profile_tier_level(
    r: &mut BitReader<'_>,
    max_sub_layers_minus1: u8,
) -> Result<ProfileTierLevel, CodecError> {
    let profile_space = r.u8(2, "general_profile_space")?;
    let tier = if r.flag("general_tier_flag")? {
        Tier::High
    } else {
        Tier::Main
    };
    let profile_idc = r.u8(5, "general_profile_idc")?;
    let profile_compatibility_flags = r.bits(32, "general_profile_compatibility_flag")?;
    let high = u64::from(r.bits(16, "general_progressive_source_flag")?);
    let low = u64::from(r.bits(32, "general_reserved_zero_43bits")?);
    let constraint_indicator_flags = (high << 32) | low;
    let level_idc = r.u8(8, "general_level_idc")?;
    let mut profile_present = [false; 8];
    let mut level_present = [false; 8];
    for i in 0..usize::from(max_sub_layers_minus1) {
        profile_present[i] = r.flag("sub_layer_profile_present_flag")?;
        level_present[i] = r.flag("sub_layer_level_present_flag")?;
    }
    if max_sub_layers_minus1 > 0 {
        r.skip(
            2 * (8 - usize::from(max_sub_layers_minus1)),
            "reserved_zero_2bits",
        )?;
    }
    for i in 0..usize::from(max_sub_layers_minus1) {
        if profile_present[i] {
            r.skip(88, "sub_layer_profile")?;
        }
        if level_present[i] {
            r.skip(8, "sub_layer_level_idc")?;
        }
    }
    Ok(ProfileTierLevel {
        profile_space,
        tier,
        profile_idc,
        profile_compatibility_flags,
        constraint_indicator_flags,
        level_idc,
    })
}

impl Sps {
    /// Parses an SPS NAL unit: the two header bytes (type 33) followed by the EBSP, without
    /// start code. Fields after `sps_max_num_reorder_pics` are not read.
    pub fn parse(nal: &[u8]) -> Result<Sps, CodecError> {
        let header = NalHeader::parse(nal).ok_or(CodecError::Truncated {
            what: SPS,
            field: "nal_unit_header",
        })?;
        if header.nal_type != NalType::SPS {
            return Err(CodecError::WrongNalType {
                what: SPS,
                found: header.nal_type.0,
            });
        }
        let rbsp = rbsp_from_ebsp(&nal[2..]);
        Sps::parse_rbsp(&rbsp)
    }

    /// Parses the RBSP of an SPS (after the two header bytes, emulation prevention removed).
    pub fn parse_rbsp(rbsp: &[u8]) -> Result<Sps, CodecError> {
        let mut r = BitReader::new(rbsp, SPS);
        let video_parameter_set_id = r.u8(4, "sps_video_parameter_set_id")?;
        let max_sub_layers_minus1 = r.u8(3, "sps_max_sub_layers_minus1")?;
        if max_sub_layers_minus1 > 6 {
            return Err(r.out_of_range(
                "sps_max_sub_layers_minus1",
                u64::from(max_sub_layers_minus1),
            ));
        }
        r.flag("sps_temporal_id_nesting_flag")?;
        let profile_tier_level = parse_profile_tier_level(&mut r, max_sub_layers_minus1)?;
        let seq_parameter_set_id = r.ue_max(15, "sps_seq_parameter_set_id")?;
        let chroma_format_idc = r.ue_max(3, "chroma_format_idc")? as u8;
        let separate_colour_plane =
            chroma_format_idc == 3 && r.flag("separate_colour_plane_flag")?;
        let coded_width = r.ue_max(MAX_DIMENSION, "pic_width_in_luma_samples")?;
        let coded_height = r.ue_max(MAX_DIMENSION, "pic_height_in_luma_samples")?;
        if coded_width == 0 {
            return Err(r.out_of_range("pic_width_in_luma_samples", 0));
        }
        if coded_height == 0 {
            return Err(r.out_of_range("pic_height_in_luma_samples", 0));
        }
        let (mut width, mut height) = (coded_width, coded_height);
        if r.flag("conformance_window_flag")? {
            let left = r.ue("conf_win_left_offset")?;
            let right = r.ue("conf_win_right_offset")?;
            let top = r.ue("conf_win_top_offset")?;
            let bottom = r.ue("conf_win_bottom_offset")?;
            // SubWidthC / SubHeightC (Table 6-1); 1 for monochrome and separate planes.
            let (sub_width, sub_height) = match (chroma_format_idc, separate_colour_plane) {
                (1, _) => (2, 2),
                (2, _) => (2, 1),
                _ => (1, 1),
            };
            let shrink = |a: u32, b: u32, unit: u64, size: u32, field| {
                let total = (u64::from(a) + u64::from(b)) * unit;
                u32::try_from(total)
                    .ok()
                    .and_then(|t| size.checked_sub(t))
                    .filter(|&s| s > 0)
                    .ok_or(CodecError::OutOfRange {
                        what: SPS,
                        field,
                        value: total,
                    })
            };
            width = shrink(left, right, sub_width, coded_width, "conf_win_right_offset")?;
            height = shrink(
                top,
                bottom,
                sub_height,
                coded_height,
                "conf_win_bottom_offset",
            )?;
        }
        let bit_depth_luma = 8 + r.ue_max(8, "bit_depth_luma_minus8")? as u8;
        let bit_depth_chroma = 8 + r.ue_max(8, "bit_depth_chroma_minus8")? as u8;
        r.ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")?;
        let all_sub_layers = r.flag("sps_sub_layer_ordering_info_present_flag")?;
        let first = if all_sub_layers {
            0
        } else {
            max_sub_layers_minus1
        };
        let mut max_num_reorder_pics = 0;
        for _ in first..=max_sub_layers_minus1 {
            r.ue("sps_max_dec_pic_buffering_minus1")?;
            max_num_reorder_pics = r.ue("sps_max_num_reorder_pics")?;
            r.ue("sps_max_latency_increase_plus1")?;
        }
        Ok(Sps {
            video_parameter_set_id,
            max_sub_layers: max_sub_layers_minus1 + 1,
            profile_tier_level,
            seq_parameter_set_id,
            chroma_format_idc,
            separate_colour_plane,
            coded_width,
            coded_height,
            width,
            height,
            bit_depth_luma,
            bit_depth_chroma,
            max_num_reorder_pics,
        })
    }

    /// Profile name as ffprobe prints it (`"Main"`, `"Main 10"`, `"Main Still Picture"`,
    /// `"Rext"`), or `"unknown"`.
    pub fn profile_name(&self) -> &'static str {
        match self.profile_tier_level.profile_idc {
            1 => "Main",
            2 => "Main 10",
            3 => "Main Still Picture",
            4 => "Rext",
            _ => "unknown",
        }
    }

    /// Whether pictures may be sent before pictures displayed earlier (B-frames that
    /// reorder): `false` when `sps_max_num_reorder_pics` of the highest sub-layer is 0.
    pub fn may_have_b_frames(&self) -> bool {
        self.max_num_reorder_pics != 0
    }

    /// The RFC 6381 codec string of ISO/IEC 14496-15 Annex E, e.g. `hvc1.1.6.L93.B0`:
    /// profile space letter and profile, compatibility flags bit-reversed in hex, tier
    /// letter and level, then the constraint bytes in hex with trailing zero bytes omitted.
    pub fn rfc6381(&self) -> String {
        let ptl = &self.profile_tier_level;
        let space = match ptl.profile_space {
            1 => "A",
            2 => "B",
            3 => "C",
            _ => "",
        };
        let tier = match ptl.tier {
            Tier::Main => 'L',
            Tier::High => 'H',
        };
        let mut out = format!(
            "hvc1.{space}{}.{:X}.{tier}{}",
            ptl.profile_idc,
            ptl.profile_compatibility_flags.reverse_bits(),
            ptl.level_idc
        );
        let bytes = ptl.constraint_indicator_flags.to_be_bytes();
        let constraint = &bytes[2..];
        let used = constraint
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |p| p + 1);
        for b in &constraint[..used] {
            out.push_str(&format!(".{b:X}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// watchpost-sim main stream (GStreamer 1.22 `x265enc`), 320×240 Main profile, taken
    /// from `fixtures/recordings/h265-320x240`. ffprobe: hevc Main, level=60, 320×240,
    /// yuv420p, has_b_frames=0.
    const MAIN_320X240: &str = "42010101600000030090000003000003003ca00a080f165ba4a4c2fff000100016a0c0c0c080000003008000000504";
    /// watchpost-sim sub stream, 160×120 coded as 160×128 with a conformance window
    /// (conf_win_bottom_offset = 4); ffprobe: coded_height=128, height=120, level=30.
    const SUB_160X120: &str = "42010101600000030090000003000003001ea01420207cb96e92930bffc00040005a830303020000030002000003001410";

    #[test]
    fn x265_main_profile_sps() {
        let sps = Sps::parse(&hex(MAIN_320X240)).unwrap();
        let ptl = sps.profile_tier_level;
        assert_eq!(ptl.profile_idc, 1);
        assert_eq!(sps.profile_name(), "Main");
        assert_eq!(ptl.tier, Tier::Main);
        assert_eq!(ptl.level_idc, 60);
        assert_eq!(ptl.profile_compatibility_flags, 0x6000_0000);
        assert_eq!(ptl.constraint_indicator_flags, 0x9000_0000_0000);
        assert_eq!(sps.chroma_format_idc, 1);
        assert_eq!((sps.bit_depth_luma, sps.bit_depth_chroma), (8, 8));
        assert_eq!((sps.width, sps.height), (320, 240));
        assert_eq!(sps.max_sub_layers, 1);
        assert_eq!(sps.max_num_reorder_pics, 0);
        assert!(!sps.may_have_b_frames());
        assert_eq!(sps.rfc6381(), "hvc1.1.6.L60.90");
    }

    #[test]
    fn x265_conformance_window() {
        let sps = Sps::parse(&hex(SUB_160X120)).unwrap();
        assert_eq!(sps.profile_tier_level.level_idc, 30);
        assert_eq!((sps.coded_width, sps.coded_height), (160, 128));
        assert_eq!((sps.width, sps.height), (160, 120));
    }

    #[test]
    fn truncated_and_malformed() {
        let full = hex(MAIN_320X240);
        // The parser needs everything up to the reorder fields (~16 bytes).
        for len in 0..14 {
            assert!(Sps::parse(&full[..len]).is_err(), "len {len}");
        }
        assert!(Sps::parse(&[]).is_err());
        assert_eq!(
            Sps::parse(&hex("40010c01ffff")),
            Err(CodecError::WrongNalType {
                what: "H.265 SPS",
                found: 32
            })
        );
        let mut zeros = vec![0x42, 0x01];
        zeros.extend([0u8; 40]);
        assert!(Sps::parse(&zeros).is_err());
        let mut ones = vec![0x42, 0x01];
        ones.extend([0xffu8; 40]);
        assert!(Sps::parse(&ones).is_err());
    }

    #[test]
    fn nal_headers() {
        let h = NalHeader::parse(&[0x26, 0x01]).unwrap();
        assert_eq!(h.nal_type, NalType::IDR_W_RADL);
        assert!(h.nal_type.is_irap() && h.nal_type.is_idr());
        assert_eq!(h.temporal_id_plus1, 1);
        assert_eq!(h.layer_id, 0);
        let cra = NalHeader::parse(&[0x2a, 0x01]).unwrap();
        assert_eq!(cra.nal_type, NalType::CRA);
        assert!(cra.nal_type.is_irap() && !cra.nal_type.is_idr());
        assert!(!NalType::TRAIL_R.is_irap());
        assert!(NalType::TRAIL_R.is_vcl() && !NalType::SPS.is_vcl());
        assert!(NalHeader::parse(&[0x26]).is_none());
        assert!(contains_irap(&[0, 0, 1, 0x40, 1, 0, 0, 1, 0x26, 1, 0xaf]));
        assert!(!contains_irap(&[0, 0, 1, 0x02, 1, 0xaf]));
    }

    #[test]
    fn codec_string_variants() {
        let mut sps = Sps::parse(&hex(MAIN_320X240)).unwrap();
        sps.profile_tier_level.level_idc = 93;
        sps.profile_tier_level.constraint_indicator_flags = 0xB000_0000_0000;
        assert_eq!(sps.rfc6381(), "hvc1.1.6.L93.B0");
        sps.profile_tier_level.profile_space = 1;
        sps.profile_tier_level.tier = Tier::High;
        sps.profile_tier_level.profile_idc = 2;
        sps.profile_tier_level.profile_compatibility_flags = 0x2000_0000;
        sps.profile_tier_level.constraint_indicator_flags = 0;
        assert_eq!(sps.rfc6381(), "hvc1.A2.4.H93");
    }
}
