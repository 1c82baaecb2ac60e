//! The identities and memory maps of the simulated bootloaders: USB ids, strings, descriptors and
//! alternate settings, per platform.
//!
//! Every per-platform fact the simulator uses sits in [`QUIRKS`], one row per personality, each
//! field with the bootloader source line it comes from, so a reader can check a row against the
//! sources. Paths are of Device OS v2.3.1 (Photon, P1, Electron, Argon, Boron) and, for the Core,
//! whose bootloader left Device OS after 0.4.9, of tag v0.4.9 (`bootloader/src/core/`). What no
//! source says is marked "unverified" where it appears.

use crate::dfu::State;
use crate::usb::{ControlSetup, Recipient};

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
    /// The Gen 3 DCD file: read-modify-write, erase is a no-op that succeeds
    /// (`bootloader/src/nRF52840/usbd_dfu_mal.cpp` 144-146); a protected device refuses reads and
    /// writes (unverified: device protection is not in v2.3.1).
    Gen3Dct,
    /// External NOR flash (Core SPI, P1 serial flash, Gen 3 QSPI): erase a 4 KiB sector; a write
    /// ANDs old and new bits and is not verified.
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

/// `platform/MCU/STM32F2xx/STM32_USB_Device_Driver/inc/usbd_dfu_mal.h` (dfuse-protocol.md 5).
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

/// `bootloader/src/nRF52840/usbd_dfu_mal.h` 25-27: 1 MiB of 4 KiB pages. The MAL checks only the
/// range (`usbd_dfu_mal.cpp` 47-56); the flash driver refuses the MBR page below 0x1000
/// (`hal/src/nRF52840/flash_hal.c` 44-47).
const GEN3_INTERNAL: AltSpec = AltSpec {
    name: "@Internal Flash   /0x00000000/1*004Ka,47*004Kg,192*004Kg,4*004Kg,4*004Kg,8*004Ka",
    base: 0,
    sectors: &[(256, 4 * K)],
    kind: MemoryKind::InternalFlash {
        protected_below: 0x1000,
    },
};

/// `usbd_dfu_mal.h` 29-31.
const GEN3_DCD: AltSpec = AltSpec {
    name: "@DCD Flash   /0x00000000/1*016Ke",
    base: 0,
    sectors: &[(1, 16 * K)],
    kind: MemoryKind::Gen3Dct,
};

/// `usbd_dfu_mal.h` 33-40: the 4 MB QSPI flash of the Argon and Boron, offset by 0x80000000
/// (`usbd_dfu_mal.cpp` 172-191; the B5 SoM and Tracker have 8 MB, `2048*004Kg`). Registered as
/// alt 2 (`usbd_device.cpp` 208-210).
const GEN3_EXTERNAL: AltSpec = AltSpec {
    name: "@External Flash   /0x80000000/1024*004Kg",
    base: 0x8000_0000,
    sectors: &[(1024, 4 * K)],
    kind: MemoryKind::NorFlash,
};

/// A Gen 3 device with device protection on: type `b`, neither readable nor writable.
/// Unverified: device protection is not in Device OS v2.3.1, so this name, what a protected
/// device reports for alt 0, and its string 0xFA are not known from a source; the simulator keeps
/// alt 0 and 2 as on an open device and has no string 0xFA.
pub(crate) const GEN3_DCD_PROTECTED: &str = "@DCD Flash   /0x00000000/1*016Kb";

/// `bootloader/src/core/usb_desc.c` (v0.4.9) 219-228: two spaces before the slash (the comment
/// above the bytes says three).
const CORE_INTERNAL: AltSpec = AltSpec {
    name: "@Internal Flash  /0x08000000/20*001Ka,108*001Kg",
    base: 0x0800_0000,
    sectors: &[(128, K)],
    kind: MemoryKind::InternalFlash {
        protected_below: 0x0800_5000,
    },
};

/// `usb_desc.c` (v0.4.9) 233-241: the bytes, not the comment above them. Unverified: both Core
/// names are padded with UTF-16 NULs to the 98 bytes of `DFU_SIZ_STRING_INTERFACE0/1`
/// (`usb_desc.h` 46-47); whether Chrome keeps them in `interfaceName` is not known, and the
/// simulator leaves them out.
const CORE_SPI: AltSpec = AltSpec {
    name: "@SPI Flash : SST25x/0x00000000/512*04Kg",
    base: 0,
    sectors: &[(512, 4 * K)],
    kind: MemoryKind::NorFlash,
};

/// How a bootloader answers Microsoft's OS descriptor (WCID) requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wcid {
    /// None: string 0xEE and vendor requests stall.
    None,
    /// The STM32F2 USB library: string 0xEE is the 18-byte MS OS string; a vendor request to the
    /// device is passed on only as (0xEE, wIndex 4, wValue 0), answered with the compat ID; the
    /// class driver answers (0xC1, 0xEE, wIndex 5) with the extended properties.
    Stm32,
    /// The nRF52840 bootloader's own USB stack: vendor requests to the device reach the class
    /// driver unfiltered, so the compat ID answers any wValue; string 0xEE is the 18-byte MS OS
    /// descriptor behind a second, 20-byte string header.
    Nrf52,
}

/// The DFU state machine a bootloader runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DfuCore {
    /// ST's DfuSe code as Particle changed it (`usbd_dfu_core.c`; the Core's `usb_prop.c`).
    StDfuse,
    /// Particle's rewrite for the nRF52840 (`bootloader/src/nRF52840/usbd_dfu.cpp`), simulated in
    /// `nrf52.rs`, whose header lists how it differs from the ST machine.
    Nrf52,
}

/// Where the serial number string comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serial {
    /// The device ID in lower-case hex.
    DeviceId,
    /// The Core's: `Get_SerialNum` writes twelve upper-case hex digits over the compiled-in
    /// "CORE 13": the sum of the unique ID's words at `ID1` and `ID3`, then the top half of the
    /// word at `ID2` (v0.4.9 `bootloader/src/core/dfu_hal.c` 125-160, `usb_prop.c` 126).
    UniqueIdSum,
}

impl Serial {
    /// The serial number string of a device with `device_id` (24 hex digits: the unique ID's
    /// bytes in memory order).
    pub fn string(self, device_id: &str) -> String {
        match self {
            Self::DeviceId => device_id.to_owned(),
            Self::UniqueIdSum => {
                let bytes: Vec<u8> = (0..12)
                    .map(|i| u8::from_str_radix(&device_id[i * 2..i * 2 + 2], 16).unwrap_or(0))
                    .collect();
                let word = |at: usize| {
                    u32::from(bytes[at])
                        | u32::from(bytes[at + 1]) << 8
                        | u32::from(bytes[at + 2]) << 16
                        | u32::from(bytes[at + 3]) << 24
                };
                let sum = word(0).wrapping_add(word(8));
                if sum == 0 {
                    // `Get_SerialNum` leaves the compiled-in string (26 bytes: 7 characters, NULs).
                    return "CORE 13\0\0\0\0\0".to_owned();
                }
                let mut serial = String::new();
                for (value, digits) in [(sum, 8), (word(4) >> 16, 4)] {
                    for d in (0..digits).rev() {
                        let nibble = (value >> (d * 4)) & 0xF;
                        serial.push(char::from_digit(nibble, 16).unwrap().to_ascii_uppercase());
                    }
                }
                serial
            }
        }
    }
}

/// One personality's quirks, each with its source. `simulated: false` marks a fact the simulator
/// does not reproduce yet (see its comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    pub platform: Platform,
    /// Device descriptor bcdUSB and bcdDevice.
    pub bcd_usb: u16,
    pub bcd_device: u16,
    /// Configuration descriptor iConfiguration.
    pub i_configuration: u8,
    /// The string index of alternate 0's name; the others follow it.
    pub first_alt_string: u8,
    /// String 1, string 2, and strings 4 and 5 where they are not alternate names.
    pub manufacturer: &'static str,
    pub product: &'static str,
    pub config_string: Option<&'static str>,
    /// String 3.
    pub serial: Serial,
    /// `wTransferSize`, also the DfuSe block stride.
    pub transfer_size: u16,
    /// The bState GETSTATUS reports right after a leave (zero-length DNLOAD).
    pub leave_report: State,
    pub wcid: Wcid,
    pub dfu_core: DfuCore,
    /// The source line of each field, in field order.
    pub sources: &'static [&'static str],
}

const GEN2_SOURCES: &[&str] = &[
    "bcd_usb, bcd_device: bootloader/src/stm32f2xx/usbd_desc.c 72-83",
    "i_configuration: platform/MCU/STM32F2xx/STM32_USB_Device_Driver/src/usbd_dfu_core.c 236",
    "first_alt_string: usbd_dfu_core.c 1055-1064 (USBD_IDX_INTERFACE_STR + 1 = 6)",
    "manufacturer, product, config_string: usbd_desc.c 40-51",
    "serial: usbd_desc.c 182-191",
    "transfer_size: platform/MCU/STM32F2xx/SPARK_Firmware_Driver/inc/usbd_conf.h 63",
    "leave_report: usbd_dfu_core.c 884-893",
    "wcid: bootloader/src/stm32f2xx/dfu_usb.c 87-94; usbd_dfu_core.c 472-507; usbd_desc.c 114-121, 226-230",
    "dfu_core: usbd_dfu_core.c 498-589 (usbd_dfu_Setup and the DFU_Req_* it calls)",
];

const GEN3_SOURCES: &[&str] = &[
    "bcd_usb, bcd_device: bootloader/src/nRF52840/usbd_device.cpp 156-175",
    "i_configuration: bootloader/src/nRF52840/usbd_dfu.h 282",
    "first_alt_string: usbd_dfu.h 54; usbd_device.h 114 (STRING_IDX_INTERFACE + 1 = 6)",
    "manufacturer, product, config_string: usbd_device.cpp 137-154",
    "serial: usbd_device.cpp 187-192, 739-742",
    "transfer_size: usbd_dfu.h 29-31",
    "leave_report: usbd_dfu.cpp 262-272",
    "wcid: usbd_device.cpp 517-521, 749-751; usbd_dfu.cpp 61-77, 379-383",
    "dfu_core: usbd_dfu.cpp 108-137 (handleDfuRequest and the handlers it calls)",
];

const CORE_SOURCES: &[&str] = &[
    "bcd_usb, bcd_device: v0.4.9 bootloader/src/core/usb_desc.c 37-59",
    "i_configuration: usb_desc.c 71",
    "first_alt_string: usb_desc.c 86-104 (iInterface 4 and 5)",
    "manufacturer, product: usb_desc.c 191-207",
    "serial: usb_desc.c 209-215, dfu_hal.c 125-160 (Get_SerialNum over \"CORE 13\")",
    "transfer_size: bootloader/src/core/usb_desc.h 60",
    "leave_report: bootloader/src/core/usb_prop.c 668-683",
    "wcid: usb_prop.c 286, 339 (class requests to the interface only; no string 0xEE)",
    "dfu_core: usb_prop.c 640-697 (GETSTATUS; DFU_Data_Setup 286, DFU_NoData_Setup 339)",
];

const fn gen2(platform: Platform, product: &'static str) -> Quirks {
    Quirks {
        platform,
        bcd_usb: 0x0200,
        bcd_device: 0x0250,
        i_configuration: 2,
        first_alt_string: 6,
        manufacturer: "Particle",
        product,
        config_string: Some("DFU"),
        serial: Serial::DeviceId,
        transfer_size: 4096,
        leave_report: State::DnloadIdle,
        wcid: Wcid::Stm32,
        dfu_core: DfuCore::StDfuse,
        sources: GEN2_SOURCES,
    }
}

const fn gen3(platform: Platform, product: &'static str) -> Quirks {
    Quirks {
        platform,
        bcd_usb: 0x0200,
        bcd_device: 0x0251,
        i_configuration: 4,
        first_alt_string: 6,
        manufacturer: "Particle",
        product,
        // USBD_CONFIGURATION_STRING and USBD_INTERFACE_STRING are the product string.
        config_string: Some(product),
        serial: Serial::DeviceId,
        transfer_size: 4096,
        leave_report: State::Manifest,
        wcid: Wcid::Nrf52,
        dfu_core: DfuCore::Nrf52,
        sources: GEN3_SOURCES,
    }
}

/// Every personality's quirks, one row each.
pub const QUIRKS: [Quirks; 6] = [
    gen2(Platform::Photon, "Photon DFU Mode"),
    gen2(Platform::P1, "P1 DFU Mode"),
    gen2(Platform::Electron, "Electron DFU Mode"),
    gen3(Platform::Argon, "Argon DFU Mode"),
    gen3(Platform::Boron, "Boron DFU Mode"),
    Quirks {
        platform: Platform::Core,
        bcd_usb: 0x0100,
        bcd_device: 0x0200,
        i_configuration: 0,
        first_alt_string: 4,
        // The bytes: "Particle" and ten spaces; "CORE DFU " with one.
        manufacturer: "Particle          ",
        product: "CORE DFU ",
        config_string: None,
        serial: Serial::UniqueIdSum,
        transfer_size: 1024,
        // The leave GETSTATUS reports dfuDNLOAD-IDLE, as on the Photon.
        leave_report: State::DnloadIdle,
        wcid: Wcid::None,
        dfu_core: DfuCore::StDfuse,
        sources: CORE_SOURCES,
    },
];

impl Platform {
    pub const ALL: [Platform; 6] = [
        Platform::Photon,
        Platform::P1,
        Platform::Electron,
        Platform::Argon,
        Platform::Boron,
        Platform::Core,
    ];

    /// This platform's row of [`QUIRKS`].
    pub fn quirks(self) -> &'static Quirks {
        QUIRKS
            .iter()
            .find(|q| q.platform == self)
            .expect("every platform has a row")
    }

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

    /// String 2.
    pub fn product_string(self) -> &'static str {
        self.quirks().product
    }

    pub fn alternates(self) -> &'static [AltSpec] {
        const GEN2: &[AltSpec] = &[GEN2_INTERNAL, GEN2_DCT];
        const P1: &[AltSpec] = &[GEN2_INTERNAL, GEN2_DCT, P1_SERIAL];
        const GEN3: &[AltSpec] = &[GEN3_INTERNAL, GEN3_DCD, GEN3_EXTERNAL];
        const CORE: &[AltSpec] = &[CORE_INTERNAL, CORE_SPI];
        match self {
            Self::Photon | Self::Electron => GEN2,
            Self::P1 => P1,
            Self::Argon | Self::Boron => GEN3,
            Self::Core => CORE,
        }
    }

    /// The device's XFERSIZE: `wTransferSize` and the DfuSe block stride.
    pub fn transfer_size(self) -> u16 {
        self.quirks().transfer_size
    }

    /// What GETSTATUS reports right after a zero-length DNLOAD.
    pub fn leave_report(self) -> State {
        self.quirks().leave_report
    }

    /// The device descriptor, with this platform's ids and versions.
    pub fn device_descriptor(self) -> [u8; 18] {
        let q = self.quirks();
        let u = q.bcd_usb.to_le_bytes();
        let v = self.vendor_id().to_le_bytes();
        let p = self.dfu_product_id().to_le_bytes();
        let d = q.bcd_device.to_le_bytes();
        [
            0x12, 0x01, u[0], u[1], 0x00, 0x00, 0x00, 0x40, v[0], v[1], p[0], p[1], d[0], d[1],
            0x01, 0x02, 0x03, 0x01,
        ]
    }

    /// The DFU functional descriptor: CanDnload, CanUpload, WillDetach; detach 255 ms; DfuSe.
    pub fn functional_descriptor(self) -> [u8; 9] {
        let t = self.transfer_size().to_le_bytes();
        [0x09, 0x21, 0x0B, 0xFF, 0x00, t[0], t[1], 0x1A, 0x01]
    }

    /// The configuration descriptor: one interface whose alternates name consecutive strings,
    /// then the functional descriptor after all alternates (9.1).
    pub fn configuration_descriptor(self) -> Vec<u8> {
        let q = self.quirks();
        let alts = self.alternates().len() as u8;
        let total = 9 + 9 * u16::from(alts) + 9;
        let t = total.to_le_bytes();
        let c = q.i_configuration;
        let mut d = vec![0x09, 0x02, t[0], t[1], 0x01, 0x01, c, 0xC0, 0x32];
        for alt in 0..alts {
            let name = q.first_alt_string + alt;
            d.extend_from_slice(&[0x09, 0x04, 0x00, alt, 0x00, 0xFE, 0x01, 0x02, name]);
        }
        d.extend_from_slice(&self.functional_descriptor());
        d
    }

    /// String descriptor `index` other than the serial number and the alternate names: `None`
    /// where the device stalls.
    pub fn fixed_string(self, index: u8) -> Option<Vec<u8>> {
        let q = self.quirks();
        match index {
            0 => Some(vec![0x04, 0x03, 0x09, 0x04]),
            1 => Some(string_descriptor(q.manufacturer)),
            2 => Some(string_descriptor(q.product)),
            4 | 5 => q.config_string.map(string_descriptor),
            0xEE => msft_os_string(q.wcid),
            _ => None,
        }
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

/// `USB_WCID_MS_OS_STRING_DESCRIPTOR("MSFT100", 0xEE)`:
/// `platform/MCU/STM32F2xx/SPARK_Firmware_Driver/inc/usbd_wcid.h` 6-11.
const MSFT_OS_STRING: [u8; 18] = [
    0x12, 0x03, b'M', 0, b'S', 0, b'F', 0, b'T', 0, b'1', 0, b'0', 0, b'0', 0, 0xEE, 0x00,
];

/// String 0xEE as each bootloader sends it. The nRF52840 stack runs the 18 bytes through its
/// "no conversion" string path, which puts its own two-byte header in front
/// (`usbd_device.cpp` 749-751, 767-798): Windows then finds no `MSFT100` signature at offset 2.
pub fn msft_os_string(wcid: Wcid) -> Option<Vec<u8>> {
    match wcid {
        Wcid::None => None,
        Wcid::Stm32 => Some(MSFT_OS_STRING.to_vec()),
        Wcid::Nrf52 => {
            let mut d = vec![MSFT_OS_STRING.len() as u8 + 2, 0x03];
            d.extend_from_slice(&MSFT_OS_STRING);
            Some(d)
        }
    }
}

/// `USB_WCID_EXT_COMPAT_ID_OS_DESCRIPTOR(0, "WINUSB", 0)` (`usbd_wcid.h` 13-23): WinUSB for
/// interface 0.
pub fn wcid_compat_id() -> [u8; 40] {
    let mut d = [0u8; 40];
    d[..10].copy_from_slice(&[0x28, 0, 0, 0, 0x00, 0x01, 0x04, 0x00, 0x01, 0]);
    // bytes 10..16 reserved, 16 bFirstInterfaceNumber 0, 17 reserved 1.
    d[17] = 0x01;
    d[18..24].copy_from_slice(b"WINUSB");
    d
}

/// `USB_WCID_EXT_PROP_OS_DESCRIPTOR` (`usbd_wcid.h` 25-40) with the GUID of
/// `usbd_dfu_core.c` 405-419: 146 bytes, one property of type 7 (REG_MULTI_SZ) named
/// `DeviceInterfaceGUIDs` whose value is the GUID and two NUL terminators.
pub fn wcid_properties() -> [u8; 146] {
    const GUID: &str = "{37fb5f90-1a34-4929-933b-8a27e1850033}";
    let mut d = [0u8; 146];
    // dwLength 146, bcdVersion 1.00, wIndex 5, wCount 1, dwSize 136, dwPropertyDataType 7,
    // wPropertyNameLength 42.
    d[..20].copy_from_slice(&[
        0x92, 0, 0, 0, 0x00, 0x01, 0x05, 0x00, 0x01, 0x00, 0x88, 0, 0, 0, 0x07, 0, 0, 0, 0x2a, 0,
    ]);
    for (i, c) in "DeviceInterfaceGUIDs".bytes().enumerate() {
        d[20 + 2 * i] = c;
    }
    // The name's NUL at 60..62; dwPropertyDataLength 80.
    d[62] = 0x50;
    for (i, c) in GUID.bytes().enumerate() {
        d[66 + 2 * i] = c;
    }
    // The GUID's NUL and the list's closing NUL: 142..146 stay zero.
    d
}

/// A vendor request from the host (device-to-host): the reply, or `None` for a stall.
///
/// Both stacks send `wLength` bytes whatever the descriptor's size (`usbd_dfu_core.c` 472-488
/// with `usbd_ioreq.c` 95-105; `usbd_dfu.cpp` 61-77 with `usbd_device.cpp` 879-896), reading
/// past its end when asked for more. What lies past the end is unverified; the simulator sends
/// zeros there.
pub fn vendor_in(wcid: Wcid, setup: ControlSetup, len: u16) -> Option<Vec<u8>> {
    let (request, value, index) = (setup.request, setup.value, setup.index);
    let reply = match (wcid, setup.recipient) {
        (Wcid::None, _) => return None,
        // The STM32 device handler forwards only (0xEE, wIndex 4, wValue 0)
        // (`bootloader/src/stm32f2xx/dfu_usb.c` 87-94); every other vendor request stalls.
        (Wcid::Stm32, Recipient::Device) if request == 0xEE && index == 4 && value == 0 => {
            wcid_compat_id().to_vec()
        }
        // The nRF52840 stack hands every vendor request to the device to the class driver
        // (`usbd_device.cpp` 517-521), which answers (0xC0, 0xEE, wIndex 4) for any wValue.
        (Wcid::Nrf52, Recipient::Device) if request == 0xEE && index == 4 => {
            wcid_compat_id().to_vec()
        }
        // (0xC1, 0xEE, wIndex 5): the properties for interface 0, ten zeros for another
        // (`usbd_dfu_core.c` 475-482; `usbd_dfu.cpp` 64-71). Unverified: any other vendor request
        // to an interface is answered by neither a data stage nor a stall on the STM32
        // (`usbd_dfu_core.c` 509-588 ignores it, `usbd_req.c` 215-243); the simulator stalls.
        (_, Recipient::Interface) if request == 0xEE && index == 5 => {
            if value & 0xff == 0 {
                wcid_properties().to_vec()
            } else {
                vec![0; 10]
            }
        }
        _ => return None,
    };
    let mut reply = reply;
    reply.resize(usize::from(len), 0);
    Some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usb::RequestType;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn vendor(recipient: Recipient, value: u16, index: u16) -> ControlSetup {
        ControlSetup {
            request_type: RequestType::Vendor,
            recipient,
            request: 0xEE,
            value,
            index,
        }
    }

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
        assert_eq!(p.fixed_string(4), Some(string_descriptor("DFU")));
    }

    #[test]
    fn wcid_descriptors_are_the_bootloaders_bytes() {
        // Transcribed from usbd_wcid.h 25-40 with the GUID of usbd_dfu_core.c 405-419.
        let properties = hex(concat!(
            "9200000000010500010088000000070000002a00440065007600690063006500",
            "49006e0074006500720066006100630065004700550049004400730000005000",
            "00007b00330037006600620035006600390030002d0031006100330034002d00",
            "34003900320039002d0039003300330062002d00380061003200370065003100",
            "3800350030003000330033007d0000000000",
        ));
        assert_eq!(properties.len(), 146);
        assert_eq!(wcid_properties()[..], properties[..]);
        // usbd_wcid.h 13-23 with interface 0, "WINUSB".
        let compat = hex(concat!(
            "28000000000104000100000000000000000157494e5553420000000000000000",
            "0000000000000000",
        ));
        assert_eq!(wcid_compat_id()[..], compat[..]);
        assert_eq!(
            msft_os_string(Wcid::Stm32).unwrap(),
            hex("12034d00530046005400310030003000ee00")
        );
    }

    #[test]
    fn wcid_requests_are_answered_as_each_bootloader_does() {
        let (stm, nrf) = (Wcid::Stm32, Wcid::Nrf52);
        // Compat ID: the STM32 device handler passes on wValue 0 only (dfu_usb.c 89-93).
        assert_eq!(
            vendor_in(stm, vendor(Recipient::Device, 0, 4), 40),
            Some(wcid_compat_id().to_vec())
        );
        assert_eq!(vendor_in(stm, vendor(Recipient::Device, 1, 4), 40), None);
        assert_eq!(
            vendor_in(nrf, vendor(Recipient::Device, 1, 4), 40),
            Some(wcid_compat_id().to_vec())
        );
        // The properties go to an interface, and only there.
        assert_eq!(vendor_in(stm, vendor(Recipient::Device, 0, 5), 146), None);
        for wcid in [stm, nrf] {
            assert_eq!(
                vendor_in(wcid, vendor(Recipient::Interface, 0, 5), 146),
                Some(wcid_properties().to_vec())
            );
            assert_eq!(
                vendor_in(wcid, vendor(Recipient::Interface, 1, 5), 10),
                Some(vec![0; 10])
            );
            // Windows reads the header first: wLength bytes, not the whole descriptor.
            assert_eq!(
                vendor_in(wcid, vendor(Recipient::Interface, 0, 5), 10),
                Some(wcid_properties()[..10].to_vec())
            );
            assert_eq!(
                vendor_in(wcid, vendor(Recipient::Interface, 0, 5), 160).map(|r| r.len()),
                Some(160)
            );
            assert_eq!(vendor_in(wcid, vendor(Recipient::Other, 0, 4), 40), None);
        }
        assert_eq!(
            vendor_in(Wcid::None, vendor(Recipient::Device, 0, 4), 40),
            None
        );
    }

    #[test]
    fn msft_os_string_per_bootloader() {
        let plain = msft_os_string(Wcid::Stm32).unwrap();
        assert_eq!(plain.len(), 18);
        assert_eq!(&plain[..4], &[0x12, 0x03, b'M', 0]);
        assert_eq!(&plain[16..], &[0xEE, 0x00]);
        // Gen 3: a second header in front (usbd_device.cpp 749-751, 786-797).
        let nrf = Platform::Argon.fixed_string(0xEE).unwrap();
        assert_eq!(nrf.len(), 20);
        assert_eq!(&nrf[..2], &[20, 0x03]);
        assert_eq!(&nrf[2..], &plain[..]);
        assert_eq!(Platform::Core.fixed_string(0xEE), None);
    }

    #[test]
    fn gen3_alternates_are_the_bootloaders() {
        for p in [Platform::Argon, Platform::Boron] {
            let names: Vec<_> = p.alternates().iter().map(|a| a.name).collect();
            assert_eq!(
                names,
                [
                    "@Internal Flash   /0x00000000/1*004Ka,47*004Kg,192*004Kg,4*004Kg,4*004Kg,8*004Ka",
                    "@DCD Flash   /0x00000000/1*016Ke",
                    "@External Flash   /0x80000000/1024*004Kg",
                ]
            );
            let external = crate::dfu::MemoryLayout::parse(names[2]).unwrap();
            assert_eq!(external.segments().next().unwrap().start, 0x8000_0000);
            assert_eq!(p.alternates()[2].size(), 4 * 1024 * 1024);
            // Three alternates, strings 6 to 8, iConfiguration 4, bcdDevice 2.51.
            let d = p.configuration_descriptor();
            assert_eq!(d.len(), 9 + 27 + 9);
            assert_eq!((d[2], d[6]), (45, 4));
            assert_eq!([d[17], d[26], d[35]], [6, 7, 8]);
            assert_eq!(&p.device_descriptor()[12..14], &[0x51, 0x02]);
            assert_eq!(
                p.fixed_string(4),
                Some(string_descriptor(p.product_string()))
            );
            assert_eq!(p.leave_report(), State::Manifest);
        }
    }

    #[test]
    fn gen3_alt_2_is_the_external_flash_behind_0x80000000() {
        use crate::dfu::{Dfu, Erase};
        use futures_executor::block_on;
        let mut dev = super::super::SimDevice::builder(Platform::Boron).build();
        let mut dfu = block_on(Dfu::open(&mut dev, 0, 2)).unwrap();
        assert_eq!(dfu.layout().name, "External Flash");
        block_on(dfu.write_verified(0x8000_1000, &[1, 2, 3, 4], Erase::Sectors)).unwrap();
        assert_eq!(block_on(dfu.read(0x8000_1000, 4)).unwrap(), [1, 2, 3, 4]);
        assert_eq!(&dev.memory(2)[0x1000..0x1004], &[1, 2, 3, 4]);
        // The key slots stay on alt 1, the DCD, which erases as a no-op that succeeds.
        let mut dfu = block_on(Dfu::open(&mut dev, 0, 1)).unwrap();
        block_on(dfu.write_verified(34, &[5, 6], Erase::Sectors)).unwrap();
        assert_eq!(&dev.dct()[34..36], &[5, 6]);
    }

    #[test]
    fn core_descriptors_are_the_v0_4_9_bootloaders() {
        let p = Platform::Core;
        assert_eq!(
            p.device_descriptor(),
            [
                0x12, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x40, 0x50, 0x1D, 0x7F, 0x60, 0x00, 0x02,
                0x01, 0x02, 0x03, 0x01
            ]
        );
        let d = p.configuration_descriptor();
        assert_eq!((d[6], d[17], d[26]), (0, 4, 5));
        assert_eq!(p.fixed_string(4), None);
        assert_eq!(p.fixed_string(2), Some(string_descriptor("CORE DFU ")));
        assert_eq!(p.transfer_size(), 1024);
        assert_eq!(p.leave_report(), State::DnloadIdle);
    }

    #[test]
    fn the_quirks_table_has_one_sourced_row_per_platform() {
        for p in Platform::ALL {
            let rows: Vec<_> = QUIRKS.iter().filter(|q| q.platform == p).collect();
            assert_eq!(rows.len(), 1, "{p:?}");
            // One source line per group of fields, every one naming a file and lines.
            assert_eq!(rows[0].sources.len(), 9, "{p:?}");
            for line in rows[0].sources {
                assert!(line.contains(": ") && line.contains('.'), "{p:?}: {line}");
                assert!(line.chars().any(|c| c.is_ascii_digit()), "{p:?}: {line}");
            }
        }
        assert_eq!(
            (
                Platform::Photon.quirks().wcid,
                Platform::Argon.quirks().wcid
            ),
            (Wcid::Stm32, Wcid::Nrf52)
        );
        assert_eq!(Platform::Boron.quirks().dfu_core, DfuCore::Nrf52);
        assert_eq!(Platform::Core.quirks().serial, Serial::UniqueIdSum);
        assert_eq!(
            Serial::UniqueIdSum.string("53ff6d065075535118311787"),
            "8D85306B5153"
        );
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
