//! The key and server-address requests of a running Gen 2 device (Photon, P1, Electron), and the
//! two requests a key repair ends with: reset (40) and listening mode (70).
//!
//! Device OS v2.3.1, `system/src/control/config.cpp` and `hal/src/stm32f2xx/ota_flash_hal_stm32f2xx.cpp`:
//! - 211 (GET_SECURITY_KEY) answers the **whole DCT slot** of the key type
//!   (`lock_security_key_data`: `*size = n`, the slot size of `dctAddressForKeyType`), not the
//!   key's own length;
//! - 210 (SET_SECURITY_KEY) refuses data longer than the slot (`SYSTEM_ERROR_TOO_LARGE`), copies
//!   it, pads it with 0xFF to the slot size and writes the whole slot with `dct_write_app_data`
//!   (`store_security_key_data`). On the Photon and P1 the TCP server key slot (768 bytes at 2082)
//!   contains the server address block (2466 = 2082 + 384), so a short 210 of the server key
//!   erases the address: write the whole slot;
//! - 220 (SET_SERVER_ADDRESS) takes a string of at most 63 bytes (`char address[64]` in the
//!   nanopb struct: a longer one fails to decode, `SYSTEM_ERROR_BAD_DATA`); `sscanf("%u.%u.%u.%u")`
//!   decides between an IP address and a domain name; the block is written 0xFF-filled past the
//!   68 bytes of `ServerAddress` (`encodeServerAddressData`), the port as a 16-bit big-endian number;
//! - 221 (GET_SERVER_ADDRESS) parses the block (`parseServerAddressData`) and answers
//!   `SYSTEM_ERROR_NOT_FOUND` for a blank or invalid one (type byte not 0 or 1, or a domain length
//!   over 126);
//! - a key type or protocol the platform's build does not use (UDP on a Photon) answers
//!   `SYSTEM_ERROR_NOT_SUPPORTED`, and on Gen 3 (nRF52840) all four answer it.

use super::channel::{Channel, decode};
use super::error::{Error, ResultCode};
use super::request_type;
use crate::usb::Transport;
use prost::Message;
use zeroize::Zeroizing;

/// `CTRL_REQUEST_SET_SECURITY_KEY` (`system/inc/system_control.h`).
pub const SET_SECURITY_KEY: u16 = 210;
/// `CTRL_REQUEST_GET_SECURITY_KEY`.
pub const GET_SECURITY_KEY: u16 = 211;
/// `CTRL_REQUEST_SET_SERVER_ADDRESS`.
pub const SET_SERVER_ADDRESS: u16 = 220;
/// `CTRL_REQUEST_GET_SERVER_ADDRESS`.
pub const GET_SERVER_ADDRESS: u16 = 221;

/// The longest address 220 accepts: `char address[64]` with its terminating NUL.
pub const MAX_ADDRESS_LEN: usize = 63;

/// `particle.ctrl.SecurityKeyType` (`config.pb.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SecurityKeyType {
    TcpDevicePrivateKey = 1,
    TcpDevicePublicKey = 2,
    TcpServerPublicKey = 3,
    UdpDevicePrivateKey = 4,
    UdpDevicePublicKey = 5,
    UdpServerPublicKey = 6,
}

impl SecurityKeyType {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            1 => Self::TcpDevicePrivateKey,
            2 => Self::TcpDevicePublicKey,
            3 => Self::TcpServerPublicKey,
            4 => Self::UdpDevicePrivateKey,
            5 => Self::UdpDevicePublicKey,
            6 => Self::UdpServerPublicKey,
            _ => return None,
        })
    }
}

/// `particle.ctrl.ServerProtocolType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ServerProtocol {
    Tcp = 1,
    Udp = 2,
}

/// `particle.ctrl.SetSecurityKeyRequest`: `SecurityKeyType type = 1; bytes data = 2`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetSecurityKeyRequest {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}

/// `particle.ctrl.GetSecurityKeyRequest`: `SecurityKeyType type = 1`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetSecurityKeyRequest {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
}

/// `particle.ctrl.GetSecurityKeyReply`: `bytes data = 1`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetSecurityKeyReply {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

/// `particle.ctrl.SetServerAddressRequest`: `ServerProtocolType protocol = 1; string address = 2;
/// int32 port = 3`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SetServerAddressRequest {
    #[prost(int32, tag = "1")]
    pub protocol: i32,
    #[prost(string, tag = "2")]
    pub address: String,
    #[prost(int32, tag = "3")]
    pub port: i32,
}

/// `particle.ctrl.GetServerAddressRequest`: `ServerProtocolType protocol = 1`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetServerAddressRequest {
    #[prost(int32, tag = "1")]
    pub protocol: i32,
}

/// `particle.ctrl.GetServerAddressReply`: `string address = 1; int32 port = 2`. The address is
/// read as bytes: nanopb writes the domain bytes of the DCT as they are (no UTF-8 check), and a
/// damaged block must not fail the decoding of the whole reply.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetServerAddressReply {
    #[prost(bytes = "vec", tag = "1")]
    pub address: Vec<u8>,
    #[prost(int32, tag = "2")]
    pub port: i32,
}

/// What 221 answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ServerAddressReply {
    /// A domain name or dotted IP address (lossily decoded as UTF-8) and the port.
    Address { address: String, port: u16 },
    /// `SYSTEM_ERROR_NOT_FOUND`: the block is blank (0xFF) or not a valid address.
    NotSet,
}

impl ServerAddressReply {
    /// How the firmware of a TCP device (Photon, P1) connects with this address: the port stored
    /// as 0 or 0xFFFF (a block written without one) is replaced by `SPARK_SERVER_PORT`, 5683
    /// (Device OS v2.3.1 `system_cloud_connection.cpp` 161), so 221's raw 65535 is not shown as
    /// the port used.
    pub fn tcp_destination(&self) -> String {
        match self {
            Self::Address {
                address,
                port: 0 | 0xFFFF,
            } => {
                format!("{address}:5683 (no port stored, so the default)")
            }
            Self::Address { address, port } => format!("{address}:{port}"),
            Self::NotSet => "not set (it uses its built-in one)".into(),
        }
    }
}

impl Error {
    /// Whether the firmware answered "not supported" (Gen 3 for the key requests, a key type the
    /// platform does not use, or a request type the firmware does not know).
    pub fn is_not_supported(&self) -> bool {
        matches!(
            self,
            Error::Failed {
                code: ResultCode::NotSupported,
                ..
            }
        )
    }
}

impl<T: Transport> Channel<'_, T> {
    /// Request 211: the whole DCT slot of `key` (not the key's own length), in a zeroizing buffer.
    pub async fn get_security_key(
        &mut self,
        key: SecurityKeyType,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let payload = GetSecurityKeyRequest { r#type: key as i32 }.encode_to_vec();
        let reply = self.request(GET_SECURITY_KEY, &payload).await?;
        let reply = Zeroizing::new(reply.data);
        let data = decode::<GetSecurityKeyReply>(GET_SECURITY_KEY, &reply)?.data;
        Ok(Zeroizing::new(data))
    }

    /// Request 210: writes `data` into the slot of `key`, padded with 0xFF to the slot size by
    /// the device. The encoded request (which holds the key) is zeroized after it is sent.
    pub async fn set_security_key(
        &mut self,
        key: SecurityKeyType,
        data: &[u8],
    ) -> Result<(), Error> {
        let message = SetSecurityKeyRequest {
            r#type: key as i32,
            data: data.to_vec(),
        };
        let payload = Zeroizing::new(message.encode_to_vec());
        drop(Zeroizing::new(message.data));
        self.request(SET_SECURITY_KEY, &payload).await.map(drop)
    }

    /// Request 220: the server address, as a domain name or a dotted IPv4 address.
    pub async fn set_server_address(
        &mut self,
        protocol: ServerProtocol,
        address: &str,
        port: u16,
    ) -> Result<(), Error> {
        if address.len() > MAX_ADDRESS_LEN {
            return Err(Error::Failed {
                request_type: SET_SERVER_ADDRESS,
                code: ResultCode::TooLarge,
            });
        }
        let payload = SetServerAddressRequest {
            protocol: protocol as i32,
            address: address.to_owned(),
            port: i32::from(port),
        }
        .encode_to_vec();
        self.request(SET_SERVER_ADDRESS, &payload).await.map(drop)
    }

    /// Request 221: the server address as the firmware parses it; [`ServerAddressReply::NotSet`]
    /// for a blank or invalid block.
    pub async fn get_server_address(
        &mut self,
        protocol: ServerProtocol,
    ) -> Result<ServerAddressReply, Error> {
        let payload = GetServerAddressRequest {
            protocol: protocol as i32,
        }
        .encode_to_vec();
        match self.request(GET_SERVER_ADDRESS, &payload).await {
            Ok(reply) => {
                let r = decode::<GetServerAddressReply>(GET_SERVER_ADDRESS, &reply.data)?;
                Ok(ServerAddressReply::Address {
                    address: String::from_utf8_lossy(&r.address).into_owned(),
                    // `ServerAddress::port` is a uint16_t.
                    port: r.port as u16,
                })
            }
            Err(Error::Failed {
                code: ResultCode::NotFound,
                ..
            }) => Ok(ServerAddressReply::NotSet),
            Err(e) => Err(e),
        }
    }

    /// Request 70: leaves the cloud connection attempt and enters listening mode (the LED
    /// blinks dark blue). `network_listen` in `system_control_internal.cpp`.
    pub async fn start_listening(&mut self) -> Result<(), Error> {
        self.request(request_type::START_LISTENING, &[])
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_encode_as_nanopb_reads_them() {
        // Field 1 varint 3, field 2 length-delimited.
        let m = SetSecurityKeyRequest {
            r#type: 3,
            data: vec![0x30, 0x82],
        };
        assert_eq!(m.encode_to_vec(), vec![0x08, 3, 0x12, 2, 0x30, 0x82]);
        assert_eq!(
            GetServerAddressRequest { protocol: 1 }.encode_to_vec(),
            vec![0x08, 1]
        );
        let m = SetServerAddressRequest {
            protocol: 1,
            address: "a.b".into(),
            port: 5683,
        };
        assert_eq!(
            m.encode_to_vec(),
            vec![0x08, 1, 0x12, 3, b'a', b'.', b'b', 0x18, 0xb3, 0x2c]
        );
        // A reply whose address bytes are not UTF-8 still decodes.
        let r = GetServerAddressReply::decode(&[0x0a, 2, 0xff, b'x', 0x10, 1][..]).unwrap();
        assert_eq!(r.address, vec![0xff, b'x']);
        assert_eq!(r.port, 1);
        assert_eq!(
            SecurityKeyType::from_i32(6),
            Some(SecurityKeyType::UdpServerPublicKey)
        );
        assert_eq!(SecurityKeyType::from_i32(0), None);
    }

    #[test]
    fn an_unset_port_is_the_default_one_the_firmware_connects_to() {
        let at = |port| ServerAddressReply::Address {
            address: "device.spark.io".into(),
            port,
        };
        assert_eq!(
            at(0xFFFF).tcp_destination(),
            "device.spark.io:5683 (no port stored, so the default)"
        );
        assert_eq!(
            at(0).tcp_destination(),
            "device.spark.io:5683 (no port stored, so the default)"
        );
        assert_eq!(at(5684).tcp_destination(), "device.spark.io:5684");
        assert!(
            ServerAddressReply::NotSet
                .tcp_destination()
                .starts_with("not set")
        );
    }
}
