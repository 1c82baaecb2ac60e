//! The one repair, whichever way the key slots are reached ([`KeySlots`]): diagnose from the slots
//! read, back up, plan, write (each write read back and compared, rolled back from the backup on
//! failure), derive the public key sent to the cloud from the bytes read back, restore a backup.
//! [`super::Doctor`] (DFU mode) and [`super::RuntimeDoctor`] (control requests in normal mode)
//! hold a [`Repair`] each and give it their slots; connecting, leaving and resetting stay theirs.
//!
//! Safety rules enforced here for both paths: nothing is written outside the backup (a write
//! unit the backup does not cover is refused), every write is read back and compared, a failed
//! write is rolled back ([`write_checked`]), and the public key comes from what the device holds.

use super::backup::{Backup, BackupRegion};
use super::error::{AfterFailure, DoctorError};
use super::plan::{self, Action, CloudAccess, Plan, PlanBlock, PlanOptions};
use super::session::{
    CloudContext, Diagnosis, Identity, OnlineWait, RepairReport, SendOutcome, cloud_algorithm,
    look_up, new_key, private_key_word, server_key_word,
};
use super::slots::{KeySlots, Slot, write_checked};
use super::{CancelFlag, DoctorEvent, Step};
use crate::cloud::{AccessToken, CloudApi, KeyUpload, ProductRef};
use crate::device::{KEYS_ALT, Platform, TransportKeys};
use crate::keys::diagnose::PrivateKeyStatus;
use crate::keys::{self, DctReport, DctSnapshot, PublicKeyInfo};
use zeroize::Zeroizing;

/// What the repair knows of one device's key slots and its cloud record.
pub(super) struct Repair {
    pub device_id: String,
    pub platform: Platform,
    pub cancel: CancelFlag,
    /// What the device holds in its key area: as read, patched with every write read back
    /// identical since. Deriving the public key from it is deriving it from bytes read back from
    /// the device, without reading them a third time.
    held: Vec<BackupRegion>,
    /// The diagnosis's read of the regions a repair may write, until `back_up` keeps it.
    snapshot: Option<Vec<BackupRegion>>,
    backup: Option<Backup>,
    /// The product the device belongs to, when the page was told (a support link's `product=`).
    pub product: Option<ProductRef>,
    /// The product whose route answered the diagnosis's lookup, so the verify step asks the same.
    pub lookup_product: Option<ProductRef>,
    /// The product id key uploads carry, from the cloud's record of the device.
    pub cloud_product_id: Option<u32>,
    /// A write was sent: from then on a failure is recovered with the backup.
    pub wrote: bool,
}

/// What [`Repair::restore`] put back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Restored {
    pub units: usize,
    pub bytes: usize,
}

impl Repair {
    pub fn new(device_id: String, platform: Platform, cancel: CancelFlag) -> Self {
        Self {
            device_id,
            platform,
            cancel,
            held: Vec::new(),
            snapshot: None,
            backup: None,
            product: None,
            lookup_product: None,
            cloud_product_id: None,
            wrote: false,
        }
    }

    /// As [`super::Doctor::set_product`].
    pub fn set_product(&mut self, product: Option<ProductRef>) {
        self.cloud_product_id = product.as_ref().and_then(ProductRef::id);
        self.product = product;
    }

    pub fn backup(&self) -> Option<&Backup> {
        self.backup.as_ref()
    }

    pub fn check_cancel(&self, before: Step) -> Result<(), DoctorError> {
        if self.cancel.is_cancelled() {
            Err(DoctorError::Cancelled { before })
        } else {
            Ok(())
        }
    }

    /// What "Wait longer" and "Send the key now" need once the device restarted.
    pub fn online_wait(&self) -> OnlineWait {
        OnlineWait {
            device_id: self.device_id.clone(),
            product: self.lookup_product.clone(),
            told_product: self.product.clone(),
        }
    }

    /// The key slots the firmware uses (the Electron's transport byte decides).
    pub fn keys(&self, report: &DctReport) -> &'static TransportKeys {
        let info = self.platform.info();
        info.keys(report.transport.active)
            .unwrap_or(info.default_keys())
    }

    /// The key slots the firmware uses now, from what was read in this session, or the
    /// platform's default before any read.
    pub fn active_keys(&self) -> &'static TransportKeys {
        match self.report() {
            Ok(report) => self.keys(&report),
            Err(_) => self.platform.info().default_keys(),
        }
    }

    /// Diagnoses what the device holds, as last read or read back. Bytes between the regions
    /// read (none on DFU mode) are taken as erased; a claim flag no region holds is not reported.
    pub fn report(&self) -> Result<DctReport, DoctorError> {
        let start = self.held.iter().map(|r| r.address).min();
        let end = self.held.iter().map(BackupRegion::end).max();
        let (Some(start), Some(end)) = (start, end) else {
            return Err(DoctorError::NoBackup);
        };
        let mut span = Zeroizing::new(vec![keys::ERASED; (end - start) as usize]);
        for r in &self.held {
            let at = (r.address - start) as usize;
            span[at..at + r.bytes.len()].copy_from_slice(&r.bytes);
        }
        let mut report = keys::diagnose(
            self.platform,
            &DctSnapshot::new(start, &span),
            Some(&self.device_id),
        );
        let claim_read = self
            .platform
            .info()
            .claim_flag_offset
            .is_some_and(|at| self.held.iter().any(|r| at >= r.address && at < r.end()));
        if !claim_read {
            report.claimed = None;
        }
        Ok(report)
    }

    /// What the device holds at `[address, address + len)`, as last read or read back.
    pub fn held_bytes(&self, address: u32, len: usize) -> Option<&[u8]> {
        self.held.iter().find_map(|r| {
            let start = address.checked_sub(r.address)? as usize;
            r.bytes.get(start..start.checked_add(len)?)
        })
    }

    /// Keeps `bytes` of `slot` as what the device holds (a probe's read).
    pub fn hold(&mut self, slot: Slot, bytes: Zeroizing<Vec<u8>>) {
        self.held.retain(|r| r.address != slot.address);
        self.held.push(region(slot, bytes));
    }

    /// Reads the whole key area again, keeps it as what the device holds, and diagnoses it.
    pub async fn read_area(&mut self, slots: &mut dyn KeySlots) -> Result<DctReport, DoctorError> {
        if self.platform.uses_ec_keys() {
            keys::ec::ensure_loaded()
                .await
                .map_err(|cause| DoctorError::EcCodeNotLoaded { cause })?;
        }
        let mut read = Vec::new();
        for slot in slots.key_area()? {
            let bytes = slots.read_slot(slot).await?;
            read.push(region(slot, bytes));
        }
        self.held = read;
        self.report()
    }

    /// The diagnosis's read: every slot of the key area, diagnosed the way the firmware would.
    /// The regions a repair may write are kept for [`Repair::back_up`].
    pub async fn read_for_diagnosis(
        &mut self,
        slots: &mut dyn KeySlots,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<DctReport, DoctorError> {
        self.check_cancel(Step::Diagnose)?;
        on_event(DoctorEvent::Step(Step::Diagnose));
        let area = slots.key_area()?;
        let total: u32 = area.iter().map(|s| s.len).sum();
        on_event(DoctorEvent::Progress { done: 0, total });
        if self.platform.uses_ec_keys() && !keys::ec::available() {
            on_event(DoctorEvent::Log(
                "loading the page's code for this device's EC keys".into(),
            ));
        }
        let report = self.read_area(slots).await?;
        on_event(DoctorEvent::Progress { done: total, total });
        if slots.zeros_mean_unreachable()
            && self.held.iter().all(|r| r.bytes.iter().all(|&b| b == 0))
        {
            return Err(DoctorError::DctUnreachable);
        }
        let first = self.held.first().map_or(0, |r| r.address);
        on_event(DoctorEvent::Log(format!(
            "read {total} bytes of keys at {first:#06x} ({}): private key {}, server key {}",
            slots.path(),
            private_key_word(&report.private_key),
            server_key_word(&report)
        )));
        self.snapshot = Some(
            self.held
                .iter()
                .filter(|r| {
                    slots.backs_up(&Slot {
                        what: "",
                        address: r.address,
                        len: r.bytes.len() as u32,
                    })
                })
                .cloned()
                .collect(),
        );
        Ok(report)
    }

    /// Asks the cloud about the device when someone is signed in, and puts the diagnosis
    /// together.
    pub async fn finish_diagnosis<C: CloudApi>(
        &mut self,
        identity: Identity,
        report: DctReport,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Diagnosis {
        let (access, cloud_device) = match cloud.token {
            None => (CloudAccess::SignedOut, None),
            Some(token) => {
                let found = look_up(
                    cloud.api,
                    token,
                    &self.device_id,
                    self.product.clone(),
                    on_event,
                )
                .await;
                self.lookup_product = found.lookup_product;
                if found.summary.is_some() {
                    self.cloud_product_id = found.cloud_product_id;
                }
                (found.access, found.summary)
            }
        };
        Diagnosis {
            identity,
            report,
            cloud: access,
            cloud_device,
        }
    }

    /// Keeps the bytes the diagnosis read as the backup: every region a repair may touch. No
    /// transfer is needed: those bytes were read a moment ago.
    pub fn back_up(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<&Backup, DoctorError> {
        self.check_cancel(Step::BackUp)?;
        on_event(DoctorEvent::Step(Step::BackUp));
        let regions = self
            .snapshot
            .take()
            .filter(|r| !r.is_empty())
            .ok_or(DoctorError::NoBackup)?;
        let parts: Vec<String> = regions
            .iter()
            .map(|r| {
                format!(
                    "{} bytes (alt {}, {:#06x}..{:#06x})",
                    r.bytes.len(),
                    r.alt,
                    r.address,
                    r.end()
                )
            })
            .collect();
        on_event(DoctorEvent::Log(format!(
            "backup of {} held in this page",
            parts.join(" and ")
        )));
        Ok(self.backup.insert(Backup {
            device_id: self.device_id.clone(),
            platform: self.platform,
            regions,
        }))
    }

    /// Plans the smallest repair (pure: nothing is written).
    pub fn plan(
        &self,
        diagnosis: &Diagnosis,
        options: &PlanOptions,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Plan, DoctorError> {
        on_event(DoctorEvent::Step(Step::Plan));
        let backup = self.backup.as_ref().ok_or(DoctorError::NoBackup)?;
        let keys = self.keys(&diagnosis.report);
        let plan = plan::plan(&diagnosis.report, keys, backup, &diagnosis.cloud, options);
        for action in &plan.actions {
            on_event(DoctorEvent::Log(format!("plan: {}", action.describe())));
        }
        if plan.is_empty() && plan.blocked.is_none() {
            on_event(DoctorEvent::Log("plan: nothing to change".into()));
        }
        Ok(plan)
    }

    /// Carries out a plan: writes (each read back and compared, rolled back from the backup on
    /// failure), then sends the public key of the key read back from the device.
    pub async fn repair<C: CloudApi>(
        &mut self,
        slots: &mut dyn KeySlots,
        plan: &Plan,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<RepairReport, DoctorError> {
        if let Some(PlanBlock::CloudNeeded { reason }) = &plan.blocked {
            return Err(DoctorError::CloudNeeded {
                reason: reason.clone(),
            });
        }
        if plan.blocked.is_some() {
            return Err(DoctorError::NoBackup);
        }
        self.check_cancel(Step::Repair)?;
        on_event(DoctorEvent::Step(Step::Repair));
        let mut written = Vec::new();
        for action in &plan.actions {
            self.check_cancel(Step::Repair)?;
            match action {
                Action::WriteServerKey {
                    alt,
                    address,
                    bytes,
                    ..
                } => {
                    self.write_region(slots, *alt, *address, bytes, "server key", on_event)
                        .await?;
                    written.push("server key");
                }
                Action::NewDeviceKey {
                    algorithm,
                    alt,
                    address,
                    slot_len,
                    ..
                } => {
                    let key = new_key(*algorithm, on_event)?;
                    self.write_private_key(slots, key, *alt, *address, *slot_len, on_event)
                        .await?;
                    written.push("device private key");
                }
                Action::SendPublicKey { .. } => {}
            }
        }
        // What the cloud gets is derived from what the device holds: the bytes every write was
        // read back and compared against.
        let public_key = self.held_public_key(on_event)?;
        let send = match plan.send_action() {
            Some(product_id) => match self
                .send(&public_key, cloud.api, cloud.token, product_id, on_event)
                .await
            {
                Ok(()) => SendOutcome::Sent,
                Err(e) => {
                    on_event(DoctorEvent::Log(format!(
                        "sending the public key failed: {e}; the device keeps its new key"
                    )));
                    SendOutcome::Failed {
                        error: e.to_string(),
                        hint: e.hint(),
                    }
                }
            },
            None => SendOutcome::Deferred,
        };
        Ok(RepairReport {
            written,
            public_key: Some(public_key),
            send,
            path: slots.path(),
        })
    }

    /// Writes `bytes` at `address` on `alt`: laid over the backed-up bytes of the write unit that
    /// holds them (the whole slot, or whole sectors), written, read back and compared; on any
    /// failure the backed-up bytes go back. Refuses a unit the backup does not cover.
    pub async fn write_region(
        &mut self,
        slots: &mut dyn KeySlots,
        alt: u8,
        address: u32,
        bytes: &[u8],
        what: &'static str,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<(), DoctorError> {
        if alt != KEYS_ALT {
            return Err(DoctorError::NoBackup);
        }
        let unit = slots.write_unit(address, bytes.len())?;
        let backup = self.backup.as_ref().ok_or(DoctorError::NoBackup)?;
        let original = Zeroizing::new(
            backup
                .bytes_at(alt, unit.address, unit.len as usize)
                .ok_or(DoctorError::NoBackup)?
                .to_vec(),
        );
        let mut image = original.clone();
        let at = (address - unit.address) as usize;
        image[at..at + bytes.len()].copy_from_slice(bytes);
        on_event(DoctorEvent::Progress {
            done: 0,
            total: unit.len,
        });
        self.wrote = true;
        let written = write_checked(slots, unit, &image, &original).await;
        if let Some(line) = slots.write_note() {
            on_event(DoctorEvent::Log(line));
        }
        match written {
            Ok(back) => {
                self.patch(unit, &back);
                on_event(DoctorEvent::Progress {
                    done: unit.len,
                    total: unit.len,
                });
                on_event(DoctorEvent::Log(format!(
                    "wrote the {what} ({} bytes at {:#06x}, {}) and read it back identical",
                    unit.len,
                    unit.address,
                    slots.path()
                )));
                Ok(())
            }
            Err(failure) => {
                on_event(DoctorEvent::Log(format!(
                    "writing the {what} failed: {}",
                    failure.cause
                )));
                on_event(DoctorEvent::Log(format!(
                    "after the failure: {}",
                    failure.restore
                )));
                Err(failure.into_error(what, slots.path()))
            }
        }
    }

    /// Writes a private key into its slot: the DER padded with erased bytes to the length the
    /// firmware reads. The key is dropped (zeroized) before the write.
    pub async fn write_private_key(
        &mut self,
        slots: &mut dyn KeySlots,
        key: keys::DevicePrivateKey,
        alt: u8,
        address: u32,
        slot_len: u32,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<(), DoctorError> {
        let mut image = Zeroizing::new(vec![keys::ERASED; slot_len as usize]);
        image[..key.der().len()].copy_from_slice(key.der());
        drop(key);
        self.write_region(slots, alt, address, &image, "device private key", on_event)
            .await
    }

    /// Copies `bytes`, verified on the device at `unit`, into what the device holds where they
    /// overlap.
    fn patch(&mut self, unit: Slot, bytes: &[u8]) {
        for area in &mut self.held {
            let start = unit.address.max(area.address);
            let end = (unit.address + bytes.len() as u32).min(area.end());
            if start >= end {
                continue;
            }
            let src = (start - unit.address) as usize..(end - unit.address) as usize;
            let dst = (start - area.address) as usize..(end - area.address) as usize;
            area.bytes[dst].copy_from_slice(&bytes[src]);
        }
    }

    /// The public key of the private key the device holds, as read and read back in this session.
    pub fn held_public_key(
        &self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        match self.report()?.private_key {
            PrivateKeyStatus::Valid { public_key } => {
                on_event(DoctorEvent::Log(format!(
                    "the key on the device (as read back) has public key {}",
                    public_key.fingerprint
                )));
                Ok(public_key)
            }
            other => Err(DoctorError::KeyNotOnDevice {
                reason: private_key_word(&other).to_owned(),
            }),
        }
    }

    /// Derives the public key of the private key on the device the way the firmware does: from
    /// what was read and verified in this session, or (`fresh`, or nothing read yet) from a new
    /// read.
    pub async fn device_public_key(
        &mut self,
        slots: &mut dyn KeySlots,
        fresh: bool,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        if fresh || self.held.is_empty() {
            self.read_area(slots).await?;
        }
        self.held_public_key(on_event)
    }

    /// Sends the public key of the private key on the device again (after a failed or deferred
    /// send): the key is read back from the device, so what the cloud gets is what it holds.
    pub async fn send_key_from_device<C: CloudApi>(
        &mut self,
        slots: &mut dyn KeySlots,
        product_id: Option<u32>,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        let public_key = self.device_public_key(slots, true, on_event).await?;
        self.send(&public_key, cloud.api, cloud.token, product_id, on_event)
            .await?;
        Ok(public_key)
    }

    /// Sends `public_key` for this device to the cloud as the CLI does.
    pub async fn send<C: CloudApi>(
        &self,
        public_key: &PublicKeyInfo,
        api: &mut C,
        token: Option<&AccessToken>,
        product_id: Option<u32>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<(), DoctorError> {
        let token = token.ok_or_else(|| DoctorError::CloudNeeded {
            reason: "nobody is signed in".into(),
        })?;
        let upload = KeyUpload {
            device_id: self.device_id.clone(),
            public_key_pem: public_key.pem.clone(),
            algorithm: cloud_algorithm(public_key.algorithm),
            product_id,
        };
        api.send_public_key(token, &upload).await?;
        on_event(DoctorEvent::Log(format!(
            "sent public key {} to the cloud",
            public_key.fingerprint
        )));
        Ok(())
    }

    fn check_backup(&self, backup: &Backup) -> Result<(), DoctorError> {
        if backup.device_id != self.device_id {
            return Err(DoctorError::BackupOfOtherDevice {
                backup: backup.device_id.clone(),
                connected: self.device_id.clone(),
            });
        }
        Ok(())
    }

    /// Reads back every region of `backup` (the slots a repair may have touched) and compares:
    /// after a failure this decides between "your device was not changed" (retry) and "Restore
    /// backup". Read-only.
    pub async fn check_against_backup(
        &mut self,
        slots: &mut dyn KeySlots,
        backup: &Backup,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<AfterFailure, DoctorError> {
        self.check_backup(backup)?;
        let mut differing = 0;
        for r in &backup.regions {
            let current = slots.read_slot(backup_slot(r)).await?;
            differing += current
                .iter()
                .zip(r.bytes.iter())
                .filter(|(a, b)| a != b)
                .count();
        }
        let outcome = if differing == 0 {
            AfterFailure::Unchanged
        } else {
            AfterFailure::Changed { bytes: differing }
        };
        on_event(DoctorEvent::Log(match outcome {
            AfterFailure::Unchanged => {
                "read back the backed-up slots: the device was not changed".to_owned()
            }
            AfterFailure::Changed { bytes } => {
                format!("read back the backed-up slots: {bytes} bytes differ from the backup")
            }
        }));
        Ok(outcome)
    }

    /// Writes the backed-up bytes back where they differ from the device: the write units that
    /// hold the differing span, each written through [`write_checked`] over what the device holds
    /// now.
    pub async fn restore(
        &mut self,
        slots: &mut dyn KeySlots,
        backup: &Backup,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Restored, DoctorError> {
        self.check_backup(backup)?;
        on_event(DoctorEvent::Step(Step::Repair));
        let mut restored = Restored::default();
        for r in backup.regions.iter().filter(|r| r.alt == KEYS_ALT) {
            let now = slots.read_slot(backup_slot(r)).await?;
            let Some(span) = differing_span(&now, &r.bytes) else {
                continue;
            };
            let address = r.address + span.start as u32;
            let unit = slots.write_unit(address, span.len())?;
            let (Some(image), Some(current)) = (
                backup.bytes_at(r.alt, unit.address, unit.len as usize),
                slice_of(r, &now, unit),
            ) else {
                return Err(DoctorError::NoBackup);
            };
            let current = Zeroizing::new(current.to_vec());
            self.wrote = true;
            let back = write_checked(slots, unit, image, &current).await;
            if let Some(line) = slots.write_note() {
                on_event(DoctorEvent::Log(line));
            }
            let back = back.map_err(|f| f.into_error("backup", slots.path()))?;
            self.patch(unit, &back);
            restored.units += 1;
            restored.bytes += span.len();
            on_event(DoctorEvent::Log(format!(
                "restored {} bytes at {address:#06x} from the backup ({})",
                span.len(),
                slots.path()
            )));
        }
        Ok(restored)
    }
}

fn region(slot: Slot, bytes: Zeroizing<Vec<u8>>) -> BackupRegion {
    BackupRegion {
        alt: KEYS_ALT,
        address: slot.address,
        bytes,
    }
}

/// A backed-up region as a slot to read.
fn backup_slot(r: &BackupRegion) -> Slot {
    Slot {
        what: "backed-up slot",
        address: r.address,
        len: r.bytes.len() as u32,
    }
}

/// The part of `bytes` (read from region `r`'s range) that `unit` covers.
fn slice_of<'a>(r: &BackupRegion, bytes: &'a [u8], unit: Slot) -> Option<&'a [u8]> {
    let start = unit.address.checked_sub(r.address)? as usize;
    bytes.get(start..start + unit.len as usize)
}

/// The smallest range outside which `a` and `b` are equal, or `None` if they are equal.
fn differing_span(a: &[u8], b: &[u8]) -> Option<std::ops::Range<usize>> {
    let first = a.iter().zip(b).position(|(x, y)| x != y)?;
    let last = a.iter().zip(b).rposition(|(x, y)| x != y)?;
    Some(first..last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_span_covers_first_to_last_difference() {
        assert_eq!(differing_span(b"abcdef", b"abcdef"), None);
        assert_eq!(differing_span(b"abcdef", b"aXcdYf"), Some(1..5));
        assert_eq!(differing_span(b"abcdef", b"Xbcdef"), Some(0..1));
    }
}
