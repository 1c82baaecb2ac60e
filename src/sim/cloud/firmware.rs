//! The simulated Photon's boot after leaving DFU: it reads its DCT the way Device OS does
//! (`crate::keys::firmware`), then runs the handshake of `handshake.rs` against a [`SimCloud`].
//!
//! It comes online only when the private key it loads matches the public key the cloud holds and
//! its server key is the cloud's; otherwise it reports the device error and LED burst the real
//! device shows (cloud-api.md 8.5, particle-dct.md 7 and 8).

use super::SimCloud;
use super::handshake::{
    BurstColor, CloudHandshake, DEVICE_ID_LEN, DeviceError, DeviceHandshake, DevicePrivate,
    DeviceServerKey, cloud_hello, device_hello, parse_hello,
};
use super::wire::unhex;
use crate::keys::firmware::{
    DEVICE_PUBLIC_KEY_DER_LEN, FirmwarePrivateKey, FirmwareServerKey, SERVER_ADDRESS_LEN,
    SERVER_KEY_READ_LEN, Transport, decode_server_address, derived_public_key_der,
    read_device_private_key, read_server_public_key,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;

/// DCT offsets of the Gen 2 TCP keys (particle-dct.md 2, 6.2).
pub const PRIVATE_KEY_OFFSET: usize = 34;
pub const PRIVATE_KEY_SLOT_LEN: usize = 1216;
pub const PUBLIC_KEY_OFFSET: usize = 1250;
pub const SERVER_KEY_OFFSET: usize = 2082;
pub const SERVER_ADDRESS_OFFSET: usize = 2466;
/// EC (UDP) slots, for the key-equality stand-in of DTLS.
pub const EC_PRIVATE_KEY_OFFSET: usize = 3106;
pub const EC_SERVER_KEY_OFFSET: usize = 3298;

/// Key-error flags (particle-dct.md 7).
pub mod key_error {
    pub const PUBLIC_SERVER_KEY_BLANK: u8 = 1;
    pub const SERVER_ADDRESS_BLANK: u8 = 4;
    pub const PRIVATE_DEVICE_KEY_BLANK: u8 = 64;
}

/// What the status LED shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Led {
    /// Connected to the cloud.
    BreathingCyan,
    /// Connecting, with a burst after each failed attempt before the retry.
    FastCyanWithBurst { color: BurstColor, blinks: u8 },
}

/// Bytes the firmware itself writes into its DCT during boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DctWrite {
    pub offset: usize,
    pub bytes: Vec<u8>,
}

/// How one boot-and-connect attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootOutcome {
    pub online: bool,
    pub led: Led,
    /// The handshake error, if the handshake ran and failed.
    pub error: Option<DeviceError>,
    /// Key-error flags the firmware raised while reading its DCT.
    pub key_error_flags: u8,
    /// What the firmware wrote to its DCT (a generated key pair, a refreshed public-key slot).
    pub dct_writes: Vec<DctWrite>,
    /// What happened, in the words of the device log.
    pub log: Vec<String>,
}

impl BootOutcome {
    fn failed(error: DeviceError, flags: u8, writes: Vec<DctWrite>, mut log: Vec<String>) -> Self {
        log.push(format!(
            "Cloud handshake failed, code={} ({})",
            error.code(),
            error.name()
        ));
        Self {
            online: false,
            led: Led::FastCyanWithBurst {
                color: error.burst(),
                blinks: 1,
            },
            error: Some(error),
            key_error_flags: flags,
            dct_writes: writes,
            log,
        }
    }

    /// Applies the firmware's own writes to a DCT image.
    pub fn apply_writes(&self, dct: &mut Vec<u8>) {
        for w in &self.dct_writes {
            if dct.len() < w.offset + w.bytes.len() {
                dct.resize(w.offset + w.bytes.len(), 0xFF);
            }
            dct[w.offset..w.offset + w.bytes.len()].copy_from_slice(&w.bytes);
        }
    }
}

/// A device that booted against the cloud and keeps retrying, like the real one, until online.
#[derive(Debug, Clone)]
pub struct RunningDevice {
    pub dct: Vec<u8>,
    pub last: BootOutcome,
    /// The stored key the last attempt met, so a retry runs only when the cloud's key changed.
    tried_with: Option<Vec<u8>>,
}

/// `len` bytes at `offset`, missing bytes read as erased flash.
fn read(dct: &[u8], offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len)
        .map(|i| dct.get(i).copied().unwrap_or(0xFF))
        .collect()
}

fn id_bytes(device_id: &str) -> Option<[u8; DEVICE_ID_LEN]> {
    unhex(device_id.trim())?.try_into().ok()
}

/// Boots a simulated Photon (RSA, TCP) from its DCT image and runs one handshake with `cloud` at
/// `now_ms`. On success the cloud marks the device online.
pub fn boot_and_connect(
    dct: &[u8],
    device_id: &str,
    cloud: &mut SimCloud,
    now_ms: u64,
) -> BootOutcome {
    let mut log = Vec::new();
    let mut writes = Vec::new();
    let mut flags = 0u8;
    let device_id = device_id.to_ascii_lowercase();
    let unreachable = |flags, writes, log| BootOutcome {
        online: false,
        led: Led::FastCyanWithBurst {
            color: BurstColor::Orange,
            blinks: 3,
        },
        error: None,
        key_error_flags: flags,
        dct_writes: writes,
        log,
    };

    // The private key: a blank slot makes the firmware generate its own pair and store it.
    let slot = read(dct, PRIVATE_KEY_OFFSET, PRIVATE_KEY_SLOT_LEN);
    // The public key the firmware derives from the slot's modulus, zeros when it cannot.
    let derived = || {
        derived_public_key_der(&slot)
            .map_or_else(|| vec![0; DEVICE_PUBLIC_KEY_DER_LEN], |d| d.to_vec())
    };
    let (private_key, public_der) = match read_device_private_key(&slot) {
        FirmwarePrivateKey::Blank => {
            flags |= key_error::PRIVATE_DEVICE_KEY_BLANK;
            log.push("Device private key was blank, generating a new key pair".into());
            match generate_key() {
                Some((key, der, public)) => {
                    writes.push(DctWrite {
                        offset: PRIVATE_KEY_OFFSET,
                        bytes: der,
                    });
                    (DevicePrivate::Usable(Box::new(key)), public)
                }
                None => (DevicePrivate::Unusable, vec![0; DEVICE_PUBLIC_KEY_DER_LEN]),
            }
        }
        FirmwarePrivateKey::Unusable(reason) => {
            log.push(format!("Device private key is unusable: {reason}"));
            (DevicePrivate::Unusable, derived())
        }
        FirmwarePrivateKey::Usable(key) => (DevicePrivate::Usable(Box::new(key)), derived()),
    };
    // The firmware rewrites the public-key slot when it differs from the derived key (4.2).
    if read(dct, PUBLIC_KEY_OFFSET, public_der.len()) != public_der {
        writes.push(DctWrite {
            offset: PUBLIC_KEY_OFFSET,
            bytes: public_der.clone(),
        });
    }

    // The server key and address, with the firmware's fallbacks for blank slots.
    let server_key =
        match read_server_public_key(&read(dct, SERVER_KEY_OFFSET, SERVER_KEY_READ_LEN)) {
            FirmwareServerKey::Blank => {
                flags |= key_error::PUBLIC_SERVER_KEY_BLANK;
                log.push("Public Server Key was blank, restoring.".into());
                DeviceServerKey::BuiltIn
            }
            FirmwareServerKey::Usable(key) => DeviceServerKey::Dct(key),
            FirmwareServerKey::Unusable(reason) => {
                log.push(format!("Server key is unusable: {reason}"));
                DeviceServerKey::Unusable
            }
        };
    let address = decode_server_address(&read(dct, SERVER_ADDRESS_OFFSET, SERVER_ADDRESS_LEN));
    if address.is_fallback() {
        flags |= key_error::SERVER_ADDRESS_BLANK;
        log.push("Public Server Address was blank, restoring.".into());
    }
    let host = address.host(Transport::Tcp, &device_id);
    let port = address.port(Transport::Tcp);
    log.push(format!("Connecting to {host}:{port}"));
    if !host.eq_ignore_ascii_case(cloud.server_host()) || port != cloud.server_port() {
        // Internet works but nothing answers there: 3 orange blinks before any handshake.
        log.push("Cloud socket unreachable".into());
        return unreachable(flags, writes, log);
    }
    let Some(id_raw) = id_bytes(&device_id) else {
        return BootOutcome::failed(DeviceError::ReceiveKey, flags, writes, log);
    };

    let device = DeviceHandshake {
        device_id: id_raw,
        private_key,
        public_key_der: public_der,
        server_key,
    };
    let (cloud_side, nonce) = CloudHandshake::start();
    let step3 = match device.on_nonce(&nonce) {
        Ok(bytes) => bytes,
        Err(e) => return BootOutcome::failed(e, flags, writes, log),
    };
    let accepted = cloud_side.on_device_message(cloud.server_private_key(), &step3, |id| {
        cloud.stored_key_der(id)
    });
    let mut accepted = match accepted {
        Ok(a) => a,
        Err(why) => {
            log.push(format!("Cloud closed the connection: {why:?}"));
            return BootOutcome::failed(DeviceError::ReceiveKey, flags, writes, log);
        }
    };
    let mut session = match device.on_session_key(&accepted.reply) {
        Ok(s) => s,
        Err(e) => return BootOutcome::failed(e, flags, writes, log),
    };

    // Hello exchange: the cloud checks the message id against its own copy of the counter.
    let id = session.next_message_id();
    let frame = session.seal(&device_hello(id, 6, 6));
    let expected = accepted.session.next_message_id();
    let hello_ok = accepted
        .session
        .open(&frame)
        .and_then(|m| parse_hello(&m))
        .is_some_and(|got| got == expected);
    if !hello_ok {
        log.push("Cloud closed the connection: bad Hello counter".into());
        return BootOutcome::failed(DeviceError::MessageTimeout, flags, writes, log);
    }
    let reply_id = accepted.session.next_message_id();
    let reply = accepted.session.seal(&cloud_hello(reply_id));
    if session.open(&reply).and_then(|m| parse_hello(&m)).is_none() {
        return BootOutcome::failed(DeviceError::MessageTimeout, flags, writes, log);
    }
    cloud.mark_online(&accepted.device_id, now_ms);
    log.push("Cloud connected".into());
    BootOutcome {
        online: true,
        led: Led::BreathingCyan,
        error: None,
        key_error_flags: flags,
        dct_writes: writes,
        log,
    }
}

fn generate_key() -> Option<(rsa::PrivateKey, Vec<u8>, Vec<u8>)> {
    let key = crate::keys::generate_rsa_key(1024).ok()?;
    let der = key.to_pkcs1_der().ok()?.as_bytes().to_vec();
    let public = key
        .to_public_key()
        .to_public_key_der()
        .ok()?
        .as_bytes()
        .to_vec();
    Some((key, der, public))
}

/// The EC stand-in for DTLS (Electron over UDP, Gen 3): online when the device's P-256 public point
/// equals the one the cloud holds and its server key equals `cloud_ec_server_key` (91-byte SPKI).
/// The point is taken from the SEC1 or PKCS#8 private key's embedded public key (`03 42 00 04 …`).
pub fn connect_ec(
    dct: &[u8],
    device_id: &str,
    cloud: &mut SimCloud,
    cloud_ec_server_key: &[u8],
    now_ms: u64,
) -> BootOutcome {
    let private = read(dct, EC_PRIVATE_KEY_OFFSET, 192);
    let server = read(dct, EC_SERVER_KEY_OFFSET, 91);
    let point = private
        .windows(4)
        .position(|w| w == [0x03, 0x42, 0x00, 0x04])
        .and_then(|at| private.get(at + 3..at + 3 + 65));
    let stored = cloud
        .device(device_id)
        .and_then(|d| d.public_key.as_ref())
        .filter(|k| k.algorithm == "ecc")
        .map(|k| k.der.clone());
    let key_ok = matches!((point, &stored), (Some(p), Some(s)) if s.len() == 91 && &s[26..] == p);
    let server_ok = server == cloud_ec_server_key;
    if key_ok && server_ok {
        cloud.mark_online(device_id, now_ms);
        return BootOutcome {
            online: true,
            led: Led::BreathingCyan,
            error: None,
            key_error_flags: 0,
            dct_writes: Vec::new(),
            log: vec!["Cloud connected (DTLS stand-in: keys match)".into()],
        };
    }
    let mut log = Vec::new();
    if !key_ok {
        log.push("DTLS handshake failed: the cloud does not hold this device key".into());
    }
    if !server_ok {
        log.push("DTLS handshake failed: the server key is not the cloud's".into());
    }
    BootOutcome::failed(DeviceError::ReceiveKey, 0, Vec::new(), log)
}

impl SimCloud {
    /// A simulated Photon boots from `dct` (it left DFU mode or was reset) and connects. The cloud
    /// remembers it and, like the real device, it retries on [`SimCloud::tick`] while offline. The
    /// firmware's own DCT writes are applied to the remembered image and returned in the outcome.
    pub fn boot_device(&mut self, dct: &[u8], device_id: &str, now_ms: u64) -> BootOutcome {
        let id = device_id.to_ascii_lowercase();
        if let Some(device) = self.device_mut(&id) {
            device.online = false;
        }
        self.boot_running(id, dct.to_vec(), now_ms)
    }

    /// One boot-and-connect attempt of a running device from `dct`, remembered with the
    /// firmware's own writes applied and the stored key it met.
    fn boot_running(&mut self, id: String, mut dct: Vec<u8>, now_ms: u64) -> BootOutcome {
        let outcome = boot_and_connect(&dct, &id, self, now_ms);
        outcome.apply_writes(&mut dct);
        let tried_with = self.stored_key_der(&id);
        self.running.insert(
            id,
            RunningDevice {
                dct,
                last: outcome.clone(),
                tried_with,
            },
        );
        outcome
    }

    /// Lets offline running devices retry their handshake at `now_ms`. A retry happens only when
    /// the key the cloud holds changed since the last attempt: nothing else can change the result.
    pub fn tick(&mut self, now_ms: u64) {
        let retry: Vec<String> = self
            .running
            .iter()
            .filter(|(id, dev)| !dev.last.online && dev.tried_with != self.stored_key_der(id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in retry {
            if let Some(dct) = self.running.get(&id).map(|d| d.dct.clone()) {
                self.boot_running(id, dct, now_ms);
            }
        }
    }

    /// The last boot outcome of a running device.
    pub fn last_boot(&self, device_id: &str) -> Option<&BootOutcome> {
        self.running
            .get(&device_id.to_ascii_lowercase())
            .map(|d| &d.last)
    }

    fn stored_key_der(&self, id: &str) -> Option<Vec<u8>> {
        self.device(id)
            .and_then(|d| d.public_key.as_ref())
            .map(|k| k.der.clone())
    }
}
