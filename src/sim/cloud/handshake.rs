//! The Photon's device-to-cloud handshake (LightSSL over TCP), both sides, sans-IO.
//!
//! Each side is a value that takes the other side's bytes and returns its own next bytes or an
//! error; `firmware.rs` drives the two against each other. Facts: cloud-api.md 8.2–8.5. The device
//! side reproduces the firmware's failures faithfully: RSA decryption is done raw
//! (`rsa::hazmat::rsa_decrypt`) with the PKCS#1 v1.5 type-2 padding checked by hand, because the
//! crate's own `decrypt` uses implicit rejection and would never report DECRYPTION_ERROR.

use super::wire::hex;
use aes::Aes128;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use hmac::{Hmac, Mac};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Encrypt, Pkcs1v15Sign};
use sha1::Sha1;

pub const NONCE_LEN: usize = 40;
pub const DEVICE_ID_LEN: usize = 12;
/// Nonce ‖ device ID ‖ 162-byte device public key.
pub const DEVICE_HELLO_PLAINTEXT_LEN: usize = NONCE_LEN + DEVICE_ID_LEN + 162;
/// AES key (16) ‖ IV (16) ‖ salt (8).
pub const SESSION_KEY_LEN: usize = 40;

/// A device-side error code of `protocol_defs.h`, as the firmware logs it
/// (`Cloud handshake failed, code=<n>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DeviceError {
    /// The device could not decrypt the session key (wrong or misread device key).
    DecryptionError,
    /// The device could not encrypt with the server key it holds (corrupt server key).
    EncryptionError,
    /// The session key decrypted but its signature is not from the server key the device holds.
    AuthenticationError,
    /// No cloud Hello within 4 s.
    MessageTimeout,
    /// No nonce within 20 s.
    NonceTimeout,
    /// The cloud closed the socket instead of sending the session key.
    ReceiveKey,
}

impl DeviceError {
    /// The numeric code of `protocol_defs.h` (v2.3.1).
    pub fn code(self) -> u8 {
        match self {
            Self::DecryptionError => 6,
            Self::EncryptionError => 7,
            Self::AuthenticationError => 8,
            Self::MessageTimeout => 10,
            Self::NonceTimeout => 25,
            Self::ReceiveKey => 26,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::DecryptionError => "DECRYPTION_ERROR",
            Self::EncryptionError => "ENCRYPTION_ERROR",
            Self::AuthenticationError => "AUTHENTICATION_ERROR",
            Self::MessageTimeout => "MESSAGE_TIMEOUT",
            Self::NonceTimeout => "IO_ERROR_LIGHTSSL_HANDSHAKE_NONCE",
            Self::ReceiveKey => "IO_ERROR_LIGHTSSL_HANDSHAKE_RECV_KEY",
        }
    }

    /// The burst the status LED shows (system_task.cpp: orange for 6, magenta for 8, red otherwise).
    pub fn burst(self) -> BurstColor {
        match self {
            Self::DecryptionError => BurstColor::Orange,
            Self::AuthenticationError => BurstColor::Magenta,
            _ => BurstColor::Red,
        }
    }
}

/// The colour of a burst during fast cyan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum BurstColor {
    Red,
    Orange,
    Magenta,
}

/// Why the cloud closed the connection during the handshake (the device then reports
/// [`DeviceError::ReceiveKey`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudClose {
    /// Step 3 did not decrypt with the cloud's private key: the device holds another server key.
    Undecryptable,
    /// The plaintext is shorter than 52 bytes or does not echo the nonce.
    BadNonce,
    /// The device ID is not registered, or the cloud holds no public key for it.
    UnknownDevice { device_id: String },
}

/// The PKCS#1 v1.5 type-2 check the device's mbedTLS does: `00 02`, at least 8 non-zero padding
/// bytes, `00`, then a message of exactly `expected_len` bytes. `None` is DECRYPTION_ERROR.
fn raw_decrypt(
    key: &rsa::PrivateKey,
    ciphertext: &[u8],
    expected_len: Option<usize>,
) -> Option<Vec<u8>> {
    let k = key.size();
    if ciphertext.len() != k {
        return None;
    }
    let c = BoxedUint::from_be_slice(ciphertext, key.n().bits_precision()).ok()?;
    if c >= key.n().as_ref().clone() {
        return None;
    }
    let m = rsa::hazmat::rsa_decrypt(Some(&mut getrandom::SysRng), key, &c).ok()?;
    let bytes = m.to_be_bytes();
    let mut em = vec![0u8; k];
    let take = bytes.len().min(k);
    em[k - take..].copy_from_slice(&bytes[bytes.len() - take..]);
    if em[0] != 0 || em[1] != 2 {
        return None;
    }
    let sep = em[2..].iter().position(|&b| b == 0)? + 2;
    if sep < 10 {
        return None;
    }
    let msg = em[sep + 1..].to_vec();
    match expected_len {
        Some(len) if msg.len() != len => None,
        _ => Some(msg),
    }
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(key) else {
        return [0; 20];
    };
    mac.update(message);
    let mut out = [0u8; 20];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// The cloud side of one connection.
pub struct CloudHandshake {
    nonce: [u8; NONCE_LEN],
}

/// What the cloud learned in step 4 and the session it set up in step 5.
pub struct CloudAccepted {
    pub device_id: String,
    /// The public key the device sent (162-byte SPKI; empty from old firmware).
    pub presented_key: Vec<u8>,
    /// E ‖ S, 384 bytes.
    pub reply: Vec<u8>,
    pub session: Session,
}

impl CloudHandshake {
    /// Step 2: a fresh connection; the returned nonce goes to the device.
    pub fn start() -> (Self, [u8; NONCE_LEN]) {
        let mut nonce = [0u8; NONCE_LEN];
        let _ = getrandom::fill(&mut nonce);
        (Self { nonce }, nonce)
    }

    /// Steps 4 and 5: decrypts the device's 256 bytes, finds the device's stored public key with
    /// `stored_key` (SPKI DER by device ID), and answers E ‖ S encrypted to that stored key, as
    /// Particle's open-source server does (it does not compare the key the device presented).
    pub fn on_device_message(
        &self,
        server_key: &rsa::PrivateKey,
        message: &[u8],
        stored_key: impl Fn(&str) -> Option<Vec<u8>>,
    ) -> Result<CloudAccepted, CloudClose> {
        let plain = raw_decrypt(server_key, message, None).ok_or(CloudClose::Undecryptable)?;
        if plain.len() < NONCE_LEN + DEVICE_ID_LEN || plain[..NONCE_LEN] != self.nonce {
            return Err(CloudClose::BadNonce);
        }
        let device_id = hex(&plain[NONCE_LEN..NONCE_LEN + DEVICE_ID_LEN]);
        let presented_key = plain[NONCE_LEN + DEVICE_ID_LEN..].to_vec();
        let device_key = stored_key(&device_id)
            .and_then(|der| {
                use rsa::pkcs8::DecodePublicKey;
                rsa::PublicKey::from_public_key_der(&der).ok()
            })
            .ok_or_else(|| CloudClose::UnknownDevice {
                device_id: device_id.clone(),
            })?;
        let mut c = [0u8; SESSION_KEY_LEN];
        let _ = getrandom::fill(&mut c);
        let e = device_key
            .encrypt(&mut getrandom::SysRng, Pkcs1v15Encrypt, &c)
            .map_err(|_| CloudClose::UnknownDevice {
                device_id: device_id.clone(),
            })?;
        let h = hmac_sha1(&c, &e);
        // A type-1 signature over the raw 20 bytes, no DigestInfo (cloud-api.md 8.2 step 5).
        let s = server_key
            .sign(Pkcs1v15Sign::new_unprefixed(), &h)
            .map_err(|_| CloudClose::Undecryptable)?;
        let mut reply = e;
        reply.extend_from_slice(&s);
        Ok(CloudAccepted {
            device_id,
            presented_key,
            reply,
            session: Session::from_key_material(&c),
        })
    }
}

/// The server key the device encrypts step 3 with.
pub enum DeviceServerKey {
    /// The key read from the DCT.
    Dct(rsa::PublicKey),
    /// The server-key slot was blank, so the firmware uses its built-in Particle key. A simulated
    /// cloud never holds Particle's private key, so the ciphertext is modelled as bytes it cannot
    /// decrypt.
    BuiltIn,
    /// The slot holds a modulus mbedTLS cannot use: encryption fails on the device.
    Unusable,
}

/// The device's private key as the firmware loaded it.
pub enum DevicePrivate {
    Usable(Box<rsa::PrivateKey>),
    /// Numbers that do not form a key: every decryption fails.
    Unusable,
}

/// The device side of one connection.
pub struct DeviceHandshake {
    pub device_id: [u8; DEVICE_ID_LEN],
    pub private_key: DevicePrivate,
    /// The 162-byte SPKI the firmware derived from the modulus at slot offset 11.
    pub public_key_der: Vec<u8>,
    pub server_key: DeviceServerKey,
}

impl DeviceHandshake {
    /// Step 3: nonce ‖ device ID ‖ public key, RSA-encrypted to the server key the device holds.
    pub fn on_nonce(&self, nonce: &[u8]) -> Result<Vec<u8>, DeviceError> {
        if nonce.len() != NONCE_LEN {
            return Err(DeviceError::NonceTimeout);
        }
        let mut plain = Vec::with_capacity(DEVICE_HELLO_PLAINTEXT_LEN);
        plain.extend_from_slice(nonce);
        plain.extend_from_slice(&self.device_id);
        plain.extend_from_slice(&self.public_key_der);
        match &self.server_key {
            DeviceServerKey::Dct(key) => key
                .encrypt(&mut getrandom::SysRng, Pkcs1v15Encrypt, &plain)
                .map_err(|_| DeviceError::EncryptionError),
            DeviceServerKey::BuiltIn => {
                let mut noise = vec![0u8; 256];
                let _ = getrandom::fill(&mut noise);
                noise[0] = 0;
                Ok(noise)
            }
            DeviceServerKey::Unusable => Err(DeviceError::EncryptionError),
        }
    }

    /// Step 6: decrypts E with the device key and checks S with the server key.
    pub fn on_session_key(&self, reply: &[u8]) -> Result<Session, DeviceError> {
        if reply.len() < 128 {
            return Err(DeviceError::ReceiveKey);
        }
        let (e, s) = reply.split_at(128);
        let DevicePrivate::Usable(key) = &self.private_key else {
            return Err(DeviceError::DecryptionError);
        };
        let c = raw_decrypt(key, e, Some(SESSION_KEY_LEN)).ok_or(DeviceError::DecryptionError)?;
        let h = hmac_sha1(&c, e);
        let verified = match &self.server_key {
            DeviceServerKey::Dct(server) => {
                server.verify(Pkcs1v15Sign::new_unprefixed(), &h, s).is_ok()
            }
            DeviceServerKey::BuiltIn | DeviceServerKey::Unusable => false,
        };
        if !verified {
            return Err(DeviceError::AuthenticationError);
        }
        Ok(Session::from_key_material(&c))
    }
}

/// One direction-pair of the encrypted channel after step 7 (cloud-api.md 8.3).
pub struct Session {
    cipher: Aes128,
    iv_send: [u8; 16],
    iv_recv: [u8; 16],
    /// The CoAP message-id counter: salt[0..2] little-endian, incremented before each message.
    pub counter: u16,
}

impl std::fmt::Debug for Session {
    // Session keys are secrets even in a simulator's test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Session {
    fn from_key_material(c: &[u8]) -> Self {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&c[16..32]);
        Self {
            // 16 bytes always make an AES-128 key.
            cipher: Aes128::new(&<[u8; 16]>::try_from(&c[..16]).unwrap_or_default().into()),
            iv_send: iv,
            iv_recv: iv,
            counter: u16::from_le_bytes([c[32], c[33]]),
        }
    }

    pub fn next_message_id(&mut self) -> u16 {
        self.counter = self.counter.wrapping_add(1);
        self.counter
    }

    /// Encrypts one message: 2-byte big-endian length, AES-128-CBC with PKCS#7; the next IV is the
    /// **first** ciphertext block (Particle's non-standard chaining).
    pub fn seal(&mut self, plain: &[u8]) -> Vec<u8> {
        let pad = 16 - plain.len() % 16;
        let mut data = plain.to_vec();
        data.extend(std::iter::repeat_n(pad as u8, pad));
        let mut prev = self.iv_send;
        for chunk in data.chunks_mut(16) {
            chunk.iter_mut().zip(prev).for_each(|(b, p)| *b ^= p);
            let mut block = aes::Block::try_from(&*chunk).unwrap_or_default();
            self.cipher.encrypt_block(&mut block);
            chunk.copy_from_slice(&block);
            prev.copy_from_slice(chunk);
        }
        self.iv_send.copy_from_slice(&data[..16]);
        let mut frame = (data.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(&data);
        frame
    }

    /// Decrypts one framed message; like the device, drops `last byte` bytes without checking them.
    pub fn open(&mut self, frame: &[u8]) -> Option<Vec<u8>> {
        let len = usize::from(u16::from_be_bytes([*frame.first()?, *frame.get(1)?]));
        let data = frame.get(2..2 + len)?;
        if len == 0 || len % 16 != 0 {
            return None;
        }
        let mut out = Vec::with_capacity(len);
        let mut prev = self.iv_recv;
        for chunk in data.chunks(16) {
            let mut block = aes::Block::try_from(chunk).ok()?;
            self.cipher.decrypt_block(&mut block);
            out.extend(block.iter().zip(prev).map(|(b, p)| b ^ p));
            prev.copy_from_slice(chunk);
        }
        self.iv_recv.copy_from_slice(&data[..16]);
        let pad = usize::from(*out.last()?);
        out.truncate(out.len().checked_sub(pad)?);
        Some(out)
    }
}

/// The Photon's Hello (messages.cpp `Messages::hello`): NON POST `/h`, product id, firmware version,
/// flags, platform id.
pub fn device_hello(message_id: u16, product_id: u16, platform_id: u16) -> Vec<u8> {
    let mut m = vec![0x50, 0x02];
    m.extend_from_slice(&message_id.to_be_bytes());
    m.extend_from_slice(&[0xB1, b'h', 0xFF]);
    m.extend_from_slice(&product_id.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    // Reserved, then diagnostics | immediate updates | goodbye support, as v2.3.1 sends.
    m.extend_from_slice(&[0x00, 0x02 | 0x04 | 0x10]);
    m.extend_from_slice(&platform_id.to_be_bytes());
    m
}

/// The cloud's Hello: NON POST `/h`, no payload.
pub fn cloud_hello(message_id: u16) -> Vec<u8> {
    let mut m = vec![0x50, 0x02];
    m.extend_from_slice(&message_id.to_be_bytes());
    m.extend_from_slice(&[0xB1, b'h']);
    m
}

/// Whether a CoAP message is a Hello the way the device classifies it: code POST and a first
/// option whose value starts with `h`. Returns its message id.
pub fn parse_hello(m: &[u8]) -> Option<u16> {
    let tkl = usize::from(m.first()? & 0x0F);
    if m.first()? >> 6 != 1 || *m.get(1)? != 0x02 {
        return None;
    }
    let id = u16::from_be_bytes([*m.get(2)?, *m.get(3)?]);
    let option = *m.get(4 + tkl)?;
    let len = usize::from(option & 0x0F);
    (len >= 1 && *m.get(5 + tkl)? == b'h').then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_chains_ivs_on_the_first_block() {
        let c: Vec<u8> = (0..40).collect();
        let mut a = Session::from_key_material(&c);
        let mut b = Session::from_key_material(&c);
        for msg in [&b"hello"[..], &[7u8; 16][..], &[1u8; 33][..]] {
            let frame = a.seal(msg);
            assert_eq!(
                usize::from(u16::from_be_bytes([frame[0], frame[1]])),
                (msg.len() & !15) + 16
            );
            assert_eq!(b.open(&frame).as_deref(), Some(msg));
        }
    }

    #[test]
    fn hello_is_recognised_by_its_first_option() {
        assert_eq!(parse_hello(&device_hello(0x1234, 6, 0)), Some(0x1234));
        assert_eq!(parse_hello(&cloud_hello(7)), Some(7));
        assert_eq!(parse_hello(&[0x50, 0x01, 0, 1, 0xB1, b'd']), None);
    }

    #[test]
    fn error_codes_and_bursts_follow_protocol_defs() {
        assert_eq!(DeviceError::DecryptionError.code(), 6);
        assert_eq!(DeviceError::DecryptionError.burst(), BurstColor::Orange);
        assert_eq!(
            DeviceError::AuthenticationError.burst(),
            BurstColor::Magenta
        );
        assert_eq!(DeviceError::ReceiveKey.burst(), BurstColor::Red);
    }
}
