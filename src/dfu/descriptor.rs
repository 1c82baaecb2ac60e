//! USB descriptors the DFU host reads: the configuration descriptor with its interface and DFU
//! functional descriptors, and string descriptors (alternate names are DfuSe memory layouts).
//!
//! Parsing is pure; the `read_*` functions issue standard GET_DESCRIPTOR requests over a
//! [`Transport`]. Browsers hide class-specific descriptors, so the host walks the raw
//! configuration descriptor itself (dfuse-protocol.md, 4).

use super::Error;
use crate::usb::{ControlSetup, Recipient, RequestType, Transport, standard};

/// The DFU functional descriptor (DFU 1.1, 4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionalDescriptor {
    #[doc(alias = "bmAttributes")]
    pub attributes: u8,
    #[doc(alias = "wDetachTimeOut")]
    pub detach_timeout_ms: u16,
    /// The most bytes one DNLOAD or UPLOAD may carry, and the DfuSe block stride.
    #[doc(alias = "wTransferSize")]
    pub transfer_size: u16,
    /// `bcdDFUVersion`; absent in 7-byte DFU 1.0 descriptors.
    #[doc(alias = "bcdDFUVersion")]
    pub dfu_version: Option<u16>,
}

impl FunctionalDescriptor {
    pub const CAN_DOWNLOAD: u8 = 1;
    pub const CAN_UPLOAD: u8 = 2;
    pub const MANIFESTATION_TOLERANT: u8 = 4;
    pub const WILL_DETACH: u8 = 8;

    /// Parses the descriptor; DFU 1.0's 7-byte form is accepted as dfu-util does.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let [len, kind, attributes, d0, d1, t0, t1, rest @ ..] = bytes else {
            return Err(Error::BadDescriptor {
                what: "DFU functional",
            });
        };
        if *kind != standard::DFU_FUNCTIONAL || *len < 7 {
            return Err(Error::BadDescriptor {
                what: "DFU functional",
            });
        }
        let dfu_version = match rest {
            [v0, v1, ..] if *len >= 9 => Some(u16::from_le_bytes([*v0, *v1])),
            _ => None,
        };
        Ok(Self {
            attributes: *attributes,
            detach_timeout_ms: u16::from_le_bytes([*d0, *d1]),
            transfer_size: u16::from_le_bytes([*t0, *t1]),
            dfu_version,
        })
    }

    /// DfuSe is signalled by `bcdDFUVersion == 0x011A`.
    pub fn is_dfuse(&self) -> bool {
        self.dfu_version == Some(0x011A)
    }

    pub fn can_download(&self) -> bool {
        self.attributes & Self::CAN_DOWNLOAD != 0
    }

    pub fn can_upload(&self) -> bool {
        self.attributes & Self::CAN_UPLOAD != 0
    }
}

/// One interface descriptor (one alternate setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceDescriptor {
    pub number: u8,
    pub alternate: u8,
    /// Index of the name string (`iInterface`), 0 when there is none.
    pub name_index: u8,
}

/// What the host needs from a configuration descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    pub interfaces: Vec<InterfaceDescriptor>,
    pub functional: Option<FunctionalDescriptor>,
}

impl Configuration {
    /// Walks a complete configuration descriptor. A zero or overlong `bLength` ends the walk
    /// rather than looping or reading past the buffer.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() < 9 || bytes[1] != standard::CONFIGURATION {
            return Err(Error::BadDescriptor {
                what: "configuration",
            });
        }
        let mut interfaces = Vec::new();
        let mut functional = None;
        let mut at = 0usize;
        while let Some(&len) = bytes.get(at) {
            let len = usize::from(len);
            let Some(desc) = bytes.get(at..at + len) else {
                break;
            };
            if len < 2 {
                break;
            }
            match desc[1] {
                standard::INTERFACE if len >= 9 => interfaces.push(InterfaceDescriptor {
                    number: desc[2],
                    alternate: desc[3],
                    name_index: desc[8],
                }),
                standard::DFU_FUNCTIONAL if functional.is_none() => {
                    functional = FunctionalDescriptor::parse(desc).ok();
                }
                _ => {}
            }
            at += len;
        }
        Ok(Self {
            interfaces,
            functional,
        })
    }

    pub fn alternate(&self, interface: u8, alternate: u8) -> Option<&InterfaceDescriptor> {
        self.interfaces
            .iter()
            .find(|i| i.number == interface && i.alternate == alternate)
    }
}

/// Decodes a string descriptor (`bLength, 3, UTF-16LE...`), replacing invalid code units.
pub fn parse_string(bytes: &[u8]) -> Result<String, Error> {
    let [len, kind, rest @ ..] = bytes else {
        return Err(Error::BadDescriptor { what: "string" });
    };
    if *kind != standard::STRING {
        return Err(Error::BadDescriptor { what: "string" });
    }
    let len = usize::from(*len).clamp(2, bytes.len()) - 2;
    let units: Vec<u16> = rest[..len - len % 2]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Ok(String::from_utf16_lossy(&units))
}

fn get_descriptor(kind: u8, index: u8, w_index: u16, recipient: Recipient) -> ControlSetup {
    ControlSetup {
        request_type: RequestType::Standard,
        recipient,
        request: standard::GET_DESCRIPTOR,
        value: u16::from(kind) << 8 | u16::from(index),
        index: w_index,
    }
}

/// Reads configuration descriptor `index` in two steps: its 9-byte header for wTotalLength, then
/// the whole descriptor.
pub async fn read_configuration<T: Transport>(
    t: &mut T,
    index: u8,
) -> Result<Configuration, Error> {
    let setup = get_descriptor(standard::CONFIGURATION, index, 0, Recipient::Device);
    let head = t.control_in(setup, 9).await?;
    let [_, _, l0, l1, ..] = head[..] else {
        return Err(Error::ShortReply {
            request: "GET_DESCRIPTOR(configuration)",
            got: head.len(),
            expected: 9,
        });
    };
    let total = u16::from_le_bytes([l0, l1]);
    let full = if usize::from(total) <= head.len() {
        head
    } else {
        t.control_in(setup, total).await?
    };
    Configuration::parse(&full)
}

/// The fallback for a configuration descriptor without a functional descriptor: the Photon's DFU
/// class handler answers GET_DESCRIPTOR(0x21) addressed to the interface.
pub async fn read_functional<T: Transport>(
    t: &mut T,
    interface: u8,
) -> Result<FunctionalDescriptor, Error> {
    let setup = get_descriptor(
        standard::DFU_FUNCTIONAL,
        0,
        u16::from(interface),
        Recipient::Interface,
    );
    let bytes = t.control_in(setup, 9).await?;
    FunctionalDescriptor::parse(&bytes)
}

/// Reads string descriptor `index` in the device's first language.
pub async fn read_string<T: Transport>(t: &mut T, index: u8) -> Result<String, Error> {
    let langs = t
        .control_in(
            get_descriptor(standard::STRING, 0, 0, Recipient::Device),
            255,
        )
        .await?;
    let lang = match langs[..] {
        [_, _, l0, l1, ..] => u16::from_le_bytes([l0, l1]),
        _ => 0x0409,
    };
    let bytes = t
        .control_in(
            get_descriptor(standard::STRING, index, lang, Recipient::Device),
            255,
        )
        .await?;
    parse_string(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photon_functional_descriptor() {
        let d =
            FunctionalDescriptor::parse(&[0x09, 0x21, 0x0B, 0xFF, 0x00, 0x00, 0x10, 0x1A, 0x01])
                .unwrap();
        assert_eq!(d.transfer_size, 4096);
        assert_eq!(d.detach_timeout_ms, 255);
        assert!(d.is_dfuse() && d.can_download() && d.can_upload());
        assert_eq!(
            d.attributes & FunctionalDescriptor::MANIFESTATION_TOLERANT,
            0
        );
    }

    #[test]
    fn dfu_1_0_descriptor_has_no_version() {
        let d = FunctionalDescriptor::parse(&[0x07, 0x21, 0x03, 0, 0, 0, 4]).unwrap();
        assert_eq!((d.transfer_size, d.dfu_version), (1024, None));
        assert!(!d.is_dfuse());
        assert!(FunctionalDescriptor::parse(&[0x07, 0x21, 0x03]).is_err());
        assert!(FunctionalDescriptor::parse(&[0x09, 0x04, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn photon_configuration_walk() {
        let bytes = [
            0x09, 0x02, 0x24, 0x00, 0x01, 0x01, 0x02, 0xC0, 0x32, //
            0x09, 0x04, 0x00, 0x00, 0x00, 0xFE, 0x01, 0x02, 0x06, //
            0x09, 0x04, 0x00, 0x01, 0x00, 0xFE, 0x01, 0x02, 0x07, //
            0x09, 0x21, 0x0B, 0xFF, 0x00, 0x00, 0x10, 0x1A, 0x01,
        ];
        let c = Configuration::parse(&bytes).unwrap();
        assert_eq!(c.interfaces.len(), 2);
        assert_eq!(c.alternate(0, 1).unwrap().name_index, 7);
        assert_eq!(c.functional.unwrap().transfer_size, 4096);
        // A truncated or zero-length descriptor ends the walk instead of panicking.
        assert_eq!(
            Configuration::parse(&bytes[..20]).unwrap().interfaces.len(),
            1
        );
        let mut zero = bytes;
        zero[9] = 0;
        assert!(Configuration::parse(&zero).unwrap().interfaces.is_empty());
    }

    #[test]
    fn strings_decode_and_survive_odd_lengths() {
        assert_eq!(
            parse_string(&[8, 3, b'D', 0, b'F', 0, b'U', 0]).unwrap(),
            "DFU"
        );
        assert_eq!(parse_string(&[9, 3, b'D', 0, b'F']).unwrap(), "D");
        assert_eq!(parse_string(&[0, 3]).unwrap(), "");
        assert!(parse_string(&[2]).is_err());
    }
}
