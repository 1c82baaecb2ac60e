//! The advanced panel's commands, the Particle CLI's `keys` commands on a connected device:
//! save the private-key slot, write a loaded or a new key, write a server-key region (Particle's or
//! a custom host / IP / port / key file), and decode the server address.
//!
//! Every write goes through `Doctor::write_region`: it needs the backup the diagnosis took, is
//! read back and compared, and is rolled back from the backup if it fails. Private key bytes stay
//! in `Zeroizing` buffers; the only place they leave this module is the file "keys save" returns
//! for a download the user asked for.

use super::DoctorEvent;
use super::backup::BackupFile;
use super::error::DoctorError;
use super::session::{Doctor, new_key};
use crate::device::{KeyAlgorithm, TransportKeys};
use crate::keys::diagnose::AddressReport;
use crate::keys::{self, DevicePrivateKey, PublicKeyInfo, ServerAddressSpec};
use crate::usb::Transport;
use zeroize::Zeroizing;

impl<T: Transport> Doctor<T> {
    /// The key slots the firmware uses now (the Electron's transport byte decides), from the key
    /// area read in this session, or the platform's default before any read.
    fn active_keys(&self) -> &'static TransportKeys {
        match self.diagnose_keys_area() {
            Ok(report) => self.keys(&report),
            Err(_) => self.identity.platform.info().default_keys(),
        }
    }

    /// `particle keys save`: the private-key slot as the device holds it, for a download. The DER
    /// key is cut at its encoded length when the slot starts like one; otherwise the raw slot.
    pub async fn save_private_key(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<BackupFile, DoctorError> {
        let slot = self.active_keys().private_key;
        let mut dfu =
            Self::session(&mut self.t, &mut self.alts, &mut self.selected, slot.alt).await?;
        let mut bytes = Zeroizing::new(dfu.read(slot.offset, slot.read_len as usize).await?);
        if let Some(len) = der_len(&bytes) {
            bytes.truncate(len);
        }
        let alg = algorithm_word(slot.algorithm);
        on_event(DoctorEvent::Log(format!(
            "read the private key slot ({} bytes) for saving",
            bytes.len()
        )));
        Ok(BackupFile {
            name: format!("{}_{alg}_private_key.der", self.identity.device_id),
            bytes,
        })
    }

    /// `particle keys load`: writes a key from a file (PKCS#1 or PKCS#8, DER or PEM; converted to
    /// the form the firmware reads) and returns the public key read back from the device.
    pub async fn write_key_file(
        &mut self,
        file: &[u8],
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        let algorithm = self.active_keys().private_key.algorithm;
        let key = keys::load_device_private_key(file, algorithm)?;
        self.write_device_key(key, on_event).await
    }

    /// `particle keys new` + `load`: generates a key pair in the browser and writes it.
    pub async fn write_new_key(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        let key = new_key(self.active_keys().private_key.algorithm, on_event)?;
        self.write_device_key(key, on_event).await
    }

    async fn write_device_key(
        &mut self,
        key: DevicePrivateKey,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        let slot = self.active_keys().private_key;
        self.write_private_key(key, slot.alt, slot.offset, slot.read_len, on_event)
            .await?;
        self.read_device_public_key(false, on_event).await
    }

    /// The server-key region `particle keys server` would write: Particle's (`key_file` `None`)
    /// or a custom key file, with the host / IP and port of `address`.
    pub fn server_region(
        &self,
        key_file: Option<&[u8]>,
        address: &ServerAddressSpec,
    ) -> Result<Vec<u8>, DoctorError> {
        let keys = self.active_keys();
        Ok(keys::build_server_region(
            self.identity.platform,
            keys.transport,
            key_file,
            address,
        )?)
    }

    /// `particle keys server`: writes a server-key region (from [`Doctor::server_region`]).
    pub async fn write_server_region(
        &mut self,
        region: &[u8],
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<(), DoctorError> {
        let slot = self.active_keys().server_key;
        self.write_region(slot.alt, slot.offset, region, "server key", on_event)
            .await
    }

    /// `particle keys address`: the server address as the firmware decodes it, read now.
    pub async fn read_server_address(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Option<AddressReport>, DoctorError> {
        let report = self.read_keys_area().await?;
        if let Some(a) = &report.server_address {
            on_event(DoctorEvent::Log(format!(
                "server address: {}:{}{}",
                a.host,
                a.port,
                if a.fallback { " (built-in)" } else { "" }
            )));
        }
        Ok(report.server_address)
    }
}

/// The length of a DER SEQUENCE at the start of `bytes`, if it fits.
fn der_len(bytes: &[u8]) -> Option<usize> {
    let len = match bytes {
        [0x30, 0x82, hi, lo, ..] => 4 + (usize::from(*hi) << 8 | usize::from(*lo)),
        [0x30, 0x81, l, ..] => 3 + usize::from(*l),
        [0x30, l, ..] if *l < 0x80 => 2 + usize::from(*l),
        _ => return None,
    };
    (len <= bytes.len()).then_some(len)
}

fn algorithm_word(algorithm: KeyAlgorithm) -> &'static str {
    match algorithm {
        KeyAlgorithm::EcP256 => "ec",
        _ => "rsa",
    }
}

#[cfg(test)]
mod tests {
    use super::der_len;

    #[test]
    fn der_length_is_read_from_the_header() {
        assert_eq!(
            der_len(&[0x30, 0x82, 0x02, 0x5d, 0, 0]),
            None,
            "longer than the slot"
        );
        let mut slot = vec![0x30, 0x82, 0x00, 0x02, 1, 2, 0xff, 0xff];
        assert_eq!(der_len(&slot), Some(6));
        slot[0] = 0xff;
        assert_eq!(der_len(&slot), None, "a blank slot is kept raw");
        assert_eq!(der_len(&[0x30, 0x03, 1, 2, 3, 0xff]), Some(5));
    }
}
