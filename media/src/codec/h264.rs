//! H.264 / AVC (ITU-T H.264): NAL unit headers, the sequence parameter set, slice types.
//!
//! [`Sps::parse`] reads a whole SPS NAL unit (header byte included, as
//! [`CodecParams::H264::sps`](crate::CodecParams::H264) stores it) including the VUI
//! (§ 7.3.2.1.1, Annex E). Picture sizes are in luma pixels after cropping.

use super::bits::{BitReader, rbsp_from_ebsp};
use super::{CodecError, annexb};

const SPS: &str = "H.264 SPS";
const SLICE: &str = "H.264 slice header";

/// Largest accepted picture width or height in macroblocks (65536 pixels); larger values are
/// reported as out of range rather than overflowing arithmetic.
const MAX_MBS: u32 = 4096;

/// An H.264 NAL unit type (`nal_unit_type`, 5 bits; Table 7-1, plus the RTP packet types of
/// RFC 6184).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NalType(pub u8);

impl NalType {
    /// Coded slice of a non-IDR picture.
    pub const SLICE: NalType = NalType(1);
    /// Coded slice data partition A.
    pub const SLICE_DPA: NalType = NalType(2);
    /// Coded slice data partition B.
    pub const SLICE_DPB: NalType = NalType(3);
    /// Coded slice data partition C.
    pub const SLICE_DPC: NalType = NalType(4);
    /// Coded slice of an IDR picture (a random-access point).
    pub const IDR: NalType = NalType(5);
    /// Supplemental enhancement information.
    pub const SEI: NalType = NalType(6);
    /// Sequence parameter set.
    pub const SPS: NalType = NalType(7);
    /// Picture parameter set.
    pub const PPS: NalType = NalType(8);
    /// Access unit delimiter.
    pub const AUD: NalType = NalType(9);
    /// End of sequence.
    pub const END_OF_SEQUENCE: NalType = NalType(10);
    /// End of stream.
    pub const END_OF_STREAM: NalType = NalType(11);
    /// Filler data.
    pub const FILLER: NalType = NalType(12);
    /// Sequence parameter set extension.
    pub const SPS_EXT: NalType = NalType(13);
    /// Prefix NAL unit (SVC/MVC).
    pub const PREFIX: NalType = NalType(14);
    /// Subset sequence parameter set (SVC/MVC).
    pub const SUBSET_SPS: NalType = NalType(15);
    /// RTP single-time aggregation packet (RFC 6184); never in an Annex B stream.
    pub const STAP_A: NalType = NalType(24);
    /// RTP fragmentation unit (RFC 6184); never in an Annex B stream.
    pub const FU_A: NalType = NalType(28);

    /// Whether this is a coded slice (VCL NAL unit, types 1–5).
    pub fn is_vcl(self) -> bool {
        (1..=5).contains(&self.0)
    }

    /// Short name for logs (`"IDR"`, `"SPS"`, …), or `"other"`.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "non-IDR slice",
            2..=4 => "slice partition",
            5 => "IDR",
            6 => "SEI",
            7 => "SPS",
            8 => "PPS",
            9 => "AUD",
            10 => "end of sequence",
            11 => "end of stream",
            12 => "filler",
            13 => "SPS extension",
            14 => "prefix",
            15 => "subset SPS",
            24 => "STAP-A",
            28 => "FU-A",
            _ => "other",
        }
    }
}

/// The one-byte H.264 NAL unit header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NalHeader {
    /// `forbidden_zero_bit`; a conforming stream has it clear.
    pub forbidden_zero_bit: bool,
    /// `nal_ref_idc` (0–3): non-zero if the unit is used for reference.
    pub nal_ref_idc: u8,
    /// `nal_unit_type`.
    pub nal_type: NalType,
}

impl NalHeader {
    /// Reads the header from the first byte of a NAL unit; `None` for an empty slice.
    pub fn parse(nal: &[u8]) -> Option<NalHeader> {
        let &byte = nal.first()?;
        Some(NalHeader {
            forbidden_zero_bit: byte & 0x80 != 0,
            nal_ref_idc: (byte >> 5) & 3,
            nal_type: NalType(byte & 0x1f),
        })
    }
}

/// The NAL unit type of `nal` (`None` for an empty slice).
pub fn nal_type(nal: &[u8]) -> Option<NalType> {
    NalHeader::parse(nal).map(|h| h.nal_type)
}

/// Whether an Annex B access unit contains an IDR slice.
pub fn contains_idr(annexb: &[u8]) -> bool {
    annexb::nal_units(annexb).any(|nal| nal_type(nal) == Some(NalType::IDR))
}

/// Frame cropping offsets as coded (`frame_crop_*_offset`), in crop units, not pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameCropping {
    /// `frame_crop_left_offset`.
    pub left: u32,
    /// `frame_crop_right_offset`.
    pub right: u32,
    /// `frame_crop_top_offset`.
    pub top: u32,
    /// `frame_crop_bottom_offset`.
    pub bottom: u32,
}

/// VUI timing information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `num_units_in_tick`.
    pub num_units_in_tick: u32,
    /// `time_scale`, in ticks per second.
    pub time_scale: u32,
    /// `fixed_frame_rate_flag`.
    pub fixed_frame_rate: bool,
}

/// VUI `bitstream_restriction` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitstreamRestriction {
    /// `max_num_reorder_frames`: how many frames may precede another in decoding order and
    /// follow it in output order. 0 means no reordering, hence no B-frames that reorder.
    pub max_num_reorder_frames: u32,
    /// `max_dec_frame_buffering`, in frames.
    pub max_dec_frame_buffering: u32,
}

/// The parts of the video usability information (Annex E) Watchpost uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vui {
    /// Sample aspect ratio `(width, height)` when signalled (from `aspect_ratio_idc` or the
    /// explicit `sar_width`/`sar_height`); `None` when absent or unspecified.
    pub sample_aspect_ratio: Option<(u16, u16)>,
    /// `video_full_range_flag` when `video_signal_type_present_flag` is set.
    pub full_range: Option<bool>,
    /// `(colour_primaries, transfer_characteristics, matrix_coefficients)` when present.
    pub colour_description: Option<(u8, u8, u8)>,
    /// Timing information when present.
    pub timing: Option<Timing>,
    /// `bitstream_restriction` when present.
    pub bitstream_restriction: Option<BitstreamRestriction>,
}

/// A parsed H.264 sequence parameter set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    /// `profile_idc`: 66 Baseline, 77 Main, 88 Extended, 100 High, 110 High 10, 122 High
    /// 4:2:2, 244 High 4:4:4 Predictive, …
    pub profile_idc: u8,
    /// The byte after `profile_idc`: `constraint_set0_flag` in the most significant bit
    /// through `constraint_set5_flag`, then two reserved zero bits.
    pub constraint_flags: u8,
    /// `level_idc`: ten times the level number (31 = level 3.1; 9 = level 1b).
    pub level_idc: u8,
    /// `seq_parameter_set_id` (0–31).
    pub seq_parameter_set_id: u32,
    /// `chroma_format_idc`: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u8,
    /// `separate_colour_plane_flag` (4:4:4 only).
    pub separate_colour_plane: bool,
    /// Luma bit depth (8–14).
    pub bit_depth_luma: u8,
    /// Chroma bit depth (8–14).
    pub bit_depth_chroma: u8,
    /// `log2_max_frame_num_minus4 + 4`.
    pub log2_max_frame_num: u8,
    /// `pic_order_cnt_type` (0–2). Type 2 means output order equals decoding order.
    pub pic_order_cnt_type: u8,
    /// `max_num_ref_frames`.
    pub max_num_ref_frames: u32,
    /// `frame_mbs_only_flag`: `false` when the stream may contain field pictures
    /// (interlaced video).
    pub frame_mbs_only: bool,
    /// Frame cropping as coded, when `frame_cropping_flag` is set.
    pub cropping: Option<FrameCropping>,
    /// Coded width in pixels, before cropping (a multiple of 16).
    pub coded_width: u32,
    /// Coded height in pixels, before cropping (a multiple of 16).
    pub coded_height: u32,
    /// Displayed width in pixels, after cropping.
    pub width: u32,
    /// Displayed height in pixels, after cropping.
    pub height: u32,
    /// The VUI, when `vui_parameters_present_flag` is set and the VUI parsed.
    pub vui: Option<Vui>,
    /// Why the VUI did not parse, when it was present but malformed or truncated. The rest
    /// of the SPS is still valid (decoders tolerate a damaged VUI too).
    pub vui_error: Option<CodecError>,
}

/// `profile_idc` values whose SPS carries `chroma_format_idc`, bit depths and scaling
/// matrices (§ 7.3.2.1.1).
fn has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

fn skip_scaling_list(
    r: &mut BitReader<'_>,
    size: usize,
    field: &'static str,
) -> Result<(), CodecError> {
    let mut last_scale: i32 = 8;
    let mut next_scale: i32 = 8;
    for _ in 0..size {
        if next_scale != 0 {
            let delta = r.se(field)?;
            if !(-128..=127).contains(&delta) {
                return Err(r.out_of_range(field, u64::from(delta.unsigned_abs())));
            }
            next_scale = (last_scale + delta + 256) % 256;
        }
        if next_scale != 0 {
            last_scale = next_scale;
        }
    }
    Ok(())
}

fn skip_hrd_parameters(r: &mut BitReader<'_>) -> Result<(), CodecError> {
    let cpb_cnt_minus1 = r.ue_max(31, "cpb_cnt_minus1")?;
    r.skip(8, "bit_rate_scale")?; // bit_rate_scale u(4), cpb_size_scale u(4)
    for _ in 0..=cpb_cnt_minus1 {
        r.ue("bit_rate_value_minus1")?;
        r.ue("cpb_size_value_minus1")?;
        r.flag("cbr_flag")?;
    }
    // initial_cpb_removal_delay_length_minus1, cpb_removal_delay_length_minus1,
    // dpb_output_delay_length_minus1, time_offset_length: u(5) each.
    r.skip(20, "time_offset_length")
}

/// Sample aspect ratios of Table E-1, indexed by `aspect_ratio_idc` 1–16.
const SAR_TABLE: [(u16, u16); 16] = [
    (1, 1),
    (12, 11),
    (10, 11),
    (16, 11),
    (40, 33),
    (24, 11),
    (20, 11),
    (32, 11),
    (80, 33),
    (18, 11),
    (15, 11),
    (64, 33),
    (160, 99),
    (4, 3),
    (3, 2),
    (2, 1),
];

fn parse_vui(r: &mut BitReader<'_>) -> Result<Vui, CodecError> {
    let mut vui = Vui::default();
    if r.flag("aspect_ratio_info_present_flag")? {
        let idc = r.u8(8, "aspect_ratio_idc")?;
        vui.sample_aspect_ratio = match idc {
            255 => {
                let w = r.bits(16, "sar_width")? as u16;
                let h = r.bits(16, "sar_height")? as u16;
                (w != 0 && h != 0).then_some((w, h))
            }
            1..=16 => Some(SAR_TABLE[usize::from(idc - 1)]),
            _ => None,
        };
    }
    if r.flag("overscan_info_present_flag")? {
        r.flag("overscan_appropriate_flag")?;
    }
    if r.flag("video_signal_type_present_flag")? {
        r.skip(3, "video_format")?;
        vui.full_range = Some(r.flag("video_full_range_flag")?);
        if r.flag("colour_description_present_flag")? {
            vui.colour_description = Some((
                r.u8(8, "colour_primaries")?,
                r.u8(8, "transfer_characteristics")?,
                r.u8(8, "matrix_coefficients")?,
            ));
        }
    }
    if r.flag("chroma_loc_info_present_flag")? {
        r.ue("chroma_sample_loc_type_top_field")?;
        r.ue("chroma_sample_loc_type_bottom_field")?;
    }
    if r.flag("timing_info_present_flag")? {
        vui.timing = Some(Timing {
            num_units_in_tick: r.bits(32, "num_units_in_tick")?,
            time_scale: r.bits(32, "time_scale")?,
            fixed_frame_rate: r.flag("fixed_frame_rate_flag")?,
        });
    }
    let nal_hrd = r.flag("nal_hrd_parameters_present_flag")?;
    if nal_hrd {
        skip_hrd_parameters(r)?;
    }
    let vcl_hrd = r.flag("vcl_hrd_parameters_present_flag")?;
    if vcl_hrd {
        skip_hrd_parameters(r)?;
    }
    if nal_hrd || vcl_hrd {
        r.flag("low_delay_hrd_flag")?;
    }
    r.flag("pic_struct_present_flag")?;
    if r.flag("bitstream_restriction_flag")? {
        r.flag("motion_vectors_over_pic_boundaries_flag")?;
        r.ue("max_bytes_per_pic_denom")?;
        r.ue("max_bits_per_mb_denom")?;
        r.ue("log2_max_mv_length_horizontal")?;
        r.ue("log2_max_mv_length_vertical")?;
        vui.bitstream_restriction = Some(BitstreamRestriction {
            max_num_reorder_frames: r.ue("max_num_reorder_frames")?,
            max_dec_frame_buffering: r.ue("max_dec_frame_buffering")?,
        });
    }
    Ok(vui)
}

impl Sps {
    /// Parses an SPS NAL unit: the header byte (type 7) followed by the EBSP, without start
    /// code. Trailing bytes after the parsed fields are ignored.
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
        let rbsp = rbsp_from_ebsp(&nal[1..]);
        Sps::parse_rbsp(&rbsp)
    }

    /// Parses the RBSP of an SPS (after the header byte, emulation prevention removed).
    pub fn parse_rbsp(rbsp: &[u8]) -> Result<Sps, CodecError> {
        let mut r = BitReader::new(rbsp, SPS);
        let profile_idc = r.u8(8, "profile_idc")?;
        let constraint_flags = r.u8(8, "constraint_set_flags")?;
        let level_idc = r.u8(8, "level_idc")?;
        let seq_parameter_set_id = r.ue_max(31, "seq_parameter_set_id")?;

        let mut chroma_format_idc = 1;
        let mut separate_colour_plane = false;
        let mut bit_depth_luma = 8;
        let mut bit_depth_chroma = 8;
        if has_chroma_info(profile_idc) {
            chroma_format_idc = r.ue_max(3, "chroma_format_idc")? as u8;
            if chroma_format_idc == 3 {
                separate_colour_plane = r.flag("separate_colour_plane_flag")?;
            }
            bit_depth_luma = 8 + r.ue_max(6, "bit_depth_luma_minus8")? as u8;
            bit_depth_chroma = 8 + r.ue_max(6, "bit_depth_chroma_minus8")? as u8;
            r.flag("qpprime_y_zero_transform_bypass_flag")?;
            if r.flag("seq_scaling_matrix_present_flag")? {
                let lists = if chroma_format_idc == 3 { 12 } else { 8 };
                for i in 0..lists {
                    if r.flag("seq_scaling_list_present_flag")? {
                        let size = if i < 6 { 16 } else { 64 };
                        skip_scaling_list(&mut r, size, "delta_scale")?;
                    }
                }
            }
        }

        let log2_max_frame_num = 4 + r.ue_max(12, "log2_max_frame_num_minus4")? as u8;
        let pic_order_cnt_type = r.ue_max(2, "pic_order_cnt_type")? as u8;
        match pic_order_cnt_type {
            0 => {
                r.ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")?;
            }
            1 => {
                r.flag("delta_pic_order_always_zero_flag")?;
                r.se("offset_for_non_ref_pic")?;
                r.se("offset_for_top_to_bottom_field")?;
                let cycle = r.ue_max(255, "num_ref_frames_in_pic_order_cnt_cycle")?;
                for _ in 0..cycle {
                    r.se("offset_for_ref_frame")?;
                }
            }
            _ => {}
        }
        let max_num_ref_frames = r.ue("max_num_ref_frames")?;
        r.flag("gaps_in_frame_num_value_allowed_flag")?;
        let width_mbs = r.ue_max(MAX_MBS - 1, "pic_width_in_mbs_minus1")? + 1;
        let height_map_units = r.ue_max(MAX_MBS - 1, "pic_height_in_map_units_minus1")? + 1;
        let frame_mbs_only = r.flag("frame_mbs_only_flag")?;
        if !frame_mbs_only {
            r.flag("mb_adaptive_frame_field_flag")?;
        }
        r.flag("direct_8x8_inference_flag")?;
        let cropping = if r.flag("frame_cropping_flag")? {
            Some(FrameCropping {
                left: r.ue("frame_crop_left_offset")?,
                right: r.ue("frame_crop_right_offset")?,
                top: r.ue("frame_crop_top_offset")?,
                bottom: r.ue("frame_crop_bottom_offset")?,
            })
        } else {
            None
        };

        // Sizes (§ 7.4.2.1.1): at most 4096 × 16 × 2 = 131072, no overflow in u32.
        let frame_height_factor = if frame_mbs_only { 1 } else { 2 };
        let coded_width = width_mbs * 16;
        let coded_height = frame_height_factor * height_map_units * 16;
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (crop_unit_x, crop_unit_y) = match chroma_array_type {
            0 => (1, frame_height_factor),
            1 => (2, 2 * frame_height_factor),
            2 => (2, frame_height_factor),
            _ => (1, frame_height_factor),
        };
        let (width, height) = match cropping {
            None => (coded_width, coded_height),
            Some(c) => {
                let crop = |a: u32, b: u32, unit: u32, size: u32, field| {
                    let total = (u64::from(a) + u64::from(b)) * u64::from(unit);
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
                (
                    crop(
                        c.left,
                        c.right,
                        crop_unit_x,
                        coded_width,
                        "frame_crop_right_offset",
                    )?,
                    crop(
                        c.top,
                        c.bottom,
                        crop_unit_y,
                        coded_height,
                        "frame_crop_bottom_offset",
                    )?,
                )
            }
        };

        let (vui, vui_error) = if r.flag("vui_parameters_present_flag")? {
            match parse_vui(&mut r) {
                Ok(vui) => (Some(vui), None),
                Err(e) => (None, Some(e)),
            }
        } else {
            (None, None)
        };

        Ok(Sps {
            profile_idc,
            constraint_flags,
            level_idc,
            seq_parameter_set_id,
            chroma_format_idc,
            separate_colour_plane,
            bit_depth_luma,
            bit_depth_chroma,
            log2_max_frame_num,
            pic_order_cnt_type,
            max_num_ref_frames,
            frame_mbs_only,
            cropping,
            coded_width,
            coded_height,
            width,
            height,
            vui,
            vui_error,
        })
    }

    /// `constraint_set{n}_flag` for `n` in 0..=5 (`false` for larger `n`).
    pub fn constraint_set(&self, n: u8) -> bool {
        n <= 5 && self.constraint_flags & (0x80 >> n) != 0
    }

    /// Profile name as ffprobe prints it: `"Constrained Baseline"`, `"Main"`, `"High"`, …,
    /// or `"unknown"`.
    pub fn profile_name(&self) -> &'static str {
        match self.profile_idc {
            66 if self.constraint_set(1) => "Constrained Baseline",
            66 => "Baseline",
            77 => "Main",
            88 => "Extended",
            100 => "High",
            110 => "High 10",
            122 => "High 4:2:2",
            244 => "High 4:4:4 Predictive",
            44 => "CAVLC 4:4:4",
            _ => "unknown",
        }
    }

    /// `max_num_reorder_frames` from the VUI, when signalled.
    pub fn max_num_reorder_frames(&self) -> Option<u32> {
        self.vui
            .and_then(|v| v.bitstream_restriction)
            .map(|b| b.max_num_reorder_frames)
    }

    /// Whether the stream may contain B-frames that are displayed in another order than
    /// they are sent — the kind browsers' WebRTC H.264 decoders reject.
    ///
    /// `false` (certainly none) when:
    /// - the profile is Baseline or Constrained Baseline (`profile_idc` 66), or Main or
    ///   Extended with `constraint_set0_flag` (the stream obeys Baseline's constraints);
    /// - the VUI says `max_num_reorder_frames` is 0;
    /// - `pic_order_cnt_type` is 2 (output order is decoding order by definition).
    ///
    /// `true` (possible, not certain) otherwise.
    pub fn may_have_b_frames(&self) -> bool {
        if self.profile_idc == 66 || (matches!(self.profile_idc, 77 | 88) && self.constraint_set(0))
        {
            return false;
        }
        if self.max_num_reorder_frames() == Some(0) {
            return false;
        }
        self.pic_order_cnt_type != 2
    }

    /// Frames per second from the VUI timing information
    /// (`time_scale / (2 × num_units_in_tick)`), when signalled and non-zero.
    pub fn frame_rate(&self) -> Option<f64> {
        let timing = self.vui?.timing?;
        if timing.num_units_in_tick == 0 || timing.time_scale == 0 {
            return None;
        }
        Some(f64::from(timing.time_scale) / (2.0 * f64::from(timing.num_units_in_tick)))
    }

    /// The RFC 6381 codec string `avc1.PPCCLL` (profile, constraint byte, level in
    /// lower-case hex), as used in SDP, MP4 and browsers' `codecs=` parameters.
    pub fn rfc6381(&self) -> String {
        format!(
            "avc1.{:02x}{:02x}{:02x}",
            self.profile_idc, self.constraint_flags, self.level_idc
        )
    }
}

/// Slice types (`slice_type` modulo 5, Table 7-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SliceType {
    /// Predicted from earlier pictures.
    P,
    /// Bi-predicted: may reference pictures displayed later.
    B,
    /// Intra only.
    I,
    /// Switching P (Extended profile).
    Sp,
    /// Switching I (Extended profile).
    Si,
}

impl SliceType {
    /// Short name for logs: `"P"`, `"B"`, `"I"`, `"SP"`, `"SI"`.
    pub fn name(self) -> &'static str {
        match self {
            SliceType::P => "P",
            SliceType::B => "B",
            SliceType::I => "I",
            SliceType::Sp => "SP",
            SliceType::Si => "SI",
        }
    }
}

/// Bytes of a coded slice NAL unit (header byte included) that [`slice_type`] reads at most.
///
/// `first_mb_in_slice` and `slice_type` are two `ue(v)` codes: at most 63 bits for the
/// first (a longer code is out of range for [`BitReader::ue`]) and 7 for the second (at most
/// 9), 9 bytes of RBSP. Emulation prevention adds at most one byte per two, so the 15 bytes
/// after the header byte always hold both fields of a header this parser accepts.
const SLICE_HEAD_BYTES: usize = 16;

/// The slice type of one coded slice NAL unit (types 1 and 5; header byte first, no start
/// code), read from the first two fields of its slice header (§ 7.3.3): `first_mb_in_slice`
/// and `slice_type`, which must be at most 9.
///
/// Reads at most the first 16 bytes of `nal` and removes emulation prevention bytes from
/// those only, so the cost does not depend on the size of the slice. Never panics.
///
/// Errors: [`CodecError::WrongNalType`] for any other NAL unit type (slice data partitions,
/// types 2–4, are not coded slices in this sense: Baseline, Main and High streams never
/// contain them), [`CodecError::Truncated`] when `nal` ends inside a field,
/// [`CodecError::OutOfRange`] for a `slice_type` above 9 or an absurd `first_mb_in_slice`.
///
/// For an Annex B access unit (a [`Frame::data`](crate::Frame::data)) use
/// [`first_slice_type`] or [`slice_types`].
pub fn slice_type(nal: &[u8]) -> Result<SliceType, CodecError> {
    let header = NalHeader::parse(nal).ok_or(CodecError::Truncated {
        what: SLICE,
        field: "nal_unit_header",
    })?;
    if !matches!(header.nal_type, NalType::SLICE | NalType::IDR) {
        return Err(CodecError::WrongNalType {
            what: SLICE,
            found: header.nal_type.0,
        });
    }
    // The two fields needed fit in the first few bytes; avoid copying a whole slice.
    let head = &nal[1..nal.len().min(SLICE_HEAD_BYTES)];
    let rbsp = rbsp_from_ebsp(head);
    let mut r = BitReader::new(&rbsp, SLICE);
    r.ue("first_mb_in_slice")?;
    Ok(match r.ue_max(9, "slice_type")? % 5 {
        0 => SliceType::P,
        1 => SliceType::B,
        2 => SliceType::I,
        3 => SliceType::Sp,
        _ => SliceType::Si,
    })
}

/// Iterator over the slice types of the coded slices of an Annex B access unit; see
/// [`slice_types`].
#[derive(Debug, Clone)]
pub struct SliceTypes<'a> {
    nals: annexb::NalUnits<'a>,
}

impl Iterator for SliceTypes<'_> {
    type Item = Result<SliceType, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.nals
            .by_ref()
            .find(|nal| matches!(nal_type(nal), Some(NalType::SLICE | NalType::IDR)))
            .map(slice_type)
    }
}

/// The slice type of every coded slice NAL unit (types 1 and 5) of an Annex B access unit,
/// in stream order; other NAL units (parameter sets, SEI, delimiters) are skipped. Each
/// item is [`slice_type`]'s result for that NAL unit, so an unreadable slice header is an
/// `Err` item and iteration goes on.
///
/// This walks the whole access unit to find the NAL unit boundaries; to classify a picture
/// per frame on the media path use [`first_slice_type`], which stops at the first slice.
pub fn slice_types(access_unit: &[u8]) -> SliceTypes<'_> {
    SliceTypes {
        nals: annexb::nal_units(access_unit),
    }
}

/// The slice type of the first coded slice NAL unit (type 1 or 5) of an Annex B access unit
/// (a [`Frame::data`](crate::Frame::data)): the kind of picture the access unit holds.
///
/// `None` when the access unit has no coded slice (or no start code at all: a bare NAL
/// unit is not an access unit, use [`slice_type`] for one) or when that slice's header does
/// not parse.
///
/// Cheap enough for every frame of every path: it reads the NAL unit headers up to the
/// first slice (the parameter sets, SEI and delimiters in front of it) and at most 16
/// bytes of that slice; it never looks at the slice data and does not allocate unless the
/// first bytes contain an emulation prevention byte. Gives the same answer as the first
/// item of [`slice_types`] (the fuzz target checks this).
///
/// The standard allows slices of different types in one picture, so strictly only
/// [`slice_types`] sees every B slice; encoders (x264, FFmpeg, the hardware encoders of IP
/// cameras) give all slices of a picture one type, and this function trusts that.
pub fn first_slice_type(access_unit: &[u8]) -> Option<SliceType> {
    let mut start = annexb::find_start_code(access_unit, 0)? + 3;
    loop {
        let header = *access_unit.get(start)?;
        if matches!(NalType(header & 0x1f), NalType::SLICE | NalType::IDR) {
            let head = slice_head(access_unit, start);
            return slice_type(&access_unit[start..head]).ok();
        }
        start = annexb::find_start_code(access_unit, start)? + 3;
    }
}

/// The end of the first [`SLICE_HEAD_BYTES`] bytes of the NAL unit at `start` in an Annex B
/// buffer, or of the whole unit if it is shorter, by the rules of [`annexb`]: the unit ends
/// at the next start code, and zero bytes before that start code (or before the end of
/// the buffer) belong to no unit. Looks at the first bytes only, plus — when they end in
/// zero bytes — the rest of that run of zeros, to tell whether they end the unit.
fn slice_head(data: &[u8], start: usize) -> usize {
    let limit = data.len().min(start + SLICE_HEAD_BYTES);
    // A start code beginning before `limit` lies wholly within two bytes after it.
    let window = &data[..data.len().min(limit + 2)];
    let mut end = annexb::find_start_code(window, start).unwrap_or(limit);
    // The zero bytes the head ends with, from `zeros` to `end`.
    let mut zeros = end;
    while zeros > start && data[zeros - 1] == 0 {
        zeros -= 1;
    }
    if zeros < end {
        let ends_unit = if end < limit {
            true // a start code follows
        } else {
            // The run of zeros continues past the head: it ends the unit if it reaches
            // the end of the buffer or (two zeros or more) a start code.
            let after = data[end..]
                .iter()
                .position(|&b| b != 0)
                .map_or(data.len(), |p| end + p);
            after == data.len() || (data[after] == 1 && after - zeros >= 2)
        };
        if ends_unit {
            end = zeros;
        }
    }
    end
}

/// Whether the Annex B access unit holds a B picture: its first coded slice is a B slice
/// ([`first_slice_type`]). Browsers' WebRTC H.264 decoders show such pictures out of order
/// (WebRTC does not reorder), so a stream for which this is ever `true` needs a camera
/// encoder profile without B-frames. As cheap as [`first_slice_type`].
pub fn is_b_picture(access_unit: &[u8]) -> bool {
    first_slice_type(access_unit) == Some(SliceType::B)
}

/// Real encoder output, for the tests of this module and of the hub.
#[cfg(test)]
pub(crate) mod test_streams {
    /// Real x264 output with B-frames, made with FFmpeg 5.1 (libx264 core 164):
    ///
    /// ```sh
    /// ffmpeg -f lavfi -i testsrc=size=32x32:rate=10 -frames:v 4 -pix_fmt yuv420p \
    ///   -c:v libx264 -bf 2 -g 10 -crf 45 -x264-params b-adapt=0:b-pyramid=none \
    ///   -bsf:v filter_units=remove_types=6 -f h264 b-frames.h264
    /// ```
    ///
    /// (the bitstream filter drops x264's 680-byte version SEI). High profile, 32×32, one
    /// slice per picture, in decoding order: IDR (I), P, B, B — ffprobe shows them as
    /// I B B P in display order and says has_b_frames=1. One access unit per constant.
    pub(crate) const B_STREAM_IDR: &str = "000000016764000aacd1096c0440000003004000000503c4894480\
        0000000168ebe04d2c8b00000165888400af78f0882718eaa213e4cd8cd64177ace416957e37e15a88ff\
        d5e7e2d6a0ee7fff7dd7e7669aba7853cddb14a4bc15f0f0eecf1d7e4c40fbf6db78d85dd67aab193ffd\
        2ffc89682eaf3d4b8e10d4e9b5fe0a0e3d7ada7b6e4ad399143ff83cdc20fd2e0ca7f3218700366275ed\
        17b840a7c6baf7d1eda238d9b6c0662fe1";
    pub(crate) const B_STREAM_P: &str = "00000001419a26d88cffcb80";
    pub(crate) const B_STREAM_B1: &str = "00000001019e42f233ffe481";
    pub(crate) const B_STREAM_B2: &str = "00000001019e44f233ffe480";

    /// Bytes from hex, ignoring whitespace.
    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_streams::{B_STREAM_B1, B_STREAM_B2, B_STREAM_IDR, B_STREAM_P, unhex};
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// watchpost-sim main stream, x264 (GStreamer 1.22 `x264enc`), 320×240 Main profile,
    /// taken from `fixtures/recordings/h264-pcma-320x240`. ffprobe: profile=Main,
    /// level=11, 320×240, yuv420p, has_b_frames=0; trace_headers:
    /// pic_order_cnt_type=2, max_num_reorder_frames=0, time_scale=20, num_units_in_tick=1.
    const MAIN_320X240: &str = "674d400bda0507ec05a830303528000003000800000300a478a155";
    /// watchpost-sim sub stream (x264, Constrained Baseline, level 1.0), copied out with
    /// `ffmpeg -rtsp_transport tcp -i rtsp://…/sub -c copy`: coded 160×128 with 8 rows
    /// cropped at the bottom (frame_crop_bottom_offset = 4). ffprobe: Constrained Baseline,
    /// level=10, 160×120.
    const SUB_160X120: &str = "6742c00ada0a11f97016a0c0c0d4a000000300200000030291e244d4";
    /// The same picture as a main stream (Main profile), from the SDP of
    /// `fixtures/recordings/h264-160x120` (the second half of `h264-param-change`).
    const MAIN_160X120: &str = "674d400ada0a11f97016a0c0c0d4a000000300200000030291e244d4";

    #[test]
    fn x264_main_profile_sps() {
        let sps = Sps::parse(&hex(MAIN_320X240)).unwrap();
        assert_eq!(sps.profile_idc, 77);
        assert_eq!(sps.profile_name(), "Main");
        assert_eq!(sps.constraint_flags, 0x40);
        assert!(sps.constraint_set(1) && !sps.constraint_set(0));
        assert_eq!(sps.level_idc, 11);
        assert_eq!(sps.chroma_format_idc, 1);
        assert_eq!((sps.bit_depth_luma, sps.bit_depth_chroma), (8, 8));
        assert_eq!((sps.width, sps.height), (320, 240));
        assert_eq!((sps.coded_width, sps.coded_height), (320, 240));
        assert!(sps.frame_mbs_only);
        assert_eq!(sps.pic_order_cnt_type, 2);
        assert_eq!(sps.max_num_ref_frames, 1);
        assert_eq!(sps.cropping, None);
        assert_eq!(sps.max_num_reorder_frames(), Some(0));
        assert_eq!(sps.vui_error, None);
        let vui = sps.vui.unwrap();
        assert_eq!(vui.sample_aspect_ratio, Some((1, 1)));
        assert_eq!(vui.full_range, Some(false));
        assert_eq!(vui.colour_description, Some((6, 6, 6)));
        assert_eq!(sps.frame_rate(), Some(10.0));
        assert!(!sps.may_have_b_frames());
        assert_eq!(sps.rfc6381(), "avc1.4d400b");
    }

    #[test]
    fn x264_constrained_baseline_with_cropping() {
        let sps = Sps::parse(&hex(SUB_160X120)).unwrap();
        assert_eq!(sps.profile_idc, 66);
        assert_eq!(sps.profile_name(), "Constrained Baseline");
        assert_eq!(sps.level_idc, 10);
        assert_eq!((sps.coded_width, sps.coded_height), (160, 128));
        assert_eq!((sps.width, sps.height), (160, 120));
        assert_eq!(
            sps.cropping,
            Some(FrameCropping {
                left: 0,
                right: 0,
                top: 0,
                bottom: 4
            })
        );
        assert!(!sps.may_have_b_frames());
        assert_eq!(sps.rfc6381(), "avc1.42c00a");

        let main = Sps::parse(&hex(MAIN_160X120)).unwrap();
        assert_eq!(main.profile_name(), "Main");
        assert_eq!((main.width, main.height), (160, 120));
        assert_eq!(main.max_num_reorder_frames(), Some(0));
        assert!(!main.may_have_b_frames());
        assert_eq!(main.rfc6381(), "avc1.4d400a");
    }

    /// Builds an SPS RBSP bit by bit (for edge cases no encoder at hand produces).
    #[derive(Default)]
    struct Writer {
        bits: Vec<bool>,
    }

    impl Writer {
        fn u(&mut self, n: u32, v: u64) -> &mut Self {
            for i in (0..n).rev() {
                self.bits.push((v >> i) & 1 == 1);
            }
            self
        }
        fn ue(&mut self, v: u64) -> &mut Self {
            let x = v + 1;
            let len = 64 - x.leading_zeros();
            self.u(len - 1, 0).u(len, x)
        }
        fn nal(&self, header: u8) -> Vec<u8> {
            let mut bytes = vec![header];
            let mut bits = self.bits.clone();
            bits.push(true); // rbsp_stop_one_bit
            while !bits.len().is_multiple_of(8) {
                bits.push(false);
            }
            let rbsp: Vec<u8> = bits
                .chunks(8)
                .map(|c| c.iter().fold(0u8, |acc, &b| (acc << 1) | u8::from(b)))
                .collect();
            // Insert emulation prevention bytes.
            let mut zeros = 0;
            for b in rbsp {
                if zeros >= 2 && b <= 3 {
                    bytes.push(3);
                    zeros = 0;
                }
                zeros = if b == 0 { zeros + 1 } else { 0 };
                bytes.push(b);
            }
            bytes
        }
    }

    /// A High-profile 1920×1080 interlaced-capable SPS with scaling lists and a VUI saying
    /// two reorder frames.
    fn high_profile(reorder: u64) -> Vec<u8> {
        let mut w = Writer::default();
        w.u(8, 100).u(8, 0).u(8, 40).ue(0); // profile, constraints, level 4.0, id
        w.ue(1).ue(0).ue(0).u(1, 0); // 4:2:0, 8-bit, 8-bit, no bypass
        w.u(1, 1); // seq_scaling_matrix_present_flag
        w.u(1, 1); // list 0 present: 16 deltas of 0 would be implicit; write one -8 then 0
        w.ue(16); // se(-8) → ue 16: next_scale = 0 → stop early
        w.u(7, 0); // lists 1..7 absent
        w.ue(0).ue(0).ue(0); // log2_max_frame_num 4, poc type 0, lsb 4
        w.ue(4).u(1, 0); // 4 ref frames, no gaps
        w.ue(119).ue(33); // 120 MBs wide, 34 map units high
        w.u(1, 0).u(1, 0).u(1, 1); // frame_mbs_only=0, mbaff=0, direct8x8=1
        w.u(1, 1).ue(0).ue(0).ue(0).ue(2); // crop bottom 2 → 2 × 4 = 8 rows
        w.u(1, 1); // vui present
        w.u(1, 0).u(1, 0).u(1, 0).u(1, 0); // no aspect, overscan, signal type, chroma loc
        w.u(1, 1).u(32, 1001).u(32, 60000).u(1, 1); // timing 29.97
        w.u(1, 1); // nal hrd
        w.ue(0).u(4, 0).u(4, 0).ue(1000).ue(2000).u(1, 0).u(20, 0);
        w.u(1, 0).u(1, 0).u(1, 0); // vcl hrd, low_delay, pic_struct
        w.u(1, 1)
            .u(1, 1)
            .ue(0)
            .ue(0)
            .ue(16)
            .ue(16)
            .ue(reorder)
            .ue(4);
        w.nal(0x67)
    }

    #[test]
    fn high_profile_interlaced_with_scaling_lists_and_hrd() {
        let sps = Sps::parse(&high_profile(2)).unwrap();
        assert_eq!(sps.profile_name(), "High");
        assert!(!sps.frame_mbs_only);
        assert_eq!((sps.coded_width, sps.coded_height), (1920, 1088));
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(sps.max_num_reorder_frames(), Some(2));
        assert!(sps.may_have_b_frames());
        let fps = sps.frame_rate().unwrap();
        assert!((fps - 29.97).abs() < 0.01, "{fps}");
        assert_eq!(sps.rfc6381(), "avc1.640028");

        let sps = Sps::parse(&high_profile(0)).unwrap();
        assert!(!sps.may_have_b_frames());
    }

    #[test]
    fn truncated_sps_is_an_error_at_every_length() {
        let full = hex(MAIN_320X240);
        for len in 0..full.len() {
            let result = Sps::parse(&full[..len]);
            // Cut inside the VUI: the SPS parses, with the VUI error recorded.
            if let Ok(sps) = &result {
                assert!(len >= 8, "parsed from only {len} bytes");
                assert!(sps.vui_error.is_some() || sps.vui.is_some());
                assert_eq!((sps.width, sps.height), (320, 240));
            }
        }
        assert!(matches!(
            Sps::parse(&full[..5]),
            Err(CodecError::Truncated { .. })
        ));
        let cut = Sps::parse(&full[..20]).unwrap();
        assert!(cut.vui.is_none());
        assert!(matches!(cut.vui_error, Some(CodecError::Truncated { .. })));
        // The error names the field.
        let err = Sps::parse(&full[..4]).unwrap_err().to_string();
        assert!(err.contains("H.264 SPS"), "{err}");
    }

    #[test]
    fn malformed_sps_inputs() {
        assert!(matches!(Sps::parse(&[]), Err(CodecError::Truncated { .. })));
        assert_eq!(
            Sps::parse(&[0x68, 0xee, 0x3c, 0x80]),
            Err(CodecError::WrongNalType {
                what: "H.264 SPS",
                found: 8
            })
        );
        // All zero bytes: ue(v) never terminates within the input.
        assert!(Sps::parse(&[0x67, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        let _ = Sps::parse(&[0x67; 64]); // whatever it means, it must not panic
        // A huge ue(v) for the width: 31 leading zeros.
        let mut w = Writer::default();
        w.u(8, 66).u(8, 0).u(8, 30).ue(0).ue(0).ue(2).ue(1).u(1, 0);
        w.ue((1 << 31) - 1);
        assert!(matches!(
            Sps::parse(&w.nal(0x67)),
            Err(CodecError::OutOfRange {
                field: "pic_width_in_mbs_minus1",
                ..
            })
        ));
        // Cropping larger than the picture.
        let mut w = Writer::default();
        w.u(8, 66).u(8, 0).u(8, 30).ue(0).ue(0).ue(2).ue(1).u(1, 0);
        w.ue(0).ue(0).u(1, 1).u(1, 1); // 16×16, frame_mbs_only, direct8x8
        w.u(1, 1).ue(4).ue(4).ue(0).ue(0).u(1, 0); // crop 16 px of 16
        assert!(matches!(
            Sps::parse(&w.nal(0x67)),
            Err(CodecError::OutOfRange { .. })
        ));
        // Huge cropping values do not overflow.
        let mut w = Writer::default();
        w.u(8, 66).u(8, 0).u(8, 30).ue(0).ue(0).ue(2).ue(1).u(1, 0);
        w.ue(0).ue(0).u(1, 1).u(1, 1);
        w.u(1, 1)
            .ue(u64::from(u32::MAX) - 1)
            .ue(u64::from(u32::MAX) - 1)
            .ue(0)
            .ue(0)
            .u(1, 0);
        assert!(Sps::parse(&w.nal(0x67)).is_err());
        // poc type 1 with a long cycle that runs out of input.
        let mut w = Writer::default();
        w.u(8, 77).u(8, 0).u(8, 30).ue(0).ue(0).ue(1).u(1, 0);
        w.ue(0).ue(0).ue(255);
        assert!(Sps::parse(&w.nal(0x67)).is_err());
    }

    #[test]
    fn b_frame_rules() {
        let base = Sps::parse(&hex(MAIN_320X240)).unwrap();
        // Main profile, POC type 0, no VUI: B-frames possible.
        let possible = Sps {
            pic_order_cnt_type: 0,
            vui: None,
            ..base.clone()
        };
        assert!(possible.may_have_b_frames());
        // Main with constraint_set0 (Baseline-compatible): none.
        let baseline_compatible = Sps {
            constraint_flags: 0x80,
            ..possible.clone()
        };
        assert!(!baseline_compatible.may_have_b_frames());
        // High with poc type 2: none.
        let high_poc2 = Sps {
            profile_idc: 100,
            pic_order_cnt_type: 2,
            vui: None,
            ..base
        };
        assert!(!high_poc2.may_have_b_frames());
    }

    #[test]
    fn nal_headers_and_slice_types() {
        let h = NalHeader::parse(&[0x65]).unwrap();
        assert_eq!(h.nal_type, NalType::IDR);
        assert_eq!(h.nal_ref_idc, 3);
        assert!(!h.forbidden_zero_bit);
        assert!(h.nal_type.is_vcl());
        assert_eq!(NalType::SPS.name(), "SPS");
        assert!(NalHeader::parse(&[]).is_none());
        // first_mb_in_slice = 0 ("1"), slice_type = 7 (I, "0001000") → 1000 1000 = 0x88.
        assert_eq!(slice_type(&[0x65, 0x88, 0x80]).unwrap(), SliceType::I);
        // slice_type = 1 (B, "010"), first_mb 0: 1010 0000.
        assert_eq!(slice_type(&[0x01, 0xA0]).unwrap(), SliceType::B);
        // slice_type = 0 (P, "1"): 11.
        assert_eq!(slice_type(&[0x41, 0xC0]).unwrap(), SliceType::P);
        assert!(slice_type(&[0x67, 0x88]).is_err());
        assert!(slice_type(&[0x65]).is_err());
        assert!(slice_type(&[]).is_err());
        let au = [0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x65, 0x88];
        assert!(contains_idr(&au));
        assert!(!contains_idr(&au[..9]));
    }

    /// The same source and settings with `:slices=2:aud=1` added to `-x264-params`: every
    /// picture is two slices (one macroblock row each, `first_mb_in_slice` 0 and 2) behind
    /// an access unit delimiter, as multi-slice camera encoders send them.
    const TWO_SLICES: [&str; 4] = [
        "0000000109100000000167640\
         00aacd1096c0440000003004000000503c48944800000000168ebe04d2c8b00000165888400af78f08827\
         18eaa213e4cd8cd64177ace416957e37e15a88ffd5e7e2d6a0ee7fff7dd7e7669aba7853cddb14a4bc15\
         f0f0eecf1d7e4c40fbf6db78d85dd67aab193ffd2ffc89682eaf3d4b8e10d4e9b825000001656221002b\
         ff7a40dd4ed7aa4ce3950173b39385c237fdfe411a7c0d9a8fda8f53cc96e4c39fe1df24daa8c8c92fdd\
         2935b85c9c1b41454d5572f1c58eb9c5905090fbf37ffc8f1a1bab81",
        "000000010930000001419a26d88cffe380000001416689b6233fed856103c0",
        "000000010950000001019e42f233fff181000001016790bc8cfff181",
        "000000010950000001019e44f233fff1800000010167913c8cfff180",
    ];

    /// `first_slice_type` must agree with the first item of `slice_types` (the reference).
    fn check_first_slice_type(au: &[u8]) -> Option<SliceType> {
        let fast = first_slice_type(au);
        let reference = slice_types(au).next().and_then(Result::ok);
        assert_eq!(fast, reference, "input {au:02x?}");
        assert_eq!(is_b_picture(au), fast == Some(SliceType::B));
        fast
    }

    #[test]
    fn x264_i_p_and_b_pictures() {
        let units: Vec<Vec<u8>> = [B_STREAM_IDR, B_STREAM_P, B_STREAM_B1, B_STREAM_B2]
            .iter()
            .map(|s| unhex(s))
            .collect();
        let types: Vec<Option<SliceType>> =
            units.iter().map(|au| check_first_slice_type(au)).collect();
        use SliceType::{B, I, P};
        assert_eq!(types, [Some(I), Some(P), Some(B), Some(B)]);
        let b: Vec<bool> = units.iter().map(|au| is_b_picture(au)).collect();
        assert_eq!(b, [false, false, true, true]);
        for au in &units {
            assert_eq!(slice_types(au).count(), 1, "one slice per picture");
        }
        // The SPS of a stream with B-frames says so too (High, POC type 0, reordering).
        let sps_nal = annexb::nal_units(&units[0]).next().unwrap();
        let sps = Sps::parse(sps_nal).unwrap();
        assert_eq!(sps.profile_name(), "High");
        assert_eq!((sps.width, sps.height), (32, 32));
        assert_eq!(sps.pic_order_cnt_type, 0);
        assert!(sps.may_have_b_frames());
        // The stream as one buffer: slices in decoding order.
        let whole: Vec<u8> = units.concat();
        let all: Vec<SliceType> = slice_types(&whole).map(Result::unwrap).collect();
        assert_eq!(all, [I, P, B, B]);
        assert_eq!(first_slice_type(&whole), Some(I));
        assert_eq!(B.name(), "B");
    }

    #[test]
    fn multi_slice_pictures_behind_delimiters() {
        use SliceType::{B, I, P};
        let expected = [I, P, B, B];
        for (text, want) in TWO_SLICES.iter().zip(expected) {
            let au = unhex(text);
            let all: Vec<SliceType> = slice_types(&au).map(Result::unwrap).collect();
            assert_eq!(all, [want, want], "both slices of the picture");
            assert_eq!(check_first_slice_type(&au), Some(want));
        }
    }

    #[test]
    fn truncated_and_cut_access_units_agree_with_the_reference() {
        let mut inputs: Vec<Vec<u8>> = [B_STREAM_IDR, B_STREAM_P, B_STREAM_B1]
            .iter()
            .chain(&TWO_SLICES)
            .map(|s| unhex(s))
            .collect();
        // A slice NAL unit with only its header before the next start code; trailing zero
        // bytes; three-byte start codes; empty NAL units; a slice right at the end.
        inputs.extend([
            vec![0, 0, 1, 0x01, 0, 0, 1, 0x65, 0x88, 0x80],
            vec![0, 0, 1, 0x01, 0x9e, 0, 0, 0, 0, 1, 0x65, 0x88],
            vec![0, 0, 1, 0x01, 0x88, 0, 0],
            vec![0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0x41, 0x9a],
            vec![0, 0, 1, 0x09, 0x10, 0, 0, 1, 0x41],
            vec![0xff, 0, 0, 1, 0x41, 0xC0],
        ]);
        for input in &inputs {
            for len in 0..=input.len() {
                check_first_slice_type(&input[..len]);
            }
        }
        // A header whose `slice_type` code needs two more bits (`001` at the end of 0x29:
        // first_mb_in_slice = 4, then slice_type 3 if two zero bits followed), then a run
        // of zero bytes longer than the head: before a start code (or the end) they belong
        // to no NAL unit, so the header is cut short; before other data they are payload.
        let mut cut = vec![0, 0, 1, 0x01, 0x29];
        cut.extend([0; 20]);
        assert_eq!(check_first_slice_type(&cut), None, "zeros at the end");
        cut.extend([0, 0, 1, 0x41, 0x9a]);
        assert_eq!(
            check_first_slice_type(&cut),
            None,
            "zeros before a start code"
        );
        let mut payload = vec![0, 0, 1, 0x01, 0x29];
        payload.extend([0; 20]);
        payload.push(0x05);
        assert_eq!(check_first_slice_type(&payload), Some(SliceType::Sp));
        let mut long_run = vec![0, 0, 1, 0x01, 0x29];
        long_run.extend([0; 15]);
        long_run.extend([0, 1, 0x41]); // 16 zeros, then `01`: a start code
        assert_eq!(check_first_slice_type(&long_run), None);
        assert_eq!(first_slice_type(&inputs[inputs.len() - 6]), None);
        assert_eq!(
            first_slice_type(&inputs[inputs.len() - 5]),
            Some(SliceType::B)
        );
        assert_eq!(
            first_slice_type(&inputs[inputs.len() - 4]),
            Some(SliceType::I),
            "zero bytes at the end"
        );
        assert_eq!(
            first_slice_type(&inputs[inputs.len() - 3]),
            Some(SliceType::P)
        );
        assert_eq!(
            first_slice_type(&inputs[inputs.len() - 1]),
            Some(SliceType::P)
        );
    }

    #[test]
    fn slice_header_with_emulation_prevention() {
        // first_mb_in_slice = 2^23 - 1 (23 leading zero bits: absurd for a picture, but
        // valid syntax) puts `00 00 01` and `00 00 00` into the RBSP, so the NAL unit
        // carries emulation prevention bytes inside the two fields.
        let mut w = Writer::default();
        w.ue((1 << 23) - 1).ue(6); // slice_type 6 = B (all slices of the picture)
        let nal = w.nal(0x01);
        assert!(nal.windows(3).any(|x| x == [0, 0, 3]), "{nal:02x?}");
        assert_eq!(slice_type(&nal).unwrap(), SliceType::B);
        let mut au = vec![0, 0, 0, 1];
        au.extend(&nal);
        au.extend([0x12; 40]); // slice data
        assert_eq!(check_first_slice_type(&au), Some(SliceType::B));
        // All slice types, and out-of-range ones.
        for (value, want) in [
            (0, SliceType::P),
            (1, SliceType::B),
            (2, SliceType::I),
            (3, SliceType::Sp),
            (4, SliceType::Si),
            (5, SliceType::P),
            (7, SliceType::I),
            (9, SliceType::Si),
        ] {
            let mut w = Writer::default();
            w.ue(99).ue(value);
            assert_eq!(slice_type(&w.nal(0x41)), Ok(want), "slice_type {value}");
        }
        let mut w = Writer::default();
        w.ue(0).ue(10);
        assert!(matches!(
            slice_type(&w.nal(0x41)),
            Err(CodecError::OutOfRange {
                field: "slice_type",
                ..
            })
        ));
    }

    #[test]
    fn garbage_is_no_slice_and_never_panics() {
        for input in [
            &[][..],
            &[0x41, 0x9a],                   // a bare NAL unit: not an access unit
            &[0, 0, 1],                      // a start code and nothing
            &[0, 0, 0, 0, 0, 0],             // zeros only
            &[0, 0, 1, 0x67, 0x64],          // parameter set only
            &[0, 0, 1, 0x41, 0, 0, 0, 0, 0], // zero header
            &[0, 0, 1, 0x62, 0xff],          // data partition (type 2): not read
        ] {
            assert_eq!(check_first_slice_type(input), None, "{input:02x?}");
            assert!(!is_b_picture(input));
        }
        let mut noise = 0x2545_f491_u32;
        let mut data = Vec::new();
        for _ in 0..4096 {
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            // Bias towards zero bytes so start codes occur.
            data.push(if noise.is_multiple_of(3) {
                0
            } else {
                (noise >> 8) as u8
            });
        }
        for window in data.chunks(37) {
            check_first_slice_type(window);
            let _ = slice_types(window).count();
        }
    }
}
