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

use super::backup::Backup;
use super::error::DoctorError;
use super::plan::{Plan, PlanOptions};
use super::repair::Repair;
use super::running::{RunningDevice, RunningFacts};
use super::session::{
    CloudContext, Diagnosis, Identity, OFFLINE_NEXT_STEPS, RepairReport, VerifyOutcome,
};
use super::slots::{KeySlots, RUNTIME_PRIVATE, RepairPath, RuntimeSlots};
use super::{CancelFlag, DoctorEvent, Step};
use crate::cloud::{self, ApiError, CloudApi, ProductRef};
use crate::device::Platform;
use crate::runtime::keys::ServerProtocol;
use crate::runtime::{self, Channel, ConnectionStatus};
use crate::usb::{Counting, TransferCounts, Transport};
use serde::Serialize;

/// How long the first key request may stay PENDING before the page concludes the device is busy
/// reaching the cloud and sends request 70 (listening mode) to stop that attempt.
pub const BUSY_PENDING_MS: u32 = 5_000;

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

/// A repair session with a running Photon or P1 over control requests: the one repair
/// ([`Repair`]) on the slots of requests 211/210 ([`RuntimeSlots`]), and what only this path does
/// (stopping a busy device with 70, the reset 40 and the device's own status 300).
pub struct RuntimeDoctor<T: Transport> {
    t: Counting<T>,
    facts: RunningFacts,
    pub(super) repair: Repair,
    /// Request 70 was sent: the LED blinks dark blue until the reset.
    listening: bool,
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
            repair: Repair::new(facts.device_id.clone(), facts.platform, cancel),
            facts,
            listening: false,
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
            slots.read_slot(RUNTIME_PRIVATE).await
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
                self.parts().1.read_slot(RUNTIME_PRIVATE).await?
            }
            other => other?,
        };
        self.repair.hold(RUNTIME_PRIVATE, slot);
        Ok(())
    }

    /// The one repair and the key slots it works on, borrowed together.
    pub(super) fn parts(&mut self) -> (&mut Repair, RuntimeSlots<'_, Counting<T>>) {
        let slots = RuntimeSlots {
            channel: Channel::resume(&mut self.t),
            platform: self.facts.platform,
        };
        (&mut self.repair, slots)
    }

    /// Gives the running device back for the DFU path (request 50) after a key request failed,
    /// only while nothing has been written; `Err(self)` once a write was sent.
    pub fn fall_back(self) -> Result<RunningDevice<T>, Box<Self>> {
        if self.repair.wrote {
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
        self.repair.online_wait()
    }

    pub fn backup(&self) -> Option<&Backup> {
        self.repair.backup()
    }

    /// As [`super::Doctor::set_product`].
    pub fn set_product(&mut self, product: Option<ProductRef>) {
        self.repair.set_product(product);
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

    /// Reads the key slots (211: private key, public key, server key with the address block) as
    /// the one repair does, and the address as the firmware parses it (221), and asks the cloud.
    pub async fn diagnose<C: CloudApi>(
        &mut self,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Diagnosis, DoctorError> {
        let identity = self.identity();
        let (repair, mut slots) = self.parts();
        let report = repair.read_for_diagnosis(&mut slots, on_event).await?;
        let address = slots
            .channel
            .get_server_address(ServerProtocol::Tcp)
            .await?;
        on_event(DoctorEvent::Log(format!(
            "the firmware reads the server address as {} (request 221)",
            address.tcp_destination()
        )));
        Ok(repair
            .finish_diagnosis(identity, report, cloud, on_event)
            .await)
    }

    /// Keeps the slots a repair may write (private key, server key and address) as the backup.
    pub fn back_up(
        &mut self,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<&Backup, DoctorError> {
        self.repair.back_up(on_event)
    }

    /// Plans exactly as in DFU mode: the same code.
    pub fn plan(
        &self,
        diagnosis: &Diagnosis,
        options: &PlanOptions,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<Plan, DoctorError> {
        self.repair.plan(diagnosis, options, on_event)
    }

    /// The one repair over requests 210 (whole slots) and 211 (read back): each write compared
    /// and rolled back from the backup on failure; then the public key derived from the read-back
    /// private key is sent.
    pub async fn repair<C: CloudApi>(
        &mut self,
        plan: &Plan,
        cloud: CloudContext<'_, C>,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<RepairReport, DoctorError> {
        let (repair, mut slots) = self.parts();
        repair.repair(&mut slots, plan, cloud, on_event).await
    }

    /// Writes the backed-up slots back where they differ from the device, each verified. Returns
    /// the slots restored.
    pub async fn restore(
        &mut self,
        backup: &Backup,
        on_event: &mut dyn FnMut(DoctorEvent),
    ) -> Result<usize, DoctorError> {
        let (repair, mut slots) = self.parts();
        Ok(repair.restore(&mut slots, backup, on_event).await?.units)
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
        self.repair.check_cancel(Step::Verify)?;
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
                        self.repair.lookup_product.as_ref(),
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
            if self.repair.cancel.is_cancelled() {
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

/// How long the second witness's request 300 may stay PENDING: it only decorates what the cloud
/// said.
pub const WITNESS_PENDING_MS: u32 = 3_000;
/// How long the page looks for the device's runtime personality after the repair (it resets,
/// boots and enumerates again; the cloud may report it online first): 10 s, unverified on
/// hardware.
pub const WITNESS_APPEARS_WITHIN_MS: u32 = 10_000;

/// The device's own view of its cloud connection (request 300), read from `t`, its runtime
/// personality once it restarted after a repair: a second witness beside the cloud API, never
/// required. `None` unless `t` is device `device_id` running its firmware and it answers.
pub async fn device_witness<T: Transport>(
    t: &mut T,
    device_id: &str,
    on_event: &mut dyn FnMut(DoctorEvent),
) -> Option<ConnectionStatus> {
    let info = t.info();
    let (_, mode) = crate::device::Platform::from_usb_ids(info.vendor_id, info.product_id)?;
    let same = info
        .device_id()
        .is_some_and(|id| id.eq_ignore_ascii_case(device_id.trim()));
    if mode != crate::device::UsbMode::Runtime || !same {
        return None;
    }
    let status = Channel::open(t)
        .await
        .ok()?
        .with_max_pending_ms(WITNESS_PENDING_MS)
        .cloud_status()
        .await
        .ok()?;
    on_event(DoctorEvent::Log(format!(
        "the device reports its cloud connection: {status:?} (request 300)"
    )));
    Some(status)
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
