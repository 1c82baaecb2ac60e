//! A repair session with one connected device: the steps the page walks through, in order.
//!
//! Each step is one async method. The UI calls them one after the other, shows what each returns,
//! and may stop between any two (or set the [`CancelFlag`]). Cloud calls take the [`CloudApi`] and
//! the access token as arguments so "diagnose only" works signed out.

use super::backup::Backup;
use super::error::{AfterFailure, DoctorError};
use super::plan::{CloudAccess, Plan, PlanOptions};
use super::repair::Repair;
use super::slots::{
    DfuSlots, KeySlots, RepairPath, Slot, SlotFuture, dfu_key_area, dfu_write_unit,
};
use super::{CancelFlag, DoctorEvent, Step};
use crate::cloud::{self, AccessToken, ApiError, CloudApi, DeviceInfo, KeyUpload, ProductRef};
use crate::device::{KEYS_ALT, KeyAlgorithm, Platform, UsbMode};
use crate::dfu::{self, AltFacts, Dfu, Erase, LeaveOutcome};
use crate::keys::diagnose::PrivateKeyStatus;
use crate::keys::{self, DctReport, PublicKeyInfo};
use crate::usb::{Counting, TransferCounts, Transport};
use serde::Serialize;
use std::ops::Range;
use zeroize::Zeroizing;

/// The DFU interface every Particle bootloader exposes.
const INTERFACE: u8 = 0;
/// Internal flash on DFU alt 0 of Gen 2 devices, for the support dump.
const INTERNAL_FLASH_ALT: u8 = 0;
/// Bytes per read while dumping flash, so progress can be reported.
const DUMP_CHUNK: usize = 64 * 1024;

/// What the device said about itself when it connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub platform: Platform,
    pub platform_name: &'static str,
    /// 24 lowercase hex characters, from the USB serial number.
    pub device_id: String,
    /// The bootloader's `wTransferSize`.
    pub transfer_size: u16,
    /// The memory layout of the alternate setting that holds the keys, as the device reported it.
    pub keys_layout: String,
}

/// Where the cloud stands on this device, plus what the diagnosis read.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub identity: Identity,
    pub report: DctReport,
    pub cloud: CloudAccess,
    /// The cloud's record of the device, when the lookup succeeded.
    pub cloud_device: Option<CloudDeviceSummary>,
}

/// The parts of the cloud's device record the page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudDeviceSummary {
    pub name: Option<String>,
    pub product_id: u32,
    pub platform_id: u16,
    pub online: bool,
    pub last_handshake_at: Option<String>,
}

impl From<&DeviceInfo> for CloudDeviceSummary {
    fn from(d: &DeviceInfo) -> Self {
        Self {
            name: d.name.clone(),
            product_id: d.product_id,
            platform_id: d.platform_id,
            online: d.is_online(),
            last_handshake_at: d.last_handshake_at.clone(),
        }
    }
}

impl Diagnosis {
    /// The report as JSON for the "download diagnostic report" button: no secret in it.
    pub fn to_json(&self) -> String {
        crate::cloud::body::write_pretty(self)
    }
}

/// Whether the public key reached the cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "send", rename_all = "snake_case")]
pub enum SendOutcome {
    Sent,
    /// The user chose to send it later, or the plan had no cloud access.
    Deferred,
    /// The device keeps its new key; the send can be retried from the key read back from it.
    Failed {
        error: String,
        hint: String,
    },
}

/// What a repair did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// The regions written and verified, in order.
    pub written: Vec<&'static str>,
    /// The device's public key, derived from the private key read back from the device.
    pub public_key: Option<PublicKeyInfo>,
    pub send: SendOutcome,
    /// How the slots were reached.
    pub path: super::RepairPath,
}

/// How the device did after leaving DFU mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verify", rename_all = "snake_case")]
pub enum VerifyOutcome {
    /// The cloud reports the device online.
    Online { last_handshake_at: Option<String> },
    /// It left DFU mode but did not come online in time.
    StayedOffline {
        waited_s: u32,
        next_steps: Vec<&'static str>,
    },
    /// It left DFU mode; nobody is signed in, so the page cannot ask the cloud.
    LeftDfu { next_steps: Vec<&'static str> },
    /// It left DFU mode; the cloud could not be asked.
    CouldNotCheck { error: String, hint: String },
    /// It left DFU mode; the user pressed Cancel while the page waited for the cloud.
    StoppedWaiting {
        waited_s: u32,
        next_steps: Vec<&'static str>,
    },
}

/// What "wait for the device to come online" needs once the device left DFU mode (the doctor is
/// gone by then): "Wait longer" on the page asks the cloud again with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineWait {
    pub device_id: String,
    /// The product route the diagnosis's cloud lookup used, if any.
    pub product: Option<ProductRef>,
    /// The product the page was told (a support link's), for a lookup made later.
    pub told_product: Option<ProductRef>,
}

impl OnlineWait {
    /// Sends `public_key` (read back from the device by the repair) for this device, once
    /// somebody is signed in: no DFU mode needed. The cloud's device record gives the product to
    /// send it to, as the diagnosis's lookup does.
    pub async fn send_key<C: CloudApi>(
        &self,
        api: &mut C,
        token: &AccessToken,
        public_key: &PublicKeyInfo,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<(), DoctorError> {
        let id = &self.device_id;
        let info = match self.product.as_ref().or(self.told_product.as_ref()) {
            None => api.device(token, id).await?,
            Some(product) => match api.product_device(token, product, id).await {
                Ok(info) => info,
                // As the diagnosis's lookup: a product without the device, then the device route.
                Err(ApiError::NotInProduct { .. } | ApiError::ProductNotVisible { .. }) => {
                    api.device(token, id).await?
                }
                Err(e) => return Err(e.into()),
            },
        };
        let upload = KeyUpload {
            device_id: self.device_id.clone(),
            public_key_pem: public_key.pem.clone(),
            algorithm: cloud_algorithm(public_key.algorithm),
            product_id: info.upload_product_id(),
        };
        api.send_public_key(token, &upload).await?;
        on_event(DoctorEvent::Log(format!(
            "sent public key {} to the cloud",
            public_key.fingerprint
        )));
        Ok(())
    }

    /// Asks the cloud, one poll at a time, until it reports the device online or `timeout_ms`
    /// passed; `cancel` stops the wait between two polls.
    pub async fn wait<C: CloudApi>(
        &self,
        api: &mut C,
        token: &AccessToken,
        timeout_ms: u32,
        cancel: &CancelFlag,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> VerifyOutcome {
        on_event(DoctorEvent::Log(format!(
            "waiting up to {} s for the device to come online",
            timeout_ms / 1000
        )));
        let id = &self.device_id;
        // The cloud's own wait, one poll at a time, so Cancel stops it between two polls. Time is
        // counted as the larger of the sleeps and the cloud's clock, so a stalled cloud (each
        // request ending at its deadline) cannot stretch the wait.
        let started = api.now_ms();
        let mut slept: u32 = 0;
        let mut answered = false;
        let mut unanswered: Option<ApiError> = None;
        loop {
            match api
                .wait_until_online_in(token, self.product.as_ref(), id, 0, 1)
                .await
            {
                Ok(info) => {
                    on_event(DoctorEvent::Log(
                        "the cloud reports the device online".into(),
                    ));
                    return VerifyOutcome::Online {
                        last_handshake_at: info.last_handshake_at,
                    };
                }
                Err(ApiError::DeviceStayedOffline { .. }) => answered = true,
                Err(
                    e @ (ApiError::Network { .. }
                    | ApiError::Redirected
                    | ApiError::Timeout { .. }
                    | ApiError::Server { .. }),
                ) => unanswered = Some(e),
                Err(e) => {
                    return VerifyOutcome::CouldNotCheck {
                        error: e.to_string(),
                        hint: e.hint().to_owned(),
                    };
                }
            }
            let elapsed = u32::try_from(api.now_ms().saturating_sub(started)).unwrap_or(u32::MAX);
            let waited = slept.max(elapsed);
            if waited >= timeout_ms {
                if let Some(e) = unanswered.filter(|_| !answered) {
                    return VerifyOutcome::CouldNotCheck {
                        error: e.to_string(),
                        hint: e.hint().to_owned(),
                    };
                }
                return VerifyOutcome::StayedOffline {
                    waited_s: waited.div_ceil(1000),
                    next_steps: OFFLINE_NEXT_STEPS.to_vec(),
                };
            }
            if cancel.is_cancelled() {
                on_event(DoctorEvent::Log(format!(
                    "stopped waiting for the cloud after {} s, as asked",
                    waited.div_ceil(1000)
                )));
                return VerifyOutcome::StoppedWaiting {
                    waited_s: waited.div_ceil(1000),
                    next_steps: OFFLINE_NEXT_STEPS.to_vec(),
                };
            }
            let step = cloud::ONLINE_POLL_MS.min(timeout_ms - waited);
            api.sleep(step).await;
            slept += step;
        }
    }
}

/// What to do when a repaired device does not come online.
pub(super) const OFFLINE_NEXT_STEPS: [&str; 4] = [
    "Watch the status LED: breathing cyan means connected.",
    "Blinking green means it is looking for Wi-Fi: set up Wi-Fi again (hold SETUP, MODE on other \
     devices, for 3 s, then use the Particle app or `particle serial wifi`).",
    "Fast cyan with a red or orange burst: count the bursts in the LED decoder above; run the \
     repair again if it says keys.",
    "Fast cyan with 3 orange blinks: the network blocks the cloud (outbound TCP 5683); try another \
     network.",
];

/// The cloud API and the signed-in session, for the steps that need them.
pub struct CloudContext<'a, C: CloudApi> {
    pub api: &'a mut C,
    pub token: Option<&'a AccessToken>,
}

/// A repair session with one device in DFU mode: the one repair ([`Repair`]) on the slots of
/// the bootloader's alternate setting 1 ([`DfuAccess`]), and what only DFU mode does (the
/// internal-flash dump, leaving DFU mode).
pub struct Doctor<T: Transport> {
    pub(super) t: Counting<T>,
    pub(super) identity: Identity,
    pub(super) repair: Repair,
    /// The descriptors of each alternate setting opened so far, and which one is selected.
    pub(super) alts: Vec<AltFacts>,
    pub(super) selected: Option<u8>,
}

/// The key slots of a connected DFU device: a session on alt 1 resumed for each operation
/// ([`Doctor::session`]), each one run by [`DfuSlots`].
pub(super) struct DfuAccess<'a, T: Transport> {
    t: &'a mut Counting<T>,
    alts: &'a mut Vec<AltFacts>,
    selected: &'a mut Option<u8>,
    platform: Platform,
    /// The last write's note (the waits the device asked for).
    note: Option<String>,
}

impl<T: Transport> DfuAccess<'_, T> {
    fn layout(&self) -> Result<&dfu::layout::MemoryLayout, DoctorError> {
        self.alts
            .iter()
            .find(|f| f.alternate == KEYS_ALT)
            .map(|f| &f.layout)
            .ok_or(DoctorError::NoBackup)
    }

    fn erase(&self) -> Erase {
        match self.platform.info().erase_before_write {
            true => Erase::Sectors,
            false => Erase::Never,
        }
    }

    async fn session(&mut self) -> Result<Dfu<'_, Counting<T>>, DoctorError> {
        Doctor::session(&mut *self.t, &mut *self.alts, &mut *self.selected, KEYS_ALT).await
    }
}

impl<T: Transport> KeySlots for DfuAccess<'_, T> {
    fn path(&self) -> RepairPath {
        RepairPath::Dfu
    }

    fn read_slot(&mut self, slot: Slot) -> SlotFuture<'_, Zeroizing<Vec<u8>>> {
        Box::pin(async move {
            let mut dfu = self.session().await?;
            DfuSlots(&mut dfu).read_slot(slot).await
        })
    }

    fn write_slot<'a>(&'a mut self, slot: Slot, bytes: &'a [u8]) -> SlotFuture<'a, ()> {
        Box::pin(async move {
            let mut dfu = self.session().await?;
            DfuSlots(&mut dfu).write_slot(slot, bytes).await
        })
    }

    fn write_and_read_back<'a>(
        &'a mut self,
        slot: Slot,
        bytes: &'a [u8],
    ) -> SlotFuture<'a, Zeroizing<Vec<u8>>> {
        Box::pin(async move {
            let mut dfu = self.session().await?;
            let mut slots = DfuSlots(&mut dfu);
            let back = slots.write_and_read_back(slot, bytes).await;
            let note = slots.write_note();
            self.note = note;
            back
        })
    }

    fn key_area(&self) -> Result<Vec<Slot>, DoctorError> {
        Ok(vec![dfu_key_area(self.platform, self.layout()?)?])
    }

    fn write_unit(&self, address: u32, len: usize) -> Result<Slot, DoctorError> {
        dfu_write_unit(self.erase(), self.layout()?, address, len)
    }

    fn zeros_mean_unreachable(&self) -> bool {
        true
    }

    fn write_note(&mut self) -> Option<String> {
        self.note.take()
    }
}

impl<T: Transport> Doctor<T> {
    /// Identifies the device: a Particle device, in DFU mode, with a device ID; opens its keys
    /// alternate setting (which brings the bootloader to dfuIDLE from any state it was left in).
    /// With `expected_id` (from a support link) a different device is refused.
    pub async fn connect(
        transport: T,
        expected_id: Option<&str>,
        cancel: CancelFlag,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Self, DoctorError> {
        on_event(DoctorEvent::Step(Step::Connect));
        let info = transport.info();
        let (platform, mode) = Platform::from_usb_ids(info.vendor_id, info.product_id).ok_or(
            DoctorError::NotParticle {
                vendor_id: info.vendor_id,
                product_id: info.product_id,
            },
        )?;
        let platform_name = platform.info().name;
        if mode == UsbMode::Runtime {
            return Err(DoctorError::NotInDfuMode {
                platform: platform_name,
            });
        }
        let device_id = device_id_of(platform, &info, expected_id)?;
        if let Some(expected) = expected_id
            && !expected.trim().eq_ignore_ascii_case(&device_id)
        {
            return Err(DoctorError::WrongDevice {
                expected: expected.trim().to_ascii_lowercase(),
                got: device_id,
            });
        }
        on_event(DoctorEvent::Log(format!(
            "{platform_name} {device_id} in DFU mode"
        )));
        let mut t = Counting::new(transport);
        let dfu = Dfu::open(&mut t, INTERFACE, KEYS_ALT).await?;
        let facts = dfu.facts();
        check_against_table(platform, &facts)?;
        let identity = Identity {
            platform,
            platform_name,
            device_id,
            transfer_size: dfu.functional().transfer_size,
            keys_layout: dfu.layout().to_string(),
        };
        on_event(DoctorEvent::Log(format!(
            "bootloader ready: transfer size {} bytes, keys in {}",
            identity.transfer_size, identity.keys_layout
        )));
        Ok(Self {
            t,
            repair: Repair::new(identity.device_id.clone(), platform, cancel),
            identity,
            alts: vec![facts],
            selected: Some(KEYS_ALT),
        })
    }

    /// The product the device belongs to (a support link's `product=`): the diagnosis then looks
    /// the device up through `GET /v1/products/:product/devices/:id`, as Particle's clients do for
    /// product devices, and a key upload carries the product's id.
    pub fn set_product(&mut self, product: Option<ProductRef>) {
        self.repair.set_product(product);
    }

    /// The one repair and the key slots it works on, borrowed together.
    pub(super) fn parts(&mut self) -> (&mut Repair, DfuAccess<'_, T>) {
        let slots = DfuAccess {
            t: &mut self.t,
            alts: &mut self.alts,
            selected: &mut self.selected,
            platform: self.identity.platform,
            note: None,
        };
        (&mut self.repair, slots)
    }

    /// A DFU session on `alt`: the first time with [`Dfu::open`] (descriptors read), after that
    /// with [`Dfu::resume`] (selected again only if another alternate was selected in between).
    pub(super) async fn session<'a>(
        t: &'a mut Counting<T>,
        alts: &mut Vec<AltFacts>,
        selected: &mut Option<u8>,
        alt: u8,
    ) -> Result<Dfu<'a, Counting<T>>, DoctorError> {
        let reselect = *selected != Some(alt);
        let dfu = match alts.iter().find(|f| f.alternate == alt) {
            Some(facts) => Dfu::resume(t, facts, reselect).await?,
            None => {
                let info = t.info();
                let dfu = Dfu::open(t, INTERFACE, alt).await?;
                let facts = dfu.facts();
                if let Some((platform, _)) = Platform::from_usb_ids(info.vendor_id, info.product_id)
                {
                    check_against_table(platform, &facts)?;
                }
                alts.push(facts);
                dfu
            }
        };
        *selected = Some(alt);
        Ok(dfu)
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Control transfers and bytes used so far in this session.
    pub fn transfers(&self) -> TransferCounts {
        self.t.counts()
    }

    /// The backup taken by [`Doctor::back_up`], if any.
    pub fn backup(&self) -> Option<&Backup> {
        self.repair.backup()
    }

    /// Reads every key slot of the platform (read-only), classifies them the way the firmware
    /// would, and asks the cloud about the device when someone is signed in.
    pub async fn diagnose<C: CloudApi>(
        &mut self,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Diagnosis, DoctorError> {
        let identity = self.identity.clone();
        let (repair, mut slots) = self.parts();
        let report = repair.read_for_diagnosis(&mut slots, on_event).await?;
        Ok(repair
            .finish_diagnosis(identity, report, cloud, on_event)
            .await)
    }

    /// Keeps the bytes the diagnosis read as the backup: every region a repair may touch. No
    /// transfer is needed: those bytes were read a moment ago and the bootloader cannot change them.
    pub fn back_up(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<&Backup, DoctorError> {
        self.repair.back_up(on_event)
    }

    /// Plans the smallest repair (pure: nothing is written).
    pub fn plan(
        &self,
        diagnosis: &Diagnosis,
        options: &PlanOptions,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Plan, DoctorError> {
        self.repair.plan(diagnosis, options, on_event)
    }

    /// Carries out a plan: writes (each read back and compared, rolled back from the backup on
    /// failure), then sends the public key of the key read back from the device.
    pub async fn repair<C: CloudApi>(
        &mut self,
        plan: &Plan,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<RepairReport, DoctorError> {
        let (repair, mut slots) = self.parts();
        repair.repair(&mut slots, plan, cloud, on_event).await
    }

    /// Sends the public key of the private key on the device again (after a failed or deferred
    /// send): the key is read back from the device, so what the cloud gets is what the device holds.
    pub async fn send_key_from_device<C: CloudApi>(
        &mut self,
        product_id: Option<u32>,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<PublicKeyInfo, DoctorError> {
        let (repair, mut slots) = self.parts();
        repair
            .send_key_from_device(&mut slots, product_id, cloud, on_event)
            .await
    }

    /// Reads back every region of `backup` (the slots a repair may have touched) and compares:
    /// after a failure this decides between "your device was not changed" (retry) and "Restore
    /// backup". Read-only.
    pub async fn check_against_backup(
        &mut self,
        backup: &Backup,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<AfterFailure, DoctorError> {
        let (repair, mut slots) = self.parts();
        repair
            .check_against_backup(&mut slots, backup, on_event)
            .await
    }

    /// Writes the backed-up bytes back where they differ from the device, each write verified
    /// (on memories erased before a write, whole sectors, each one from the backup). Returns the
    /// bytes restored.
    pub async fn restore(
        &mut self,
        backup: &Backup,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<usize, DoctorError> {
        let (repair, mut slots) = self.parts();
        Ok(repair.restore(&mut slots, backup, on_event).await?.bytes)
    }

    /// Reads the whole internal flash (alt 0) for support, with progress.
    pub async fn dump_internal_flash(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<(u32, Vec<u8>), DoctorError> {
        let cancel = self.repair.cancel.clone();
        let mut dfu = Self::session(
            &mut self.t,
            &mut self.alts,
            &mut self.selected,
            INTERNAL_FLASH_ALT,
        )
        .await?;
        let readable: Vec<(u32, u32)> = dfu
            .layout()
            .segments()
            .filter(|s| s.access.readable)
            .map(|s| (s.start, s.end() as u32))
            .collect();
        let start = readable.first().map_or(0, |s| s.0);
        // The contiguous readable span from the first readable segment.
        let mut end = start;
        for (s, e) in &readable {
            if *s == end {
                end = *e;
            }
        }
        let total = (end - start) as usize;
        let mut out = Vec::with_capacity(total);
        while out.len() < total {
            if cancel.is_cancelled() {
                return Err(DoctorError::Cancelled {
                    before: Step::BackUp,
                });
            }
            let n = DUMP_CHUNK.min(total - out.len());
            let chunk = dfu.read(start + out.len() as u32, n).await?;
            out.extend_from_slice(&chunk);
            on_event(DoctorEvent::Progress {
                done: out.len() as u32,
                total: total as u32,
            });
        }
        on_event(DoctorEvent::Log(format!(
            "read {total} bytes of internal flash from {start:#010x}"
        )));
        Ok((start, out))
    }

    /// What a later "Wait longer" needs to ask the cloud about this device again.
    pub fn online_wait(&self) -> OnlineWait {
        self.repair.online_wait()
    }

    /// Leaves DFU mode (the device resets and runs its firmware) and waits for the cloud to report
    /// it online when someone is signed in.
    pub async fn leave_and_verify<C: CloudApi>(
        mut self,
        cloud: CloudContext<'_, C>,
        timeout_ms: u32,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<(VerifyOutcome, TransferCounts), DoctorError> {
        self.repair.check_cancel(Step::Verify)?;
        on_event(DoctorEvent::Step(Step::Verify));
        let dfu = Self::session(&mut self.t, &mut self.alts, &mut self.selected, KEYS_ALT).await?;
        let outcome = dfu.leave(None).await?;
        on_event(DoctorEvent::Log(match outcome {
            LeaveOutcome::Reported(state) => format!("left DFU mode (device reported {state:?})"),
            LeaveOutcome::Disconnected => "left DFU mode (the device reset)".to_owned(),
        }));
        let counts = self.t.counts();
        let Some(token) = cloud.token else {
            return Ok((
                VerifyOutcome::LeftDfu {
                    next_steps: OFFLINE_NEXT_STEPS.to_vec(),
                },
                counts,
            ));
        };
        let verify = self
            .online_wait()
            .wait(cloud.api, token, timeout_ms, &self.repair.cancel, on_event)
            .await;
        Ok((verify, counts))
    }
}

/// What the cloud said about a device ([`look_up`]).
pub(super) struct LookUp {
    pub access: CloudAccess,
    pub summary: Option<CloudDeviceSummary>,
    /// The product whose route answered, so the verify step asks the same.
    pub lookup_product: Option<ProductRef>,
    /// The product id key uploads carry.
    pub cloud_product_id: Option<u32>,
}

/// Asks the cloud about device `id`: through its product's route when the product is known
/// (falling back to `/v1/devices/:id` if the product does not have it), else through
/// `/v1/devices/:id`; then, for a product device, whether the account may send its key. Shared by
/// both repair paths.
pub(super) async fn look_up<C: CloudApi>(
    api: &mut C,
    token: &AccessToken,
    id: &str,
    product: Option<ProductRef>,
    on_event: &mut dyn FnMut(DoctorEvent),
) -> LookUp {
    let id = id.to_owned();
    let mut lookup_product = None;
    let found = match product.clone() {
        None => api.device(token, &id).await,
        Some(product) => match api.product_device(token, &product, &id).await {
            Ok(info) => {
                lookup_product = Some(product);
                Ok(info)
            }
            Err(e @ (ApiError::NotInProduct { .. } | ApiError::ProductNotVisible { .. })) => {
                on_event(DoctorEvent::Log(format!(
                    "cloud: {e}; asking for the device by its ID alone"
                )));
                // The product's answer says more than "not in this account" would.
                api.device(token, &id).await.map_err(|_| e)
            }
            Err(e) => Err(e),
        },
    };
    let info = match found {
        Ok(info) => info,
        Err(e) => {
            on_event(DoctorEvent::Log(format!("cloud: {e}")));
            let mut access = access_from_error(&e);
            // Production may answer a product's team member only through the product's route.
            if let (ApiError::NotYourDevice { .. }, None, CloudAccess::Denied { hint, .. }) =
                (&e, &product, &mut access)
            {
                hint.push_str(NOT_YOURS_PRODUCT_HINT);
            }
            return LookUp {
                access,
                summary: None,
                lookup_product,
                cloud_product_id: None,
            };
        }
    };
    let product_id = info.upload_product_id();
    on_event(DoctorEvent::Log(format!(
        "cloud: device found ({}), {}",
        product_id.map_or("developer device".to_owned(), |p| format!("product {p}")),
        if info.is_online() {
            "online"
        } else {
            "offline"
        }
    )));
    let access = match product_id {
        Some(p) => product_access(api, token, p, on_event).await,
        None => CloudAccess::Allowed { product_id },
    };
    LookUp {
        access,
        summary: Some(CloudDeviceSummary::from(&info)),
        lookup_product,
        cloud_product_id: product_id,
    }
}

/// Generates a key pair in the browser for a slot of `algorithm`, and says so in the log.
pub(super) fn new_key(
    algorithm: KeyAlgorithm,
    on_event: &mut dyn FnMut(DoctorEvent),
) -> Result<keys::DevicePrivateKey, DoctorError> {
    let key = keys::generate_device_key(algorithm)?;
    on_event(DoctorEvent::Log(format!(
        "generated a new {} key pair in this browser (public {})",
        algorithm.name(),
        key.public_key().fingerprint
    )));
    Ok(key)
}

/// The key area a diagnosis reads: every key slot of the platform, widened to whole sectors on
/// memories that must be erased before a write, so the backup covers whatever a write erases. The
/// sectors are the device's, bounded by the platform table's: a device reporting larger ones (say
/// `1*4095Mg`, which would have the page allocate 4 GiB) is refused before anything is read.
pub(super) fn snapshot_range(
    platform: Platform,
    layout: &dfu::layout::MemoryLayout,
) -> Result<Range<u32>, DoctorError> {
    let info = platform.info();
    let range = info.keys_snapshot_range();
    if !info.erase_before_write {
        return Ok(range);
    }
    let widen = |layout: &dfu::layout::MemoryLayout| {
        let start = layout
            .sector_at(range.start)
            .map_or(range.start, |s| s.start);
        let end = layout
            .sector_at(range.end - 1)
            .map_or(u64::from(range.end), |s| {
                u64::from(s.start) + u64::from(s.size)
            });
        (start, end)
    };
    let (start, end) = widen(layout);
    let bound = table_layout(platform, KEYS_ALT)
        .map(|known| widen(&known))
        .unwrap_or((range.start, u64::from(range.end)));
    if start < bound.0 || end > bound.1 {
        return Err(DoctorError::LayoutNotInTable {
            platform: info.name,
            alt: KEYS_ALT,
            layout: layout.to_string(),
        });
    }
    Ok(start..end as u32)
}

/// The layout the platform table documents for `alt`, if it documents that alternate setting.
fn table_layout(platform: Platform, alt: u8) -> Option<dfu::layout::MemoryLayout> {
    let known = platform.info().dfu_alts.iter().find(|a| a.alt == alt)?;
    dfu::layout::MemoryLayout::parse(known.layout).ok()
}

/// Refuses an alternate setting whose descriptors disagree with the platform table before
/// anything is read from it or allocated for it: a `wTransferSize` other than the platform's, or
/// a memory layout reaching outside the memory the table documents for that alternate setting (no
/// size a device reports decides an allocation on its own).
fn check_against_table(platform: Platform, facts: &AltFacts) -> Result<(), DoctorError> {
    let info = platform.info();
    let reported = facts.functional.transfer_size;
    if reported != info.transfer_size {
        return Err(DoctorError::TransferSizeNotInTable {
            platform: info.name,
            reported,
            expected: info.transfer_size,
        });
    }
    let refused = || DoctorError::LayoutNotInTable {
        platform: info.name,
        alt: facts.alternate,
        layout: facts.layout.to_string(),
    };
    let known = table_layout(platform, facts.alternate).ok_or_else(refused)?;
    let lowest = known.segments().map(|s| u64::from(s.start)).min();
    let highest = known.segments().map(|s| s.end()).max();
    let (Some(lowest), Some(highest)) = (lowest, highest) else {
        return Err(refused());
    };
    let inside = facts
        .layout
        .segments()
        .all(|s| u64::from(s.start) >= lowest && s.end() <= highest);
    if inside { Ok(()) } else { Err(refused()) }
}

/// The whole sectors covering `[address, address + len)`.
pub(super) fn sector_span(
    layout: &dfu::layout::MemoryLayout,
    address: u32,
    len: usize,
) -> Result<Range<u32>, DoctorError> {
    let sectors = layout
        .sectors_in(address, len as u32)
        .map_err(|_| dfu::Error::OutOfRange { address, len })?;
    match (sectors.first(), sectors.last()) {
        (Some(first), Some(last)) => Ok(first.start..last.start + last.size),
        _ => Err(dfu::Error::OutOfRange { address, len }.into()),
    }
}

/// Added to "not in this account" when no product was given.
const NOT_YOURS_PRODUCT_HINT: &str = " If it is a product device and you are on the product's \
     team, open the page with its product in the address (…/?product=12345, or the product's \
     slug) and connect again: the cloud may answer team members only through the product.";

/// Whether the signed-in account may send keys for a device of product `product_id`: a team role
/// that positively may not (View-only, Support) stops the plan before anything is written. An
/// answer the page cannot read does not: the upload itself then says, and the device keeps a
/// verified key whose send can be retried.
async fn product_access<C: CloudApi>(
    api: &mut C,
    token: &AccessToken,
    product_id: u32,
    on_event: &mut dyn FnMut(DoctorEvent),
) -> CloudAccess {
    let allowed = CloudAccess::Allowed {
        product_id: Some(product_id),
    };
    match api.product_role(token, product_id).await {
        Ok(Some(role)) => match cloud::role_may_send_keys(&role) {
            Some(false) => CloudAccess::Denied {
                reason: format!(
                    "your role in product {product_id} is {role}, which may not send device keys"
                ),
                hint: "Ask a product Administrator to make you a Developer, or to run the repair \
                       with their account."
                    .to_owned(),
            },
            Some(true) => {
                on_event(DoctorEvent::Log(format!(
                    "cloud: your role in product {product_id} is {role}: it may send keys"
                )));
                allowed
            }
            None => {
                on_event(DoctorEvent::Log(format!(
                    "cloud: your role in product {product_id} ({role}) is unknown to this page"
                )));
                allowed
            }
        },
        Ok(None) => {
            on_event(DoctorEvent::Log(format!(
                "cloud: you can see this device but are not on product {product_id}'s team"
            )));
            allowed
        }
        Err(e) => {
            on_event(DoctorEvent::Log(format!(
                "cloud: could not check your role in product {product_id}: {e}"
            )));
            allowed
        }
    }
}

/// The device ID of a device in DFU mode: from its USB serial number, or for a Core (whose
/// bootloader reports a number derived from the ID) the expected ID once the serial confirms it.
fn device_id_of(
    platform: Platform,
    info: &crate::usb::DeviceInfo,
    expected_id: Option<&str>,
) -> Result<String, DoctorError> {
    if let Some(id) = info.device_id() {
        return Ok(id);
    }
    if platform != Platform::Core {
        return Err(DoctorError::NoDeviceId);
    }
    // The serial comes from the device: keep no more of it than a message needs.
    let serial: String = info
        .serial_number
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches(['\0', ' '])
        .chars()
        .take(32)
        .collect();
    let Some(expected) = expected_id.map(str::trim).filter(|e| !e.is_empty()) else {
        return Err(DoctorError::CoreNeedsDeviceId { serial });
    };
    match crate::device::core_dfu_serial(expected) {
        Some(derived) if derived.eq_ignore_ascii_case(&serial) => Ok(expected.to_ascii_lowercase()),
        _ => Err(DoctorError::CoreSerialMismatch {
            expected: expected.to_ascii_lowercase(),
            serial,
        }),
    }
}

fn access_from_error(e: &ApiError) -> CloudAccess {
    let (reason, hint) = (e.to_string(), e.hint().to_owned());
    match e {
        ApiError::Network { .. }
        | ApiError::Redirected
        | ApiError::Timeout { .. }
        | ApiError::Server { .. }
        | ApiError::RateLimited
        | ApiError::Unexpected { .. }
        | ApiError::WrongDeviceAnswered { .. } => CloudAccess::Unavailable { reason, hint },
        _ => CloudAccess::Denied { reason, hint },
    }
}

pub(super) fn private_key_word(status: &PrivateKeyStatus) -> &'static str {
    match status {
        PrivateKeyStatus::Blank => "blank",
        PrivateKeyStatus::Corrupt { .. } => "corrupt",
        PrivateKeyStatus::Unusable { .. } => "unusable by the firmware",
        PrivateKeyStatus::Valid { .. } => "valid",
        PrivateKeyStatus::NotRead => "not read",
    }
}

pub(super) fn server_key_word(report: &DctReport) -> &'static str {
    use crate::keys::diagnose::ServerKeyStatus;
    match report.server_key {
        ServerKeyStatus::Blank => "blank (built-in key used)",
        ServerKeyStatus::ParticleProduction => "Particle's",
        ServerKeyStatus::Custom { .. } => "custom",
        ServerKeyStatus::Corrupt { .. } => "corrupt",
        ServerKeyStatus::NotRead => "not read",
    }
}

/// The algorithm name the cloud's provisioning route takes for a device key algorithm.
pub(super) fn cloud_algorithm(algorithm: KeyAlgorithm) -> cloud::KeyAlgorithm {
    match algorithm {
        KeyAlgorithm::EcP256 => cloud::KeyAlgorithm::Ecc,
        _ => cloud::KeyAlgorithm::Rsa,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core_layout(text: &str) -> dfu::layout::MemoryLayout {
        dfu::layout::MemoryLayout::parse(text).unwrap()
    }

    #[test]
    fn the_cores_key_area_is_widened_only_to_sectors_the_platform_table_knows() {
        let known = core_layout("@ SPI Flash: SST25x  /0x00000000/512*004Kg");
        assert_eq!(
            snapshot_range(Platform::Core, &known).unwrap(),
            0x1000..0x3000
        );
        // One 2 MiB sector lies inside the documented memory, but widening to it would read and
        // hold 2 MiB; `1*4095Mg` would have allocated 4 GiB.
        for hostile in [
            "@ SPI Flash: SST25x  /0x00000000/1*2048Kg",
            "@ SPI Flash: SST25x  /0x00000000/1*4095Mg",
        ] {
            let err = snapshot_range(Platform::Core, &core_layout(hostile)).unwrap_err();
            assert!(
                matches!(err, DoctorError::LayoutNotInTable { alt: 1, .. }),
                "{hostile}: {err:?}"
            );
        }
        // Smaller sectors than the table's are fine: the backup still covers every erase.
        let small = core_layout("@ SPI Flash: SST25x  /0x00000000/2048*001Kg");
        assert_eq!(
            snapshot_range(Platform::Core, &small).unwrap(),
            0x1000..0x2400
        );
    }
}
