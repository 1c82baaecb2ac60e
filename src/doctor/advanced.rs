//! The advanced panel's commands, the Particle CLI's `keys` commands on a connected device:
//! save the private-key slot, write a loaded or a new key, send the device's public key, write a
//! server-key region (Particle's or a custom host / IP / port / key file), decode the server
//! address, and dump the internal flash. The page runs each one through [`Doctor::run_command`]
//! (DFU mode) or [`RuntimeDoctor::run_command`] (control requests in normal mode), which also word
//! its result: the key-slot commands are one code on the slots either path gives; the flash dump
//! reads DFU alternate setting 0 and says it needs DFU mode on the other path.
//!
//! Every write goes through the repair's `write_region`: it needs the backup the diagnosis took,
//! is read back and compared, and is rolled back from the backup if it fails. Private key bytes stay
//! in `Zeroizing` buffers; the only place they leave this module is the file "keys save" returns
//! for a download the user asked for.

use super::backup::{BackupFile, file_algorithm};
use super::error::DoctorError;
use super::repair::Repair;
use super::session::{Doctor, new_key};
use super::slots::KeySlots;
use super::{CloudContext, DoctorEvent, RuntimeDoctor, report};
use crate::cloud::{CloudApi, ProductRef};
use crate::device::KeySlot;
use crate::keys::diagnose::AddressReport;
use crate::keys::{self, DevicePrivateKey, PublicKeyInfo, ServerAddressSpec, firmware};
use crate::usb::Transport;
use zeroize::Zeroizing;

/// One advanced-panel command, with what the user entered for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `keys save`: download the private-key slot.
    SaveKey,
    /// `keys load`: write the key in `file` (`None`: no file was picked).
    LoadKeyFile { file: Option<Vec<u8>> },
    /// `keys new`: generate a key pair here and write it.
    NewKey,
    /// `keys send`: send the public key of the key on the device, with `product` (the panel's
    /// field, like `keys send --product_id`), or else the product the link or the diagnosis knew.
    SendKey { product: Option<ProductRef> },
    /// `keys server`: write the server key in `key_file` (`None`: Particle's) with `address`.
    WriteServer {
        key_file: Option<Vec<u8>>,
        address: ServerAddressSpec,
    },
    /// `keys address`: read the server address.
    ReadAddress,
    /// The internal-flash dump for support.
    DumpFlash,
}

impl Command {
    /// The command with the bytes of the file the user picked for it (`keys load`'s key file, or
    /// a custom server key). Other commands take no file and are returned unchanged.
    pub fn with_file(self, picked: Option<Vec<u8>>) -> Self {
        match self {
            Self::LoadKeyFile { .. } => Self::LoadKeyFile { file: picked },
            Self::WriteServer { address, .. } => Self::WriteServer {
                key_file: picked,
                address,
            },
            other => other,
        }
    }
}

/// What a command did: a sentence for the page and its log, and the file to download, if any.
#[derive(Debug)]
pub struct CommandOutcome {
    pub message: String,
    pub download: Option<BackupFile>,
}

impl CommandOutcome {
    fn said(message: String) -> Self {
        Self {
            message,
            download: None,
        }
    }
}

/// The panel's product field: empty for none, else a product number or slug.
pub fn product_field(text: &str) -> Result<Option<ProductRef>, DoctorError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    ProductRef::parse(text)
        .map(Some)
        .ok_or_else(|| DoctorError::ProductNotValid {
            text: text.to_owned(),
        })
}

/// The address block for the server command from the panel's fields: Particle's own address
/// unless a custom server with a host is chosen; an empty port means the default port.
pub fn server_address(
    custom: bool,
    host: &str,
    port: &str,
) -> Result<ServerAddressSpec, DoctorError> {
    let (host, port) = (host.trim(), port.trim());
    if !custom {
        return Ok(ServerAddressSpec::Unchanged);
    }
    if host.is_empty() {
        return match port.is_empty() {
            true => Ok(ServerAddressSpec::Unchanged),
            false => Err(DoctorError::PortWithoutHost),
        };
    }
    let port = match port {
        "" => None,
        text => Some(
            text.parse::<u16>()
                .map_err(|_| DoctorError::PortNotANumber {
                    text: text.to_owned(),
                })?,
        ),
    };
    Ok(ServerAddressSpec::Host {
        host: host.to_owned(),
        port,
    })
}

impl Repair {
    /// Runs one advanced command on the slots (either way of reaching them) and words what it
    /// did. The internal-flash dump is not a key-slot command: its session runs it.
    async fn run_command<C: CloudApi>(
        &mut self,
        slots: &mut dyn KeySlots,
        command: Command,
        mut cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<CommandOutcome, DoctorError> {
        Ok(match command {
            Command::SaveKey => {
                let file = self.save_private_key(slots, on_event).await?;
                CommandOutcome {
                    message: format!(
                        "Saved the device's private key as {} (keep it private).",
                        file.name
                    ),
                    download: Some(file),
                }
            }
            Command::LoadKeyFile { file: None } => {
                return Err(DoctorError::NoFilePicked { what: "key file" });
            }
            Command::LoadKeyFile { file: Some(file) } => {
                let key = self.write_key_file(slots, &file, on_event).await?;
                CommandOutcome::said(format!(
                    "Wrote the key from the file; its public key is {}. Send it to the cloud next.",
                    key.fingerprint
                ))
            }
            Command::NewKey => {
                let key = self.write_new_key(slots, on_event).await?;
                CommandOutcome::said(format!(
                    "Wrote a new key; its public key is {}. Send it to the cloud next.",
                    key.fingerprint
                ))
            }
            Command::SendKey { product } => {
                let product_id = self.upload_product_id(product, &mut cloud).await?;
                let key = self
                    .send_key_from_device(slots, product_id, cloud, on_event)
                    .await?;
                CommandOutcome::said(format!(
                    "Sent the device's public key {} to the cloud.",
                    key.fingerprint
                ))
            }
            Command::WriteServer { key_file, address } => {
                let region = self.server_region(key_file.as_deref(), &address)?;
                self.write_server_region(slots, &region, on_event).await?;
                let ignored = keys::ignored_udp_port(self.active_keys().transport, &address);
                CommandOutcome::said(report::server_written_sentence(ignored))
            }
            Command::ReadAddress => {
                let address = self.read_server_address(slots, on_event).await?;
                CommandOutcome::said(report::address_sentence(address.as_ref()))
            }
            Command::DumpFlash => {
                return Err(DoctorError::NeedsDfuMode {
                    what: "the internal-flash dump",
                });
            }
        })
    }

    /// The product id a key upload carries: the number given; for a slug, the product id of the
    /// device as its product's route answers (the upload takes a number, as `keys send
    /// --product_id` does); with no product given, the one the link or the diagnosis knew.
    async fn upload_product_id<C: CloudApi>(
        &self,
        product: Option<ProductRef>,
        cloud: &mut CloudContext<'_, C>,
    ) -> Result<Option<u32>, DoctorError> {
        Ok(match product {
            None => self.cloud_product_id,
            Some(ProductRef::Id(id)) => Some(id),
            Some(slug) => {
                let token = cloud.token.ok_or_else(|| DoctorError::CloudNeeded {
                    reason: "nobody is signed in".into(),
                })?;
                let info = cloud
                    .api
                    .product_device(token, &slug, &self.device_id)
                    .await?;
                Some(info.product_id)
            }
        })
    }

    /// `particle keys save`: the private-key slot as the device holds it (the key area read
    /// again), for a download. The DER key is cut at its encoded length when the slot starts like
    /// one; otherwise the raw slot.
    async fn save_private_key(
        &mut self,
        slots: &mut dyn KeySlots,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<BackupFile, DoctorError> {
        let report = self.read_area(slots).await?;
        let slot = self.keys(&report).private_key;
        let mut bytes = Zeroizing::new(
            self.held_bytes(slot.offset, slot.read_len as usize)
                .ok_or(DoctorError::NoBackup)?
                .to_vec(),
        );
        if let Some(len) = der_len(&bytes) {
            bytes.truncate(len);
        }
        let alg = file_algorithm(slot.algorithm);
        on_event(DoctorEvent::Log(format!(
            "read the private key slot ({} bytes) for saving",
            bytes.len()
        )));
        Ok(BackupFile {
            name: format!("{}_{alg}_private_key.der", self.device_id),
            bytes,
        })
    }

    /// `particle keys load`: writes a key from a file (PKCS#1 or PKCS#8, DER or PEM; converted to
    /// the form the firmware reads) and returns the public key read back from the device.
    async fn write_key_file(
        &mut self,
        slots: &mut dyn KeySlots,
        file: &[u8],
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        let slot = self.active_keys().private_key;
        let key = keys::load_device_private_key(file, slot.algorithm)?;
        self.write_device_key(slots, key, slot, on_event).await
    }

    /// `particle keys new` + `load`: generates a key pair in the browser and writes it.
    async fn write_new_key(
        &mut self,
        slots: &mut dyn KeySlots,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        let slot = self.active_keys().private_key;
        let key = new_key(slot.algorithm, on_event)?;
        self.write_device_key(slots, key, slot, on_event).await
    }

    /// Writes `key` into `slot` (the active private-key slot its caller chose the algorithm by)
    /// and returns the public key read back from the device.
    async fn write_device_key(
        &mut self,
        slots: &mut dyn KeySlots,
        key: DevicePrivateKey,
        slot: KeySlot,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        self.write_private_key(slots, key, slot.alt, slot.offset, slot.read_len, on_event)
            .await?;
        self.device_public_key(slots, false, on_event).await
    }

    /// The server-key region `particle keys server` would write: Particle's (`key_file` `None`)
    /// or a custom key file, with the host / IP and port of `address`.
    fn server_region(
        &self,
        key_file: Option<&[u8]>,
        address: &ServerAddressSpec,
    ) -> Result<Vec<u8>, DoctorError> {
        let keys = self.active_keys();
        Ok(keys::build_server_region(
            self.platform,
            keys.transport,
            key_file,
            address,
        )?)
    }

    /// `particle keys server`: writes a server-key region (from [`Repair::server_region`]).
    async fn write_server_region(
        &mut self,
        slots: &mut dyn KeySlots,
        region: &[u8],
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<(), DoctorError> {
        let slot = self.active_keys().server_key;
        self.write_region(slots, slot.alt, slot.offset, region, "server key", on_event)
            .await
    }

    /// `particle keys address`: the server address as the firmware decodes it, read now.
    async fn read_server_address(
        &mut self,
        slots: &mut dyn KeySlots,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Option<AddressReport>, DoctorError> {
        let report = self.read_area(slots).await?;
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

impl<T: Transport> Doctor<T> {
    /// Runs one advanced command on the connected device (which stays connected) and words what
    /// it did.
    pub async fn run_command<C: CloudApi>(
        &mut self,
        command: Command,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<CommandOutcome, DoctorError> {
        if command == Command::DumpFlash {
            let (start, bytes) = self.dump_internal_flash(on_event).await?;
            let name = format!(
                "internal_flash_{}_{start:#010x}.bin",
                self.identity.device_id
            );
            return Ok(CommandOutcome {
                message: format!("Saved {} bytes of internal flash as {name}.", bytes.len()),
                download: Some(BackupFile {
                    name,
                    bytes: Zeroizing::new(bytes),
                }),
            });
        }
        let (repair, mut slots) = self.parts();
        repair
            .run_command(&mut slots, command, cloud, on_event)
            .await
    }

    /// `particle keys save` ([`Command::SaveKey`]).
    pub async fn save_private_key(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<BackupFile, DoctorError> {
        let (repair, mut slots) = self.parts();
        repair.save_private_key(&mut slots, on_event).await
    }

    /// `particle keys load` ([`Command::LoadKeyFile`]).
    pub async fn write_key_file(
        &mut self,
        file: &[u8],
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        let (repair, mut slots) = self.parts();
        repair.write_key_file(&mut slots, file, on_event).await
    }

    /// `particle keys new` + `load` ([`Command::NewKey`]).
    pub async fn write_new_key(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        let (repair, mut slots) = self.parts();
        repair.write_new_key(&mut slots, on_event).await
    }

    /// The server-key region `particle keys server` would write.
    pub fn server_region(
        &self,
        key_file: Option<&[u8]>,
        address: &ServerAddressSpec,
    ) -> Result<Vec<u8>, DoctorError> {
        self.repair.server_region(key_file, address)
    }

    /// `particle keys server`: writes a server-key region (from [`Doctor::server_region`]).
    pub async fn write_server_region(
        &mut self,
        region: &[u8],
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<(), DoctorError> {
        let (repair, mut slots) = self.parts();
        repair
            .write_server_region(&mut slots, region, on_event)
            .await
    }

    /// `particle keys address` ([`Command::ReadAddress`]).
    pub async fn read_server_address(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Option<AddressReport>, DoctorError> {
        let (repair, mut slots) = self.parts();
        repair.read_server_address(&mut slots, on_event).await
    }
}

impl<T: Transport> RuntimeDoctor<T> {
    /// The server-key region `particle keys server` would write (as [`Doctor::server_region`]).
    pub fn server_region(
        &self,
        key_file: Option<&[u8]>,
        address: &ServerAddressSpec,
    ) -> Result<Vec<u8>, DoctorError> {
        self.repair.server_region(key_file, address)
    }

    /// Runs one advanced command over control requests (211/210) on the running device: every
    /// key-slot command as in DFU mode; the internal-flash dump says it needs DFU mode.
    pub async fn run_command<C: CloudApi>(
        &mut self,
        command: Command,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<CommandOutcome, DoctorError> {
        let (repair, mut slots) = self.parts();
        repair
            .run_command(&mut slots, command, cloud, on_event)
            .await
    }
}

/// The length of a DER SEQUENCE at the start of `bytes`, if it fits: the key code's TLV reader,
/// with at most two length bytes (a key slot is far below 64 KiB).
fn der_len(bytes: &[u8]) -> Option<usize> {
    firmware::read_tlv(bytes, 0, bytes.len())
        .filter(|t| t.tag == 0x30 && t.header.len() <= 4)
        .map(|t| t.value.end)
}

#[cfg(test)]
mod tests {
    use super::{Command, DoctorError, ServerAddressSpec, der_len, server_address};

    #[test]
    fn the_server_fields_give_the_address_block_or_say_what_is_wrong() {
        assert_eq!(
            server_address(false, "h.example", "99"),
            Ok(ServerAddressSpec::Unchanged)
        );
        assert_eq!(
            server_address(true, " ", ""),
            Ok(ServerAddressSpec::Unchanged)
        );
        assert_eq!(
            server_address(true, " 10.0.0.2 ", ""),
            Ok(ServerAddressSpec::Host {
                host: "10.0.0.2".into(),
                port: None
            })
        );
        assert_eq!(
            server_address(true, "cloud.example.com", " 5683 "),
            Ok(ServerAddressSpec::Host {
                host: "cloud.example.com".into(),
                port: Some(5683)
            })
        );
        assert_eq!(
            server_address(true, "cloud.example.com", "56o3"),
            Err(DoctorError::PortNotANumber {
                text: "56o3".into()
            })
        );
        assert_eq!(
            server_address(true, "cloud.example.com", "70000"),
            Err(DoctorError::PortNotANumber {
                text: "70000".into()
            })
        );
        assert_eq!(
            server_address(true, "", "5683"),
            Err(DoctorError::PortWithoutHost)
        );
    }

    #[test]
    fn a_picked_file_goes_only_to_the_commands_that_read_one() {
        let file = Some(vec![1, 2, 3]);
        assert_eq!(
            Command::LoadKeyFile { file: None }.with_file(file.clone()),
            Command::LoadKeyFile { file: file.clone() }
        );
        assert_eq!(
            Command::WriteServer {
                key_file: None,
                address: ServerAddressSpec::Unchanged
            }
            .with_file(file.clone()),
            Command::WriteServer {
                key_file: file.clone(),
                address: ServerAddressSpec::Unchanged
            }
        );
        assert_eq!(Command::NewKey.with_file(file), Command::NewKey);
    }

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
