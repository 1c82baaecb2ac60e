//! Particle platforms as data: ids, USB ids, DFU alternate settings, where each platform keeps its
//! cloud keys and server address, which transport it uses, and its default server key and address.
//!
//! Pure data and lookups. Must not import the browser, `dfu`, `usb` or `keys` (those read this table,
//! not the other way round); the default server keys are embedded from `src/keys/assets/` as bytes.
//! Facts: shared/reference/particle-dct.md (1, 2, 3, 6.2) and dfuse-protocol.md (5).

use serde::Serialize;

/// Particle's USB vendor id for Photon and later devices; the Core uses the OpenMoko id 0x1d50.
pub const PARTICLE_VID: u16 = 0x2b04;
pub const CORE_VID: u16 = 0x1d50;

/// The DFU alternate setting that holds the key slots on every platform: "DCT Flash" on Gen 2,
/// "DCD Flash" on Gen 3, the external SPI flash on the Core.
pub const KEYS_ALT: u8 = 1;

/// The server-key region image `particle keys server` writes to TCP devices by default
/// (particle-cli 3.51.0 `assets/keys/rsa.pub.der`): RSA-2048 SPKI + address `device.spark.io`.
pub const PARTICLE_TCP_SERVER_REGION: &[u8; 512] = include_bytes!("../keys/assets/rsa.pub.der");
/// The same for the Core's 2048-byte segment (`rsa.pub-padded.der`).
pub const PARTICLE_CORE_SERVER_REGION: &[u8; 2048] =
    include_bytes!("../keys/assets/rsa.pub-padded.der");
/// The same for UDP devices (`ec.pub.der`): P-256 SPKI + address `$id.udp.particle.io`.
pub const PARTICLE_UDP_SERVER_REGION: &[u8; 320] = include_bytes!("../keys/assets/ec.pub.der");

/// A device family the page knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Platform {
    Core,
    Photon,
    P1,
    Electron,
    Argon,
    Boron,
}

/// Hardware generation, which decides where the keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Generation {
    /// Core: keys in external SPI flash, reached through DFU alt 1.
    Gen1,
    /// Photon, P1, Electron: the STM32F2 application DCT on DFU alt 1.
    Gen2,
    /// Argon, Boron: the DCT file on LittleFS, exposed as DFU alt 1.
    Gen3,
}

/// The cloud transport, which picks the key slots, the default port and the fallback address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// The Spark protocol over TCP: RSA keys.
    Tcp,
    /// CoAP over DTLS: EC P-256 keys.
    Udp,
}

impl Transport {
    /// The port the firmware uses when the address block says 0 or 0xFFFF.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Tcp => 5683,
            Self::Udp => 5684,
        }
    }

    /// The host the firmware falls back to when the address block is invalid
    /// (DOS `system/src/system_cloud_internal_constants.c`).
    pub fn builtin_host(self) -> &'static str {
        match self {
            Self::Tcp => "device.spark.io",
            Self::Udp => "$id.udp.particle.io",
        }
    }
}

/// The kind of key a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAlgorithm {
    /// RSA-1024, e = 65537, PKCS#1 DER read at fixed offsets (device keys over TCP).
    Rsa1024,
    /// RSA-2048, e = 65537, SPKI DER (the cloud's key over TCP).
    Rsa2048,
    /// NIST P-256: SEC1 or PKCS#8 DER for device keys, SPKI DER for the cloud's key.
    EcP256,
}

impl KeyAlgorithm {
    /// The name shown to users.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa1024 => "RSA-1024",
            Self::Rsa2048 => "RSA-2048",
            Self::EcP256 => "EC P-256",
        }
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A DFU alternate setting and its DfuSe memory-layout string (the interface name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DfuAlt {
    pub alt: u8,
    /// The layout string as the bootloader reports it, trailing spaces included.
    pub layout: &'static str,
}

/// A device key slot: where the key is written and how much of it the firmware reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeySlot {
    pub alt: u8,
    /// Address on `alt` (a logical DCT offset on Gen 2/3, an SPI flash address on the Core).
    pub offset: u32,
    /// Size of the segment the CLI writes (612, 192 or 1024).
    pub size: u32,
    /// How many bytes the firmware reads.
    pub read_len: u32,
    pub algorithm: KeyAlgorithm,
}

/// The server-key region: the cloud's public key followed, inside the same region, by the server
/// address block (CLI3 `src/lib/keys-specs.js`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServerKeySlot {
    pub alt: u8,
    pub offset: u32,
    /// Size of the region the CLI writes: 512 (TCP), 320 (UDP), 2048 (Core).
    pub size: u32,
    /// Length of the key DER the firmware reads: 294 (RSA-2048), 91 (P-256).
    pub key_len: u32,
    pub algorithm: KeyAlgorithm,
    /// Offset of the 128-byte address block inside the region (384 TCP, 192 UDP).
    pub address_offset: u32,
    /// Offset of the big-endian port inside the region (address block + 66).
    pub port_offset: u32,
}

impl ServerKeySlot {
    /// The address block's absolute address on the alt setting.
    pub fn address_block_offset(&self) -> u32 {
        self.offset + self.address_offset
    }
}

/// Everything about one transport's keys on one platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TransportKeys {
    pub transport: Transport,
    pub private_key: KeySlot,
    /// Where the firmware writes the public key it derives (not written by tools); `None` on the Core.
    pub public_key: Option<KeySlot>,
    pub server_key: ServerKeySlot,
    /// What `particle keys server` writes by default: the whole region image.
    #[serde(skip)]
    pub default_server_region: &'static [u8],
    /// The default cloud host in that image (`$id` is replaced by the device id).
    pub default_host: &'static str,
    pub default_port: u16,
}

/// The Electron's transport selector byte (DCT 2977): 0xFF = platform default, else TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TransportSelector {
    pub alt: u8,
    pub offset: u32,
    /// The value the CLI writes to select the non-default transport (TCP on the Electron).
    pub tcp_value: u8,
    /// The erased value: the platform's default transport.
    pub default_value: u8,
}

/// Static facts about a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformInfo {
    pub platform: Platform,
    pub name: &'static str,
    /// Particle's numeric platform id (`platform_id` in the cloud API).
    pub id: u16,
    pub vendor_id: u16,
    /// USB product id in DFU mode.
    pub dfu_product_id: u16,
    /// USB product id when running firmware (the page asks the user to enter DFU mode).
    pub runtime_product_id: u16,
    pub generation: Generation,
    /// The alternate settings of the DFU interface, as far as they are documented.
    pub dfu_alts: &'static [DfuAlt],
    /// The transport used when no selector says otherwise.
    pub default_transport: Transport,
    /// Key slots over TCP; `None` when the firmware has no TCP cloud support.
    pub tcp: Option<TransportKeys>,
    /// Key slots over UDP; `None` when the firmware has no UDP cloud support.
    pub udp: Option<TransportKeys>,
    /// Only on the Electron, the one platform built with both transports.
    pub transport_selector: Option<TransportSelector>,
    /// The `claimed` byte (0x31 = claimed), where known.
    pub claim_flag_offset: Option<u32>,
    /// Whether a write to the key alt setting needs an erase first: the Core's SPI flash writes
    /// AND old and new bits (particle-dct.md 3), so its 4 KiB sectors must be erased before writing.
    pub erase_before_write: bool,
    /// The bootloader's `wTransferSize`: the most bytes one DNLOAD or UPLOAD may carry. A device
    /// reporting another is refused (its buffer would overflow or the page would misaddress).
    pub transfer_size: u16,
}

/// `wTransferSize` of the STM32F2 bootloaders (Photon, P1, Electron): Device OS v2.3.1
/// `platform/MCU/STM32F2xx/SPARK_Firmware_Driver/inc/usbd_conf.h:63`, `XFERSIZE 4096`.
const GEN2_TRANSFER_SIZE: u16 = 4096;
/// Gen 3 (nRF52840): Device OS v2.3.1 `bootloader/src/nRF52840/usbd_dfu.h:30`.
const GEN3_TRANSFER_SIZE: u16 = 4096;
/// The Core (STM32F1): Device OS v0.7.0 `bootloader/src/core/usb_desc.h:60`, `0x0400`.
const CORE_TRANSFER_SIZE: u16 = 1024;

impl PlatformInfo {
    /// The key slots for a transport, if the platform supports it.
    pub fn keys(&self, transport: Transport) -> Option<&TransportKeys> {
        match transport {
            Transport::Tcp => self.tcp.as_ref(),
            Transport::Udp => self.udp.as_ref(),
        }
    }

    /// The key slots the firmware uses by default (before any transport selector is read).
    pub fn default_keys(&self) -> &TransportKeys {
        self.keys(self.default_transport)
            .expect("every platform has keys for its default transport")
    }

    /// The transport the firmware uses, given the selector byte read from the device (`None` when
    /// it was not read or the platform has none). On the Electron 0xFF means the default (UDP) and
    /// 0x00 means TCP (`HAL_Feature_Get(FEATURE_CLOUD_UDP)`); other values are read as TCP too, which
    /// is inferred, not verified.
    pub fn active_transport(&self, selector_byte: Option<u8>) -> Transport {
        match (self.transport_selector, selector_byte) {
            (Some(selector), Some(byte)) if byte != selector.default_value => {
                match self.default_transport {
                    Transport::Udp => Transport::Tcp,
                    Transport::Tcp => Transport::Udp,
                }
            }
            _ => self.default_transport,
        }
    }

    /// The range of addresses on [`KEYS_ALT`] that holds every key slot, address block, the
    /// transport selector and the claim flag: the one read a diagnosis needs.
    pub fn keys_snapshot_range(&self) -> std::ops::Range<u32> {
        let mut start = u32::MAX;
        let mut end = 0;
        let mut cover = |offset: u32, len: u32| {
            start = start.min(offset);
            end = end.max(offset + len);
        };
        for keys in [self.tcp, self.udp].into_iter().flatten() {
            cover(keys.private_key.offset, keys.private_key.size);
            if let Some(public) = keys.public_key {
                cover(public.offset, public.size);
            }
            cover(keys.server_key.offset, keys.server_key.size);
        }
        if let Some(selector) = self.transport_selector {
            cover(selector.offset, 1);
        }
        if let Some(claim) = self.claim_flag_offset {
            cover(claim, 1);
        }
        start..end
    }
}

/// Gen 2 application DCT (particle-dct.md 2) and Gen 3 DCT (3): same key offsets.
const DCT_TCP_PRIVATE_KEY: KeySlot = KeySlot {
    alt: KEYS_ALT,
    offset: 34,
    size: 612,
    read_len: 612,
    algorithm: KeyAlgorithm::Rsa1024,
};
const DCT_TCP_PUBLIC_KEY: KeySlot = KeySlot {
    alt: KEYS_ALT,
    offset: 1250,
    size: 384,
    read_len: 162,
    algorithm: KeyAlgorithm::Rsa1024,
};
const DCT_TCP_SERVER_KEY: ServerKeySlot = ServerKeySlot {
    alt: KEYS_ALT,
    offset: 2082,
    size: 512,
    key_len: 294,
    algorithm: KeyAlgorithm::Rsa2048,
    address_offset: 384,
    port_offset: 450,
};
const DCT_UDP_PRIVATE_KEY: KeySlot = KeySlot {
    alt: KEYS_ALT,
    offset: 3106,
    size: 192,
    read_len: 192,
    algorithm: KeyAlgorithm::EcP256,
};
const DCT_UDP_PUBLIC_KEY: KeySlot = KeySlot {
    alt: KEYS_ALT,
    offset: 2978,
    size: 128,
    read_len: 91,
    algorithm: KeyAlgorithm::EcP256,
};
const DCT_UDP_SERVER_KEY: ServerKeySlot = ServerKeySlot {
    alt: KEYS_ALT,
    offset: 3298,
    size: 320,
    key_len: 91,
    algorithm: KeyAlgorithm::EcP256,
    address_offset: 192,
    port_offset: 258,
};

const DCT_TCP: TransportKeys = TransportKeys {
    transport: Transport::Tcp,
    private_key: DCT_TCP_PRIVATE_KEY,
    public_key: Some(DCT_TCP_PUBLIC_KEY),
    server_key: DCT_TCP_SERVER_KEY,
    default_server_region: PARTICLE_TCP_SERVER_REGION,
    default_host: "device.spark.io",
    default_port: 5683,
};
const DCT_UDP: TransportKeys = TransportKeys {
    transport: Transport::Udp,
    private_key: DCT_UDP_PRIVATE_KEY,
    public_key: Some(DCT_UDP_PUBLIC_KEY),
    server_key: DCT_UDP_SERVER_KEY,
    default_server_region: PARTICLE_UDP_SERVER_REGION,
    default_host: "$id.udp.particle.io",
    default_port: 5684,
};

/// The Core's external SPI flash (DOS v1.4.4 `hw_config.h`), segment sizes as the CLI writes them.
const CORE_TCP: TransportKeys = TransportKeys {
    transport: Transport::Tcp,
    private_key: KeySlot {
        alt: KEYS_ALT,
        offset: 0x2000,
        size: 1024,
        read_len: 612,
        algorithm: KeyAlgorithm::Rsa1024,
    },
    public_key: None,
    server_key: ServerKeySlot {
        alt: KEYS_ALT,
        offset: 0x1000,
        size: 2048,
        key_len: 294,
        algorithm: KeyAlgorithm::Rsa2048,
        address_offset: 384,
        port_offset: 450,
    },
    default_server_region: PARTICLE_CORE_SERVER_REGION,
    default_host: "device.spark.io",
    default_port: 5683,
};

/// Gen 2 alt 0 and 1 (dfuse-protocol.md 5; three spaces before the slash).
const GEN2_INTERNAL_FLASH: DfuAlt = DfuAlt {
    alt: 0,
    layout: "@Internal Flash   /0x08000000/03*016Ka,01*016Kg,01*064Kg,07*128Kg",
};
const GEN2_DCT_FLASH: DfuAlt = DfuAlt {
    alt: 1,
    layout: "@DCT Flash   /0x00000000/01*016Kg",
};
const GEN2_ALTS: &[DfuAlt] = &[GEN2_INTERNAL_FLASH, GEN2_DCT_FLASH];
const P1_ALTS: &[DfuAlt] = &[
    GEN2_INTERNAL_FLASH,
    GEN2_DCT_FLASH,
    DfuAlt {
        alt: 2,
        layout: "@Serial Flash   /0x00000000/256*004Kg",
    },
];
/// Gen 3 (Argon, Boron) with Device OS 2.3.1 (`bootloader/src/nRF52840/usbd_dfu_mal.h` 25-40,
/// registered as alt 0, 1, 2 in `usbd_device.cpp` 208-210): the DCT alt is type `e` (readable and
/// writable, not erasable; later releases name it "DCT Flash"); alt 2 is the 4 MB external flash
/// at 0x80000000 (8 MB, `2048*004Kg`, on the B5 SoM and Tracker).
const GEN3_ALTS: &[DfuAlt] = &[
    DfuAlt {
        alt: 0,
        layout: "@Internal Flash   /0x00000000/1*004Ka,47*004Kg,192*004Kg,4*004Kg,4*004Kg,8*004Ka",
    },
    DfuAlt {
        alt: 1,
        layout: "@DCD Flash   /0x00000000/1*016Ke",
    },
    DfuAlt {
        alt: 2,
        layout: "@External Flash   /0x80000000/1024*004Kg",
    },
];
/// The Core's bootloader, Device OS v0.4.9 `bootloader/src/core/usb_desc.c` 219-241: the string
/// bytes (two spaces in alt 0; "@SPI Flash : SST25x", no spaces before the slash, "04Kg"), not the
/// comments above them.
const CORE_ALTS: &[DfuAlt] = &[
    DfuAlt {
        alt: 0,
        layout: "@Internal Flash  /0x08000000/20*001Ka,108*001Kg",
    },
    DfuAlt {
        alt: 1,
        layout: "@SPI Flash : SST25x/0x00000000/512*04Kg",
    },
];

/// `claimed` in the Gen 2 application DCT (`HAL_IsDeviceClaimed`).
const GEN2_CLAIM_FLAG: u32 = 1825;

const fn gen2_tcp_only(
    platform: Platform,
    name: &'static str,
    id: u16,
    dfu_product_id: u16,
    runtime_product_id: u16,
    dfu_alts: &'static [DfuAlt],
) -> PlatformInfo {
    PlatformInfo {
        platform,
        name,
        id,
        vendor_id: PARTICLE_VID,
        dfu_product_id,
        runtime_product_id,
        generation: Generation::Gen2,
        dfu_alts,
        default_transport: Transport::Tcp,
        tcp: Some(DCT_TCP),
        udp: None,
        transport_selector: None,
        claim_flag_offset: Some(GEN2_CLAIM_FLAG),
        erase_before_write: false,
        transfer_size: GEN2_TRANSFER_SIZE,
    }
}

const fn gen3(
    platform: Platform,
    name: &'static str,
    id: u16,
    dfu_product_id: u16,
    runtime_product_id: u16,
) -> PlatformInfo {
    PlatformInfo {
        platform,
        name,
        id,
        vendor_id: PARTICLE_VID,
        dfu_product_id,
        runtime_product_id,
        generation: Generation::Gen3,
        dfu_alts: GEN3_ALTS,
        default_transport: Transport::Udp,
        tcp: None,
        udp: Some(DCT_UDP),
        transport_selector: None,
        // Where Gen 3 keeps its claim flag is not covered by the reference; left unknown.
        claim_flag_offset: None,
        erase_before_write: false,
        transfer_size: GEN3_TRANSFER_SIZE,
    }
}

pub const PLATFORMS: [PlatformInfo; 6] = [
    PlatformInfo {
        platform: Platform::Core,
        name: "Core",
        id: 0,
        vendor_id: CORE_VID,
        dfu_product_id: 0x607f,
        runtime_product_id: 0x607d,
        generation: Generation::Gen1,
        dfu_alts: CORE_ALTS,
        default_transport: Transport::Tcp,
        tcp: Some(CORE_TCP),
        udp: None,
        transport_selector: None,
        claim_flag_offset: None,
        erase_before_write: true,
        transfer_size: CORE_TRANSFER_SIZE,
    },
    gen2_tcp_only(Platform::Photon, "Photon", 6, 0xd006, 0xc006, GEN2_ALTS),
    gen2_tcp_only(Platform::P1, "P1", 8, 0xd008, 0xc008, P1_ALTS),
    PlatformInfo {
        platform: Platform::Electron,
        name: "Electron",
        id: 10,
        vendor_id: PARTICLE_VID,
        dfu_product_id: 0xd00a,
        runtime_product_id: 0xc00a,
        generation: Generation::Gen2,
        dfu_alts: GEN2_ALTS,
        default_transport: Transport::Udp,
        tcp: Some(DCT_TCP),
        udp: Some(DCT_UDP),
        transport_selector: Some(TransportSelector {
            alt: KEYS_ALT,
            offset: 2977,
            tcp_value: 0x00,
            default_value: 0xFF,
        }),
        claim_flag_offset: Some(GEN2_CLAIM_FLAG),
        erase_before_write: false,
        transfer_size: GEN2_TRANSFER_SIZE,
    },
    gen3(Platform::Argon, "Argon", 12, 0xd00c, 0xc00c),
    gen3(Platform::Boron, "Boron", 13, 0xd00d, 0xc00d),
];

/// Which mode a connected USB device is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UsbMode {
    Dfu,
    Runtime,
}

impl Platform {
    pub fn info(self) -> &'static PlatformInfo {
        PLATFORMS
            .iter()
            .find(|p| p.platform == self)
            .expect("every platform is in the table")
    }

    /// Whether any of the platform's key slots holds a P-256 key (Electron, Gen 3): diagnosing
    /// it needs the curve arithmetic the page loads on demand (`keys::ec`).
    pub fn uses_ec_keys(self) -> bool {
        let info = self.info();
        [Transport::Tcp, Transport::Udp]
            .into_iter()
            .filter_map(|t| info.keys(t))
            .any(|k| {
                k.private_key.algorithm == KeyAlgorithm::EcP256
                    || k.server_key.algorithm == KeyAlgorithm::EcP256
            })
    }

    /// Looks a platform up by Particle's numeric platform id.
    pub fn from_id(id: u16) -> Option<Self> {
        PLATFORMS.iter().find(|p| p.id == id).map(|p| p.platform)
    }

    /// Identifies a device from its USB ids, in either mode; `None` for a non-Particle device.
    pub fn from_usb_ids(vendor_id: u16, product_id: u16) -> Option<(Self, UsbMode)> {
        PLATFORMS.iter().find_map(|p| {
            if p.vendor_id != vendor_id {
                None
            } else if p.dfu_product_id == product_id {
                Some((p.platform, UsbMode::Dfu))
            } else if p.runtime_product_id == product_id {
                Some((p.platform, UsbMode::Runtime))
            } else {
                None
            }
        })
    }
}

/// The USB serial number a Core's DFU bootloader reports, computed from its device ID: the
/// bootloader does not send the ID itself but 12 upper-case hex digits, the 32-bit sum of the
/// unique ID's first and third words followed by the top 16 bits of its second (v0.4.9
/// `bootloader/src/core/dfu_hal.c` 125-140; the words at `ID1`, `ID2`, `ID3`,
/// `platform/MCU/STM32F1xx/SPARK_Firmware_Driver/inc/platform_config.h` 35-37). The device ID is
/// those 12 bytes in memory order (`hal/src/core/deviceid_hal.cpp` 34-39), so the words are
/// little-endian. The serial cannot give the ID back (a sum loses a word), but it can confirm one.
/// `None` unless `device_id` is 24 hex digits.
pub fn core_dfu_serial(device_id: &str) -> Option<String> {
    let id = device_id.trim();
    if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let word = |n: usize| {
        let mut bytes = [0u8; 4];
        for (i, b) in bytes.iter_mut().enumerate() {
            let at = (n * 4 + i) * 2;
            *b = u8::from_str_radix(&id[at..at + 2], 16).ok()?;
        }
        Some(u32::from_le_bytes(bytes))
    };
    let (id1, id2, id3) = (word(0)?, word(1)?, word(2)?);
    let sum = id1.wrapping_add(id3);
    // A zero sum leaves the compiled-in "CORE 13" (dfu_hal.c 134): not a serial to confirm with.
    (sum != 0).then(|| format!("{sum:08X}{:04X}", id2 >> 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_electron_and_gen3_have_ec_keys() {
        for p in [Platform::Core, Platform::Photon, Platform::P1] {
            assert!(!p.uses_ec_keys(), "{p:?}");
        }
        for p in [Platform::Electron, Platform::Argon, Platform::Boron] {
            assert!(p.uses_ec_keys(), "{p:?}");
        }
    }

    #[test]
    fn photon_is_found_in_both_modes() {
        assert_eq!(
            Platform::from_usb_ids(0x2b04, 0xd006),
            Some((Platform::Photon, UsbMode::Dfu))
        );
        assert_eq!(
            Platform::from_usb_ids(0x2b04, 0xc006),
            Some((Platform::Photon, UsbMode::Runtime))
        );
        assert_eq!(
            Platform::from_usb_ids(0x1d50, 0x607f),
            Some((Platform::Core, UsbMode::Dfu))
        );
    }

    #[test]
    fn foreign_devices_are_not_recognised() {
        // An ST DfuSe bootloader, and a Particle product id under the wrong vendor.
        assert_eq!(Platform::from_usb_ids(0x0483, 0xdf11), None);
        assert_eq!(Platform::from_usb_ids(0x1d50, 0xd006), None);
    }

    #[test]
    fn key_slots_match_the_cli_segment_table() {
        let photon = Platform::Photon.info();
        let tcp = photon.keys(Transport::Tcp).unwrap();
        assert_eq!((tcp.private_key.offset, tcp.private_key.size), (34, 612));
        let server = tcp.server_key;
        assert_eq!((server.offset, server.size), (2082, 512));
        assert_eq!((server.address_offset, server.port_offset), (384, 450));
        assert_eq!(server.address_block_offset(), 2466);
        assert!(photon.keys(Transport::Udp).is_none());

        let electron = Platform::Electron.info();
        let udp = electron.keys(Transport::Udp).unwrap();
        assert_eq!((udp.private_key.offset, udp.private_key.size), (3106, 192));
        assert_eq!((udp.server_key.offset, udp.server_key.size), (3298, 320));
        assert_eq!(udp.server_key.address_block_offset(), 3490);
        assert_eq!(udp.server_key.port_offset, 258);
        // The UDP region ends exactly where the device id starts.
        assert_eq!(udp.server_key.offset + udp.server_key.size, 3618);

        let core = Platform::Core.info();
        let core_tcp = core.default_keys();
        assert_eq!(
            (core_tcp.private_key.offset, core_tcp.private_key.size),
            (0x2000, 1024)
        );
        assert_eq!(
            (core_tcp.server_key.offset, core_tcp.server_key.size),
            (0x1000, 2048)
        );
        assert!(core.erase_before_write);
        for p in &PLATFORMS {
            for keys in [p.tcp, p.udp].into_iter().flatten() {
                assert_eq!(
                    keys.default_server_region.len(),
                    keys.server_key.size as usize,
                    "{}",
                    p.name
                );
                assert_eq!(
                    keys.server_key.port_offset,
                    keys.server_key.address_offset + 66
                );
            }
            assert!(p.dfu_alts.iter().any(|a| a.alt == KEYS_ALT), "{}", p.name);
        }
    }

    #[test]
    fn transport_rules() {
        let electron = Platform::Electron.info();
        assert_eq!(electron.active_transport(None), Transport::Udp);
        assert_eq!(electron.active_transport(Some(0xFF)), Transport::Udp);
        assert_eq!(electron.active_transport(Some(0x00)), Transport::Tcp);
        // Photon and Argon ignore the byte: they support one transport only.
        assert_eq!(
            Platform::Photon.info().active_transport(Some(0x00)),
            Transport::Tcp
        );
        assert_eq!(
            Platform::Argon.info().active_transport(Some(0x00)),
            Transport::Udp
        );
        assert_eq!(Platform::from_id(6), Some(Platform::Photon));
        assert_eq!(Platform::from_id(7), None);
    }

    #[test]
    fn snapshot_ranges_cover_the_slots() {
        assert_eq!(Platform::Photon.info().keys_snapshot_range(), 34..2594);
        assert_eq!(Platform::Electron.info().keys_snapshot_range(), 34..3618);
        assert_eq!(Platform::Argon.info().keys_snapshot_range(), 2978..3618);
        assert_eq!(Platform::Core.info().keys_snapshot_range(), 0x1000..0x2400);
    }

    #[test]
    fn core_dfu_serial_is_the_bootloaders_sum_of_the_unique_id_words() {
        // 53ff6d06 5075 5351 18311787: words 0x066dff53, 0x51537550, 0x87173118 (little-endian);
        // 0x066dff53 + 0x87173118 = 0x8d85306b, then the top half of 0x51537550.
        assert_eq!(
            core_dfu_serial("53ff6d065075535118311787").as_deref(),
            Some("8D85306B5153")
        );
        assert_eq!(
            core_dfu_serial("53FF6D065075535118311787"),
            core_dfu_serial("53ff6d065075535118311787")
        );
        // The sum wraps around 32 bits.
        assert_eq!(
            core_dfu_serial("ffffffff0000ffff02000000").as_deref(),
            Some("00000001FFFF")
        );
        assert_eq!(core_dfu_serial("53ff6d06507553511831178"), None);
        assert_eq!(core_dfu_serial("53ff6d06507553511831178g"), None);
        assert_eq!(
            core_dfu_serial("0100000000000000ffffffff"),
            None,
            "a zero sum"
        );
    }

    #[test]
    fn usb_ids_are_unique() {
        let mut ids: Vec<(u16, u16)> = PLATFORMS
            .iter()
            .flat_map(|p| {
                [
                    (p.vendor_id, p.dfu_product_id),
                    (p.vendor_id, p.runtime_product_id),
                ]
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PLATFORMS.len() * 2);
    }
}
