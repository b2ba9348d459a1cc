//! Annex B byte streams (H.264 Annex B, H.265 Annex B): NAL units separated by start codes.
//!
//! A start code is `00 00 01`; a *four-byte* start code `00 00 00 01` is a zero byte
//! followed by a three-byte one. Zero bytes before a start code (`trailing_zero_8bits`, and
//! the first byte of a four-byte start code) belong to no NAL unit and are dropped. Bytes
//! before the first start code are not a NAL unit and are skipped, as are empty NAL units
//! (two start codes in a row).
//!
//! The iterators borrow: [`nal_units`] yields sub-slices, [`nal_units_bytes`] yields
//! [`Bytes`] that share the input's buffer (no copy).

use std::ops::Range;

use bytes::Bytes;

/// Position of the next `00 00 01` at or after `from`.
pub(super) fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(window) = data.get(i..i + 3) {
        if window[2] > 1 {
            // Neither this position nor the next two can start `00 00 01`.
            i += 3;
        } else if window == [0, 0, 1] {
            return Some(i);
        } else {
            i += 1;
        }
    }
    None
}

/// Iterator over the byte ranges of the NAL units of an Annex B buffer (start codes and
/// trailing zero bytes excluded). See the [module documentation](self) for the rules.
#[derive(Debug, Clone)]
pub struct NalRanges<'a> {
    data: &'a [u8],
    /// Start of the next NAL unit's payload (just after a start code), or `None` when done.
    next: Option<usize>,
}

impl<'a> NalRanges<'a> {
    /// Ranges of the NAL units in `data`.
    pub fn new(data: &'a [u8]) -> Self {
        NalRanges {
            data,
            next: find_start_code(data, 0).map(|p| p + 3),
        }
    }
}

impl Iterator for NalRanges<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        loop {
            let start = self.next?;
            let (mut end, next) = match find_start_code(self.data, start) {
                Some(p) => (p, Some(p + 3)),
                None => (self.data.len(), None),
            };
            self.next = next;
            while end > start && self.data[end - 1] == 0 {
                end -= 1;
            }
            if end > start {
                return Some(start..end);
            }
        }
    }
}

/// Iterator over the NAL units of an Annex B buffer as sub-slices (see [`nal_units`]).
#[derive(Debug, Clone)]
pub struct NalUnits<'a> {
    ranges: NalRanges<'a>,
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let range = self.ranges.next()?;
        self.ranges.data.get(range)
    }
}

/// The NAL units of an Annex B buffer, each without start code (header byte(s) first).
pub fn nal_units(data: &[u8]) -> NalUnits<'_> {
    NalUnits {
        ranges: NalRanges::new(data),
    }
}

/// Iterator over the NAL units of an Annex B [`Bytes`] buffer (see [`nal_units_bytes`]).
#[derive(Debug, Clone)]
pub struct NalUnitsBytes<'a> {
    bytes: &'a Bytes,
    ranges: NalRanges<'a>,
}

impl Iterator for NalUnitsBytes<'_> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let range = self.ranges.next()?;
        // Ranges come from `NalRanges` over the same buffer and are always in bounds.
        Some(self.bytes.slice(range))
    }
}

/// The NAL units of an Annex B buffer as [`Bytes`] sharing `bytes`' allocation.
pub fn nal_units_bytes(bytes: &Bytes) -> NalUnitsBytes<'_> {
    NalUnitsBytes {
        bytes,
        ranges: NalRanges::new(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(data: &[u8]) -> Vec<&[u8]> {
        nal_units(data).collect()
    }

    #[test]
    fn three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, // SPS behind a 4-byte start code
            0, 0, 1, 0x68, 3, // PPS behind a 3-byte start code
            0, 0, 0, 1, 0x65, 4, 5, 0, 0, // IDR with trailing zero bytes
        ];
        assert_eq!(
            units(&data),
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5][..]]
        );
        let bytes = Bytes::copy_from_slice(&data);
        let shared: Vec<Bytes> = nal_units_bytes(&bytes).collect();
        assert_eq!(shared.len(), 3);
        assert_eq!(&shared[2][..], &[0x65, 4, 5]);
        // Zero copy: the slices point into the original buffer.
        assert_eq!(shared[0].as_ptr(), bytes[4..].as_ptr());
    }

    #[test]
    fn leading_garbage_empty_units_and_no_start_code() {
        assert!(units(&[]).is_empty());
        assert!(units(&[0, 0]).is_empty());
        assert!(units(&[0x65, 1, 2, 3]).is_empty());
        assert!(units(&[0, 0, 1]).is_empty());
        assert!(units(&[0, 0, 1, 0, 0, 1, 0, 0, 0, 1]).is_empty());
        assert_eq!(units(&[9, 9, 0, 0, 1, 0x41, 0, 0, 1]), vec![&[0x41][..]]);
        // `00 00 02` is not a start code; the payload keeps it.
        assert_eq!(units(&[0, 0, 1, 7, 0, 0, 2, 8]), vec![&[7, 0, 0, 2, 8][..]]);
        // A NAL unit made of zeros only is empty after trimming.
        assert!(units(&[0, 0, 1, 0, 0, 0, 0]).is_empty());
    }

    #[test]
    fn start_code_detection_near_skips() {
        // The skip-by-three fast path must not jump over a start code.
        let data = [0, 0, 1, 5, 7, 0, 0, 1, 6, 2, 0, 0, 0, 1, 9];
        assert_eq!(units(&data), vec![&[5, 7][..], &[6, 2][..], &[9][..]]);
        for shift in 0..8 {
            let mut data = vec![0xAA; shift];
            data.extend([0, 0, 1, 0x41, 0xBB]);
            assert_eq!(units(&data), vec![&[0x41, 0xBB][..]], "shift {shift}");
        }
    }
}
