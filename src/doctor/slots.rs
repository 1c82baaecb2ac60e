//! The key slots as a repair sees them: read a slot, write a slot. Two ways to reach them: the
//! DFU bootloader's alternate setting 1 ([`DfuSlots`]) and the running firmware's control
//! requests 210/211 ([`RuntimeSlots`]). [`write_verified`] is the one write of a repair on either:
//! write, read back, compare, and on failure put the backed-up bytes back.

use super::error::{DoctorError, RestoreOutcome};
use crate::device::Platform;
use crate::dfu::{self, Dfu, Erase};
use crate::runtime::keys::SecurityKeyType;
use crate::runtime::{self, Channel};
use crate::usb::{Transport, TransportError};
use serde::Serialize;
use zeroize::Zeroizing;

/// How the repair reaches the key slots; named in the log and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairPath {
    /// The DFU bootloader (blinking yellow), DFU alternate setting 1.
    Dfu,
    /// The running firmware's control requests (210/211, Gen 2 with Device OS 0.8 or later).
    ControlRequests,
}

impl RepairPath {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dfu => "DFU mode",
            Self::ControlRequests => "control requests in normal mode",
        }
    }
}

impl std::fmt::Display for RepairPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One key slot of the DCT: its logical offset (the DFU address on alt 1) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub what: &'static str,
    pub address: u32,
    pub len: u32,
}

/// The Gen 2 DCT slots the control requests reach, with their key types
/// (`dctAddressForKeyType`, Device OS v2.3.1; particle-dct.md 2).
const GEN2_SLOTS: [(SecurityKeyType, Slot); 6] = [
    (
        SecurityKeyType::TcpDevicePrivateKey,
        Slot {
            what: "device private key",
            address: 34,
            len: 1216,
        },
    ),
    (
        SecurityKeyType::TcpDevicePublicKey,
        Slot {
            what: "device public key",
            address: 1250,
            len: 384,
        },
    ),
    (
        SecurityKeyType::TcpServerPublicKey,
        Slot {
            what: "server key and address",
            address: 2082,
            len: 768,
        },
    ),
    (
        SecurityKeyType::UdpDevicePublicKey,
        Slot {
            what: "device public key",
            address: 2978,
            len: 128,
        },
    ),
    (
        SecurityKeyType::UdpDevicePrivateKey,
        Slot {
            what: "device private key",
            address: 3106,
            len: 192,
        },
    ),
    (
        SecurityKeyType::UdpServerPublicKey,
        Slot {
            what: "server key",
            address: 3298,
            len: 192,
        },
    ),
];

/// The whole slot that holds `[address, address + len)`, if one does.
pub fn slot_containing(address: u32, len: usize) -> Option<Slot> {
    GEN2_SLOTS.iter().map(|(_, s)| *s).find(|s| {
        address >= s.address && u64::from(address) + len as u64 <= u64::from(s.address + s.len)
    })
}

fn key_type(slot: Slot) -> Option<SecurityKeyType> {
    GEN2_SLOTS.iter().find(|(_, s)| *s == slot).map(|(k, _)| *k)
}

/// Read a slot, write a slot. Browser futures are `!Send`, so no bound is asked for.
#[allow(async_fn_in_trait)]
pub trait KeySlots {
    fn path(&self) -> RepairPath;
    /// The whole slot as the device holds it.
    async fn read_slot(&mut self, slot: Slot) -> Result<Zeroizing<Vec<u8>>, DoctorError>;
    /// Writes `bytes` (the whole slot) into it. Not read back here: [`write_verified`] does.
    async fn write_slot(&mut self, slot: Slot, bytes: &[u8]) -> Result<(), DoctorError>;
}

/// The slots through a DFU session on the DCT's alternate setting (Gen 2 and Gen 3; not the
/// Core, whose SPI flash must be erased by sector first).
pub struct DfuSlots<'d, 't, T: Transport>(pub &'d mut Dfu<'t, T>);

impl<T: Transport> KeySlots for DfuSlots<'_, '_, T> {
    fn path(&self) -> RepairPath {
        RepairPath::Dfu
    }

    async fn read_slot(&mut self, slot: Slot) -> Result<Zeroizing<Vec<u8>>, DoctorError> {
        Ok(Zeroizing::new(
            self.0.read(slot.address, slot.len as usize).await?,
        ))
    }

    async fn write_slot(&mut self, slot: Slot, bytes: &[u8]) -> Result<(), DoctorError> {
        if bytes.len() != slot.len as usize {
            return Err(DoctorError::NoBackup);
        }
        Ok(self.0.write(slot.address, bytes, Erase::Never).await?)
    }
}

/// The slots through the running firmware's requests 211 (read) and 210 (write) on a Gen 2
/// device: whole slots both ways (`lock_security_key_data`, `store_security_key_data`).
pub struct RuntimeSlots<'t, T: Transport> {
    pub channel: Channel<'t, T>,
    pub platform: Platform,
}

impl<T: Transport> RuntimeSlots<'_, T> {
    fn key_type(&self, slot: Slot) -> Result<SecurityKeyType, DoctorError> {
        key_type(slot)
            .filter(|_| {
                matches!(
                    self.platform,
                    Platform::Photon | Platform::P1 | Platform::Electron
                )
            })
            .ok_or(DoctorError::Runtime(runtime::Error::Failed {
                request_type: runtime::keys::GET_SECURITY_KEY,
                code: runtime::ResultCode::NotSupported,
            }))
    }
}

impl<T: Transport> KeySlots for RuntimeSlots<'_, T> {
    fn path(&self) -> RepairPath {
        RepairPath::ControlRequests
    }

    async fn read_slot(&mut self, slot: Slot) -> Result<Zeroizing<Vec<u8>>, DoctorError> {
        let key = self.key_type(slot)?;
        let data = self.channel.get_security_key(key).await?;
        if data.len() != slot.len as usize {
            return Err(DoctorError::Runtime(runtime::Error::BadMessage {
                request_type: runtime::keys::GET_SECURITY_KEY,
                what: format!("{} bytes for a {}-byte slot", data.len(), slot.len),
            }));
        }
        Ok(data)
    }

    async fn write_slot(&mut self, slot: Slot, bytes: &[u8]) -> Result<(), DoctorError> {
        let key = self.key_type(slot)?;
        if bytes.len() != slot.len as usize {
            return Err(DoctorError::NoBackup);
        }
        Ok(self.channel.set_security_key(key, bytes).await?)
    }
}

/// Whether `e` means the device is gone (unplugged, or a transfer never completed): no read-back
/// or rollback is tried then, each would only wait for another deadline.
fn device_gone(e: &DoctorError) -> bool {
    matches!(
        e,
        DoctorError::Dfu(dfu::Error::Transport(
            TransportError::Disconnected | TransportError::Timeout
        ))
    )
}

/// The one write of a repair: writes `image` (the whole slot) over `original` (the backed-up
/// slot), reads it back and compares. Returns the bytes read back. On any failure puts `original`
/// back (unless it is still there, or the device is gone) and says how that went.
pub async fn write_verified<S: KeySlots>(
    slots: &mut S,
    slot: Slot,
    image: &[u8],
    original: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DoctorError> {
    let path = slots.path().name();
    let fail = |cause: &DoctorError, restore| DoctorError::SlotWriteFailed {
        what: slot.what,
        path,
        cause: cause.to_string(),
        cause_hint: cause.hint(),
        restore,
    };
    let cause = match slots.write_slot(slot, image).await {
        Ok(()) => match slots.read_slot(slot).await {
            Ok(back) if back.as_slice() == image => return Ok(back),
            Ok(_) => DoctorError::KeyNotOnDevice {
                reason: format!("the {} read back differs from what was written", slot.what),
            },
            Err(e) => e,
        },
        Err(e) => e,
    };
    if device_gone(&cause) {
        let restore = RestoreOutcome::NotRestored {
            reason: "the device stopped answering".into(),
        };
        return Err(fail(&cause, restore));
    }
    let restore = match slots.read_slot(slot).await {
        Ok(now) if now.as_slice() == original => RestoreOutcome::Unchanged,
        Ok(_) => match slots.write_slot(slot, original).await {
            Ok(()) => match slots.read_slot(slot).await {
                Ok(back) if back.as_slice() == original => RestoreOutcome::Restored,
                Ok(_) => RestoreOutcome::NotRestored {
                    reason: "the restored bytes read back different".into(),
                },
                Err(e) => RestoreOutcome::NotRestored {
                    reason: e.to_string(),
                },
            },
            Err(e) => RestoreOutcome::NotRestored {
                reason: e.to_string(),
            },
        },
        Err(e) => RestoreOutcome::NotRestored {
            reason: e.to_string(),
        },
    };
    Err(fail(&cause, restore))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_whole_slots() {
        assert_eq!(slot_containing(34, 612).unwrap().len, 1216);
        // The server-key region (key + address block) lies inside the 768-byte slot at 2082.
        assert_eq!(slot_containing(2082, 512).unwrap().address, 2082);
        assert_eq!(slot_containing(2466, 128).unwrap().address, 2082);
        assert!(slot_containing(1200, 100).is_none());
        assert_eq!(slot_containing(3298, 192).unwrap().what, "server key");
    }
}
