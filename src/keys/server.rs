//! The server-key region, built byte for byte the way `particle keys server` builds it
//! (particle-cli 3.51.0 `src/cmd/keys.js`, `_formatPublicKey` and `_createAddressBuffer`;
//! particle-dct.md 6.3): the key DER at offset 0, 0xFF padding to the segment size, and with a host
//! the address block at 384 (TCP, Core) or 192 (UDP) plus an optional big-endian port at 450 / 258.

use super::firmware::{self, FirmwareServerKey};
use super::import::{OID_EC_PUBLIC_KEY, OID_PRIME256V1, OID_RSA_ENCRYPTION};
use super::pem::read_key_file;
use super::{ERASED, KeyError};
use crate::device::{KeyAlgorithm, Platform, ServerKeySlot, Transport};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::der::Decode;
use rsa::pkcs8::{EncodePublicKey, SubjectPublicKeyInfoRef};
use rsa::traits::PublicKeyParts;

/// Longest domain name that fits before the port bytes: the block's value field runs from byte 2 to
/// byte 65, and the port is at 66 (particle-dct.md 5).
pub const MAX_DOMAIN_LEN: usize = 64;

/// What to put in the address block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ServerAddressSpec {
    /// No `--host`: the key file's own bytes (for the default files: the Particle cloud address).
    #[default]
    Unchanged,
    /// `--host` (a dotted IPv4 address or a domain; `$id` is allowed) and optional `--port`.
    Host { host: String, port: Option<u16> },
}

/// Builds the server-key region for a platform and transport. `key_file` is the server's public
/// key (SPKI or PKCS#1 public key, DER or PEM; or a DER region image such as the CLI's own
/// `rsa.pub.der`); `None` uses the Particle cloud key the CLI ships.
pub fn build_server_region(
    platform: Platform,
    transport: Transport,
    key_file: Option<&[u8]>,
    address: &ServerAddressSpec,
) -> Result<Vec<u8>, KeyError> {
    let keys = platform
        .info()
        .keys(transport)
        .ok_or(KeyError::NoSuchTransport(transport))?;
    let slot = keys.server_key;
    let size = slot.size as usize;
    let der = match key_file {
        None => keys.default_server_region.to_vec(),
        Some(file) => server_key_der(file, &slot)?,
    };
    if der.len() > size {
        return Err(KeyError::ServerKeyTooLarge {
            len: der.len(),
            size,
        });
    }
    let mut region = vec![ERASED; size];
    region[..der.len()].copy_from_slice(&der);
    if let ServerAddressSpec::Host { host, port } = address {
        let block = address_bytes(host)?;
        let at = slot.address_offset as usize;
        // Only the bytes written change; the tail of an older, longer domain stays behind, as with
        // the CLI. The firmware reads only `length` characters, so it is harmless.
        region[at..at + block.len()].copy_from_slice(&block);
        if let Some(port) = *port {
            if port == 0 || port == 0xFFFF {
                return Err(KeyError::InvalidPort { port });
            }
            // Over UDP too: the CLI writes the port at 258 (`_formatPublicKey`, `portOffset` of
            // the UDP segment), and the firmware then ignores it ([`ignored_udp_port`]).
            let at = slot.port_offset as usize;
            region[at..at + 2].copy_from_slice(&port.to_be_bytes());
        }
    }
    Ok(region)
}

/// The port of `address` that the firmware will not use: over UDP, Device OS replaces any stored
/// port other than the default (5684) with the default (`system/src/system_cloud_connection.cpp`
/// 161: `if (port == 0 || port == 0xffff || (udp && port != server_addr.port))`). `None` when the
/// port is used, absent or the default.
pub fn ignored_udp_port(transport: Transport, address: &ServerAddressSpec) -> Option<u16> {
    match address {
        ServerAddressSpec::Host {
            port: Some(port), ..
        } if transport == Transport::Udp && *port != transport.default_port() => Some(*port),
        _ => None,
    }
}

/// Encodes a host as the CLI does: all digits and dots ⇒ `00 04 a b c d`, else `01 len ASCII`
/// with no terminating NUL.
pub fn address_bytes(host: &str) -> Result<Vec<u8>, KeyError> {
    let invalid = || KeyError::InvalidHost {
        host: host.to_owned(),
    };
    if host.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let octets: Vec<u8> = host
            .split('.')
            .map(|part| part.parse::<u8>().ok().filter(|_| !part.is_empty()))
            .collect::<Option<_>>()
            .ok_or_else(invalid)?;
        if octets.len() != 4 {
            return Err(invalid());
        }
        let mut block = vec![0x00, 0x04];
        block.extend_from_slice(&octets);
        return Ok(block);
    }
    let without_id = host.replace("$id", "x");
    let valid_chars = without_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let valid_labels = without_id
        .split('.')
        .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    if !valid_chars || !valid_labels {
        return Err(invalid());
    }
    if host.len() > MAX_DOMAIN_LEN {
        return Err(KeyError::HostTooLong {
            len: host.len(),
            max: MAX_DOMAIN_LEN,
        });
    }
    let mut block = vec![0x01, host.len() as u8];
    block.extend_from_slice(host.as_bytes());
    Ok(block)
}

/// Turns a user's server key file into the DER the region starts with, refusing keys the firmware
/// cannot use for this slot. A PEM (or PKCS#1) key is converted to SPKI DER, as the CLI does with
/// `openssl ... -pubout -outform DER`; a DER file is used whole, as the CLI does.
fn server_key_der(file: &[u8], slot: &ServerKeySlot) -> Result<Vec<u8>, KeyError> {
    let key_file = read_key_file(file)?;
    let (spki, whole) = match key_file.label.as_deref() {
        Some("PUBLIC KEY") => (key_file.der.to_vec(), None),
        Some("RSA PUBLIC KEY") => (pkcs1_public_to_spki(&key_file.der)?, None),
        Some(label) if label.contains("PRIVATE KEY") => return Err(private_not_public()),
        Some(_) => return Err(KeyError::NotAKeyFile),
        None => {
            let der: &[u8] = &key_file.der;
            // The first TLV is the key; the rest of a DER file may be a region image's padding
            // and address block.
            let tlv = firmware::read_tlv(der, 0, der.len()).ok_or(KeyError::NotAKeyFile)?;
            let first = &der[..tlv.value.end];
            if SubjectPublicKeyInfoRef::from_der(first).is_ok() {
                (first.to_vec(), Some(der.to_vec()))
            } else if rsa::pkcs1::RsaPublicKeyRef::from_der(first).is_ok() {
                (pkcs1_public_to_spki(first)?, None)
            } else if rsa::pkcs8::PrivateKeyInfoRef::from_der(first).is_ok()
                || rsa::pkcs1::RsaPrivateKeyRef::from_der(first).is_ok()
                || super::import::looks_like_sec1(first)
            {
                return Err(private_not_public());
            } else {
                return Err(KeyError::NotAKeyFile);
            }
        }
    };
    check_server_spki(&spki, slot)?;
    Ok(whole.unwrap_or(spki))
}

fn private_not_public() -> KeyError {
    KeyError::WrongKeyKind {
        found: "private",
        expected: "public",
    }
}

fn pkcs1_public_to_spki(der: &[u8]) -> Result<Vec<u8>, KeyError> {
    let key = rsa::PublicKey::from_pkcs1_der(der).map_err(|_| KeyError::NotAKeyFile)?;
    let spki = key
        .to_public_key_der()
        .map_err(|e| KeyError::Encoding(e.to_string()))?;
    Ok(spki.as_bytes().to_vec())
}

/// Checks an SPKI against the slot: RSA-2048, e = 65537, in exactly the 294-byte layout the
/// firmware's fixed offset assumes; or a P-256 key for UDP.
fn check_server_spki(spki: &[u8], slot: &ServerKeySlot) -> Result<(), KeyError> {
    let info = SubjectPublicKeyInfoRef::from_der(spki).map_err(|_| KeyError::NotAKeyFile)?;
    let (oid, params) = info.algorithm.oids().map_err(|_| KeyError::NotAKeyFile)?;
    let found = if oid == OID_RSA_ENCRYPTION {
        let key = rsa::PublicKey::from_pkcs1_der(info.subject_public_key.raw_bytes())
            .map_err(|_| KeyError::NotAKeyFile)?;
        let bits = key.n().bit_width();
        match slot.algorithm {
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa1024 if bits != 2048 => {
                return Err(KeyError::WrongKeySize {
                    bits,
                    expected: 2048,
                });
            }
            KeyAlgorithm::Rsa2048 => {
                let e = key.e().to_be_bytes();
                let e = firmware::strip_leading_zeros(&e);
                if e != [0x01, 0x00, 0x01] {
                    return Err(KeyError::WrongExponent {
                        exponent: format!("{} bytes long", e.len()),
                    });
                }
                // The firmware takes the modulus at offset 33; make sure that is where it is.
                match firmware::read_server_public_key(spki) {
                    FirmwareServerKey::Usable(read) if read.n() == key.n() => return Ok(()),
                    _ => {
                        return Err(KeyError::FirmwareCannotRead(
                            firmware::UnusableReason::UnexpectedEncoding {
                                field: firmware::KeyField::Modulus,
                            },
                        ));
                    }
                }
            }
            _ => format!("an RSA-{bits} key"),
        }
    } else if oid == OID_EC_PUBLIC_KEY && params == Some(OID_PRIME256V1) {
        if slot.algorithm == KeyAlgorithm::EcP256 {
            return Ok(());
        }
        "an EC P-256 key".to_owned()
    } else if oid == OID_EC_PUBLIC_KEY {
        "an EC key on a curve other than P-256".to_owned()
    } else {
        format!("a key of another algorithm (OID {oid})")
    };
    Err(KeyError::WrongAlgorithm {
        found,
        expected: slot.algorithm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_region_is_the_shipped_file() {
        let region = build_server_region(
            Platform::Photon,
            Transport::Tcp,
            None,
            &ServerAddressSpec::Unchanged,
        )
        .unwrap();
        assert_eq!(&region[..], &include_bytes!("assets/rsa.pub.der")[..]);
    }

    #[test]
    fn ipv4_and_domain_blocks() {
        assert_eq!(
            address_bytes("192.168.1.10").unwrap(),
            [0, 4, 192, 168, 1, 10]
        );
        assert!(address_bytes("192.168.1").is_err());
        assert!(address_bytes("192.168.1.256").is_err());
        assert!(address_bytes("").is_err());
        assert!(address_bytes("1..2.3").is_err());
        assert!(address_bytes("bad host").is_err());
        assert!(address_bytes("-a.example").is_err());
        assert_eq!(
            &address_bytes("$id.udp.particle.io").unwrap()[..2],
            &[1, 19]
        );
        assert_eq!(
            address_bytes(&"a".repeat(65)).err(),
            Some(KeyError::HostTooLong { len: 65, max: 64 })
        );
    }
}
