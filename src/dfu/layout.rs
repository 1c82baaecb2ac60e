//! DfuSe memory-layout strings: `@Internal Flash   /0x08000000/03*016Ka,01*016Kg,...`.
//!
//! Pure parsing and range arithmetic; no I/O. Grammar from dfu-util's `dfuse_mem.c`
//! (dfuse-protocol.md, 5): every region and every segment is kept, with its type letter.

use std::fmt;
use thiserror::Error;

/// What a segment allows, from its type letter `a`..`g` (`letter - 'a' + 1` is a bit field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Access {
    pub readable: bool,
    pub erasable: bool,
    pub writable: bool,
}

impl Access {
    /// Decodes a type letter; `None` outside `a`..=`g`.
    pub fn from_letter(letter: char) -> Option<Self> {
        if !('a'..='g').contains(&letter) {
            return None;
        }
        let bits = letter as u8 - b'a' + 1;
        Some(Self {
            readable: bits & 1 != 0,
            erasable: bits & 2 != 0,
            writable: bits & 4 != 0,
        })
    }

    pub fn letter(self) -> char {
        let bits =
            u8::from(self.readable) | u8::from(self.erasable) << 1 | u8::from(self.writable) << 2;
        (b'a' + bits - 1) as char
    }
}

/// A run of equal sectors: `count` sectors of `sector_size` bytes from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub start: u32,
    pub count: u32,
    pub sector_size: u32,
    pub access: Access,
}

impl Segment {
    /// One past the last byte, as u64 so a segment ending at 4 GiB is representable.
    pub fn end(&self) -> u64 {
        u64::from(self.start) + u64::from(self.count) * u64::from(self.sector_size)
    }

    pub fn contains(&self, address: u32) -> bool {
        address >= self.start && u64::from(address) < self.end()
    }
}

/// A sector: the unit a DfuSe ERASE clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sector {
    pub start: u32,
    pub size: u32,
    pub access: Access,
}

/// A contiguous region (`/0x<address>/<segments>`) made of segments laid end to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub start: u32,
    pub segments: Vec<Segment>,
}

/// A parsed memory-layout string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLayout {
    /// The name with trailing spaces removed (`"Internal Flash"`).
    pub name: String,
    pub regions: Vec<Region>,
}

/// Why a memory-layout string did not parse; `at` in [`crate::dfu::Error::BadLayout`] is the byte
/// offset where parsing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LayoutProblem {
    #[error("it does not start with '@'")]
    MissingAt,
    #[error("it has no region after the name")]
    NoRegion,
    #[error("a region address is not 0x followed by hexadecimal digits")]
    BadAddress,
    #[error("a region has no segments")]
    NoSegments,
    #[error("a segment is not <count>*<size><B|K|M><a-g>")]
    BadSegment,
    #[error("a segment's size multiplier is not B, K or M")]
    BadMultiplier,
    #[error("a segment's type letter is not a to g")]
    BadType,
    #[error("the regions reach past the 32-bit address space")]
    Overflow,
}

/// A parse failure with the place it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutError {
    pub problem: LayoutProblem,
    pub at: usize,
}

impl fmt::Display for MemoryLayout {
    /// Writes the layout back in canonical form (no padding, `B`/`K`/`M` chosen exactly).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.name)?;
        for region in &self.regions {
            write!(f, "/0x{:08X}/", region.start)?;
            for (i, s) in region.segments.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                let (size, mult) = if s.sector_size % (1024 * 1024) == 0 && s.sector_size > 0 {
                    (s.sector_size / (1024 * 1024), 'M')
                } else if s.sector_size % 1024 == 0 && s.sector_size > 0 {
                    (s.sector_size / 1024, 'K')
                } else {
                    (s.sector_size, 'B')
                };
                write!(f, "{}*{}{}{}", s.count, size, mult, s.access.letter())?;
            }
        }
        Ok(())
    }
}

impl MemoryLayout {
    /// Parses a DfuSe layout string.
    pub fn parse(text: &str) -> Result<Self, LayoutError> {
        Parser { text, pos: 0 }.layout()
    }

    /// Every segment of every region, in order.
    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.regions.iter().flat_map(|r| r.segments.iter())
    }

    /// The segment holding `address`, if any.
    pub fn segment_at(&self, address: u32) -> Option<&Segment> {
        self.segments().find(|s| s.contains(address))
    }

    /// The sector holding `address`, if any.
    pub fn sector_at(&self, address: u32) -> Option<Sector> {
        let s = self.segment_at(address)?;
        let index = (address - s.start) / s.sector_size;
        Some(Sector {
            start: s.start + index * s.sector_size,
            size: s.sector_size,
            access: s.access,
        })
    }

    /// The sectors overlapping `[address, address + len)` in address order, or the first address
    /// of the range that lies in no segment.
    pub fn sectors_in(&self, address: u32, len: u32) -> Result<Vec<Sector>, u32> {
        let end = u64::from(address) + u64::from(len);
        let mut sectors = Vec::new();
        let mut at = u64::from(address);
        while at < end {
            let here = u32::try_from(at).map_err(|_| u32::MAX)?;
            let sector = self.sector_at(here).ok_or(here)?;
            at = u64::from(sector.start) + u64::from(sector.size);
            sectors.push(sector);
        }
        Ok(sectors)
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn fail<T>(&self, problem: LayoutProblem) -> Result<T, LayoutError> {
        Err(LayoutError {
            problem,
            at: self.pos,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn layout(mut self) -> Result<MemoryLayout, LayoutError> {
        if self.peek() != Some(b'@') {
            return self.fail(LayoutProblem::MissingAt);
        }
        self.pos += 1;
        let name_end = self.text[self.pos..]
            .find('/')
            .map(|i| self.pos + i)
            .unwrap_or(self.text.len());
        let name = self.text[self.pos..name_end].trim_end().to_owned();
        self.pos = name_end;
        let mut regions: Vec<Region> = Vec::new();
        // Some devices end the string with '/' or padding, so a region starts only at "/0x".
        while self.peek() == Some(b'/') && !self.rest_is_blank_after_slash() {
            self.pos += 1;
            regions.push(self.region()?);
        }
        if !self.text[self.pos..]
            .trim()
            .trim_matches('/')
            .trim()
            .is_empty()
        {
            return self.fail(LayoutProblem::BadSegment);
        }
        if regions.is_empty() {
            return self.fail(LayoutProblem::NoRegion);
        }
        Ok(MemoryLayout { name, regions })
    }

    fn rest_is_blank_after_slash(&self) -> bool {
        self.text[self.pos + 1..].trim().is_empty()
    }

    fn region(&mut self) -> Result<Region, LayoutError> {
        let rest = &self.text[self.pos..];
        if !(rest.starts_with("0x") || rest.starts_with("0X")) {
            return self.fail(LayoutProblem::BadAddress);
        }
        self.pos += 2;
        let digits = self.take_while(|b| b.is_ascii_hexdigit());
        if digits.is_empty() || digits.len() > 8 {
            return self.fail(LayoutProblem::BadAddress);
        }
        let start =
            u32::from_str_radix(digits, 16).or_else(|_| self.fail(LayoutProblem::BadAddress))?;
        if self.peek() != Some(b'/') {
            return self.fail(LayoutProblem::BadAddress);
        }
        self.pos += 1;
        let mut segments = Vec::new();
        let mut at = u64::from(start);
        loop {
            if self.peek().is_none() || self.peek() == Some(b'/') {
                break;
            }
            let (count, size, access) = self.segment()?;
            let seg_start = u32::try_from(at).or_else(|_| self.fail(LayoutProblem::Overflow))?;
            at += u64::from(count) * u64::from(size);
            if at > 1 << 32 {
                return self.fail(LayoutProblem::Overflow);
            }
            segments.push(Segment {
                start: seg_start,
                count,
                sector_size: size,
                access,
            });
            match self.peek() {
                Some(b',') => self.pos += 1,
                _ => break,
            }
        }
        if segments.is_empty() {
            return self.fail(LayoutProblem::NoSegments);
        }
        Ok(Region { start, segments })
    }

    fn segment(&mut self) -> Result<(u32, u32, Access), LayoutError> {
        let count = self.decimal()?;
        if self.peek() != Some(b'*') {
            return self.fail(LayoutProblem::BadSegment);
        }
        self.pos += 1;
        let size = self.decimal()?;
        let multiplier: u64 = match self.peek() {
            Some(b'B') | Some(b' ') => 1,
            Some(b'K') => 1024,
            Some(b'M') => 1024 * 1024,
            _ => return self.fail(LayoutProblem::BadMultiplier),
        };
        self.pos += 1;
        let access = match self.peek().and_then(|b| Access::from_letter(b as char)) {
            Some(a) => a,
            None => return self.fail(LayoutProblem::BadType),
        };
        self.pos += 1;
        let bytes = u64::from(size) * multiplier;
        if count == 0 || bytes == 0 {
            return self.fail(LayoutProblem::BadSegment);
        }
        let size = u32::try_from(bytes).or_else(|_| self.fail(LayoutProblem::Overflow))?;
        Ok((count, size, access))
    }

    fn decimal(&mut self) -> Result<u32, LayoutError> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        // Leading zeros are allowed ("03*016K"); parse as u64 first so long zero runs still fit.
        let trimmed = digits.trim_start_matches('0');
        if digits.is_empty() || trimmed.len() > 10 {
            return self.fail(LayoutProblem::BadSegment);
        }
        let value: u64 = if trimmed.is_empty() {
            0
        } else {
            trimmed
                .parse()
                .or_else(|_| self.fail(LayoutProblem::BadSegment))?
        };
        u32::try_from(value).or_else(|_| self.fail(LayoutProblem::Overflow))
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHOTON_ALT0: &str = "@Internal Flash   /0x08000000/03*016Ka,01*016Kg,01*064Kg,07*128Kg";

    #[test]
    fn photon_internal_flash_has_every_segment_and_sector() {
        let l = MemoryLayout::parse(PHOTON_ALT0).unwrap();
        assert_eq!(l.name, "Internal Flash");
        assert_eq!(l.regions.len(), 1);
        let segs: Vec<_> = l
            .segments()
            .map(|s| (s.start, s.count, s.sector_size, s.access.letter()))
            .collect();
        assert_eq!(
            segs,
            [
                (0x0800_0000, 3, 16384, 'a'),
                (0x0800_C000, 1, 16384, 'g'),
                (0x0801_0000, 1, 65536, 'g'),
                (0x0802_0000, 7, 131072, 'g'),
            ]
        );
        assert_eq!(l.segments().last().unwrap().end(), 0x0810_0000);
        let s = l.sector_at(0x080A_1234).unwrap();
        assert_eq!((s.start, s.size), (0x080A_0000, 0x2_0000));
        assert!(l.sector_at(0x0810_0000).is_none());
        assert!(!l.sector_at(0x0800_4000).unwrap().access.writable);
    }

    #[test]
    fn several_regions_multipliers_and_letters() {
        let l =
            MemoryLayout::parse("@Mixed /0x00000000/2*512Bc,1*1Md/0x20000000/0004*001Ke ").unwrap();
        assert_eq!(l.name, "Mixed");
        assert_eq!(l.regions.len(), 2);
        assert_eq!(l.regions[0].segments[1].start, 1024);
        assert_eq!(l.regions[0].segments[1].sector_size, 1 << 20);
        assert_eq!(l.regions[1].segments[0].access.letter(), 'e');
        assert_eq!(l.sectors_in(0x1FF, 2).unwrap().len(), 2);
        assert_eq!(l.sectors_in(1024 + (1 << 20) - 1, 2), Err(1024 + (1 << 20)));
    }

    #[test]
    fn core_spi_flash_name_with_colon() {
        let l = MemoryLayout::parse("@ SPI Flash: SST25x  /0x00000000/512*004Kg").unwrap();
        assert_eq!(l.name, " SPI Flash: SST25x");
        assert_eq!(l.segments().next().unwrap().end(), 2 * 1024 * 1024);
    }

    #[test]
    fn letters_decode_as_bit_fields() {
        let expect = [
            ('a', (true, false, false)),
            ('b', (false, true, false)),
            ('c', (true, true, false)),
            ('d', (false, false, true)),
            ('e', (true, false, true)),
            ('f', (false, true, true)),
            ('g', (true, true, true)),
        ];
        for (letter, (r, e, w)) in expect {
            let a = Access::from_letter(letter).unwrap();
            assert_eq!((a.readable, a.erasable, a.writable), (r, e, w), "{letter}");
            assert_eq!(a.letter(), letter);
        }
        assert_eq!(Access::from_letter('h'), None);
    }

    #[test]
    fn malformed_strings_are_errors_with_a_place() {
        let check = |text: &str, problem: LayoutProblem| {
            assert_eq!(
                MemoryLayout::parse(text).unwrap_err().problem,
                problem,
                "{text:?}"
            );
        };
        check("Internal", LayoutProblem::MissingAt);
        check("@Name", LayoutProblem::NoRegion);
        check("@Name/08000000/1*1Ka", LayoutProblem::BadAddress);
        check("@Name/0x/1*1Ka", LayoutProblem::BadAddress);
        check("@Name/0x0/1*1Xa", LayoutProblem::BadMultiplier);
        check("@Name/0x0/1*1Kh", LayoutProblem::BadType);
        check("@Name/0x0/1+1Ka", LayoutProblem::BadSegment);
        check("@Name/0x0/", LayoutProblem::NoSegments);
        check("@Name/0xFFFFFFFF/2*1Ka", LayoutProblem::Overflow);
    }

    #[test]
    fn display_round_trips() {
        let l = MemoryLayout::parse(PHOTON_ALT0).unwrap();
        assert_eq!(
            l.to_string(),
            "@Internal Flash/0x08000000/3*16Ka,1*16Kg,1*64Kg,7*128Kg"
        );
        assert_eq!(MemoryLayout::parse(&l.to_string()).unwrap(), l);
    }
}
