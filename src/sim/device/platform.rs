//! The identities and memory maps of the simulated bootloaders: USB ids, strings, descriptors and
//! alternate settings, per platform.
//!
//! Photon facts are verbatim from dfuse-protocol.md, 9.1 and 9.2; P1 and Electron share the
//! Photon's code (9, introduction; 5). Gen 3 DCD and Core strings are from particle-dct.md, 3.
//! Anything else is marked as an assumption where it appears.

use crate::dfu::State;

/// A Particle device family, as its DFU bootloader presents itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Photon,
    P1,
    Electron,
    Argon,
    Boron,
    Core,
}

/// How one alternate setting's memory behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// MCU flash: erase a whole sector, program by ANDing 32-bit words, verify, and refuse erases
    /// and writes whose start address lies below `protected_below`.
    InternalFlash { protected_below: u32 },
    /// The Gen 2 DCT behind system-part2: logical offsets below 0x4000, read-modify-write of
    /// exactly the written bytes, erase is a no-op.
    Gen2Dct,
    /// The Gen 3 DCD file: read-modify-write, not erasable; a protected device refuses reads and
    /// writes.
    Gen3Dct,
    /// External NOR flash (Core SPI, P1 serial flash): erase a 4 KiB sector; a write ANDs old and
    /// new bits and is not verified.
    NorFlash,
}

/// One alternate setting: its layout string, base address, sectors and behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AltSpec {
    pub name: &'static str,
    pub base: u32,
    /// Sectors as (count, size in bytes), laid end to end from `base`.
    pub sectors: &'static [(u32, u32)],
    pub kind: MemoryKind,
}

impl AltSpec {
    pub fn size(&self) -> u32 {
        self.sectors.iter().map(|(n, s)| n * s).sum()
    }

    /// The (start, size) of the sector holding `address`.
    pub fn sector_at(&self, address: u32) -> Option<(u32, u32)> {
        let mut at = self.base;
        for &(count, size) in self.sectors {
            let end = at + count * size;
            if (at..end).contains(&address) {
                return Some((at + (address - at) / size * size, size));
            }
            at = end;
        }
        None
    }
}

const K: u32 = 1024;

const GEN2_INTERNAL: AltSpec = AltSpec {
    name: "@Internal Flash   /0x08000000/03*016Ka,01*016Kg,01*064Kg,07*128Kg",
    base: 0x0800_0000,
    sectors: &[(4, 16 * K), (1, 64 * K), (7, 128 * K)],
    kind: MemoryKind::InternalFlash {
        protected_below: 0x0802_0000,
    },
};

const GEN2_DCT: AltSpec = AltSpec {
    name: "@DCT Flash   /0x00000000/01*016Kg",
    base: 0,
    sectors: &[(1, 16 * K)],
    kind: MemoryKind::Gen2Dct,
};

const P1_SERIAL: AltSpec = AltSpec {
    name: "@Serial Flash   /0x00000000/256*004Kg",
    base: 0,
    sectors: &[(256, 4 * K)],
    kind: MemoryKind::NorFlash,
};

/// Assumed (not in the reference): nRF52840 1 MiB internal flash in 4 KiB pages with the MBR and
/// bootloader read-only. Only the DCD alternate below is documented.
const GEN3_INTERNAL: AltSpec = AltSpec {
    name: "@Internal Flash   /0x00000000/1*004Ka,47*004Kg,192*004Kg,4*004Kg,8*004Kg,4*004Ka",
    base: 0,
    sectors: &[(256, 4 * K)],
    kind: MemoryKind::InternalFlash {
        protected_below: 0x1000,
    },
};

const GEN3_DCD: AltSpec = AltSpec {
    name: "@DCD Flash   /0x00000000/1*016Ke",
    base: 0,
    sectors: &[(1, 16 * K)],
    kind: MemoryKind::Gen3Dct,
};

/// A Gen 3 device with device protection on: type `b`, neither readable nor writable.
pub(crate) const GEN3_DCD_PROTECTED: &str = "@DCD Flash   /0x00000000/1*016Kb";

const CORE_INTERNAL: AltSpec = AltSpec {
    name: "@Internal Flash   /0x08000000/20*001Ka,108*001Kg",
    base: 0x0800_0000,
    sectors: &[(128, K)],
    kind: MemoryKind::InternalFlash {
        protected_below: 0x0800_5000,
    },
};

const CORE_SPI: AltSpec = AltSpec {
    name: "@ SPI Flash: SST25x  /0x00000000/512*004Kg",
    base: 0,
    sectors: &[(512, 4 * K)],
    kind: MemoryKind::NorFlash,
};

impl Platform {
    pub const ALL: [Platform; 6] = [
        Platform::Photon,
        Platform::P1,
        Platform::Electron,
        Platform::Argon,
        Platform::Boron,
        Platform::Core,
    ];

    pub fn vendor_id(self) -> u16 {
        match self {
            Self::Core => 0x1d50,
            _ => 0x2b04,
        }
    }

    /// The product id in DFU mode (particle-dct.md, 1).
    pub fn dfu_product_id(self) -> u16 {
        match self {
            Self::Photon => 0xd006,
            Self::P1 => 0xd008,
            Self::Electron => 0xd00a,
            Self::Argon => 0xd00c,
            Self::Boron => 0xd00d,
            Self::Core => 0x607f,
        }
    }

    /// The product id in normal (runtime) mode.
    pub fn runtime_product_id(self) -> u16 {
        match self {
            Self::Photon => 0xc006,
            Self::P1 => 0xc008,
            Self::Electron => 0xc00a,
            Self::Argon => 0xc00c,
            Self::Boron => 0xc00d,
            Self::Core => 0x607d,
        }
    }

    /// String 2. Gen 3 and Core product strings are assumptions patterned on the Photon's.
    pub fn product_string(self) -> &'static str {
        match self {
            Self::Photon => "Photon DFU Mode",
            Self::P1 => "P1 DFU Mode",
            Self::Electron => "Electron DFU Mode",
            Self::Argon => "Argon DFU Mode",
            Self::Boron => "Boron DFU Mode",
            Self::Core => "Core DFU Mode",
        }
    }

    pub fn alternates(self) -> &'static [AltSpec] {
        const GEN2: &[AltSpec] = &[GEN2_INTERNAL, GEN2_DCT];
        const P1: &[AltSpec] = &[GEN2_INTERNAL, GEN2_DCT, P1_SERIAL];
        const GEN3: &[AltSpec] = &[GEN3_INTERNAL, GEN3_DCD];
        const CORE: &[AltSpec] = &[CORE_INTERNAL, CORE_SPI];
        match self {
            Self::Photon | Self::Electron => GEN2,
            Self::P1 => P1,
            Self::Argon | Self::Boron => GEN3,
            Self::Core => CORE,
        }
    }

    /// The device's XFERSIZE: `wTransferSize` and the DfuSe block stride. The Core's 1024 is an
    /// assumption (ST's full-speed library default); the others are 4096.
    pub fn transfer_size(self) -> u16 {
        match self {
            Self::Core => 1024,
            _ => 4096,
        }
    }

    /// What GETSTATUS reports right after a zero-length DNLOAD. Gen 2 reports dfuDNLOAD-IDLE "to
    /// please dfu-util" (9.6); the others are assumed to behave like ST's middleware (9.8).
    pub fn leave_report(self) -> State {
        match self {
            Self::Photon | Self::P1 | Self::Electron => State::DnloadIdle,
            _ => State::Manifest,
        }
    }

    /// The device descriptor (9.1), with this platform's ids.
    pub fn device_descriptor(self) -> [u8; 18] {
        let v = self.vendor_id().to_le_bytes();
        let p = self.dfu_product_id().to_le_bytes();
        [
            0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, v[0], v[1], p[0], p[1], 0x50, 0x02,
            0x01, 0x02, 0x03, 0x01,
        ]
    }

    /// The DFU functional descriptor: CanDnload, CanUpload, WillDetach; detach 255 ms; DfuSe.
    pub fn functional_descriptor(self) -> [u8; 9] {
        let t = self.transfer_size().to_le_bytes();
        [0x09, 0x21, 0x0B, 0xFF, 0x00, t[0], t[1], 0x1A, 0x01]
    }

    /// The configuration descriptor: one interface whose alternates name strings 6, 7, 8, then the
    /// functional descriptor after all alternates (9.1).
    pub fn configuration_descriptor(self) -> Vec<u8> {
        let alts = self.alternates().len() as u8;
        let total = 9 + 9 * u16::from(alts) + 9;
        let t = total.to_le_bytes();
        let mut d = vec![0x09, 0x02, t[0], t[1], 0x01, 0x01, 0x02, 0xC0, 0x32];
        for alt in 0..alts {
            d.extend_from_slice(&[0x09, 0x04, 0x00, alt, 0x00, 0xFE, 0x01, 0x02, 6 + alt]);
        }
        d.extend_from_slice(&self.functional_descriptor());
        d
    }
}

/// Encodes a string descriptor: `bLength, 3, UTF-16LE`.
pub fn string_descriptor(text: &str) -> Vec<u8> {
    let mut d = vec![0, 3];
    for unit in text.encode_utf16() {
        d.extend_from_slice(&unit.to_le_bytes());
    }
    d[0] = d.len().min(255) as u8;
    d.truncate(255);
    d
}

/// The Microsoft OS string descriptor at index 0xEE: `MSFT100`, vendor code 0xEE.
pub fn msft_os_string() -> Vec<u8> {
    let mut d = string_descriptor("MSFT100");
    d.extend_from_slice(&[0xEE, 0x00]);
    d[0] = d.len() as u8;
    d
}

/// The WCID Extended Compat ID descriptor asking Windows for WinUSB on interface 0.
pub fn wcid_compat_id() -> Vec<u8> {
    let mut d = vec![
        0x28, 0, 0, 0, 0x00, 0x01, 0x04, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0,
    ];
    d.extend_from_slice(&[0x00, 0x01]);
    d.extend_from_slice(b"WINUSB\0\0");
    d.extend_from_slice(&[0; 8]);
    d.extend_from_slice(&[0; 6]);
    d
}

/// The WCID Extended Properties descriptor with the DeviceInterfaceGUID.
pub fn wcid_properties() -> Vec<u8> {
    let utf16 = |s: &str| -> Vec<u8> {
        s.encode_utf16()
            .chain(std::iter::once(0))
            .flat_map(u16::to_le_bytes)
            .collect()
    };
    let name = utf16("DeviceInterfaceGUID");
    let value = utf16("{37fb5f90-1a34-4929-933b-8a27e1850033}");
    let section = 4 + 4 + 2 + name.len() + 4 + value.len();
    let total = 10 + section;
    let mut d = Vec::with_capacity(total);
    d.extend_from_slice(&(total as u32).to_le_bytes());
    d.extend_from_slice(&[0x00, 0x01, 0x05, 0x00, 0x01, 0x00]);
    d.extend_from_slice(&(section as u32).to_le_bytes());
    d.extend_from_slice(&1u32.to_le_bytes());
    d.extend_from_slice(&(name.len() as u16).to_le_bytes());
    d.extend_from_slice(&name);
    d.extend_from_slice(&(value.len() as u32).to_le_bytes());
    d.extend_from_slice(&value);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photon_descriptors_are_verbatim() {
        let p = Platform::Photon;
        assert_eq!(
            p.device_descriptor(),
            [
                0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40, 0x04, 0x2B, 0x06, 0xD0, 0x50, 0x02,
                0x01, 0x02, 0x03, 0x01
            ]
        );
        assert_eq!(
            p.configuration_descriptor(),
            [
                0x09, 0x02, 0x24, 0x00, 0x01, 0x01, 0x02, 0xC0, 0x32, //
                0x09, 0x04, 0x00, 0x00, 0x00, 0xFE, 0x01, 0x02, 0x06, //
                0x09, 0x04, 0x00, 0x01, 0x00, 0xFE, 0x01, 0x02, 0x07, //
                0x09, 0x21, 0x0B, 0xFF, 0x00, 0x00, 0x10, 0x1A, 0x01,
            ]
        );
        assert_eq!(string_descriptor("DFU"), [8, 3, b'D', 0, b'F', 0, b'U', 0]);
        assert_eq!(msft_os_string().len(), 18);
        assert_eq!(wcid_compat_id().len(), 0x28);
    }

    #[test]
    fn sector_tables_match_the_layout_strings() {
        for p in Platform::ALL {
            for alt in p.alternates() {
                let layout = crate::dfu::MemoryLayout::parse(alt.name).unwrap();
                let last = layout.segments().last().unwrap().end();
                assert_eq!(
                    last,
                    u64::from(alt.base) + u64::from(alt.size()),
                    "{p:?} {}",
                    alt.name
                );
                for s in layout.segments() {
                    let (start, size) = alt.sector_at(s.start).unwrap();
                    assert_eq!(
                        (start, size),
                        (s.start, s.sector_size),
                        "{p:?} {}",
                        alt.name
                    );
                }
            }
        }
    }
}
