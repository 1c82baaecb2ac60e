//! The in-memory backup of every region a repair may touch, and its downloadable files.

use crate::device::{KeyAlgorithm, Platform};
use zeroize::Zeroizing;

/// The bytes of one address range of one DFU alternate setting, as read before any write.
#[derive(Clone)]
pub struct BackupRegion {
    pub alt: u8,
    pub address: u32,
    /// Holds the device private key: zeroized on drop, never logged.
    pub bytes: Zeroizing<Vec<u8>>,
}

impl BackupRegion {
    pub fn end(&self) -> u32 {
        self.address + self.bytes.len() as u32
    }

    fn slice(&self, alt: u8, address: u32, len: usize) -> Option<&[u8]> {
        let start = address.checked_sub(self.address)? as usize;
        (alt == self.alt && start + len <= self.bytes.len())
            .then(|| &self.bytes[start..start + len])
    }
}

impl std::fmt::Debug for BackupRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BackupRegion(alt {}, {:#x}..{:#x}, redacted)",
            self.alt,
            self.address,
            self.end()
        )
    }
}

/// Everything read from a device before a repair, held in memory by the page (kept across a
/// reconnection, so a repair that lost the device can still be undone).
#[derive(Debug, Clone)]
pub struct Backup {
    pub device_id: String,
    pub platform: Platform,
    pub regions: Vec<BackupRegion>,
}

/// A file the page offers for download.
pub struct BackupFile {
    pub name: String,
    pub bytes: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for BackupFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupFile({}, {} bytes)", self.name, self.bytes.len())
    }
}

impl Backup {
    /// The backed-up bytes of `[address, address + len)` on `alt`, if one region covers them.
    pub fn bytes_at(&self, alt: u8, address: u32, len: usize) -> Option<&[u8]> {
        self.regions.iter().find_map(|r| r.slice(alt, address, len))
    }

    pub fn covers(&self, alt: u8, address: u32, len: usize) -> bool {
        self.bytes_at(alt, address, len).is_some()
    }

    /// The backup as files, named like the Particle CLI's: the private-key slot as
    /// `backup_<alg>_<id>_<alg>_new.der` (what `particle keys doctor` saves), the server-key region,
    /// and every region read, raw.
    pub fn files(&self) -> Vec<BackupFile> {
        let mut files = Vec::new();
        let info = self.platform.info();
        for keys in [info.tcp, info.udp].into_iter().flatten() {
            let alg = file_algorithm(keys.private_key.algorithm);
            let slot = keys.private_key;
            if let Some(bytes) = self.bytes_at(slot.alt, slot.offset, slot.read_len as usize) {
                files.push(BackupFile {
                    name: format!("backup_{alg}_{id}_{alg}_new.der", id = self.device_id),
                    bytes: Zeroizing::new(bytes.to_vec()),
                });
            }
            let server = keys.server_key;
            if let Some(bytes) = self.bytes_at(server.alt, server.offset, server.size as usize) {
                files.push(BackupFile {
                    name: format!("backup_{alg}_server_{id}.der", id = self.device_id),
                    bytes: Zeroizing::new(bytes.to_vec()),
                });
            }
        }
        for r in &self.regions {
            files.push(BackupFile {
                name: format!(
                    "backup_{id}_alt{alt}_{start:#06x}-{end:#06x}.bin",
                    id = self.device_id,
                    alt = r.alt,
                    start = r.address,
                    end = r.end()
                ),
                bytes: r.bytes.clone(),
            });
        }
        files
    }
}

/// The algorithm as the Particle CLI spells it in key file names.
pub(super) fn file_algorithm(algorithm: KeyAlgorithm) -> &'static str {
    match algorithm {
        KeyAlgorithm::EcP256 => "ec",
        _ => "rsa",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photon_backup() -> Backup {
        let range = Platform::Photon.info().keys_snapshot_range();
        let bytes: Vec<u8> = (range.start..range.end).map(|a| a as u8).collect();
        Backup {
            device_id: "0123456789abcdef01234567".into(),
            platform: Platform::Photon,
            regions: vec![BackupRegion {
                alt: 1,
                address: range.start,
                bytes: Zeroizing::new(bytes),
            }],
        }
    }

    #[test]
    fn files_are_named_like_the_cli_and_hold_the_slot_bytes() {
        let backup = photon_backup();
        let files = backup.files();
        let key = files
            .iter()
            .find(|f| f.name == "backup_rsa_0123456789abcdef01234567_rsa_new.der")
            .expect("private key backup file");
        assert_eq!(key.bytes.len(), 612);
        assert_eq!(key.bytes[0], 34u8, "the slot starts at DCT offset 34");
        let server = files
            .iter()
            .find(|f| f.name == "backup_rsa_server_0123456789abcdef01234567.der")
            .expect("server key backup file");
        assert_eq!(server.bytes.len(), 512);
        assert_eq!(server.bytes[0], 2082u32 as u8);
        assert!(files.iter().any(|f| f.name.ends_with(".bin")));
    }

    #[test]
    fn lookups_outside_the_backup_are_none() {
        let backup = photon_backup();
        assert!(backup.covers(1, 34, 612));
        assert!(!backup.covers(0, 34, 612), "another alternate setting");
        assert!(!backup.covers(1, 0, 612), "starts before the region");
        assert!(!backup.covers(1, 3600, 612), "runs past the region");
        assert!(
            !format!("{backup:?}").contains("34, 35"),
            "Debug must not print bytes"
        );
    }
}
