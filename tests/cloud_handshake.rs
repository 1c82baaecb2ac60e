//! The Photon's device-to-cloud handshake (cloud-api.md 8): a simulated device boots from a DCT
//! image and connects to the simulated cloud. It comes online only with the key pair the cloud knows
//! and the cloud's own server key; otherwise it shows the burst the real device shows.

use futures_executor::block_on;
use key_rescue::cloud::{CloudApi, KeyAlgorithm, KeyUpload};
use key_rescue::keys::firmware::read_device_private_key;
use key_rescue::sim::cloud::api::SimCloudApi;
use key_rescue::sim::cloud::firmware::{
    BootOutcome, EC_PRIVATE_KEY_OFFSET, EC_SERVER_KEY_OFFSET, Led, PRIVATE_KEY_OFFSET,
    SERVER_KEY_OFFSET, boot_and_connect, connect_ec, key_error,
};
use key_rescue::sim::cloud::handshake::{
    BurstColor, CloudHandshake, DeviceError, DeviceHandshake, DevicePrivate, DeviceServerKey,
};
use key_rescue::sim::cloud::scenario::*;
use key_rescue::sim::cloud::{P256_SPKI_PREFIX, SimCloud, StoredKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::OnceLock;

const ID: &str = DEMO_PHOTON_ID;
const T0: u64 = 1_700_000_000_000;
/// Particle's production server key region as `particle keys server` ships it.
const PARTICLE_SERVER_REGION: &[u8] = include_bytes!("../src/keys/assets/rsa.pub.der");

fn server_key() -> rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).unwrap())
        .clone()
}

/// A device key the firmware's fixed-offset parser reads correctly (about 1 % are misread).
fn device_key() -> rsa::PrivateKey {
    loop {
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
        let mut slot = key.to_pkcs1_der().unwrap().as_bytes().to_vec();
        slot.resize(1216, 0xFF);
        if read_device_private_key(&slot).is_usable() {
            return key;
        }
    }
}

fn spki(key: &rsa::PrivateKey) -> Vec<u8> {
    key.to_public_key()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

fn cloud_with_key(stored: Option<&rsa::PrivateKey>) -> SimCloud {
    let mut cloud = SimCloud::new(server_key());
    seed_demo(&mut cloud);
    if let Some(key) = stored {
        cloud.device_mut(ID).unwrap().public_key = Some(StoredKey {
            der: spki(key),
            algorithm: "rsa".into(),
        });
    }
    cloud
}

/// A Photon DCT image: erased flash with the device key at 34 and a server-key region at 2082.
fn dct(device: Option<&rsa::PrivateKey>, server_region: &[u8]) -> Vec<u8> {
    let mut dct = vec![0xFF; 16 * 1024];
    if let Some(key) = device {
        let der = key.to_pkcs1_der().unwrap();
        dct[PRIVATE_KEY_OFFSET..PRIVATE_KEY_OFFSET + der.as_bytes().len()]
            .copy_from_slice(der.as_bytes());
    }
    dct[SERVER_KEY_OFFSET..SERVER_KEY_OFFSET + server_region.len()].copy_from_slice(server_region);
    dct
}

fn assert_not_online(outcome: &BootOutcome, cloud: &SimCloud) {
    assert!(!outcome.online, "{:?}", outcome.log);
    assert!(
        matches!(outcome.led, Led::FastCyanWithBurst { .. }),
        "{:?}",
        outcome.led
    );
    assert!(!cloud.device(ID).unwrap().online);
}

#[test]
fn matching_keys_come_online() {
    let key = device_key();
    let mut cloud = cloud_with_key(Some(&key));
    let image = dct(Some(&key), &cloud.server_key_region());
    let outcome = boot_and_connect(&image, ID, &mut cloud, T0);
    assert!(outcome.online, "{:?}", outcome.log);
    assert_eq!(outcome.led, Led::BreathingCyan);
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.key_error_flags, 0);
    let device = cloud.device(ID).unwrap();
    assert!(device.online);
    assert_eq!(device.last_handshake_ms, Some(T0));
}

#[test]
fn the_old_key_does_not_come_online() {
    let old = device_key();
    let new = device_key();
    let mut cloud = cloud_with_key(Some(&new));
    let image = dct(Some(&old), &cloud.server_key_region());
    let outcome = boot_and_connect(&image, ID, &mut cloud, T0);
    assert_not_online(&outcome, &cloud);
    // Almost always DECRYPTION_ERROR (orange); by chance the padding can parse and the signature
    // check fails instead (magenta). Either way: a handshake error, not online.
    assert!(
        matches!(
            outcome.error,
            Some(DeviceError::DecryptionError | DeviceError::AuthenticationError)
        ),
        "{:?}",
        outcome.error
    );
}

#[test]
fn a_1023_bit_key_does_not_come_online_even_when_the_cloud_holds_its_public_key() {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    // The firmware loads this key (mbedTLS reads it) but copies the modulus it presents from the
    // offset a 1024-bit key has (`extract_public_rsa_key`): the cloud sees another public key.
    let pem = include_str!("keys_fixtures/rsa1023_pkcs1.pem");
    let key = rsa::PrivateKey::from_pkcs1_pem(pem).unwrap();
    let mut cloud = cloud_with_key(Some(&key));
    let image = dct(Some(&key), &cloud.server_key_region());
    let outcome = boot_and_connect(&image, ID, &mut cloud, T0);
    assert_not_online(&outcome, &cloud);
    assert!(outcome.error.is_some(), "{:?}", outcome.log);
}

#[test]
fn a_wrong_server_key_is_refused_by_the_cloud() {
    let key = device_key();
    let mut cloud = cloud_with_key(Some(&key));
    // Particle's production key: this cloud cannot decrypt what the device sends.
    let image = dct(Some(&key), PARTICLE_SERVER_REGION);
    let outcome = boot_and_connect(&image, ID, &mut cloud, T0);
    assert_not_online(&outcome, &cloud);
    assert_eq!(outcome.error, Some(DeviceError::ReceiveKey));
    assert_eq!(
        outcome.led,
        Led::FastCyanWithBurst {
            color: BurstColor::Red,
            blinks: 1
        }
    );
}

#[test]
fn a_blank_server_key_falls_back_to_particles_and_fails_here() {
    let key = device_key();
    let mut cloud = cloud_with_key(Some(&key));
    let mut region = cloud.server_key_region();
    region[..294].fill(0xFF);
    let outcome = boot_and_connect(&dct(Some(&key), &region), ID, &mut cloud, T0);
    assert_not_online(&outcome, &cloud);
    assert_ne!(
        outcome.key_error_flags & key_error::PUBLIC_SERVER_KEY_BLANK,
        0
    );
}

#[test]
fn a_corrupted_server_key_fails_to_encrypt() {
    let key = device_key();
    let mut cloud = cloud_with_key(Some(&key));
    let mut region = cloud.server_key_region();
    // An even modulus cannot be an RSA key.
    region[33 + 255] &= 0xFE;
    let outcome = boot_and_connect(&dct(Some(&key), &region), ID, &mut cloud, T0);
    assert_not_online(&outcome, &cloud);
    assert_eq!(outcome.error, Some(DeviceError::EncryptionError));
}

/// mbedTLS 2.22 `mbedtls_rsa_private` (CRT, `MBEDTLS_RSA_NO_CRT` off in Device OS's config) uses N,
/// P, Q, DP, DQ and QP and never D: a key whose D alone is damaged still decrypts (issue 12).
#[test]
fn a_device_key_with_only_d_damaged_still_comes_online() {
    let key = device_key();
    let mut cloud = cloud_with_key(Some(&key));
    let mut image = dct(Some(&key), &cloud.server_key_region());
    for i in 200..210 {
        image[PRIVATE_KEY_OFFSET + i] ^= 0x5A;
    }
    let outcome = boot_and_connect(&image, ID, &mut cloud, T0);
    assert!(outcome.online, "{:?}", outcome.log);
}

#[test]
fn a_corrupted_device_key_does_not_come_online() {
    let key = device_key();
    let mut cloud = cloud_with_key(Some(&key));
    let mut image = dct(Some(&key), &cloud.server_key_region());
    // Flip bits inside the CRT numbers (Q / DP): the modulus (and the key the device sends) is
    // intact, but the numbers mbedTLS's private operation uses no longer form a key. (Flipping
    // bits of D alone would not do: the CRT path never reads D; see the next test.)
    for i in 420..430 {
        image[PRIVATE_KEY_OFFSET + i] ^= 0x5A;
    }
    let outcome = boot_and_connect(&image, ID, &mut cloud, T0);
    assert_not_online(&outcome, &cloud);
    assert_eq!(outcome.error, Some(DeviceError::DecryptionError));
    assert_eq!(
        outcome.led,
        Led::FastCyanWithBurst {
            color: BurstColor::Orange,
            blinks: 1
        }
    );
}

#[test]
fn a_blank_device_key_is_replaced_by_one_the_cloud_does_not_know() {
    let known = device_key();
    let mut cloud = cloud_with_key(Some(&known));
    let image = dct(None, &cloud.server_key_region());
    let outcome = boot_and_connect(&image, ID, &mut cloud, T0);
    assert_not_online(&outcome, &cloud);
    assert_ne!(
        outcome.key_error_flags & key_error::PRIVATE_DEVICE_KEY_BLANK,
        0
    );
    let generated = outcome
        .dct_writes
        .iter()
        .find(|w| w.offset == PRIVATE_KEY_OFFSET)
        .expect("the firmware stores the key it generated");
    assert_eq!(generated.bytes[0], 0x30);
    // The public-key slot is refreshed too.
    assert!(
        outcome
            .dct_writes
            .iter()
            .any(|w| w.offset == 1250 && w.bytes.len() == 162)
    );
}

#[test]
fn a_cloud_that_knows_no_key_closes_the_connection() {
    let key = device_key();
    let mut cloud = cloud_with_key(None);
    let outcome = boot_and_connect(
        &dct(Some(&key), &cloud.server_key_region()),
        ID,
        &mut cloud,
        T0,
    );
    assert_not_online(&outcome, &cloud);
    assert_eq!(outcome.error, Some(DeviceError::ReceiveKey));
}

#[test]
fn another_server_address_is_unreachable() {
    let key = device_key();
    let mut cloud = cloud_with_key(Some(&key));
    let image = dct(Some(&key), &cloud.server_key_region());
    cloud.set_server_address("127.0.0.1", 5683);
    let outcome = boot_and_connect(&image, ID, &mut cloud, T0);
    assert_not_online(&outcome, &cloud);
    assert_eq!(outcome.error, None, "no handshake happened");
    assert_eq!(
        outcome.led,
        Led::FastCyanWithBurst {
            color: BurstColor::Orange,
            blinks: 3
        }
    );
    // Written with the new address, it connects.
    let image = dct(Some(&key), &cloud.server_key_region());
    assert_eq!(
        &image[SERVER_KEY_OFFSET + 384..SERVER_KEY_OFFSET + 390],
        &[0, 4, 127, 0, 0, 1]
    );
    assert!(boot_and_connect(&image, ID, &mut cloud, T0).online);
}

#[test]
fn a_signature_from_another_key_is_an_authentication_error() {
    let key = device_key();
    let cloud = cloud_with_key(Some(&key));
    let device = DeviceHandshake {
        device_id: [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67,
        ],
        private_key: DevicePrivate::Usable(Box::new(key.clone())),
        public_key_der: spki(&key),
        server_key: DeviceServerKey::Dct(server_key().to_public_key()),
    };
    let (cloud_side, nonce) = CloudHandshake::start();
    let step3 = device.on_nonce(&nonce).unwrap();
    let accepted = cloud_side
        .on_device_message(&server_key(), &step3, |id| {
            cloud
                .device(id)
                .and_then(|d| d.public_key.clone())
                .map(|k| k.der)
        })
        .unwrap();
    assert_eq!(accepted.device_id, ID);
    assert_eq!(accepted.presented_key, spki(&key));
    assert_eq!(accepted.reply.len(), 384);
    assert!(device.on_session_key(&accepted.reply).is_ok());
    let mut forged = accepted.reply.clone();
    forged[200] ^= 1;
    assert_eq!(
        device.on_session_key(&forged).unwrap_err(),
        DeviceError::AuthenticationError
    );
    assert_eq!(
        DeviceError::AuthenticationError.burst(),
        BurstColor::Magenta
    );
}

/// cloud-api.md 8.6: upload the new key through the API, then only the new key comes online, and
/// a running device retries on its own once the cloud holds its key.
#[test]
fn a_repair_proves_itself_through_the_api() {
    let old = device_key();
    let new = device_key();
    let cloud = Rc::new(RefCell::new(cloud_with_key(Some(&old))));
    let mut api = SimCloudApi::new(cloud.clone(), T0);
    let token = block_on(api.sign_in(DEMO_EMAIL, DEMO_PASSWORD))
        .unwrap()
        .token;
    let region = cloud.borrow().server_key_region();

    // The device already holds the new key (keys doctor writes before it uploads): not online.
    let outcome = cloud
        .borrow_mut()
        .boot_device(&dct(Some(&new), &region), ID, T0);
    assert!(!outcome.online);

    let upload = KeyUpload {
        device_id: ID.into(),
        public_key_pem: new
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
        algorithm: KeyAlgorithm::Rsa,
        product_id: None,
    };
    block_on(api.send_public_key(&token, &upload)).unwrap();
    let info = block_on(api.wait_until_online(&token, ID, 60_000, 2_000)).unwrap();
    assert!(info.is_online());
    assert!(info.last_handshake_at.is_some());
    assert!(cloud.borrow().last_boot(ID).unwrap().online);

    // The previous key no longer gets a session.
    cloud.borrow_mut().mark_offline(ID);
    let outcome = cloud
        .borrow_mut()
        .boot_device(&dct(Some(&old), &region), ID, T0 + 1);
    assert!(!outcome.online);
    let info = block_on(api.device(&token, ID)).unwrap();
    assert!(!info.is_online());
}

#[test]
fn a_blank_key_device_comes_online_once_its_generated_key_is_uploaded() {
    let cloud = Rc::new(RefCell::new(cloud_with_key(None)));
    let mut api = SimCloudApi::new(cloud.clone(), T0);
    let token = block_on(api.sign_in(DEMO_EMAIL, DEMO_PASSWORD))
        .unwrap()
        .token;
    let region = cloud.borrow().server_key_region();
    let outcome = cloud.borrow_mut().boot_device(&dct(None, &region), ID, T0);
    assert!(!outcome.online);
    let public = outcome
        .dct_writes
        .iter()
        .find(|w| w.offset == 1250)
        .unwrap();
    let pem = {
        use rsa::pkcs8::DecodePublicKey;
        rsa::PublicKey::from_public_key_der(&public.bytes)
            .unwrap()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    };
    let upload = KeyUpload {
        device_id: ID.into(),
        public_key_pem: pem,
        algorithm: KeyAlgorithm::Rsa,
        product_id: None,
    };
    block_on(api.send_public_key(&token, &upload)).unwrap();
    assert!(block_on(api.wait_until_online(&token, ID, 10_000, 1_000)).is_ok());
}

#[test]
fn ec_devices_connect_when_keys_are_equal() {
    let mut cloud = cloud_with_key(None);
    let point: Vec<u8> = (0..64).map(|i| i as u8 ^ 0x33).collect();
    let mut private = vec![0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20];
    private.extend([0x11; 32]);
    private.extend([
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ]);
    private.extend([0xa1, 0x44, 0x03, 0x42, 0x00, 0x04]);
    private.extend(&point);
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.push(0x04);
    spki.extend(&point);
    let cloud_ec_key = {
        let mut k = P256_SPKI_PREFIX.to_vec();
        k.extend([0x04; 65]);
        k
    };
    let mut image = vec![0xFF; 16 * 1024];
    image[EC_PRIVATE_KEY_OFFSET..EC_PRIVATE_KEY_OFFSET + private.len()].copy_from_slice(&private);
    image[EC_SERVER_KEY_OFFSET..EC_SERVER_KEY_OFFSET + 91].copy_from_slice(&cloud_ec_key);

    assert!(!connect_ec(&image, ID, &mut cloud, &cloud_ec_key, T0).online);
    cloud.device_mut(ID).unwrap().public_key = Some(StoredKey {
        der: spki,
        algorithm: "ecc".into(),
    });
    assert!(connect_ec(&image, ID, &mut cloud, &cloud_ec_key, T0).online);
    let mut other_server = cloud_ec_key.clone();
    other_server[90] ^= 1;
    assert!(!connect_ec(&image, ID, &mut cloud, &other_server, T0).online);
}
