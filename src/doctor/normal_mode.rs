//! The repair of a running Gen 2 device over control requests, without DFU mode: the same steps
//! as [`super::Doctor`] (diagnose, back up, plan, write, read back, send the key derived from the
//! read-back bytes, roll back on failure), reaching the slots through [`RuntimeSlots`] (requests
//! 211 and 210) and ending with a reset (40) while the device's own connection status (300) and
//! the cloud are watched.
//!
//! [`RuntimeDoctor::choose`] picks the path: a Photon or P1 in normal mode whose key requests
//! answer goes this way; the Core, Gen 3 ("not supported"), firmware older than 0.8, the Electron
//! (below) and any failure of the key requests before a write go to DFU mode as before, with the
//! reason ([`Fallback`]).
//!
//! The Electron stays on DFU mode for now: which of its slots are live depends on DCT byte 2977,
//! which no key request reads (request 223, GET_SERVER_PROTOCOL, answers it from
//! `HAL_Feature_Get(FEATURE_CLOUD_UDP)`; not used yet), and its UDP address block (3490) lies
//! outside every key slot, so 211 cannot back it up byte for byte.

use super::backup::{Backup, BackupRegion};
use super::error::{DoctorError, RestoreOutcome};
use super::plan::{self, Action, CloudAccess, Plan, PlanBlock, PlanOptions};
use super::running::{RunningDevice, RunningFacts};
use super::session::{
    CloudContext, Diagnosis, Identity, OFFLINE_NEXT_STEPS, RepairReport, SendOutcome,
    VerifyOutcome, cloud_algorithm, look_up, new_key, private_key_word, server_key_word,
};
use super::slots::{KeySlots, RepairPath, RuntimeSlots, Slot, slot_containing, write_verified};
use super::{CancelFlag, DoctorEvent, Step};
use crate::cloud::{self, AccessToken, ApiError, CloudApi, KeyUpload, ProductRef};
use crate::device::{KEYS_ALT, Platform, TransportKeys};
use crate::keys::diagnose::PrivateKeyStatus;
use crate::keys::{self, DctReport, DctSnapshot, PublicKeyInfo};
use crate::runtime::keys::{ServerAddressReply, ServerProtocol};
use crate::runtime::{self, Channel, ConnectionStatus};
use crate::usb::{Counting, TransferCounts, Transport};
use serde::Serialize;
use zeroize::Zeroizing;

/// How long the first key request may stay PENDING before the page concludes the device is busy
/// reaching the cloud and sends request 70 (listening mode) to stop that attempt.
pub const BUSY_PENDING_MS: u32 = 5_000;

/// The slots read over 211 on a Photon or P1 (TCP): private key, public key, server key with the
/// address block inside it (particle-dct.md 2).
const PRIVATE: Slot = Slot {
    what: "device private key",
    address: 34,
    len: 1216,
};
const PUBLIC: Slot = Slot {
    what: "device public key",
    address: 1250,
    len: 384,
};
const SERVER: Slot = Slot {
    what: "server key and address",
    address: 2082,
    len: 768,
};
/// The DCT span the diagnosis sees: the three slots; bytes between them that no key request
/// reads (1634..2082: IP configuration, claim code, claim flag) are taken as erased.
const SPAN: std::ops::Range<u32> = 34..2850;

/// Why the repair goes through DFU mode instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fallback {
    pub reason: String,
}

/// What [`RuntimeDoctor::choose`] decided.
pub enum PathChoice<T: Transport> {
    /// The key requests work: repair in normal mode.
    ControlRequests(Box<RuntimeDoctor<T>>),
    /// Go to DFU mode as before ([`RunningDevice::enter_dfu`]), for this reason.
    Dfu {
        running: RunningDevice<T>,
        fallback: Fallback,
    },
}

/// A repair session with a running Photon or P1 over control requests.
pub struct RuntimeDoctor<T: Transport> {
    t: Counting<T>,
    facts: RunningFacts,
    cancel: CancelFlag,
    /// The slots as read and, after each verified write, as read back.
    slots: Vec<BackupRegion>,
    backup: Option<Backup>,
    product: Option<ProductRef>,
    lookup_product: Option<ProductRef>,
    cloud_product_id: Option<u32>,
    /// Request 70 was sent: the LED blinks dark blue until the reset.
    listening: bool,
    /// A write request (210) was sent: from then on a failure is recovered on this path
    /// (restore), never by switching to DFU mode without the backup.
    wrote: bool,
}

/// How the device did after the reset (request 40).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuntimeVerify {
    pub outcome: VerifyOutcome,
    /// The device's own view of its cloud connection (request 300), last read.
    pub device_status: Option<ConnectionStatus>,
    /// Control transfers of the whole session, reset included.
    #[serde(skip)]
    pub transfers: TransferCounts,
}

impl<T: Transport> RuntimeDoctor<T> {
    /// Decides the path for a device connected in normal mode. Reads the private key slot (211)
    /// as the probe; a device busy reaching the cloud is asked to stop (70) first.
    pub async fn choose(
        running: RunningDevice<T>,
        cancel: CancelFlag,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> PathChoice<T> {
        let (t, facts) = running.into_parts();
        let fallback = |t, facts, reason: String, on_event: &mut dyn FnMut(DoctorEvent)| {
            on_event(DoctorEvent::Log(format!(
                "repair path: DFU mode ({reason})"
            )));
            PathChoice::Dfu {
                running: RunningDevice::from_parts(t, facts),
                fallback: Fallback { reason },
            }
        };
        let reason = match facts.platform {
            Platform::Core => Some("the Core's firmware has no control requests".to_owned()),
            Platform::Electron => Some(
                "the Electron's active cloud transport and UDP address cannot be read over \
                 control requests"
                    .to_owned(),
            ),
            _ if !facts.control_requests => {
                Some("the firmware does not answer control requests (Device OS before 0.8)".into())
            }
            _ => facts
                .system_version
                .as_deref()
                .filter(|v| !at_least_0_8(v))
                .map(|v| format!("Device OS {v} is older than 0.8")),
        };
        if let Some(reason) = reason {
            return fallback(t, facts, reason, on_event);
        }
        let mut doctor = Self {
            t,
            facts,
            cancel,
            slots: Vec::new(),
            backup: None,
            product: None,
            lookup_product: None,
            cloud_product_id: None,
            listening: false,
            wrote: false,
        };
        match doctor.probe(on_event).await {
            Ok(()) => {
                on_event(DoctorEvent::Log(format!(
                    "repair path: {} (no DFU mode, no second prompt)",
                    RepairPath::ControlRequests
                )));
                PathChoice::ControlRequests(Box::new(doctor))
            }
            Err(e) => {
                let reason = if matches!(&e, DoctorError::Runtime(r) if r.is_not_supported()) {
                    format!(
                        "the {} answers the key requests \"not supported\"",
                        doctor.facts.platform_name
                    )
                } else {
                    format!("the key requests failed: {e}")
                };
                fallback(doctor.t, doctor.facts, reason, on_event)
            }
        }
    }

    /// Reads the private key slot; on a long PENDING sends 70 and reads again.
    async fn probe(&mut self, on_event: &mut dyn FnMut(DoctorEvent)) -> Result<(), DoctorError> {
        let platform = self.facts.platform;
        let first = {
            let channel = Channel::resume(&mut self.t).with_max_pending_ms(BUSY_PENDING_MS);
            let mut slots = RuntimeSlots { channel, platform };
            slots.read_slot(PRIVATE).await
        };
        let slot = match first {
            Err(DoctorError::Runtime(runtime::Error::StillPending { waited_ms, .. })) => {
                on_event(DoctorEvent::Log(format!(
                    "the device did not answer within {} s: it is busy trying to reach the cloud",
                    waited_ms / 1000
                )));
                Channel::resume(&mut self.t).start_listening().await?;
                self.listening = true;
                on_event(DoctorEvent::Log(
                    "asked the device to stop trying (request 70): its LED now blinks dark blue \
                     (listening mode) until the repair resets it"
                        .into(),
                ));
                self.slots_io().read_slot(PRIVATE).await?
            }
            other => other?,
        };
        self.slots = vec![region(PRIVATE, slot)];
        Ok(())
    }

    fn slots_io(&mut self) -> RuntimeSlots<'_, Counting<T>> {
        RuntimeSlots {
            channel: Channel::resume(&mut self.t),
            platform: self.facts.platform,
        }
    }

    /// Gives the running device back for the DFU path (request 50) after a key request failed,
    /// only while nothing has been written; `Err(self)` once a write was sent.
    pub fn fall_back(self) -> Result<RunningDevice<T>, Box<Self>> {
        if self.wrote {
            return Err(Box::new(self));
        }
        Ok(RunningDevice::from_parts(self.t, self.facts))
    }

    /// Whether request 70 was sent (the LED blinks dark blue until the reset).
    pub fn listening(&self) -> bool {
        self.listening
    }

    pub fn facts(&self) -> &RunningFacts {
        &self.facts
    }

    pub fn path(&self) -> RepairPath {
        RepairPath::ControlRequests
    }

    pub fn transfers(&self) -> TransferCounts {
        self.t.counts()
    }

    /// What "Wait longer" and "Send the key now" need after the reset.
    pub fn online_wait(&self) -> super::OnlineWait {
        super::OnlineWait {
            device_id: self.facts.device_id.clone(),
            product: self.lookup_product.clone(),
            told_product: self.product.clone(),
        }
    }

    pub fn backup(&self) -> Option<&Backup> {
        self.backup.as_ref()
    }

    /// As [`super::Doctor::set_product`].
    pub fn set_product(&mut self, product: Option<ProductRef>) {
        self.cloud_product_id = product.as_ref().and_then(ProductRef::id);
        self.product = product;
    }

    fn check_cancel(&self, before: Step) -> Result<(), DoctorError> {
        if self.cancel.is_cancelled() {
            Err(DoctorError::Cancelled { before })
        } else {
            Ok(())
        }
    }

    /// Who the device is, as the page shows it.
    pub fn identity(&self) -> Identity {
        Identity {
            platform: self.facts.platform,
            platform_name: self.facts.platform_name,
            device_id: self.facts.device_id.clone(),
            transfer_size: 0,
            keys_layout: "control requests 211/221 (normal mode)".into(),
        }
    }

    fn keys(&self) -> &'static TransportKeys {
        self.facts.platform.info().default_keys()
    }

    /// The diagnosis of the slots as last read (or read back).
    fn report(&self) -> DctReport {
        let mut span = Zeroizing::new(vec![keys::ERASED; (SPAN.end - SPAN.start) as usize]);
        for r in &self.slots {
            let at = (r.address - SPAN.start) as usize;
            span[at..at + r.bytes.len()].copy_from_slice(&r.bytes);
        }
        let mut report = keys::diagnose(
            self.facts.platform,
            &DctSnapshot::new(SPAN.start, &span),
            Some(&self.facts.device_id),
        );
        // The claim flag (1825) is in no key slot: not read on this path.
        report.claimed = None;
        report
    }

    /// Reads the key slots (211: private key, public key, server key with the address block) and
    /// the address as the firmware parses it (221), diagnoses them, and asks the cloud.
    pub async fn diagnose<C: CloudApi>(
        &mut self,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Diagnosis, DoctorError> {
        self.check_cancel(Step::Diagnose)?;
        on_event(DoctorEvent::Step(Step::Diagnose));
        let mut read = Vec::new();
        for slot in [PRIVATE, PUBLIC, SERVER] {
            let bytes = self.slots_io().read_slot(slot).await?;
            read.push(region(slot, bytes));
        }
        self.slots = read;
        let address = Channel::resume(&mut self.t)
            .get_server_address(ServerProtocol::Tcp)
            .await?;
        let report = self.report();
        on_event(DoctorEvent::Log(format!(
            "read the key slots over control requests: private key {}, server key {}, address {}",
            private_key_word(&report.private_key),
            server_key_word(&report),
            match &address {
                ServerAddressReply::Address { address, port } => format!("{address}:{port}"),
                ServerAddressReply::NotSet => "not set (the firmware uses its built-in one)".into(),
            }
        )));
        let (access, cloud_device) = match cloud.token {
            None => (CloudAccess::SignedOut, None),
            Some(token) => {
                let found = look_up(
                    cloud.api,
                    token,
                    &self.facts.device_id,
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
        Ok(Diagnosis {
            identity: self.identity(),
            report,
            cloud: access,
            cloud_device,
        })
    }

    /// Keeps the slots a repair may write (private key, server key and address) as the backup.
    pub fn back_up(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<&Backup, DoctorError> {
        self.check_cancel(Step::BackUp)?;
        on_event(DoctorEvent::Step(Step::BackUp));
        let regions: Vec<BackupRegion> = self
            .slots
            .iter()
            .filter(|r| r.address == PRIVATE.address || r.address == SERVER.address)
            .cloned()
            .collect();
        if regions.len() != 2 {
            return Err(DoctorError::NoBackup);
        }
        on_event(DoctorEvent::Log(
            "backup of the private key slot (1216 bytes at 0x0022) and the server key slot (768 \
             bytes at 0x0822) held in this page"
                .into(),
        ));
        Ok(self.backup.insert(Backup {
            device_id: self.facts.device_id.clone(),
            platform: self.facts.platform,
            regions,
        }))
    }

    /// Plans exactly as in DFU mode.
    pub fn plan(
        &self,
        diagnosis: &Diagnosis,
        options: &PlanOptions,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Plan, DoctorError> {
        on_event(DoctorEvent::Step(Step::Plan));
        let backup = self.backup.as_ref().ok_or(DoctorError::NoBackup)?;
        let plan = plan::plan(
            &diagnosis.report,
            self.keys(),
            backup,
            &diagnosis.cloud,
            options,
        );
        for action in &plan.actions {
            on_event(DoctorEvent::Log(format!("plan: {}", action.describe())));
        }
        Ok(plan)
    }

    /// Writes the plan's regions as whole slots (210), each read back (211) and compared, rolled
    /// back from the backup on failure; then sends the public key derived from the read-back
    /// private key.
    pub async fn repair<C: CloudApi>(
        &mut self,
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
                    self.write_region(*alt, *address, bytes, on_event).await?;
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
                    let mut image = Zeroizing::new(vec![keys::ERASED; *slot_len as usize]);
                    image[..key.der().len()].copy_from_slice(key.der());
                    drop(key);
                    self.write_region(*alt, *address, &image, on_event).await?;
                    written.push("device private key");
                }
                Action::SendPublicKey { .. } => {}
            }
        }
        let public_key = match self.report().private_key {
            PrivateKeyStatus::Valid { public_key } => public_key,
            other => {
                return Err(DoctorError::KeyNotOnDevice {
                    reason: private_key_word(&other).to_owned(),
                });
            }
        };
        on_event(DoctorEvent::Log(format!(
            "the key on the device (as read back) has public key {}",
            public_key.fingerprint
        )));
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
            path: RepairPath::ControlRequests,
        })
    }

    /// Lays `bytes` over the backed-up slot that holds them and writes the whole slot through
    /// [`write_verified`]. Refuses a region outside the backup.
    async fn write_region(
        &mut self,
        alt: u8,
        address: u32,
        bytes: &[u8],
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<(), DoctorError> {
        let slot = slot_containing(address, bytes.len())
            .filter(|_| alt == KEYS_ALT)
            .ok_or(DoctorError::NoBackup)?;
        let backup = self.backup.as_ref().ok_or(DoctorError::NoBackup)?;
        let original = Zeroizing::new(
            backup
                .bytes_at(alt, slot.address, slot.len as usize)
                .ok_or(DoctorError::NoBackup)?
                .to_vec(),
        );
        let mut image = original.clone();
        let at = (address - slot.address) as usize;
        image[at..at + bytes.len()].copy_from_slice(bytes);
        on_event(DoctorEvent::Progress {
            done: 0,
            total: slot.len,
        });
        self.wrote = true;
        match write_verified(&mut self.slots_io(), slot, &image, &original).await {
            Ok(back) => {
                self.patch(slot, back);
                on_event(DoctorEvent::Progress {
                    done: slot.len,
                    total: slot.len,
                });
                on_event(DoctorEvent::Log(format!(
                    "wrote the {} ({} bytes at {:#06x}, request 210) and read it back identical \
                     (request 211)",
                    slot.what, slot.len, slot.address
                )));
                Ok(())
            }
            Err(e) => {
                on_event(DoctorEvent::Log(format!("{e}")));
                if let DoctorError::SlotWriteFailed {
                    restore: RestoreOutcome::Restored | RestoreOutcome::Unchanged,
                    ..
                } = &e
                {
                    self.patch(slot, original);
                }
                Err(e)
            }
        }
    }

    fn patch(&mut self, slot: Slot, bytes: Zeroizing<Vec<u8>>) {
        self.slots.retain(|r| r.address != slot.address);
        self.slots.push(region(slot, bytes));
    }

    async fn send<C: CloudApi>(
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
            device_id: self.facts.device_id.clone(),
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

    /// Writes the backed-up slots back where they differ from the device, each verified.
    pub async fn restore(
        &mut self,
        backup: &Backup,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<usize, DoctorError> {
        if backup.device_id != self.facts.device_id {
            return Err(DoctorError::BackupOfOtherDevice {
                backup: backup.device_id.clone(),
                connected: self.facts.device_id.clone(),
            });
        }
        let mut restored = 0;
        for r in &backup.regions {
            let slot = slot_containing(r.address, r.bytes.len())
                .filter(|s| s.address == r.address && s.len as usize == r.bytes.len())
                .ok_or(DoctorError::NoBackup)?;
            let now = self.slots_io().read_slot(slot).await?;
            if now.as_slice() == r.bytes.as_slice() {
                continue;
            }
            let back = write_verified(&mut self.slots_io(), slot, &r.bytes, &now).await?;
            self.patch(slot, back);
            restored += 1;
            on_event(DoctorEvent::Log(format!(
                "restored the {} from the backup (request 210, read back with 211)",
                slot.what
            )));
        }
        Ok(restored)
    }

    /// Resets the device (40) so the firmware reads its new keys at the next handshake, then
    /// watches its own connection status (300, over a handle `reopen` gives once it is back on
    /// the bus) beside the cloud until it is online, for at most `timeout_ms`.
    ///
    pub async fn reset_and_verify<C: CloudApi>(
        mut self,
        reopen: &mut dyn FnMut() -> Option<T>,
        cloud: CloudContext<'_, C>,
        timeout_ms: u32,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<RuntimeVerify, DoctorError> {
        self.check_cancel(Step::Verify)?;
        on_event(DoctorEvent::Step(Step::Verify));
        Channel::resume(&mut self.t).reset().await?;
        on_event(DoctorEvent::Log(
            "asked the device to reset (request 40): it reads its keys at the next handshake"
                .into(),
        ));
        let mut handle: Option<Counting<T>> = None;
        let mut device_status = None;
        let mut waited: u32 = 0;
        let half = cloud::ONLINE_POLL_MS / 2;
        let outcome = loop {
            let mut online = None;
            if let Some(token) = cloud.token {
                match cloud
                    .api
                    .wait_until_online_in(
                        token,
                        self.lookup_product.as_ref(),
                        &self.facts.device_id,
                        0,
                        1,
                    )
                    .await
                {
                    Ok(info) => {
                        on_event(DoctorEvent::Log(
                            "the cloud reports the device online".into(),
                        ));
                        online = Some(VerifyOutcome::Online {
                            last_handshake_at: info.last_handshake_at,
                        });
                    }
                    Err(ApiError::DeviceStayedOffline { .. }) => {}
                    Err(
                        ApiError::Network { .. }
                        | ApiError::Timeout { .. }
                        | ApiError::Server { .. },
                    ) => {}
                    Err(e) => {
                        break VerifyOutcome::CouldNotCheck {
                            error: e.to_string(),
                            hint: e.hint().to_owned(),
                        };
                    }
                }
            }
            // The device's own view, also once more after the cloud said online, so the report
            // shows both.
            if handle.is_none() {
                handle = reopen().map(Counting::new);
            }
            if let Some(h) = handle.as_mut() {
                let status = match Channel::open(h).await {
                    Ok(ch) => ch.with_max_pending_ms(half).cloud_status().await.ok(),
                    Err(_) => None,
                };
                match status {
                    Some(s) => {
                        if device_status != Some(s) {
                            on_event(DoctorEvent::Log(format!(
                                "the device reports its cloud connection: {s:?} (request 300)"
                            )));
                        }
                        device_status = Some(s);
                        if s == ConnectionStatus::Connected && cloud.token.is_none() {
                            online = Some(VerifyOutcome::Online {
                                last_handshake_at: None,
                            });
                        }
                    }
                    None => handle = None,
                }
            }
            if let Some(online) = online {
                break online;
            }
            if waited >= timeout_ms {
                break VerifyOutcome::StayedOffline {
                    waited_s: waited.div_ceil(1000),
                    next_steps: OFFLINE_NEXT_STEPS.to_vec(),
                };
            }
            if self.cancel.is_cancelled() {
                break VerifyOutcome::StoppedWaiting {
                    waited_s: waited.div_ceil(1000),
                    next_steps: OFFLINE_NEXT_STEPS.to_vec(),
                };
            }
            // One wait: on the cloud client when someone is signed in (the simulated world moves
            // the device's clock with it), else on the USB transport.
            let step = cloud::ONLINE_POLL_MS;
            match (cloud.token, handle.as_mut()) {
                (Some(_), _) => cloud.api.sleep(step).await,
                (None, Some(h)) => h.sleep(step).await,
                (None, None) => self.t.sleep(step).await,
            }
            waited += step;
        };
        let mut transfers = self.t.counts();
        if let Some(h) = &handle {
            let c = h.counts();
            transfers.transfers += c.transfers;
            transfers.bytes_in += c.bytes_in;
            transfers.bytes_out += c.bytes_out;
        }
        Ok(RuntimeVerify {
            outcome,
            device_status,
            transfers,
        })
    }
}

fn region(slot: Slot, bytes: Zeroizing<Vec<u8>>) -> BackupRegion {
    BackupRegion {
        alt: KEYS_ALT,
        address: slot.address,
        bytes,
    }
}

/// Whether Device OS `version` is 0.8 or later (unparsable versions are taken as new).
fn at_least_0_8(version: &str) -> bool {
    let mut parts = version.split(['.', '-']);
    let major: u32 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(u32::MAX);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (0, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(!at_least_0_8("0.7.0"));
        assert!(at_least_0_8("0.8.0-rc.2"));
        assert!(at_least_0_8("2.3.1"));
    }
}
