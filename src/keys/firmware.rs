//! The firmware's own reading of the key slots and of the server address block.
//!
//! Device OS v2.3.1 reads the RSA device private key (TCP: Photon, P1, Core, Electron over TCP)
//! without an ASN.1 parser: `init_rsa_context_with_private_key` takes the numbers at fixed offsets,
//! `extract_public_rsa_key` copies the modulus from a fixed offset, and the server key's modulus is
//! taken from offset 33 (`communication/src/handshake.cpp`). The private operations are mbedTLS's
//! (2.22, Particle's fork at 7da40601, `USE_MBEDTLS` in `communication/inc/protocol_selector.h` 23),
//! which use only N, P, Q, DP, DQ and QP (CRT, `MBEDTLS_RSA_NO_CRT` off) and check the result with E.
//! The EC device key (UDP: Electron, Gen 3) goes through mbedTLS `mbedtls_pk_parse_key` on a context
//! already set up (`eckeygen.cpp` 47-49, `dtls_message_channel.cpp` 215-218), with PKCS5/PKCS12,
//! PEM and `MBEDTLS_PK_PARSE_EC_EXTENDED` off and only P-256 enabled
//! (`hal/src/nRF52840/mbedtls/mbedtls_config_platform.h`). The address block is decoded by hand
//! (`hal/shared/parse_server_address.h`). This module emulates exactly that, so the page can tell
//! whether the *firmware*, not a generic DER parser, can use what a slot holds. The simulated device
//! boot and cloud handshake (`crate::sim`) read slots through the same functions.
//!
//! Owns: [`read_device_private_key`], [`device_private_key_verdict`], [`read_device_ec_key`],
//! [`read_server_public_key`], [`derived_public_key_der`], [`decode_server_address`] and their
//! result types. Must not import `web_sys`, `leptos`, USB or DFU code. Every function here is
//! total: any byte slice gives an answer, never a panic.
//! Facts: shared/reference/particle-dct.md, 4.1–4.4 and 5.

use super::{ERASED, RSA_PRIVATE_KEY_SLOT_LEN, is_blank};
use rsa::BoxedUint;
use rsa::traits::PrivateKeyParts;
use serde::Serialize;
use thiserror::Error;

/// How many bytes of the server-key slot the firmware reads for an RSA-2048 key.
pub const SERVER_KEY_READ_LEN: usize = 294;
/// Offset of the 256-byte server modulus inside the server-key slot (`init_rsa_context_with_public_key`).
pub const SERVER_MODULUS_OFFSET: usize = 33;
/// Offset of the 128-byte device modulus inside the private-key slot (`extract_public_rsa_key`).
pub const DEVICE_MODULUS_OFFSET: usize = 11;
/// Size of the SPKI DER the firmware derives for its RSA-1024 public key.
pub const DEVICE_PUBLIC_KEY_DER_LEN: usize = 162;
/// Size of the server address block (`ServerAddress` in DOS `hal/inc/ota_flash_hal.h`).
pub const SERVER_ADDRESS_LEN: usize = 128;
/// Offset of the big-endian port inside the address block.
pub const SERVER_ADDRESS_PORT_OFFSET: usize = 66;
/// The public exponent the firmware hard-codes for both RSA keys.
pub const FIRMWARE_RSA_EXPONENT: u64 = 65_537;

/// The 29 bytes the firmware puts in front of the device modulus to build its public key
/// (`extract_public_rsa_key`): SPKI header, rsaEncryption OID, BIT STRING, RSAPublicKey header and
/// the modulus INTEGER header with its leading zero.
pub const DEVICE_PUBLIC_KEY_PREFIX: [u8; 29] = [
    0x30, 0x81, 0x9f, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    0x05, 0x00, 0x03, 0x81, 0x8d, 0x00, 0x30, 0x81, 0x89, 0x02, 0x81, 0x81, 0x00,
];
/// `INTEGER 65537`, appended after the modulus in both RSA public keys.
pub const RSA_EXPONENT_65537_DER: [u8; 5] = [0x02, 0x03, 0x01, 0x00, 0x01];

/// One INTEGER of a PKCS#1 `RSAPrivateKey`, named as in RFC 8017 with the firmware's name beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyField {
    /// N.
    Modulus,
    /// E.
    PublicExponent,
    /// D.
    PrivateExponent,
    /// P.
    Prime1,
    /// Q.
    Prime2,
    /// DP = D mod (P − 1).
    Exponent1,
    /// DQ = D mod (Q − 1).
    Exponent2,
    /// QP = Q⁻¹ mod P.
    Coefficient,
}

impl KeyField {
    /// The fields in the order PKCS#1 stores them.
    pub const ALL: [KeyField; 8] = [
        KeyField::Modulus,
        KeyField::PublicExponent,
        KeyField::PrivateExponent,
        KeyField::Prime1,
        KeyField::Prime2,
        KeyField::Exponent1,
        KeyField::Exponent2,
        KeyField::Coefficient,
    ];
}

/// The short name used by OpenSSL and mbedTLS (N, E, D, P, Q, DP, DQ, QP).
impl std::fmt::Display for KeyField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Modulus => "N",
            Self::PublicExponent => "E",
            Self::PrivateExponent => "D",
            Self::Prime1 => "P",
            Self::Prime2 => "Q",
            Self::Exponent1 => "DP",
            Self::Exponent2 => "DQ",
            Self::Coefficient => "QP",
        })
    }
}

/// Why the firmware cannot use what a key slot holds.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum UnusableReason {
    /// The snapshot ends before the last byte the firmware reads.
    #[error("the slot holds {len} bytes but the firmware reads {needed}")]
    SlotTooShort { len: usize, needed: usize },
    /// OpenSSL 3's default output: a PKCS#1 key wrapped in PKCS#8, which shifts every offset.
    #[error(
        "the key is PKCS#8 (BEGIN PRIVATE KEY); the firmware reads only PKCS#1 (BEGIN RSA PRIVATE KEY)"
    )]
    Pkcs8,
    /// The slot does not start like a DER `RSAPrivateKey`.
    #[error("the slot does not hold an RSA private key")]
    NotAnRsaKey,
    /// The DER key stops before its last number: the rest of the slot is erased or other data.
    #[error("the key is cut off before its last number")]
    Truncated,
    /// An RSA key, but not of the size the firmware's offsets assume.
    #[error("the key is RSA-{bits}; the firmware reads only RSA-1024")]
    WrongKeySize { bits: u32 },
    /// The firmware hard-codes e = 65537 and assumes its 5-byte encoding.
    #[error("the key's public exponent is not 65537, the only one the firmware uses")]
    WrongExponent,
    /// Valid DER, but one number is a byte shorter than usual, so the firmware's fixed offsets read
    /// every later number from the wrong place.
    #[error(
        "the key's {field} is one byte shorter than usual, so the firmware reads the numbers after it from the wrong place"
    )]
    ShortInteger { field: KeyField },
    /// Valid DER, but a number's length is encoded in a form the firmware's offsets do not expect.
    #[error("the key's {field} is encoded in a form the firmware does not expect")]
    UnexpectedEncoding { field: KeyField },
    /// The layout is the expected one, but the numbers the firmware reads do not form an RSA key.
    #[error("the numbers the firmware reads do not form an RSA key (the key is corrupt)")]
    Corrupt,
    /// The EC slot holds something that is not an EC private key in SEC1 DER.
    #[error("the slot does not hold an EC private key")]
    NotAnEcKey,
    /// An EC key on another curve: the firmware uses only NIST P-256.
    #[error("the key is not on the P-256 curve, the only one the firmware uses")]
    WrongCurve,
    /// An EC key in PKCS#8: mbedTLS's PKCS#8 reader fails on the context the firmware has already
    /// set up, and with PKCS5/PKCS12 off nothing resets it first (pkparse.c `mbedtls_pk_parse_key`).
    #[error(
        "the key is PKCS#8 (BEGIN PRIVATE KEY); the firmware reads only SEC1 (BEGIN EC PRIVATE KEY)"
    )]
    EcPkcs8,
    /// A SEC1 key without its `parameters` field: mbedTLS does not know the curve.
    #[error("the key does not name its curve, so the firmware cannot tell it is P-256")]
    NoCurve,
    /// A SEC1 key with the curve spelled out instead of named (`MBEDTLS_PK_PARSE_EC_EXTENDED` off).
    #[error(
        "the key spells out its curve parameters; the firmware reads only the named P-256 curve"
    )]
    ExplicitCurveParameters,
    /// The EC private number is zero.
    #[error("the key's private number is zero")]
    ZeroPrivateKey,
    /// The EC private number is not below the order of the P-256 group.
    #[error("the key's private number is too large for the P-256 curve")]
    PrivateKeyOutOfRange,
    /// The page could not check an EC key: its P-256 code is not loaded (`keys::ec`). The doctor
    /// loads it before it reads an EC device's slots, so this is a guard, not a verdict.
    #[error("the page's P-256 code is not loaded, so the EC key was not checked")]
    EcMathUnavailable,
    /// The public key stored in the SEC1 key is not a point of the P-256 curve.
    #[error("the public key stored with the key is not a point on the P-256 curve")]
    InvalidPublicKey,
    /// The stored public key is a valid point, but not the private number's: mbedTLS keeps it and the
    /// device presents it while signing with the private number, so the handshake fails.
    #[error("the public key stored with the key does not belong to its private number")]
    MismatchedPublicKey,
    /// An RSA key the firmware decrypts with, but `extract_public_rsa_key` copies the modulus from
    /// offset 11, which holds it only for a full 1024-bit modulus: the device presents a wrong key.
    #[error(
        "the key is RSA-{bits}: the firmware can decrypt with it but presents a wrong public key (it copies the modulus from where an RSA-1024 key has it)"
    )]
    PresentsWrongPublicKey { bits: u32 },
    /// The server-key slot does not hold a public key of the kind the firmware expects.
    #[error("the server key is not a {expected} public key")]
    NotAServerKey { expected: &'static str },
    /// The server modulus at offset 33 is not a number an RSA public key can have.
    #[error("the server key's modulus is not a valid RSA modulus")]
    InvalidModulus,
}

// `Usable` is much larger than the other variants; the shape is the agreed interface with the
// simulated device, and values are short-lived, so boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
/// What the firmware makes of its device private-key slot (handshake.cpp,
/// `init_rsa_context_with_private_key`, and `HAL_FLASH_Read_CorePrivateKey`).
pub enum FirmwarePrivateKey {
    /// The first byte is 0xFF: the firmware generates a new key pair of its own on the next boot,
    /// which the cloud does not know until its public key is uploaded.
    Blank,
    /// The firmware would load numbers that do not work as a key: the handshake then fails.
    Unusable(UnusableReason),
    /// The key the firmware ends up with.
    Usable(rsa::PrivateKey),
}

impl std::fmt::Debug for FirmwarePrivateKey {
    // Never print key material, not even in test failures.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Blank => f.write_str("Blank"),
            Self::Unusable(reason) => f.debug_tuple("Unusable").field(reason).finish(),
            Self::Usable(_) => f.write_str("Usable(RSA-1024 key, redacted)"),
        }
    }
}

impl FirmwarePrivateKey {
    pub fn is_usable(&self) -> bool {
        matches!(self, Self::Usable(_))
    }
}

/// What the firmware makes of its TCP server-key slot (`init_rsa_context_with_public_key`).
#[derive(Debug, Clone)]
pub enum FirmwareServerKey {
    /// The first byte is 0xFF: the firmware uses its built-in Particle key instead.
    Blank,
    /// The key the firmware encrypts the handshake with (modulus from offset 33, e = 65537).
    Usable(rsa::PublicKey),
    /// The firmware would load a modulus that cannot be an RSA key.
    Unusable(UnusableReason),
}

/// Emulates the firmware's fixed-offset reading of the RSA device private key.
///
/// First byte 0xFF means blank. Otherwise the numbers are read exactly where handshake.cpp reads
/// them (modulus at 9/11, then strides of 135, 129 and 65 bytes, each skipping one byte when the
/// INTEGER's last length byte is odd), e is taken as 65537, and the result is `Usable` when
/// mbedTLS's private operation gives the right answer with those numbers. That operation
/// (`mbedtls_rsa_private`, CRT) uses N, P, Q, DP, DQ and QP and checks its result with E; it never
/// reads D. So the key is usable when N = P·Q, DP·E ≡ 1 mod P−1, DQ·E ≡ 1 mod Q−1 and QP·Q ≡ 1
/// mod P, whatever D holds; when the stored D is wrong, the returned key has one derived from P
/// and Q.
///
/// This is what the firmware *loads*. Whether the device can also present the right public key is
/// [`device_private_key_verdict`]'s question.
pub fn read_device_private_key(slot: &[u8]) -> FirmwarePrivateKey {
    // An empty slot is not blank here: it fails below as too short.
    if slot.first() == Some(&ERASED) {
        return FirmwarePrivateKey::Blank;
    }
    let Some(numbers) = fixed_offset_numbers(slot) else {
        return FirmwarePrivateKey::Unusable(UnusableReason::SlotTooShort {
            len: slot.len(),
            needed: RSA_PRIVATE_KEY_SLOT_LEN,
        });
    };
    match consistent_key(&numbers) {
        Some(key) => FirmwarePrivateKey::Usable(key),
        None => FirmwarePrivateKey::Unusable(explain_private_key(slot)),
    }
}

/// The firmware's verdict on its RSA private-key slot: [`read_device_private_key`], and then the
/// public key the device presents in the handshake ([`derived_public_key_der`], the modulus copied
/// from offset 11) must be the key's own. It is not when the modulus is shorter than 1024 bits:
/// the INTEGER is then `02 81 80` and the modulus starts at offset 10 (the firmware reads it there
/// for decryption), so the copy is shifted by one byte and the cloud cannot match the device.
pub fn device_private_key_verdict(slot: &[u8]) -> FirmwarePrivateKey {
    use rsa::pkcs8::EncodePublicKey;
    use rsa::traits::PublicKeyParts;
    match read_device_private_key(slot) {
        FirmwarePrivateKey::Usable(key) => {
            let own = key.to_public_key().to_public_key_der().ok();
            let presented = derived_public_key_der(slot);
            match (own, presented) {
                (Some(own), Some(presented)) if own.as_bytes() == &presented[..] => {
                    FirmwarePrivateKey::Usable(key)
                }
                _ => FirmwarePrivateKey::Unusable(UnusableReason::PresentsWrongPublicKey {
                    bits: key.n().bit_width(),
                }),
            }
        }
        other => other,
    }
}

/// The eight numbers the firmware reads, as big-endian byte slices into the slot. D is read into
/// `rsa->D` but no operation the firmware runs uses it.
struct FixedOffsetNumbers<'a> {
    n: &'a [u8],
    d: &'a [u8],
    p: &'a [u8],
    q: &'a [u8],
    dp: &'a [u8],
    dq: &'a [u8],
    qp: &'a [u8],
}

/// Walks the slot as handshake.cpp does. `None` when a read would run past the snapshot.
fn fixed_offset_numbers(slot: &[u8]) -> Option<FixedOffsetNumbers<'_>> {
    // Each step: look at the INTEGER's last length byte; odd (0x81, 0x41) means the value starts
    // with a 0x00 that the firmware skips; then read a fixed number of bytes.
    fn step(slot: &[u8], i: &mut usize, len: usize) -> Option<std::ops::Range<usize>> {
        if slot.get(*i)? & 1 == 1 {
            *i += 1;
        }
        *i += 1;
        let range = *i..*i + len;
        slot.get(range.clone())?;
        Some(range)
    }
    let mut i = 9;
    let n = step(slot, &mut i, 128)?;
    // 128 modulus bytes, then the assumed `02 03 01 00 01`, then D's tag and first length byte.
    i += 135;
    let d = step(slot, &mut i, 128)?;
    i += 129;
    let p = step(slot, &mut i, 64)?;
    i += 65;
    let q = step(slot, &mut i, 64)?;
    i += 65;
    let dp = step(slot, &mut i, 64)?;
    i += 65;
    let dq = step(slot, &mut i, 64)?;
    i += 65;
    let qp = step(slot, &mut i, 64)?;
    Some(FixedOffsetNumbers {
        n: &slot[n],
        d: &slot[d],
        p: &slot[p],
        q: &slot[q],
        dp: &slot[dp],
        dq: &slot[dq],
        qp: &slot[qp],
    })
}

/// Builds the key the firmware's CRT decryption effectively uses and checks every relation it
/// relies on (mbedTLS 2.22 `rsa_check_context` and `mbedtls_rsa_private`): the 128 modulus bytes
/// must be a 128-byte number (`ctx->len == mbedtls_mpi_size(N)`), N = P·Q, and DP, DQ and QP must
/// be the values P, Q and E give. D is not required to be right: the CRT path never reads it.
fn consistent_key(nums: &FixedOffsetNumbers<'_>) -> Option<rsa::PrivateKey> {
    const BITS: u32 = 1024;
    let uint = |bytes: &[u8]| BoxedUint::from_be_slice(bytes, BITS).ok();
    // `rsa_check_context`: a modulus with a leading zero byte is shorter than `ctx->len` (128).
    if nums.n.first() == Some(&0) {
        return None;
    }
    let (p, q, e) = (
        uint(nums.p)?,
        uint(nums.q)?,
        BoxedUint::from(FIRMWARE_RSA_EXPONENT),
    );
    // The stored D when it is right (the usual case), else one derived from P and Q.
    let key = uint(nums.d)
        .and_then(|d| {
            rsa::PrivateKey::from_components(
                uint(nums.n)?,
                e.clone(),
                d,
                vec![p.clone(), q.clone()],
            )
            .ok()
        })
        .or_else(|| rsa::PrivateKey::from_p_q(p, q, e).ok())?;
    let same = |computed: &BoxedUint, read: &[u8]| {
        strip_leading_zeros(&computed.to_be_bytes()) == strip_leading_zeros(read)
    };
    {
        use rsa::traits::PublicKeyParts;
        if !same(key.n().as_ref(), nums.n) {
            return None;
        }
    }
    if !same(key.dp()?, nums.dp) || !same(key.dq()?, nums.dq) {
        return None;
    }
    if !same(&key.crt_coefficient()?, nums.qp) {
        return None;
    }
    Some(key)
}

pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// One DER TLV: tag, the range of its header, the range of its value.
#[derive(Debug, Clone)]
pub(crate) struct Tlv {
    pub tag: u8,
    pub header: std::ops::Range<usize>,
    pub value: std::ops::Range<usize>,
}

/// Reads the TLV at `at`. `None` if the header is malformed or the value runs past `end`.
pub(crate) fn read_tlv(bytes: &[u8], at: usize, end: usize) -> Option<Tlv> {
    let end = end.min(bytes.len());
    let tag = *bytes.get(at)?;
    let first = *bytes.get(at + 1)?;
    let (len, header_len) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 3 {
            return None;
        }
        let mut len = 0usize;
        for k in 0..count {
            len = (len << 8) | *bytes.get(at + 2 + k)? as usize;
        }
        (len, 2 + count)
    };
    let value_start = at + header_len;
    let value_end = value_start.checked_add(len)?;
    if value_end > end {
        return None;
    }
    Some(Tlv {
        tag,
        header: at..value_start,
        value: value_start..value_end,
    })
}

/// Says why a slot that does not read as a consistent key fails, by walking its DER structure.
fn explain_private_key(slot: &[u8]) -> UnusableReason {
    const PKCS8_RSA_PREFIX: [u8; 15] = [
        0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
    ];
    if slot.first() != Some(&0x30) {
        return UnusableReason::NotAnRsaKey;
    }
    // Find where the outer SEQUENCE's content starts without trusting its length, which may point
    // past the end of a truncated key.
    let content_start = match slot.get(1) {
        Some(&b) if b < 0x80 => 2,
        Some(&0x81) => 3,
        Some(&0x82) => 4,
        _ => return UnusableReason::NotAnRsaKey,
    };
    if slot
        .get(content_start..content_start + PKCS8_RSA_PREFIX.len())
        .is_some_and(|s| s == PKCS8_RSA_PREFIX)
    {
        return UnusableReason::Pkcs8;
    }
    if slot.get(content_start..content_start + 3) != Some(&[0x02, 0x01, 0x00][..]) {
        return UnusableReason::NotAnRsaKey;
    }
    let mut at = content_start + 3;
    let mut fields = Vec::with_capacity(KeyField::ALL.len());
    for field in KeyField::ALL {
        match read_tlv(slot, at, slot.len()) {
            Some(tlv) if tlv.tag == 0x02 && !tlv.value.is_empty() => {
                at = tlv.value.end;
                // The size is known as soon as the modulus is read: a larger key does not fit the
                // slot, and its first 612 bytes are the wrong size, not a cut-off RSA-1024 key.
                if field == KeyField::Modulus {
                    let bits = bit_len(&slot[tlv.value.clone()]);
                    if bits != 1024 {
                        return UnusableReason::WrongKeySize { bits };
                    }
                }
                fields.push((field, tlv));
            }
            _ => return UnusableReason::Truncated,
        }
    }
    let value = |k: usize| &slot[fields[k].1.value.clone()];
    if strip_leading_zeros(value(1)) != [0x01, 0x00, 0x01] {
        return UnusableReason::WrongExponent;
    }
    for (field, tlv) in &fields {
        let header = &slot[tlv.header.clone()];
        let nominal = match field {
            KeyField::Modulus => 129,
            KeyField::PublicExponent => 3,
            KeyField::PrivateExponent => 128,
            _ => 64,
        };
        let value_len = tlv.value.len();
        let expected_header: &[u8] = match (field, value_len) {
            (KeyField::Modulus, 129) => &[0x02, 0x81, 0x81],
            (KeyField::PublicExponent, 3) => &[0x02, 0x03],
            (KeyField::PrivateExponent, 128) => &[0x02, 0x81, 0x80],
            (KeyField::PrivateExponent, 129) => &[0x02, 0x81, 0x81],
            (_, 64) if nominal == 64 => &[0x02, 0x40],
            (_, 65) if nominal == 64 => &[0x02, 0x41],
            _ if value_len < nominal => return UnusableReason::ShortInteger { field: *field },
            _ => return UnusableReason::UnexpectedEncoding { field: *field },
        };
        if header != expected_header {
            return UnusableReason::UnexpectedEncoding { field: *field };
        }
    }
    // The outer header must be `30 82 LL LL`: the firmware starts counting at byte 9.
    if content_start != 4 {
        return UnusableReason::UnexpectedEncoding {
            field: KeyField::Modulus,
        };
    }
    // A key cut short near its end still parses when the slot is padded: the missing bytes are read
    // from the erased (or zeroed) flash after it. Call it truncated when its last bytes and the
    // bytes after it are one run of 0xFF or 0x00.
    // A short run is a cut only if the numbers before it are whole (the primes still multiply to
    // the modulus); else the damage is elsewhere and the key is corrupt.
    let der_end = fields[fields.len() - 1].1.value.end;
    if erased_tail(slot, der_end)
        .is_some_and(|run| run >= 4 || primes_multiply_to_modulus(value(0), value(3), value(4)))
    {
        return UnusableReason::Truncated;
    }
    UnusableReason::Corrupt
}

/// How many of the key's last bytes (it ends at `end`) are erased flash, when its last byte and
/// at least four bytes after it are one run of 0xFF or 0x00: what a key cut short and read over
/// erased (or zeroed) flash looks like. One key in 256 ends in such a byte by chance, so a run of
/// four bytes or more is a cut (2^-32 by chance); a shorter one needs the key's own check.
fn erased_tail(slot: &[u8], end: usize) -> Option<usize> {
    let last = *slot.get(end.checked_sub(1)?)?;
    let after = slot.get(end..)?;
    let after = &after[..after.len().min(8)];
    ((last == ERASED || last == 0x00) && after.len() >= 4 && after.iter().all(|&b| b == last))
        .then(|| slot[..end].iter().rev().take_while(|&&b| b == last).count())
}

/// Whether `p × q = n` (big-endian bytes): the modulus and the primes agree.
fn primes_multiply_to_modulus(n: &[u8], p: &[u8], q: &[u8]) -> bool {
    use p256::elliptic_curve::bigint::ConcatenatingMul;
    let uint = |bytes: &[u8]| BoxedUint::from_be_slice(bytes, 1024).ok();
    let (Some(p), Some(q)) = (uint(p), uint(q)) else {
        return false;
    };
    strip_leading_zeros(&p.concatenating_mul(&q).to_be_bytes()) == strip_leading_zeros(n)
}

/// The bit length of a big-endian unsigned number (0 for zero).
pub(crate) fn bit_len(be: &[u8]) -> u32 {
    let v = strip_leading_zeros(be);
    match v.first() {
        None => 0,
        Some(&top) => (v.len() as u32 - 1) * 8 + (8 - top.leading_zeros()),
    }
}

/// What the firmware makes of its EC (P-256) device private-key slot.
pub enum FirmwareEcKey {
    /// The first byte is 0xFF: the firmware generates a new key pair on the next boot.
    Blank,
    /// `mbedtls_pk_parse_key` fails, or the key it loads cannot complete the handshake.
    Unusable(UnusableReason),
    /// The key the firmware signs with; its public key is what the device presents.
    Usable(super::ec::EcKey),
}

impl std::fmt::Debug for FirmwareEcKey {
    // Never print key material, not even in test failures.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Blank => f.write_str("Blank"),
            Self::Unusable(reason) => f.debug_tuple("Unusable").field(reason).finish(),
            Self::Usable(_) => f.write_str("Usable(P-256 key, redacted)"),
        }
    }
}

impl FirmwareEcKey {
    pub fn is_usable(&self) -> bool {
        matches!(self, Self::Usable(_))
    }
}

/// The curve field of a SEC1 key (or the algorithm parameters of a PKCS#8 one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcCurve<'a> {
    /// No `parameters` field.
    Absent,
    /// `namedCurve`: the OID's value bytes.
    Named(&'a [u8]),
    /// `specifiedCurve`: the whole SpecifiedECDomain SEQUENCE (tag and length included).
    Explicit(&'a [u8]),
}

/// The DER value bytes of the prime256v1 OID (1.2.840.10045.3.1.7).
pub(crate) const P256_OID_VALUE: [u8; 8] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The fields of a SEC1 `ECPrivateKey`, read as mbedTLS 2.22 `pk_parse_key_sec1_der` reads them.
#[derive(Clone, Copy)]
pub(crate) struct Sec1Key<'a> {
    /// The `privateKey` OCTET STRING, any length (`mbedtls_mpi_read_binary`).
    pub d: &'a [u8],
    pub curve: EcCurve<'a>,
    /// The `publicKey` point (after the BIT STRING's unused-bits byte), when present.
    pub public: Option<&'a [u8]>,
}

/// mbedTLS's ASN.1 errors, as far as the reasons need them.
#[derive(Debug, PartialEq, Eq)]
enum Asn1 {
    OutOfData,
    UnexpectedTag,
    Invalid,
}

/// `mbedtls_asn1_get_len`: one to four length bytes, and the value must fit before `end`.
fn asn1_len(b: &[u8], p: &mut usize, end: usize) -> Result<usize, Asn1> {
    let byte = |i: usize| b.get(i).copied().filter(|_| i < end).ok_or(Asn1::OutOfData);
    let first = byte(*p)?;
    let len = if first & 0x80 == 0 {
        *p += 1;
        first as usize
    } else {
        let count = (first & 0x7f) as usize;
        if !(1..=4).contains(&count) {
            return Err(Asn1::Invalid);
        }
        let mut len = 0usize;
        for k in 1..=count {
            len = (len << 8) | byte(*p + k)? as usize;
        }
        *p += 1 + count;
        len
    };
    if len > end.saturating_sub(*p) {
        return Err(Asn1::OutOfData);
    }
    Ok(len)
}

/// `mbedtls_asn1_get_tag`.
fn asn1_tag(b: &[u8], p: &mut usize, end: usize, tag: u8) -> Result<usize, Asn1> {
    match b.get(*p) {
        Some(_) if *p >= end => Err(Asn1::OutOfData),
        None => Err(Asn1::OutOfData),
        Some(&t) if t != tag => Err(Asn1::UnexpectedTag),
        Some(_) => {
            *p += 1;
            asn1_len(b, p, end)
        }
    }
}

/// `mbedtls_asn1_get_int`: a non-negative INTEGER that fits an `int`, leading zeros allowed.
fn asn1_int(b: &[u8], p: &mut usize, end: usize) -> Result<u32, Asn1> {
    let len = asn1_tag(b, p, end, 0x02)?;
    let value = &b[*p..*p + len];
    if value.is_empty() || value[0] & 0x80 != 0 {
        return Err(Asn1::Invalid);
    }
    let digits = strip_leading_zeros(value);
    if digits.len() > 4 || (digits.len() == 4 && digits[0] & 0x80 != 0) {
        return Err(Asn1::Invalid);
    }
    *p += len;
    Ok(digits.iter().fold(0u32, |acc, &d| (acc << 8) | d as u32))
}

/// The length `determine_der_length` gives the key parser (`communication/src/eckeygen.cpp` 32-41):
/// the outer SEQUENCE's header and value. `Err(Truncated)` when the SEQUENCE runs past the slot,
/// `Err(NotAnEcKey)` when there is none (the firmware then passes length 0 and the parse fails).
pub(crate) fn ec_der_len(slot: &[u8]) -> Result<usize, UnusableReason> {
    let mut p = 0;
    match asn1_tag(slot, &mut p, slot.len(), 0x30) {
        Ok(len) => Ok(p + len),
        // The device reads up to 612 bytes from a buffer the slot only partly fills; what lies past
        // the slot there is unverified, so a longer SEQUENCE is called cut off.
        Err(Asn1::OutOfData) if slot.first() == Some(&0x30) => Err(UnusableReason::Truncated),
        Err(_) => Err(UnusableReason::NotAnEcKey),
    }
}

/// Reads a SEC1 `ECPrivateKey` step by step as `pk_parse_key_sec1_der` does (mbedTLS 2.22
/// `library/pkparse.c`), stopping where it stops. `Ok` means the fields are well formed as
/// mbedTLS sees them; the curve, the private number and the public point are judged by
/// [`judge_ec_key`]. With `explicit_curves` (the file import), a `specifiedCurve` is read past
/// instead of failing, as mbedTLS with `MBEDTLS_PK_PARSE_EC_EXTENDED` would.
pub(crate) fn parse_sec1(der: &[u8], explicit_curves: bool) -> Result<Sec1Key<'_>, UnusableReason> {
    let malformed = |_| UnusableReason::NotAnEcKey;
    let mut p = 0;
    let len = asn1_tag(der, &mut p, der.len(), 0x30).map_err(malformed)?;
    let end = p + len;
    let version = asn1_int(der, &mut p, end).map_err(malformed)?;
    if version != 1 {
        // Version 0 and an AlgorithmIdentifier: PKCS#8, which fails on the set-up context.
        return Err(if version == 0 && der.get(p) == Some(&0x30) {
            UnusableReason::EcPkcs8
        } else {
            UnusableReason::NotAnEcKey
        });
    }
    let len = asn1_tag(der, &mut p, end, 0x04).map_err(malformed)?;
    let d = &der[p..p + len];
    p += len;
    let mut curve = EcCurve::Absent;
    if p != end {
        match asn1_tag(der, &mut p, end, 0xa0) {
            Ok(len) => {
                let params_end = p + len;
                // `pk_get_ecparams`: one OID (or, extended, one SEQUENCE) filling the field.
                let tag = *der
                    .get(p)
                    .filter(|_| p < params_end)
                    .ok_or(UnusableReason::NotAnEcKey)?;
                match tag {
                    0x06 => {}
                    0x30 if explicit_curves => {}
                    0x30 => return Err(UnusableReason::ExplicitCurveParameters),
                    _ => return Err(UnusableReason::NotAnEcKey),
                }
                let start = p;
                let len = asn1_tag(der, &mut p, params_end, tag).map_err(malformed)?;
                let value = &der[p..p + len];
                p += len;
                if p != params_end {
                    return Err(UnusableReason::NotAnEcKey);
                }
                curve = if tag == 0x06 {
                    // `pk_use_ecparams`: only P-256 is compiled in.
                    if value != P256_OID_VALUE {
                        return Err(UnusableReason::WrongCurve);
                    }
                    EcCurve::Named(value)
                } else {
                    EcCurve::Explicit(&der[start..p])
                };
            }
            Err(Asn1::UnexpectedTag) => {}
            Err(_) => return Err(UnusableReason::NotAnEcKey),
        }
    }
    let mut public = None;
    if p != end {
        match asn1_tag(der, &mut p, end, 0xa1) {
            Ok(len) => {
                let end2 = p + len;
                // `mbedtls_asn1_get_bitstring_null`: a BIT STRING whose first byte is 0 unused bits.
                let len = asn1_tag(der, &mut p, end2, 0x03).map_err(malformed)?;
                if len == 0 || der[p] != 0 || p + len != end2 {
                    return Err(UnusableReason::NotAnEcKey);
                }
                public = Some(&der[p + 1..end2]);
            }
            // Anything else after the parameters is ignored.
            Err(Asn1::UnexpectedTag) => {}
            Err(_) => return Err(UnusableReason::NotAnEcKey),
        }
    }
    Ok(Sec1Key { d, curve, public })
}

/// The rest of `pk_parse_key_sec1_der` and what the handshake then needs: the curve must be P-256
/// (`curve` is the SEC1 field, or the PKCS#8 algorithm's for a file), a stored public point in
/// uncompressed form must be on the curve (`pk_get_ecpubkey`; other forms are recomputed), the
/// private number must be in 1..n−1 (`mbedtls_ecp_check_privkey`), and a stored point must be the
/// private number's: mbedTLS keeps it unchecked and the device presents it.
pub(crate) fn judge_ec_key(
    key: &Sec1Key<'_>,
    curve: EcCurve<'_>,
) -> Result<super::ec::EcKey, UnusableReason> {
    use super::ec;
    let unavailable = |_| UnusableReason::EcMathUnavailable;
    let named = match curve {
        EcCurve::Named(oid) => oid == P256_OID_VALUE,
        EcCurve::Explicit(params) => is_p256_explicit(params),
        EcCurve::Absent => false,
    };
    let mut stored = None;
    if let Some(point) = key.public {
        // `mbedtls_ecp_point_read_binary` rejects an empty point before it looks at the group.
        match point.first() {
            None => return Err(UnusableReason::InvalidPublicKey),
            // Without a group every point format is "unavailable": recomputed below (and failing).
            _ if !named => {}
            Some(0x00 | 0x04) => match ec::decode_point(point).map_err(unavailable)? {
                Some(q) if point[0] == 0x04 => stored = Some(q),
                _ => return Err(UnusableReason::InvalidPublicKey),
            },
            // Compressed or other forms: `MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE`, recomputed.
            Some(_) => {}
        }
    }
    if !named {
        return Err(match curve {
            EcCurve::Absent => UnusableReason::NoCurve,
            EcCurve::Explicit(_) => UnusableReason::ExplicitCurveParameters,
            EcCurve::Named(_) => UnusableReason::WrongCurve,
        });
    }
    let secret = ec::EcKey::from_private(&*ec_private_number(key.d)?)
        .map_err(unavailable)?
        .ok_or(UnusableReason::PrivateKeyOutOfRange)?;
    if stored.is_some_and(|q| q != *secret.point()) {
        return Err(UnusableReason::MismatchedPublicKey);
    }
    Ok(secret)
}

/// The private number as 32 bytes (`mbedtls_mpi_read_binary` takes leading zero bytes): zero, or
/// more than 32 significant bytes, is refused as mbedTLS's range check refuses it.
fn ec_private_number(d: &[u8]) -> Result<zeroize::Zeroizing<[u8; 32]>, UnusableReason> {
    let digits = strip_leading_zeros(d);
    if digits.is_empty() {
        return Err(UnusableReason::ZeroPrivateKey);
    }
    if digits.len() > 32 {
        return Err(UnusableReason::PrivateKeyOutOfRange);
    }
    let mut padded = zeroize::Zeroizing::new([0u8; 32]);
    padded[32 - digits.len()..].copy_from_slice(digits);
    Ok(padded)
}

/// Whether a SpecifiedECDomain SEQUENCE describes P-256: the prime field, a, b, the generator
/// (either point form) and the order are P-256's, and the cofactor, when present, is 1.
pub(crate) fn is_p256_explicit(params: &[u8]) -> bool {
    fn read(b: &[u8], p: &mut usize, end: usize, tag: u8) -> Option<std::ops::Range<usize>> {
        let len = asn1_tag(b, p, end, tag).ok()?;
        let range = *p..*p + len;
        *p += len;
        Some(range)
    }
    let check = || -> Option<bool> {
        let b = params;
        let mut p = 0;
        let seq = read(b, &mut p, b.len(), 0x30)?;
        let end = seq.end;
        p = seq.start;
        let version = asn1_int(b, &mut p, end).ok()?;
        let field = read(b, &mut p, end, 0x30)?;
        let mut f = field.start;
        let field_type = read(b, &mut f, field.end, 0x06)?;
        let prime = read(b, &mut f, field.end, 0x02)?;
        let curve = read(b, &mut p, end, 0x30)?;
        let mut c = curve.start;
        let a = read(b, &mut c, curve.end, 0x04)?;
        let bb = read(b, &mut c, curve.end, 0x04)?;
        let base = read(b, &mut p, end, 0x04)?;
        let order = read(b, &mut p, end, 0x02)?;
        let cofactor_ok = if p < end {
            let cofactor = read(b, &mut p, end, 0x02)?;
            strip_leading_zeros(&b[cofactor]) == [1]
        } else {
            true
        };
        let generator = super::ec::decode_point(&b[base]).ok().flatten()?;
        let same = |r: std::ops::Range<usize>, hex: &str| {
            let want: Vec<u8> = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
                .collect();
            strip_leading_zeros(&b[r]) == &want[..]
        };
        Some(
            (1..=3).contains(&version)
                // prime-field, 1.2.840.10045.1.1
                && b[field_type] == [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x01, 0x01]
                && same(prime, P256_P)
                && same(a, P256_A)
                && same(bb, P256_B)
                && same(order, P256_N)
                && cofactor_ok
                && generator == super::ec::GENERATOR,
        )
    };
    check().unwrap_or(false)
}

const P256_P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
const P256_A: &str = "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc";
const P256_B: &str = "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b";
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

/// Emulates the firmware's reading of its EC private-key slot (`extract_public_ec_key` and the DTLS
/// channel's `mbedtls_pk_parse_key`, both on a context already set up for EC keys): the DER length
/// from the outer SEQUENCE, PKCS#8 failing, SEC1 read as mbedTLS 2.22 reads it, only P-256.
///
/// A failure in a key whose last bytes and the bytes after it are one run of 0xFF or 0x00 is
/// reported as cut off: that is what the field-level error means there.
pub fn read_device_ec_key(slot: &[u8]) -> FirmwareEcKey {
    if is_blank(slot) {
        return FirmwareEcKey::Blank;
    }
    let verdict = ec_der_len(slot).and_then(|len| {
        let der = &slot[..len];
        let key = parse_sec1(der, false)?;
        judge_ec_key(&key, key.curve)
    });
    match verdict {
        Ok(key) => FirmwareEcKey::Usable(key),
        Err(reason) => FirmwareEcKey::Unusable(match reason {
            UnusableReason::NotAnEcKey
            | UnusableReason::NoCurve
            | UnusableReason::InvalidPublicKey
            | UnusableReason::ZeroPrivateKey
            | UnusableReason::PrivateKeyOutOfRange
            | UnusableReason::MismatchedPublicKey
                if ec_key_looks_cut(slot) =>
            {
                UnusableReason::Truncated
            }
            other => other,
        }),
    }
}

/// The key ends in erased flash ([`erased_tail`]) and is not a whole key damaged elsewhere that
/// ends in such a byte by chance: the run reaches four bytes into the key, or the stored point,
/// but for the run, is the private number's.
fn ec_key_looks_cut(slot: &[u8]) -> bool {
    let Ok(end) = ec_der_len(slot) else {
        return false;
    };
    erased_tail(slot, end).is_some_and(|run| run >= 4 || point_whole_but_its_end(&slot[..end], run))
}

/// Whether the key's stored point equals its private number's point in all but the last `run`
/// bytes (what a key cut `run` bytes short and read over erased flash holds).
fn point_whole_but_its_end(der: &[u8], run: usize) -> bool {
    let Ok(Sec1Key {
        d,
        public: Some(point),
        ..
    }) = parse_sec1(der, false)
    else {
        return false;
    };
    if point.len() != 65 || run >= point.len() {
        return false;
    }
    let Ok(d) = ec_private_number(d) else {
        return false;
    };
    let kept = point.len() - run;
    matches!(super::ec::EcKey::from_private(&d), Ok(Some(key)) if key.point()[..kept] == point[..kept])
}

/// Emulates the firmware's reading of the TCP (RSA-2048) server key: first byte 0xFF means blank;
/// otherwise the 256 bytes at offset 33 are the modulus and e is 65537, whatever the other bytes say.
pub fn read_server_public_key(region: &[u8]) -> FirmwareServerKey {
    // An empty region is not blank here: it fails below as too short.
    if region.first() == Some(&ERASED) {
        return FirmwareServerKey::Blank;
    }
    if region.len() < SERVER_KEY_READ_LEN {
        return FirmwareServerKey::Unusable(UnusableReason::SlotTooShort {
            len: region.len(),
            needed: SERVER_KEY_READ_LEN,
        });
    }
    let modulus = &region[SERVER_MODULUS_OFFSET..SERVER_MODULUS_OFFSET + 256];
    // mbedTLS takes any modulus it is given; the rsa crate needs an odd one larger than e. A
    // modulus that fails this cannot be the cloud's key, so the handshake would fail either way.
    let key = BoxedUint::from_be_slice(modulus, 2048).ok().and_then(|n| {
        rsa::PublicKey::new_with_size_limits(n, BoxedUint::from(FIRMWARE_RSA_EXPONENT), 18..=2048)
            .ok()
    });
    match key {
        Some(key) => FirmwareServerKey::Usable(key),
        None => FirmwareServerKey::Unusable(UnusableReason::InvalidModulus),
    }
}

/// The public key the firmware derives from its private-key slot and sends in the handshake: a
/// fixed 29-byte header, the 128 bytes at offset 11, then `02 03 01 00 01` (`extract_public_rsa_key`).
///
/// `None` when the slot is blank (the firmware generates a new key instead) or too short.
pub fn derived_public_key_der(private_slot: &[u8]) -> Option<[u8; DEVICE_PUBLIC_KEY_DER_LEN]> {
    if is_blank(private_slot) {
        return None;
    }
    let modulus = private_slot.get(DEVICE_MODULUS_OFFSET..DEVICE_MODULUS_OFFSET + 128)?;
    let mut der = [0u8; DEVICE_PUBLIC_KEY_DER_LEN];
    der[..29].copy_from_slice(&DEVICE_PUBLIC_KEY_PREFIX);
    der[29..157].copy_from_slice(modulus);
    der[157..].copy_from_slice(&RSA_EXPONENT_65537_DER);
    Some(der)
}

/// The cloud transport decides the default port and the built-in fallback address.
pub use crate::device::Transport;

/// The host part of an address block, as `parseServerAddressData` classifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerHost {
    /// Type 0: four address bytes at offset 2 (the length byte is not checked).
    Ipv4 { octets: [u8; 4] },
    /// Type 1: `length` characters at offset 2, cut at the first NUL as the C string would be.
    Domain { name: String },
    /// Any other type, or a domain too long for the block: the firmware uses its built-in address.
    Invalid { type_byte: u8 },
}

/// A decoded server address block (DOS `parse_server_address.h`; particle-dct.md 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerAddress {
    pub host: ServerHost,
    /// The port bytes as stored (big-endian at offset 66); 0 and 0xFFFF mean "default".
    pub stored_port: u16,
}

impl ServerAddress {
    /// Whether the firmware ignores this block and uses its built-in address.
    pub fn is_fallback(&self) -> bool {
        matches!(self.host, ServerHost::Invalid { .. })
    }

    /// The port the firmware connects to: the default for 0 or 0xFFFF, and always the default over
    /// UDP (`system_cloud_connection.cpp` overrides any other UDP port).
    pub fn port(&self, transport: Transport) -> u16 {
        // The built-in fallback address carries no port, so it also gets the default.
        if self.is_fallback() || transport == Transport::Udp {
            return transport.default_port();
        }
        match self.stored_port {
            0 | 0xFFFF => transport.default_port(),
            port => port,
        }
    }

    /// The host name or dotted IPv4 address the firmware connects to, with the built-in address for
    /// an invalid block and `$id` replaced by `device_id` (lower-case hex, as the bootloader reports
    /// it). Device OS 2.x also appends a `.v<major>` suffix to the ID; that is left out here.
    pub fn host(&self, transport: Transport, device_id: &str) -> String {
        let raw = match &self.host {
            ServerHost::Ipv4 {
                octets: [a, b, c, d],
            } => return format!("{a}.{b}.{c}.{d}"),
            ServerHost::Domain { name } => name.as_str(),
            ServerHost::Invalid { .. } => transport.builtin_host(),
        };
        raw.replace("$id", &device_id.to_ascii_lowercase())
    }
}

/// Decodes an address block as the firmware does. Missing bytes of a short snapshot are read as
/// erased flash (0xFF), so an empty slice decodes as the blank block.
pub fn decode_server_address(block: &[u8]) -> ServerAddress {
    let byte = |i: usize| block.get(i).copied().unwrap_or(ERASED);
    let host = match byte(0) {
        0x00 => ServerHost::Ipv4 {
            octets: [byte(2), byte(3), byte(4), byte(5)],
        },
        // The firmware accepts up to the block size minus the two header bytes.
        0x01 if (byte(1) as usize) <= SERVER_ADDRESS_LEN - 2 => {
            let len = byte(1) as usize;
            let raw: Vec<u8> = (2..2 + len).map(byte).take_while(|&b| b != 0).collect();
            ServerHost::Domain {
                name: String::from_utf8_lossy(&raw).into_owned(),
            }
        }
        other => ServerHost::Invalid { type_byte: other },
    };
    let stored_port = u16::from_be_bytes([
        byte(SERVER_ADDRESS_PORT_OFFSET),
        byte(SERVER_ADDRESS_PORT_OFFSET + 1),
    ]);
    ServerAddress { host, stored_port }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;

    /// A DER key padded with erased flash to the slot size, as it sits in the DCT after a write.
    fn slot_with(der: &[u8]) -> Vec<u8> {
        let mut slot = der.to_vec();
        slot.resize(1216, ERASED);
        slot
    }

    /// A key the firmware can read: a device key, which generation already retries until it is.
    fn usable_key() -> rsa::PrivateKey {
        let key = crate::keys::generate_rsa_device_key().unwrap();
        rsa::PrivateKey::from_pkcs1_der(key.der()).unwrap()
    }

    #[test]
    fn a_normal_pkcs1_key_reads_back_as_the_same_key() {
        let key = usable_key();
        let der = key.to_pkcs1_der().unwrap();
        let FirmwarePrivateKey::Usable(read) = read_device_private_key(&slot_with(der.as_bytes()))
        else {
            panic!("not usable")
        };
        assert_eq!(read.n(), key.n());
        assert_eq!(read.d(), key.d());
        // Exactly 612 bytes are enough, and bytes after the DER do not matter.
        let mut exact = der.as_bytes().to_vec();
        exact.resize(RSA_PRIVATE_KEY_SLOT_LEN, 0x00);
        assert!(read_device_private_key(&exact).is_usable());
    }

    #[test]
    fn blank_short_and_pkcs8_slots() {
        assert!(matches!(
            read_device_private_key(&[0xFF; 612]),
            FirmwarePrivateKey::Blank
        ));
        assert!(matches!(
            read_device_private_key(&[]),
            FirmwarePrivateKey::Unusable(UnusableReason::SlotTooShort { len: 0, .. })
        ));
        let key = usable_key();
        let pkcs8 = key.to_pkcs8_der().unwrap();
        match read_device_private_key(&slot_with(pkcs8.as_bytes())) {
            FirmwarePrivateKey::Unusable(UnusableReason::Pkcs8) => {}
            other => panic!("{other:?}"),
        }
        let der = key.to_pkcs1_der().unwrap();
        match read_device_private_key(&slot_with(&der.as_bytes()[..300])) {
            FirmwarePrivateKey::Unusable(UnusableReason::Truncated) => {}
            other => panic!("{other:?}"),
        }
        match read_device_private_key(&der.as_bytes()[..200]) {
            FirmwarePrivateKey::Unusable(UnusableReason::SlotTooShort { len: 200, .. }) => {}
            other => panic!("{other:?}"),
        }
        // One flipped bit inside P: the layout is right but the numbers are not a key.
        let mut corrupt = slot_with(der.as_bytes());
        corrupt[300] ^= 0x10;
        match read_device_private_key(&corrupt) {
            FirmwarePrivateKey::Unusable(UnusableReason::Corrupt) => {}
            other => panic!("{other:?}"),
        }
    }

    /// The same for an EC key whose stored point ends in 0xFF or 0x00: damaged in its private
    /// number it is a mismatched point, not cut off; cut two bytes short it is cut off.
    #[test]
    fn a_damaged_ec_key_ending_in_an_erased_byte_is_not_cut_off() {
        for end in [ERASED, 0x00] {
            let der = loop {
                let key = crate::keys::generate_ec_device_key().unwrap();
                let der = key.der().to_vec();
                if der.ends_with(&[end]) && !der.ends_with(&[end, end]) {
                    break der;
                }
            };
            let slot = |bytes: &[u8]| {
                let mut slot = bytes.to_vec();
                slot.resize(192, end);
                slot
            };
            let mut damaged = slot(&der);
            damaged[10] ^= 0x10; // inside the private number
            match read_device_ec_key(&damaged) {
                FirmwareEcKey::Unusable(UnusableReason::MismatchedPublicKey) => {}
                other => panic!("ends in {end:#04x}: {other:?}"),
            }
            match read_device_ec_key(&slot(&der[..der.len() - 2])) {
                FirmwareEcKey::Unusable(UnusableReason::Truncated) => {}
                other => panic!("cut, ends in {end:#04x}: {other:?}"),
            }
        }
    }

    /// A complete key that happens to end in 0xFF or 0x00, damaged inside P, is corrupt, not cut
    /// off (it was called cut off about once in 256 random keys); the same key cut two bytes short
    /// (the erased flash then reads as its last two bytes) is cut off.
    #[test]
    fn a_damaged_key_ending_in_an_erased_byte_is_corrupt_not_cut_off() {
        for end in [ERASED, 0x00] {
            let key = loop {
                let key = usable_key();
                let der = key.to_pkcs1_der().unwrap();
                if der.as_bytes().ends_with(&[end]) && !der.as_bytes().ends_with(&[end, end]) {
                    break key;
                }
            };
            let der = key.to_pkcs1_der().unwrap();
            let der = der.as_bytes();
            let mut slot = der.to_vec();
            slot.resize(1216, end);
            slot[300] ^= 0x10;
            match read_device_private_key(&slot) {
                FirmwarePrivateKey::Unusable(UnusableReason::Corrupt) => {}
                other => panic!("ends in {end:#04x}: {other:?}"),
            }
            let mut cut = der[..der.len() - 2].to_vec();
            cut.resize(1216, end);
            match read_device_private_key(&cut) {
                FirmwarePrivateKey::Unusable(UnusableReason::Truncated) => {}
                other => panic!("cut, ends in {end:#04x}: {other:?}"),
            }
        }
    }

    #[test]
    fn derived_public_key_is_the_canonical_spki() {
        use rsa::pkcs8::EncodePublicKey;
        let key = usable_key();
        let der = key.to_pkcs1_der().unwrap();
        let derived = derived_public_key_der(&slot_with(der.as_bytes())).unwrap();
        let spki = key.to_public_key().to_public_key_der().unwrap();
        assert_eq!(&derived[..], spki.as_bytes());
        assert_eq!(derived_public_key_der(&[0xFF; 612]), None);
        assert_eq!(derived_public_key_der(&[0x30; 100]), None);
    }

    #[test]
    fn server_key_blank_and_shipped() {
        let shipped = include_bytes!("assets/rsa.pub.der");
        let FirmwareServerKey::Usable(key) = read_server_public_key(shipped) else {
            panic!("shipped key must be usable")
        };
        assert_eq!(key.n().bit_width(), 2048);
        assert!(matches!(
            read_server_public_key(&[0xFF; 512]),
            FirmwareServerKey::Blank
        ));
        assert!(matches!(
            read_server_public_key(&shipped[..100]),
            FirmwareServerKey::Unusable(UnusableReason::SlotTooShort { len: 100, .. })
        ));
        // An even modulus cannot be an RSA key.
        let mut even = shipped.to_vec();
        even[SERVER_MODULUS_OFFSET + 255] &= 0xFE;
        assert!(matches!(
            read_server_public_key(&even),
            FirmwareServerKey::Unusable(UnusableReason::InvalidModulus)
        ));
    }

    #[test]
    fn address_blocks() {
        let shipped = include_bytes!("assets/rsa.pub.der");
        let addr = decode_server_address(&shipped[384..512]);
        assert_eq!(
            addr.host,
            ServerHost::Domain {
                name: "device.spark.io".into()
            }
        );
        assert_eq!(addr.port(Transport::Tcp), 5683);
        let ec = include_bytes!("assets/ec.pub.der");
        let addr = decode_server_address(&ec[192..320]);
        assert_eq!(
            addr.host(Transport::Udp, "0123456789ABCDEF01234567"),
            "0123456789abcdef01234567.udp.particle.io"
        );
        assert_eq!(addr.port(Transport::Udp), 5684);

        let mut ip = [0xFFu8; 128];
        ip[..6].copy_from_slice(&[0, 4, 192, 168, 1, 10]);
        ip[66..68].copy_from_slice(&[0x04, 0xd2]);
        let addr = decode_server_address(&ip);
        assert_eq!(addr.host(Transport::Tcp, "x"), "192.168.1.10");
        assert_eq!(addr.port(Transport::Tcp), 1234);
        // Over UDP the firmware always uses the default port.
        assert_eq!(addr.port(Transport::Udp), 5684);

        let blank = decode_server_address(&[0xFF; 128]);
        assert!(blank.is_fallback());
        assert_eq!(blank.host(Transport::Tcp, "x"), "device.spark.io");
        assert_eq!(blank.port(Transport::Tcp), 5683);
        // A domain longer than the block is invalid too.
        assert!(decode_server_address(&[1, 127]).is_fallback());
        assert!(decode_server_address(&[]).is_fallback());
    }
}
