//! The running firmware's key and server-address requests (210, 211, 220, 221) on the DCT the
//! DFU personality shares, written from Device OS v2.3.1 (`system/src/control/config.cpp`,
//! `hal/src/stm32f2xx/ota_flash_hal_stm32f2xx.cpp`: `dctAddressForKeyType`,
//! `dctAddressForProtocolType`, `lock_security_key_data`, `store_security_key_data`,
//! `load_server_address`, `store_server_address`; `hal/shared/parse_server_address.h`), not from
//! `crate::runtime::keys`; its own prost messages for the same reason.
//!
//! Also the device-side state a key repair over these requests needs: how many times the firmware
//! booted (so the world handshakes again after request 40) and its connection status as the
//! world's handshake left it (request 300).

use super::{Mode, Platform, SimBuilder, SimDevice};
use std::cell::RefCell;

/// Device OS result codes (`services/inc/system_error.h`).
const NOT_SUPPORTED: i32 = -120;
const NOT_FOUND: i32 = -170;
const TOO_LARGE: i32 = -190;
const BAD_DATA: i32 = -280;
/// What a refused DCT write answers: `dct_write_app_data`'s failure code is not named in the
/// source (unverified); the simulator reports `SYSTEM_ERROR_UNKNOWN` unless told otherwise.
pub const WRITE_REFUSED: i32 = -100;

/// `sizeof(ServerAddress)` without its padding: type, length, 64-byte union, port.
const ADDRESS_STRUCT: usize = 68;

/// Faults of the key requests. All default to off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFaults {
    /// 210 and 220 finish with this result code and write nothing.
    pub refuse_writes: Option<i32>,
    /// The cable is pulled during the first 210: the slot is written (the DCT writer copies the
    /// table to its other sector and switches only once it is complete, so a write is whole or
    /// absent), then the device drops off the bus before the host hears the result.
    pub unplug_on_write: bool,
    /// This many 210 writes store the slot with one byte changed (a flash cell that does not
    /// take the value): the read-back differs.
    pub corrupt_writes: u32,
    /// The key requests never complete: the system thread never takes them up (PENDING forever).
    pub never_complete: bool,
}

/// The firmware's state beyond the request queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirmwareState {
    /// How many times the firmware restarted from normal mode (request 40, a replug), each
    /// followed by a new handshake in the world.
    pub restarts: u32,
    /// Request 300's answer, once the world has decided it (connecting until the handshake,
    /// then connected or still connecting): `None` keeps the queue's own rule.
    pub cloud_status: Option<i32>,
}

/// The DCT lent to the request handlers for one system-thread turn.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyDct {
    platform: Platform,
    dct: Vec<u8>,
    faults: KeyFaults,
    /// Set by a handler: the device drops off the bus after this turn.
    unplug: bool,
}

impl KeyDct {
    /// Whether the system thread leaves request `kind` queued (the never-complete fault).
    pub fn stuck(&self, kind: u16) -> bool {
        self.faults.never_complete && matches!(kind, 210 | 211 | 220 | 221)
    }

    /// Runs request `kind` if it is one of the four, `None` otherwise.
    pub fn execute(&mut self, kind: u16, payload: &[u8]) -> Option<(i32, Vec<u8>)> {
        if !matches!(kind, 210 | 211 | 220 | 221) {
            return None;
        }
        // Gen 3 (nRF52840): all four are `SYSTEM_ERROR_NOT_SUPPORTED` (`config.cpp`, the
        // `HAL_PLATFORM_NRF52840` branch). The Core has no control requests at all.
        if !matches!(
            self.platform,
            Platform::Photon | Platform::P1 | Platform::Electron
        ) {
            return Some((NOT_SUPPORTED, Vec::new()));
        }
        Some(match kind {
            210 => self.set_key(payload),
            211 => self.get_key(payload),
            220 => self.set_address(payload),
            _ => self.get_address(payload),
        })
    }

    /// `dctAddressForKeyType`: TCP types on every Gen 2 build, UDP types only on the Electron
    /// (`HAL_PLATFORM_CLOUD_UDP`, `hal/inc/hal_platform_compat.h`).
    fn key_slot(&self, kind: i32) -> Option<(usize, usize)> {
        let udp = self.platform == Platform::Electron;
        Some(match kind {
            1 => (34, 1216),
            2 => (1250, 384),
            3 => (2082, 768),
            4 if udp => (3106, 192),
            5 if udp => (2978, 128),
            6 if udp => (3298, 192),
            _ => return None,
        })
    }

    /// `dctAddressForProtocolType`: the 128-byte address block of the protocol.
    fn address_slot(&self, protocol: i32) -> Option<usize> {
        match protocol {
            1 => Some(2466),
            2 if self.platform == Platform::Electron => Some(3490),
            _ => None,
        }
    }

    fn get_key(&mut self, payload: &[u8]) -> (i32, Vec<u8>) {
        let Ok(req) = <KeyRequest as prost::Message>::decode(payload) else {
            return (BAD_DATA, Vec::new());
        };
        let Some((offset, len)) = self.key_slot(req.kind) else {
            return (NOT_SUPPORTED, Vec::new());
        };
        // The whole slot: `*size = n; // TODO: Return actual size of the key data?`
        let data = self.dct[offset..offset + len].to_vec();
        (0, prost::Message::encode_to_vec(&KeyReply { data }))
    }

    fn set_key(&mut self, payload: &[u8]) -> (i32, Vec<u8>) {
        let Ok(req) = <KeyRequest as prost::Message>::decode(payload) else {
            return (BAD_DATA, Vec::new());
        };
        let Some((offset, len)) = self.key_slot(req.kind) else {
            return (NOT_SUPPORTED, Vec::new());
        };
        if req.data.len() > len {
            return (TOO_LARGE, Vec::new());
        }
        if let Some(code) = self.faults.refuse_writes {
            return (code, Vec::new());
        }
        let mut slot = vec![0xFF; len];
        slot[..req.data.len()].copy_from_slice(&req.data);
        if self.faults.corrupt_writes > 0 {
            self.faults.corrupt_writes -= 1;
            slot[len / 2] ^= 0x10;
        }
        self.dct[offset..offset + len].copy_from_slice(&slot);
        if self.faults.unplug_on_write {
            self.faults.unplug_on_write = false;
            self.unplug = true;
        }
        (0, Vec::new())
    }

    fn set_address(&mut self, payload: &[u8]) -> (i32, Vec<u8>) {
        let Ok(req) = <AddressRequest as prost::Message>::decode(payload) else {
            return (BAD_DATA, Vec::new());
        };
        // nanopb decodes `address` into `char address[64]`: a longer string fails to decode.
        if req.address.len() >= 64 {
            return (BAD_DATA, Vec::new());
        }
        let Some(offset) = self.address_slot(req.protocol) else {
            return (NOT_SUPPORTED, Vec::new());
        };
        if let Some(code) = self.faults.refuse_writes {
            return (code, Vec::new());
        }
        // nanopb stops the string at its first NUL, as `strlen` does.
        let text: Vec<u8> = req
            .address
            .iter()
            .copied()
            .take_while(|&b| b != 0)
            .collect();
        // `ServerAddress addr = {}`: the union is zero past what is copied into it.
        let mut s = [0u8; ADDRESS_STRUCT];
        match scan_ipv4(&text) {
            Some(ip) => {
                s[0] = 0; // IP_ADDRESS; the length byte stays 0.
                s[2..6].copy_from_slice(&ip); // byte-swapped to network order on write
            }
            None => {
                s[0] = 1; // DOMAIN_NAME
                s[1] = text.len() as u8;
                s[2..2 + text.len()].copy_from_slice(&text);
            }
        }
        // `addr.port = pbReq.port` into a uint16_t, written big-endian.
        s[66..68].copy_from_slice(&(req.port as u16).to_be_bytes());
        let mut block = [0xFFu8; 128];
        block[..ADDRESS_STRUCT].copy_from_slice(&s);
        self.dct[offset..offset + 128].copy_from_slice(&block);
        (0, Vec::new())
    }

    fn get_address(&mut self, payload: &[u8]) -> (i32, Vec<u8>) {
        let Ok(req) = <AddressProtocol as prost::Message>::decode(payload) else {
            return (BAD_DATA, Vec::new());
        };
        let Some(offset) = self.address_slot(req.protocol) else {
            return (NOT_SUPPORTED, Vec::new());
        };
        let buf = &self.dct[offset..offset + 128];
        let port_be = [buf[66], buf[67]];
        let address = match buf[0] {
            0 => format!("{}.{}.{}.{}", buf[2], buf[3], buf[4], buf[5]).into_bytes(),
            // `parseServerAddressData` copies up to 126 domain bytes into a 64-byte union, so
            // for lengths past 64 the port it then stores (little-endian in the struct) lands
            // inside the domain the reply carries: domain bytes 64 and 65.
            1 if usize::from(buf[1]) <= 126 => {
                let len = usize::from(buf[1]);
                let mut s = vec![0u8; 2 + len.max(66)];
                s[2..2 + len].copy_from_slice(&buf[2..2 + len]);
                s[66] = port_be[1];
                s[67] = port_be[0];
                s[2..2 + len].to_vec()
            }
            // INVALID_INTERNET_ADDRESS: `load_server_address` answers SYSTEM_ERROR_NOT_FOUND.
            _ => return (NOT_FOUND, Vec::new()),
        };
        let port = i32::from(u16::from_be_bytes(port_be));
        (
            0,
            prost::Message::encode_to_vec(&AddressReply { address, port }),
        )
    }
}

/// `sscanf(address, "%u.%u.%u.%u") == 4`, each number masked to a byte: four unsigned decimal
/// numbers separated by dots at the start of the string; anything may follow.
fn scan_ipv4(text: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut rest = text;
    for (i, byte) in out.iter_mut().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix(b".")?;
        }
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let mut n: u32 = 0;
        for &d in &rest[..digits] {
            n = n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'));
        }
        *byte = (n & 0xff) as u8;
        rest = &rest[digits..];
    }
    Some(out)
}

/// `GetSecurityKeyRequest` / `SetSecurityKeyRequest` (the type, and the data for a set).
#[derive(Clone, PartialEq, prost::Message)]
struct KeyRequest {
    #[prost(int32, tag = "1")]
    kind: i32,
    #[prost(bytes = "vec", tag = "2")]
    data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct KeyReply {
    #[prost(bytes = "vec", tag = "1")]
    data: Vec<u8>,
}

/// `SetServerAddressRequest`; the address as bytes (nanopb does not check UTF-8).
#[derive(Clone, PartialEq, prost::Message)]
struct AddressRequest {
    #[prost(int32, tag = "1")]
    protocol: i32,
    #[prost(bytes = "vec", tag = "2")]
    address: Vec<u8>,
    #[prost(int32, tag = "3")]
    port: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct AddressProtocol {
    #[prost(int32, tag = "1")]
    protocol: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct AddressReply {
    #[prost(bytes = "vec", tag = "1")]
    address: Vec<u8>,
    #[prost(int32, tag = "2")]
    port: i32,
}

impl SimDevice {
    /// Lends the DCT to the request handlers for one system-thread turn.
    pub(super) fn lend_dct(&mut self) -> RefCell<KeyDct> {
        RefCell::new(KeyDct {
            platform: self.platform,
            dct: std::mem::take(&mut self.memories[1]),
            faults: self.faults.keys.clone(),
            unplug: false,
        })
    }

    /// Takes the DCT back after the turn; `true` if a handler pulled the cable (the device is
    /// off the bus: the transfer in progress fails).
    pub(super) fn return_dct(&mut self, lent: RefCell<KeyDct>) -> bool {
        let lent = lent.into_inner();
        self.memories[1] = lent.dct;
        self.faults.keys = lent.faults;
        if lent.unplug {
            self.disconnected = true;
            self.enumeration = self.enumeration.wrapping_add(1);
        }
        lent.unplug
    }

    /// The firmware restarts from normal mode (request 40, a replug): it reads its DCT again at
    /// the next handshake.
    pub(super) fn firmware_restarting(&mut self) {
        self.firmware_state.restarts = self.firmware_state.restarts.wrapping_add(1);
        self.firmware_state.cloud_status = None;
    }

    /// How many times the firmware restarted from normal mode (request 40, a replug).
    pub fn firmware_restarts(&self) -> u32 {
        self.firmware_state.restarts
    }

    /// Sets request 300's answer (the world, after its handshake): 1 connecting, 2 connected.
    /// Connected also ends a busy system thread: it was busy reaching the cloud.
    pub fn set_cloud_status(&mut self, status: Option<i32>) {
        self.firmware_state.cloud_status = status;
        if status == Some(2) {
            self.system_busy_until_ms = 0;
        }
    }

    /// The device is plugged in again without a button held: it boots its firmware (normal mode)
    /// if it has one. The bus-level faults are cleared, as by [`SimDevice::reenter_dfu`].
    pub fn replug(&mut self) {
        if self.firmware.is_none() {
            self.reenter_dfu();
            return;
        }
        self.reenter_dfu();
        let now = self.now_ms;
        self.become_(Mode::Runtime, now);
        self.firmware_restarting();
    }
}

impl SimBuilder {
    /// Normal mode: requests 210 and 220 finish with result `code` and write nothing.
    pub fn refuse_key_writes(mut self, code: i32) -> Self {
        self.faults.keys.refuse_writes = Some(code);
        self
    }

    /// Normal mode: the cable is pulled during the first 210 (the slot is written, the result
    /// is lost).
    pub fn unplug_on_key_write(mut self) -> Self {
        self.faults.keys.unplug_on_write = true;
        self
    }

    /// Normal mode: the next `n` 210 writes store the slot with one byte changed.
    pub fn corrupt_key_writes(mut self, n: u32) -> Self {
        self.faults.keys.corrupt_writes = n;
        self
    }

    /// Normal mode: requests 210, 211, 220 and 221 never complete.
    pub fn key_requests_never_complete(mut self) -> Self {
        self.faults.keys.never_complete = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dct(platform: Platform) -> KeyDct {
        KeyDct {
            platform,
            dct: vec![0xFF; 8391],
            faults: KeyFaults::default(),
            unplug: false,
        }
    }

    fn enc(m: &impl prost::Message) -> Vec<u8> {
        m.encode_to_vec()
    }

    #[test]
    fn a_key_write_pads_the_whole_slot_and_a_read_returns_it_whole() {
        let mut d = dct(Platform::Photon);
        d.dct[2466] = 1; // an address inside the server key slot
        let set = KeyRequest {
            kind: 3,
            data: vec![0x30; 294],
        };
        assert_eq!(d.execute(210, &enc(&set)), Some((0, vec![])));
        assert!(d.dct[2082..2082 + 294].iter().all(|&b| b == 0x30));
        // The address block at 2466 lies inside the slot: padded away.
        assert!(d.dct[2082 + 294..2082 + 768].iter().all(|&b| b == 0xFF));
        let (code, reply) = d
            .execute(
                211,
                &enc(&KeyRequest {
                    kind: 3,
                    data: vec![],
                }),
            )
            .unwrap();
        assert_eq!(code, 0);
        let reply = <KeyReply as prost::Message>::decode(&reply[..]).unwrap();
        assert_eq!(reply.data.len(), 768);
        // Too long, a UDP type on a Photon, Gen 3.
        let long = KeyRequest {
            kind: 1,
            data: vec![0; 1217],
        };
        assert_eq!(d.execute(210, &enc(&long)).unwrap().0, TOO_LARGE);
        let udp = KeyRequest {
            kind: 4,
            data: vec![],
        };
        assert_eq!(d.execute(211, &enc(&udp)).unwrap().0, NOT_SUPPORTED);
        assert_eq!(
            dct(Platform::Electron).execute(211, &enc(&udp)).unwrap().0,
            0
        );
        assert_eq!(
            dct(Platform::Argon).execute(211, &enc(&set)).unwrap().0,
            NOT_SUPPORTED
        );
        assert_eq!(d.execute(300, &[]), None);
    }

    #[test]
    fn addresses_are_encoded_and_parsed_as_the_firmware_does() {
        let mut d = dct(Platform::Photon);
        let get = enc(&AddressProtocol { protocol: 1 });
        // Blank: not found.
        assert_eq!(d.execute(221, &get).unwrap().0, NOT_FOUND);
        let set = AddressRequest {
            protocol: 1,
            address: b"device.spark.io".to_vec(),
            port: 5683,
        };
        assert_eq!(d.execute(220, &enc(&set)).unwrap().0, 0);
        let block = &d.dct[2466..2466 + 128];
        assert_eq!(&block[..2], &[1, 15]);
        assert_eq!(&block[2..17], b"device.spark.io");
        assert!(block[17..66].iter().all(|&b| b == 0));
        assert_eq!(&block[66..68], &[0x16, 0x33]);
        assert!(block[68..].iter().all(|&b| b == 0xFF));
        let (code, reply) = d.execute(221, &get).unwrap();
        assert_eq!(code, 0);
        let reply = <AddressReply as prost::Message>::decode(&reply[..]).unwrap();
        assert_eq!(reply.address, b"device.spark.io");
        assert_eq!(reply.port, 5683);
        // sscanf takes "1.2.3.4.example" for an IP address.
        let ip = AddressRequest {
            protocol: 1,
            address: b"10.0.300.4.example".to_vec(),
            port: 70000,
        };
        d.execute(220, &enc(&ip)).unwrap();
        assert_eq!(&d.dct[2466..2472], &[0, 0, 10, 0, 44, 4]);
        let reply = d.execute(221, &get).unwrap().1;
        let reply = <AddressReply as prost::Message>::decode(&reply[..]).unwrap();
        assert_eq!(reply.address, b"10.0.44.4");
        assert_eq!(reply.port, 70000 & 0xffff);
        // 64 characters do not fit nanopb's char[64].
        let long = AddressRequest {
            protocol: 1,
            address: vec![b'a'; 64],
            port: 1,
        };
        assert_eq!(d.execute(220, &enc(&long)).unwrap().0, BAD_DATA);
        // UDP on a Photon.
        let udp = enc(&AddressProtocol { protocol: 2 });
        assert_eq!(d.execute(221, &udp).unwrap().0, NOT_SUPPORTED);
    }

    #[test]
    fn ipv4_scanning_follows_sscanf() {
        assert_eq!(scan_ipv4(b"1.2.3.4"), Some([1, 2, 3, 4]));
        assert_eq!(scan_ipv4(b"256.1.1.1x"), Some([0, 1, 1, 1]));
        assert_eq!(scan_ipv4(b"1.2.3"), None);
        assert_eq!(scan_ipv4(b"a.b.c.d"), None);
    }
}
