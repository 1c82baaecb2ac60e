//! The key slots as a repair sees them: read a slot, write a slot, read it back. Two ways to reach
//! them: the DFU bootloader's alternate setting 1 ([`DfuSlots`]) and the running firmware's
//! control requests 210/211 ([`RuntimeSlots`]). The one repair (`super::repair`) runs on either;
//! [`write_checked`] is its one write: write, read back, compare, and on failure put the
//! backed-up bytes back.

use super::error::{DoctorError, RestoreOutcome};
use super::session::{sector_span, snapshot_range};
use crate::device::Platform;
use crate::dfu::layout::MemoryLayout;
use crate::dfu::{self, Dfu, Erase};
use crate::runtime::keys::SecurityKeyType;
use crate::runtime::{self, Channel};
use crate::usb::{Transport, TransportError};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
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
    GEN2_SLOTS
        .iter()
        .find(|(_, s)| s.address == slot.address && s.len == slot.len)
        .map(|(k, _)| *k)
}

/// The slots a running Photon or P1 (TCP) answers 211 for that a diagnosis reads: private key,
/// public key, server key with the address block inside it (particle-dct.md 2).
pub(super) const RUNTIME_PRIVATE: Slot = GEN2_SLOTS[0].1;
const RUNTIME_AREA: [Slot; 3] = [GEN2_SLOTS[0].1, GEN2_SLOTS[1].1, GEN2_SLOTS[2].1];

/// What a slot operation returns: boxed, so the trait is object-safe and the one repair takes
/// `&mut dyn KeySlots` (compiled once for both paths, not once per implementation: page size).
/// Browser futures are `!Send`, so no bound is asked for.
pub type SlotFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DoctorError>> + 'a>>;

/// Read a slot, write a slot, read it back; and where the slots lie. The one repair
/// (`super::repair::Repair`) runs on any implementation.
pub trait KeySlots {
    fn path(&self) -> RepairPath;
    /// The whole slot as the device holds it.
    fn read_slot(&mut self, slot: Slot) -> SlotFuture<'_, Zeroizing<Vec<u8>>>;
    /// Writes `bytes` (the whole slot) into it. Not read back here: [`KeySlots::write_and_read_back`] does.
    fn write_slot<'a>(&'a mut self, slot: Slot, bytes: &'a [u8]) -> SlotFuture<'a, ()>;
    /// Writes `bytes` into `slot`, reads the slot back and compares; returns the bytes read back.
    fn write_and_read_back<'a>(
        &'a mut self,
        slot: Slot,
        bytes: &'a [u8],
    ) -> SlotFuture<'a, Zeroizing<Vec<u8>>> {
        Box::pin(async move {
            self.write_slot(slot, bytes).await?;
            let back = self.read_slot(slot).await?;
            if back.as_slice() != bytes {
                return Err(DoctorError::ReadBackDiffers { what: slot.what });
            }
            Ok(back)
        })
    }
    /// The slots a diagnosis reads, in address order.
    fn key_area(&self) -> Result<Vec<Slot>, DoctorError>;
    /// Whether a repair may write into `slot` of the key area (so the backup keeps it).
    fn backs_up(&self, slot: &Slot) -> bool {
        let _ = slot;
        true
    }
    /// What a write of `[address, address + len)` must write whole: the slot holding it (control
    /// requests write whole slots), the whole sectors holding it (memories erased by sector
    /// before a write), or the range itself.
    fn write_unit(&self, address: u32, len: usize) -> Result<Slot, DoctorError>;
    /// Whether a key area read as all zeros means the memory could not be reached.
    fn zeros_mean_unreachable(&self) -> bool {
        false
    }
    /// A log line about the last write, if the way to the slots has one to say.
    fn write_note(&mut self) -> Option<String> {
        None
    }
}

/// The slots through a DFU session on the DCT's alternate setting: any platform of the table.
/// On memories erased by sector before a write (the Core's SPI flash) a write unit is whole
/// sectors and each write erases them first.
pub struct DfuSlots<'d, 't, T: Transport>(pub &'d mut Dfu<'t, T>);

impl<T: Transport> DfuSlots<'_, '_, T> {
    fn platform(&self) -> Result<Platform, DoctorError> {
        let info = self.0.transport_ref().info();
        Platform::from_usb_ids(info.vendor_id, info.product_id)
            .map(|(p, _)| p)
            .ok_or(DoctorError::NotParticle {
                vendor_id: info.vendor_id,
                product_id: info.product_id,
            })
    }

    fn erase(&self) -> Erase {
        match self.platform() {
            Ok(p) if p.info().erase_before_write => Erase::Sectors,
            _ => Erase::Never,
        }
    }
}

/// The key area of `platform` on a DFU alternate's `layout`, as [`KeySlots::key_area`] says: every
/// key slot, widened to whole sectors on memories erased before a write.
pub(super) fn dfu_key_area(platform: Platform, layout: &MemoryLayout) -> Result<Slot, DoctorError> {
    let range = snapshot_range(platform, layout)?;
    Ok(Slot {
        what: "key area",
        address: range.start,
        len: range.end - range.start,
    })
}

/// [`KeySlots::write_unit`] on a DFU alternate's `layout`: the whole sectors holding the range
/// when each write erases them first, else the range itself.
pub(super) fn dfu_write_unit(
    erase: Erase,
    layout: &MemoryLayout,
    address: u32,
    len: usize,
) -> Result<Slot, DoctorError> {
    let range = match erase {
        Erase::Sectors => sector_span(layout, address, len)?,
        Erase::Never => address..address + len as u32,
    };
    Ok(Slot {
        what: "keys",
        address: range.start,
        len: range.end - range.start,
    })
}

impl<T: Transport> KeySlots for DfuSlots<'_, '_, T> {
    fn path(&self) -> RepairPath {
        RepairPath::Dfu
    }

    fn read_slot(&mut self, slot: Slot) -> SlotFuture<'_, Zeroizing<Vec<u8>>> {
        Box::pin(async move {
            Ok(Zeroizing::new(
                self.0.read(slot.address, slot.len as usize).await?,
            ))
        })
    }

    fn write_slot<'a>(&'a mut self, slot: Slot, bytes: &'a [u8]) -> SlotFuture<'a, ()> {
        Box::pin(async move {
            if bytes.len() != slot.len as usize {
                return Err(DoctorError::NoBackup);
            }
            let erase = self.erase();
            Ok(self.0.write(slot.address, bytes, erase).await?)
        })
    }

    /// The DFU host's own verified write: the read-back starts from the status the write ended
    /// on, without asking for it again; a difference is [`dfu::Error::VerifyMismatch`].
    fn write_and_read_back<'a>(
        &'a mut self,
        slot: Slot,
        bytes: &'a [u8],
    ) -> SlotFuture<'a, Zeroizing<Vec<u8>>> {
        Box::pin(async move {
            if bytes.len() != slot.len as usize {
                return Err(DoctorError::NoBackup);
            }
            let erase = self.erase();
            self.0.write_verified(slot.address, bytes, erase).await?;
            Ok(Zeroizing::new(bytes.to_vec()))
        })
    }

    fn key_area(&self) -> Result<Vec<Slot>, DoctorError> {
        Ok(vec![dfu_key_area(self.platform()?, self.0.layout())?])
    }

    fn write_unit(&self, address: u32, len: usize) -> Result<Slot, DoctorError> {
        dfu_write_unit(self.erase(), self.0.layout(), address, len)
    }

    fn zeros_mean_unreachable(&self) -> bool {
        // A Gen 2 bootloader that cannot find the DCT functions in system-part2 answers every
        // read with zeros (dfuse-protocol.md 9.5): not a blank DCT.
        true
    }

    fn write_note(&mut self) -> Option<String> {
        poll_waits_line(self.0.poll_waits())
    }
}

/// The waits the device asked for during a write (its `bwPollTimeout`s, DFU 1.1 6.1.2), and how
/// many were cut to [`dfu::MAX_POLL_SLEEP_MS`]: a device asking for long waits explains a slow
/// write, and one asking for absurd ones is named in the log.
pub(super) fn poll_waits_line(waits: dfu::PollWaits) -> Option<String> {
    if waits.longest_asked_ms == 0 {
        return None;
    }
    let mut line = format!(
        "the device asked to wait up to {} ms between status requests ({} ms waited in all)",
        waits.longest_asked_ms, waits.slept_ms
    );
    if waits.capped > 0 {
        line.push_str(&format!(
            "; {} of those waits were cut to {} ms",
            waits.capped,
            dfu::MAX_POLL_SLEEP_MS
        ));
    }
    Some(line)
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

    fn read_slot(&mut self, slot: Slot) -> SlotFuture<'_, Zeroizing<Vec<u8>>> {
        Box::pin(async move {
            let key = self.key_type(slot)?;
            let data = self.channel.get_security_key(key).await?;
            if data.len() != slot.len as usize {
                return Err(DoctorError::Runtime(runtime::Error::BadMessage {
                    request_type: runtime::keys::GET_SECURITY_KEY,
                    what: format!("{} bytes for a {}-byte slot", data.len(), slot.len),
                }));
            }
            Ok(data)
        })
    }

    fn write_slot<'a>(&'a mut self, slot: Slot, bytes: &'a [u8]) -> SlotFuture<'a, ()> {
        Box::pin(async move {
            let key = self.key_type(slot)?;
            if bytes.len() != slot.len as usize {
                return Err(DoctorError::NoBackup);
            }
            Ok(self.channel.set_security_key(key, bytes).await?)
        })
    }

    /// The TCP slots (Photon and P1); the public key slot is read, not written.
    fn key_area(&self) -> Result<Vec<Slot>, DoctorError> {
        Ok(RUNTIME_AREA.to_vec())
    }

    fn backs_up(&self, slot: &Slot) -> bool {
        slot.address != GEN2_SLOTS[1].1.address
    }

    fn write_unit(&self, address: u32, len: usize) -> Result<Slot, DoctorError> {
        slot_containing(address, len).ok_or(DoctorError::NoBackup)
    }
}

/// Whether `e` means the device stopped answering (a transfer that never completed; a USB
/// failure is a transport error on either path): no read-back or rollback is tried then, each
/// would only wait for another deadline. A pulled cable fails at once, so the rollback is tried
/// and says how it went.
fn stopped_answering(e: &DoctorError) -> bool {
    matches!(
        e,
        DoctorError::Dfu(dfu::Error::Transport(TransportError::Timeout))
            | DoctorError::Runtime(runtime::Error::Transport(TransportError::Timeout))
    )
}

/// A failed write: what failed, and how putting the backed-up bytes back went.
#[derive(Debug)]
pub struct WriteFailure {
    pub cause: DoctorError,
    pub restore: RestoreOutcome,
}

impl WriteFailure {
    /// The error a repair reports: on DFU mode a DFU failure keeps its typed cause
    /// ([`DoctorError::WriteFailed`]); any other is worded with its path
    /// ([`DoctorError::SlotWriteFailed`]).
    pub fn into_error(self, what: &'static str, path: RepairPath) -> DoctorError {
        match (path, self.cause) {
            (RepairPath::Dfu, DoctorError::Dfu(cause)) => DoctorError::WriteFailed {
                what,
                cause,
                restore: self.restore,
            },
            (_, cause) => Self {
                cause,
                restore: self.restore,
            }
            .into_slot_error(what, path),
        }
    }

    /// The failure worded with its path ([`DoctorError::SlotWriteFailed`]).
    pub fn into_slot_error(self, what: &'static str, path: RepairPath) -> DoctorError {
        DoctorError::SlotWriteFailed {
            what,
            path: path.name(),
            cause: self.cause.to_string(),
            cause_hint: self.cause.hint(),
            restore: self.restore,
        }
    }
}

/// The one write of a repair: writes `image` (the whole unit) over `original` (its backed-up
/// bytes), reads it back and compares. Returns the bytes read back. On any failure puts
/// `original` back (unless it is still there, or the device stopped answering) and says how that
/// went.
pub async fn write_checked(
    slots: &mut dyn KeySlots,
    unit: Slot,
    image: &[u8],
    original: &[u8],
) -> Result<Zeroizing<Vec<u8>>, WriteFailure> {
    let cause = match slots.write_and_read_back(unit, image).await {
        Ok(back) => return Ok(back),
        Err(e) => e,
    };
    let restore = if stopped_answering(&cause) {
        RestoreOutcome::NotRestored {
            reason: "the device stopped answering".into(),
        }
    } else {
        match slots.read_slot(unit).await {
            Ok(now) if now.as_slice() == original => RestoreOutcome::Unchanged,
            Ok(_) => match slots.write_and_read_back(unit, original).await {
                Ok(_) => RestoreOutcome::Restored,
                Err(e) => RestoreOutcome::NotRestored {
                    reason: e.to_string(),
                },
            },
            Err(e) => RestoreOutcome::NotRestored {
                reason: e.to_string(),
            },
        }
    };
    Err(WriteFailure { cause, restore })
}

/// [`write_checked`] of a whole slot, a failure worded with the path
/// ([`DoctorError::SlotWriteFailed`]).
pub async fn write_verified(
    slots: &mut dyn KeySlots,
    slot: Slot,
    image: &[u8],
    original: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DoctorError> {
    let path = slots.path();
    write_checked(slots, slot, image, original)
        .await
        .map_err(|f| f.into_slot_error(slot.what, path))
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
