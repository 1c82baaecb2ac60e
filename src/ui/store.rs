//! The page's state and the one function each button calls.
//!
//! `App` creates one [`Store`] and provides it as context; every view reads it with
//! `expect_context`. The store's methods run the doctor's steps in order and write what they
//! return (and the doctor's events) into signals; they decide nothing about devices themselves.
//! Things that are not `Send` (the doctor with its WebUSB transport, the simulated mode, the token)
//! live in local `StoredValue`s and are taken out while a step runs, so no borrow spans an await.

use crate::cloud::http::HttpCloud;
use crate::cloud::{
    AccessToken, ApiError, ApiRequest, ApiResponse, CloudApi, HeldToken, InputField, Issuer,
    Session, TOKEN_STORAGE_KEY,
};
use crate::device::UsbMode;
use crate::doctor::link::{LinkError, SupportLink};
use crate::doctor::report::{self, ErrorHelp};
use crate::doctor::{
    AfterFailure, Backup, CancelFlag, CloudContext, Command, Connected, Diagnosis, Doctor,
    DoctorError, DoctorEvent, EnterDfuOutcome, Identity, OnlineWait, PathChoice, Plan, PlanOptions,
    RepairReport, RunningDevice, RunningFacts, RuntimeDoctor, SendOutcome, ServerChoice, Step,
    SwitchTicket, VerifyOutcome, connect_any, product_field, server_address,
    wizard::{self, Facts, Switch},
};
use crate::sim::faults::{self, Fault};
use crate::ui::sim_module::{self, SimCloudLink, SimHandle};
use crate::ui::split::ChunkNotLoaded;
use crate::ui::widgets::{download, read_picked};
use crate::usb::TransportError;
use crate::usb::webusb::{self, WebUsbTransport};
use crate::usb::webusb::{WebSerialPort, serial_supported};
use leptos::html::Input;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::pin::Pin;

/// How long the page waits for the cloud to report a repaired device online.
pub const VERIFY_TIMEOUT_MS: u32 = 90_000;

/// The cloud the page talks to: Particle's (or a loopback test cloud) over HTTP, or the simulated
/// mode's (in its own module, `sim_module`). Cheap to clone; clones share state.
#[derive(Clone)]
pub enum PageCloud {
    Http(HttpCloud),
    Sim(SimCloudLink),
}

impl PageCloud {
    /// Which cloud this is, as a token records its issuer.
    pub fn issuer(&self) -> Issuer {
        match self {
            Self::Http(c) => Issuer::Api(c.base().clone()),
            Self::Sim(c) => c.issuer.clone(),
        }
    }
}

impl CloudApi for PageCloud {
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        match self {
            Self::Http(c) => c.execute(request).await,
            Self::Sim(c) => c.execute(request).await,
        }
    }

    async fn sleep(&mut self, ms: u32) {
        match self {
            Self::Http(c) => c.sleep(ms).await,
            Self::Sim(c) => c.sleep(ms).await,
        }
    }

    fn now_ms(&self) -> u64 {
        match self {
            Self::Http(c) => c.now_ms(),
            Self::Sim(c) => c.now_ms(),
        }
    }
}

/// The page's cloud as the steps use it: an answer that refuses the held token signs the page out
/// (whatever step asked), so the panel never says "Signed in as …" with a dead token.
struct WatchedCloud {
    cloud: PageCloud,
    store: Store,
}

impl CloudApi for WatchedCloud {
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let resp = self.cloud.execute(request).await?;
        let refused = self.store.held.with_value(|h| {
            h.as_ref()
                .is_some_and(|(held, _)| held.refused_by(request, &resp))
        });
        if refused {
            self.store.token_refused();
        }
        Ok(resp)
    }

    async fn sleep(&mut self, ms: u32) {
        self.cloud.sleep(ms).await;
    }

    fn now_ms(&self) -> u64 {
        self.cloud.now_ms()
    }
}

/// What a sign-in request got, applied by [`Store::signing_in`] unless it was cancelled.
enum SignedIn {
    /// A session, with who signed in (as shown) and the cloud that issued it.
    Session(Session, String, PageCloud),
    /// The account uses two-step verification: the MFA token and the e-mail address.
    CodeNeeded(String, String),
}

/// Where an error panel shows up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPlace {
    SignIn,
    Steps,
    Advanced,
    Simulation,
}

/// The simulated mode as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimStatus {
    Off,
    Starting,
    Ready,
}

/// Everything the page shows. `Copy`: every field is an arena handle.
#[derive(Clone, Copy)]
pub struct Store {
    pub link: StoredValue<SupportLink>,
    /// What was wrong with the support link (cause, hint), if anything: known once, at start.
    pub link_error: StoredValue<Option<(String, String)>>,
    cloud: StoredValue<PageCloud, LocalStorage>,
    /// What the test-cloud banner names; `None` for Particle's cloud.
    pub test_cloud: RwSignal<Option<String>>,
    sim: StoredValue<Option<SimHandle>, LocalStorage>,
    pub sim_status: RwSignal<SimStatus>,
    pub fault: RwSignal<Fault>,
    /// The simulated Photon starts in normal mode (blinking cyan) instead of DFU mode.
    pub sim_normal_mode: RwSignal<bool>,
    /// The simulated platform: "photon", or "core" / "electron" from a `sim=` link.
    pub sim_platform: RwSignal<&'static str>,
    /// The device ID typed in the Connect step's field for a Core (checked): used as a support
    /// link's would be, for a Core only.
    typed_device: StoredValue<Option<String>>,
    /// Why what the device-ID field holds is not a device ID (cause, hint), shown next to it.
    pub device_id_problem: RwSignal<Option<(String, String)>>,
    /// A device picked in normal mode that the repair takes to DFU mode (request 50, 14400 baud).
    running: StoredValue<Option<RunningDevice<WebUsbTransport>>, LocalStorage>,
    /// The repair over control requests in normal mode, when `RuntimeDoctor::choose` picked it.
    runtime: StoredValue<Option<RuntimeDoctor<WebUsbTransport>>, LocalStorage>,
    /// The device sent to DFU mode: only it is accepted at the second prompt.
    ticket: StoredValue<Option<SwitchTicket>>,
    /// What a device picked in normal mode said about itself.
    pub running_facts: RwSignal<Option<RunningFacts>>,
    /// What the Connect step offers for a device in normal mode.
    pub switch: RwSignal<Option<Switch>>,
    /// The signed-in token, with the client of the cloud that issued it (the revoke goes there).
    held: StoredValue<Option<(HeldToken, PageCloud)>, LocalStorage>,
    mfa_token: StoredValue<Option<String>, LocalStorage>,
    pub mfa_pending: RwSignal<bool>,
    /// The sign-in field left empty, shown next to it (nothing was sent).
    pub missing_input: RwSignal<Option<InputField>>,
    mfa_email: RwSignal<String>,
    /// Who is signed in, as shown ("demo@example.com", or "an access token").
    pub signed_in: RwSignal<Option<String>>,
    pub remember: RwSignal<bool>,
    pub diagnose_only: RwSignal<bool>,
    pub busy: RwSignal<bool>,
    pub step: RwSignal<Option<Step>>,
    pub progress: RwSignal<Option<(u32, u32)>>,
    pub log: RwSignal<Vec<String>>,
    doctor: StoredValue<Option<Doctor<WebUsbTransport>>, LocalStorage>,
    pub connected: RwSignal<bool>,
    pub identity: RwSignal<Option<Identity>>,
    pub diagnosis: RwSignal<Option<Diagnosis>>,
    backup: StoredValue<Option<Backup>>,
    /// The names of the backup files, once a backup is held.
    pub backup_files: RwSignal<Vec<String>>,
    pub options: RwSignal<PlanOptions>,
    pub plan: RwSignal<Option<Plan>>,
    pub repair: RwSignal<Option<RepairReport>>,
    pub verify: RwSignal<Option<VerifyOutcome>>,
    /// The device's own view of its cloud connection (request 300) after the repair, where the
    /// page may open its runtime personality: a second witness beside the cloud, never required.
    pub device_status: RwSignal<Option<crate::runtime::ConnectionStatus>>,
    pub error: RwSignal<Option<(ErrorPlace, ErrorHelp)>>,
    /// A write failed and could not be undone: once reconnected, the doctor reads the slots back
    /// and the page offers Retry or "Restore backup" ([`Store::after_failure`]).
    pub needs_restore: RwSignal<bool>,
    /// What the read-back after a failure found: unchanged (retry) or changed (restore).
    pub after_failure: RwSignal<Option<AfterFailure>>,
    /// The running doctor's cancel flag: Cancel sets it, the doctor stops before its next step.
    cancel: StoredValue<CancelFlag, LocalStorage>,
    /// Cancel was pressed during the current wait.
    pub cancelling: RwSignal<bool>,
    /// The last result of an advanced-panel command.
    pub advanced_result: RwSignal<Option<String>>,
    /// The wizard step the user moved to (`wizard::open` decides what is open).
    pub view: RwSignal<Step>,
    /// Repair was pressed on this device (kept through a reconnect while a failed write waits).
    pub repair_started: RwSignal<bool>,
    /// The id of the element that gets the focus once rendered (what needs the user next).
    pub focus: RwSignal<Option<&'static str>>,
    /// The question the advanced panel asks before a write, and the command it would run.
    pub pending: RwSignal<Option<&'static str>>,
    pending_command: StoredValue<Option<Command>, LocalStorage>,
    /// A custom-server field that needs another value, and what to enter (nothing was sent).
    pub server_problem: RwSignal<Option<(wizard::ServerField, &'static str)>>,
    /// The current sign-in attempt; Cancel moves it on, so a late answer is dropped.
    sign_in_attempt: StoredValue<u32>,
    /// A sign-in request runs.
    pub signing: RwSignal<bool>,
    /// What "Wait longer" needs once the device left DFU mode.
    online_wait: StoredValue<Option<OnlineWait>>,
    /// Seconds the page has waited for the cloud in this wait (shown while it waits).
    pub waited_s: RwSignal<u32>,
    ticker: StoredValue<Option<IntervalHandle>, LocalStorage>,
}

impl Store {
    /// A store for the page at `query` (`location.search`).
    pub fn new(query: &str) -> Self {
        let (link, link_error) = match crate::doctor::link::parse(query, &faults::NAMES) {
            Ok(link) => (link, None),
            Err(e) => (SupportLink::default(), Some(link_problem(&e))),
        };
        let base = link.api.clone().unwrap_or_default();
        let test_cloud = (!base.is_production()).then(|| base.as_str().to_owned());
        let fault = link.fault.and_then(Fault::from_name).unwrap_or(Fault::None);
        let link_sim = link.sim.unwrap_or("photon");
        let store = Self {
            link: StoredValue::new(link),
            link_error: StoredValue::new(link_error),
            cloud: StoredValue::new_local(PageCloud::Http(HttpCloud::new(base))),
            test_cloud: RwSignal::new(test_cloud),
            sim: StoredValue::new_local(None),
            sim_status: RwSignal::new(SimStatus::Off),
            fault: RwSignal::new(fault),
            sim_normal_mode: RwSignal::new(false),
            sim_platform: RwSignal::new(link_sim),
            typed_device: StoredValue::new(None),
            device_id_problem: RwSignal::new(None),
            running: StoredValue::new_local(None),
            runtime: StoredValue::new_local(None),
            ticket: StoredValue::new(None),
            running_facts: RwSignal::new(None),
            switch: RwSignal::new(None),
            held: StoredValue::new_local(None),
            mfa_token: StoredValue::new_local(None),
            mfa_pending: RwSignal::new(false),
            missing_input: RwSignal::new(None),
            mfa_email: RwSignal::new(String::new()),
            signed_in: RwSignal::new(None),
            remember: RwSignal::new(false),
            diagnose_only: RwSignal::new(false),
            busy: RwSignal::new(false),
            step: RwSignal::new(None),
            progress: RwSignal::new(None),
            log: RwSignal::new(Vec::new()),
            doctor: StoredValue::new_local(None),
            connected: RwSignal::new(false),
            identity: RwSignal::new(None),
            diagnosis: RwSignal::new(None),
            backup: StoredValue::new(None),
            backup_files: RwSignal::new(Vec::new()),
            options: RwSignal::new(PlanOptions::default()),
            plan: RwSignal::new(None),
            repair: RwSignal::new(None),
            verify: RwSignal::new(None),
            error: RwSignal::new(None),
            needs_restore: RwSignal::new(false),
            after_failure: RwSignal::new(None),
            cancel: StoredValue::new_local(CancelFlag::new()),
            cancelling: RwSignal::new(false),
            advanced_result: RwSignal::new(None),
            device_status: RwSignal::new(None),
            view: RwSignal::new(Step::Connect),
            repair_started: RwSignal::new(false),
            focus: RwSignal::new(None),
            online_wait: StoredValue::new(None),
            sign_in_attempt: StoredValue::new(0),
            pending: RwSignal::new(None),
            pending_command: StoredValue::new_local(None),
            server_problem: RwSignal::new(None),
            signing: RwSignal::new(false),
            waited_s: RwSignal::new(0),
            ticker: StoredValue::new_local(None),
        };
        if store.link.with_value(|l| l.sim.is_some()) {
            store.start_simulation();
        } else {
            store.restore_remembered_token();
        }
        store
    }

    // --- events, log and errors ------------------------------------------------------------------

    pub fn on_event(self, event: DoctorEvent) {
        match event {
            DoctorEvent::Step(s) => {
                self.step.set(Some(s));
                self.progress.set(None);
                if s == Step::Verify {
                    self.start_ticker();
                }
            }
            DoctorEvent::Progress { done, total } => self.progress.set(Some((done, total))),
            DoctorEvent::Log(line) => self.log_line(line),
        }
    }

    pub fn log_line(self, line: impl Into<String>) {
        self.log.update(|l| l.push(line.into()));
    }

    /// What the wizard reads (tracked: a view calling this follows every fact).
    pub fn facts(self) -> Facts {
        Facts {
            connected: self.connected.get(),
            identified: self.identity.with(Option::is_some),
            diagnosed: self.diagnosis.with(Option::is_some),
            backed_up: self.diagnosis.with(Option::is_some)
                && self.backup_files.with(|f| !f.is_empty()),
            plan_can_run: self.plan.with(|p| p.as_ref().is_some_and(Plan::can_run)),
            repair_started: self.repair_started.get(),
            repaired: self.repair.with(Option::is_some),
            verified: self.verify.with(Option::is_some),
            busy: self.busy.get(),
            needs_reconnect: self.needs_restore.get(),
        }
    }

    /// The step the wizard shows open.
    pub fn open_step(self) -> Step {
        wizard::open(&self.facts(), self.step.get(), self.view.get())
    }

    /// "Continue" or "Back": opens `to` and moves the focus to its heading.
    pub fn go(self, to: Step) {
        self.view.set(to);
        self.focus.set(Some("open-step"));
    }

    fn fail(self, place: ErrorPlace, e: &DoctorError) {
        if place == ErrorPlace::Steps {
            // The error shows inside the step that failed.
            self.view
                .set(self.step.get_untracked().unwrap_or(Step::Connect));
        }
        self.focus.set(Some("error"));
        if let Some(help) = report::error_help(e) {
            if help.extra == Some(report::ExtraHelp::DeviceIdNeeded) {
                // The field next to the hint needs the user, not the panel.
                self.focus.set(Some(wizard::DEVICE_ID_FIELD));
            }
            self.log_line(format!("error: {}", help.cause));
            if matches!(help.extra, Some(report::ExtraHelp::RestoreNeeded)) {
                self.needs_restore.set(true);
            }
            self.error.set(Some((place, help)));
        }
    }

    fn fail_text(self, place: ErrorPlace, cause: String, hint: String) {
        self.focus.set(Some("error"));
        self.log_line(format!("error: {cause}"));
        self.error.set(Some((
            place,
            ErrorHelp {
                cause: report::capitalise(&cause),
                hint,
                extra: None,
            },
        )));
    }

    /// A step's code did not arrive ([`crate::ui::split`]): nothing ran, and `next` (pressing the
    /// step's button again) tries once more.
    fn chunk_not_loaded(self, place: ErrorPlace, step: &str, next: &str) {
        if place == ErrorPlace::Steps {
            self.view
                .set(self.step.get_untracked().unwrap_or(Step::Connect));
        }
        self.fail_text(
            place,
            format!("the page could not download its code for {step}"),
            format!(
                "Nothing was read or written. Check this computer's internet connection (the \
                 page downloads this part of itself the first time it is needed), then {next}."
            ),
        );
    }

    fn begin(self) -> bool {
        if self.busy.get_untracked() {
            return false;
        }
        self.cancel.with_value(CancelFlag::reset);
        self.cancelling.set(false);
        self.busy.set(true);
        self.error.set(None);
        true
    }

    /// Counts the seconds of a wait for the cloud, until [`Store::end`].
    fn start_ticker(self) {
        self.stop_ticker();
        self.waited_s.set(0);
        let handle = set_interval_with_handle(
            move || self.waited_s.update(|s| *s += 1),
            std::time::Duration::from_secs(1),
        );
        self.ticker.set_value(handle.ok());
    }

    fn stop_ticker(self) {
        if let Some(h) = self.ticker.try_update_value(Option::take).flatten() {
            h.clear();
        }
    }

    fn end(self) {
        self.stop_ticker();
        self.busy.set(false);
        self.cancelling.set(false);
        self.progress.set(None);
    }

    /// "Cancel" while the page works: the doctor stops before its next step (a write under way
    /// finishes, or is undone, first), and stops waiting for the cloud between two polls.
    pub fn cancel(self) {
        if !self.busy.get_untracked() || self.cancelling.get_untracked() {
            return;
        }
        if self.signing.get_untracked() {
            // A sign-in stops at once: its answer, when it comes, is dropped.
            self.sign_in_attempt.update_value(|a| *a += 1);
            self.signing.set(false);
            self.log_line("Sign-in cancelled.");
            self.end();
            return;
        }
        self.cancel.with_value(CancelFlag::cancel);
        self.cancelling.set(true);
        self.log_line("Cancelling: the page stops before its next step.");
    }

    // --- simulated mode --------------------------------------------------------------------------

    /// "Try with a simulated Photon", or a `sim=` link: plugs in a simulated Photon with the
    /// chosen fault and switches to the simulated cloud.
    pub fn start_simulation(self) {
        let fault = self.fault.get_untracked();
        if let Some(sim) = self.sim.get_value() {
            // The cloud stays (and with it the sign-in); only the device changes.
            self.replace_sim_device(&sim, fault);
            return;
        }
        self.sim_status.set(SimStatus::Starting);
        let platform = self.sim_platform.get_untracked();
        self.log_line(format!(
            "Preparing the simulated {} and its cloud…",
            sim_name(platform)
        ));
        let api = self.link.with_value(|l| l.api.clone());
        spawn_local(async move {
            let normal_mode = self.sim_normal_mode.get_untracked();
            match sim_module::start(fault, normal_mode, api.as_ref(), platform).await {
                Ok(sim) => {
                    self.test_cloud.set(Some(sim.cloud_label()));
                    self.cloud.set_value(PageCloud::Sim(sim.cloud()));
                    self.sim.set_value(Some(sim.clone()));
                    if self.held.with_value(Option::is_some) && self.current_token().is_none() {
                        self.log_line(
                            "The sign-in is for another cloud, so it is not sent to the simulated \
                             one (the simulated steps run without it). Sign out, then sign in with \
                             the demo account to send keys in the simulated mode.",
                        );
                    }
                    self.sim_status.set(SimStatus::Ready);
                    self.step.set(Some(Step::Connect));
                    if platform == "core" {
                        self.log_line(
                            "Simulated Core ready (in DFU mode; it does not report its device ID). \
                             Press Connect device.",
                        );
                        return;
                    }
                    if platform == "electron" {
                        self.log_line(
                            "Simulated Electron ready (in DFU mode, with blank EC keys). Press \
                             Connect device.",
                        );
                        return;
                    }
                    // A problem picked while the Photon was starting must be the one it has.
                    let picked = self.fault.get_untracked();
                    if picked != fault {
                        self.replace_sim_device(&sim, picked);
                        return;
                    }
                    self.log_line(format!(
                        "Simulated Photon ready ({}). Sign in with the demo account, then press \
                         Connect device.",
                        fault.label()
                    ));
                }
                Err((message, hint)) => {
                    self.sim_status.set(SimStatus::Off);
                    self.fail_text(ErrorPlace::Simulation, message, hint);
                }
            }
        });
    }

    /// The fault picker changed.
    pub fn choose_fault(self, fault: Fault) {
        self.fault.set(fault);
        if let Some(sim) = self.sim.get_value() {
            self.replace_sim_device(&sim, fault);
        }
    }

    /// The start option "in normal mode, blinking cyan" changed.
    pub fn choose_sim_normal_mode(self, on: bool) {
        self.sim_normal_mode.set(on);
        if let Some(sim) = self.sim.get_value() {
            self.replace_sim_device(&sim, self.fault.get_untracked());
        }
    }

    /// Whether the simulated Photon is in normal mode.
    pub fn sim_in_normal_mode(self) -> bool {
        self.sim_normal_mode.get() || self.fault.get().normal_mode_only()
    }

    fn replace_sim_device(self, sim: &SimHandle, fault: Fault) {
        match sim.changed(fault, self.sim_normal_mode.get_untracked()) {
            Ok(next) => {
                self.forget_device();
                self.repair_started.set(false);
                self.needs_restore.set(false);
                self.view.set(Step::Connect);
                self.cloud.set_value(PageCloud::Sim(next.cloud()));
                self.sim.set_value(Some(next));
                self.step.set(Some(Step::Connect));
                self.log_line(format!("Simulated Photon ready ({}).", fault.label()));
            }
            Err((message, hint)) => self.fail_text(ErrorPlace::Simulation, message, hint),
        }
    }

    /// "Leave the simulation": the browser's own USB and the page's own cloud again; a sign-in
    /// at the simulated cloud is signed out (it is worth nothing elsewhere).
    pub fn leave_simulation(self) {
        if self.busy.get_untracked() {
            return;
        }
        if let Some(sim) = self.sim.try_update_value(Option::take).flatten() {
            sim.stop();
        }
        let base = self.link.with_value(|l| l.api.clone()).unwrap_or_default();
        self.test_cloud
            .set((!base.is_production()).then(|| base.as_str().to_owned()));
        self.cloud.set_value(PageCloud::Http(HttpCloud::new(base)));
        self.sim_status.set(SimStatus::Off);
        // "Try with a simulated Photon" starts a Photon again, whatever the link started.
        self.sim_platform.set("photon");
        self.forget_device();
        self.repair_started.set(false);
        self.needs_restore.set(false);
        self.backup_files.set(Vec::new());
        self.backup.set_value(None);
        if self.held.with_value(Option::is_some) && self.current_token().is_none() {
            self.forget_sign_in(false);
        }
        self.step.set(None);
        self.view.set(Step::Connect);
        self.focus.set(Some("connect"));
        self.log_line("Left the simulation: Connect device now reaches a real device.");
    }

    /// In the simulated mode, unplugs the simulated Photon and plugs it in again in DFU mode.
    fn replug_sim(self) {
        self.sim.with_value(|s| {
            if let Some(sim) = s {
                sim.replug();
            }
        });
    }

    pub fn in_simulation(self) -> bool {
        self.sim_status.get() == SimStatus::Ready
    }

    // --- sign-in ---------------------------------------------------------------------------------

    /// Runs one sign-in `request` (a future not yet started) while busy and applies what it
    /// returns, unless Cancel was pressed meanwhile (then a session it got is signed out again);
    /// an error shows in the sign-in panel. Boxed, so this code is in the page once.
    fn signing_in(self, request: Pin<Box<dyn Future<Output = Result<SignedIn, ApiError>>>>) {
        if !self.begin() {
            return;
        }
        self.missing_input.set(None);
        let attempt = self.sign_in_attempt.get_value() + 1;
        self.sign_in_attempt.set_value(attempt);
        self.signing.set(true);
        spawn_local(async move {
            let outcome = request.await;
            if self.sign_in_attempt.get_value() != attempt {
                // Cancelled: nothing is applied; a token the cloud issued anyway is revoked.
                if let Ok(SignedIn::Session(session, _, mut client)) = outcome {
                    let _ = client.sign_out(&session.token).await;
                }
                return;
            }
            match outcome {
                Ok(SignedIn::Session(session, who, client)) => {
                    self.signed_in_as(session, who, client)
                }
                Ok(SignedIn::CodeNeeded(mfa_token, email)) => {
                    self.mfa_token.set_value(Some(mfa_token));
                    self.mfa_email.set(email);
                    self.mfa_pending.set(true);
                    self.focus.set(Some("otp"));
                }
                Err(ApiError::MissingInput { field }) => {
                    self.missing_input.set(Some(field));
                    self.focus.set(Some(match field {
                        InputField::Email => "email",
                        InputField::Password => "password",
                        InputField::OneTimeCode => "otp",
                        InputField::AccessToken => "token",
                    }));
                }
                Err(e) => self.fail_text(ErrorPlace::SignIn, e.to_string(), e.hint().into()),
            }
            self.signing.set(false);
            self.end();
        });
    }

    pub fn sign_in(self, email: String, password: String) {
        let mut cloud = self.cloud.get_value();
        self.signing_in(Box::pin(async move {
            let email = email.trim().to_owned();
            match cloud.sign_in(&email, &password).await {
                Ok(session) => Ok(SignedIn::Session(session, email, cloud)),
                Err(ApiError::MfaRequired { mfa_token }) => {
                    Ok(SignedIn::CodeNeeded(mfa_token, email))
                }
                Err(e) => Err(e),
            }
        }));
    }

    pub fn sign_in_otp(self, otp: String) {
        let Some(mfa_token) = self.mfa_token.get_value() else {
            return;
        };
        let mut cloud = self.cloud.get_value();
        let who = self.mfa_email.get_untracked();
        self.signing_in(Box::pin(async move {
            let session = cloud.sign_in_otp(&mfa_token, otp.trim()).await?;
            Ok(SignedIn::Session(session, who, cloud))
        }));
    }

    /// "Back" from the one-time code: the e-mail and password form again.
    pub fn back_from_code(self) {
        self.mfa_token.set_value(None);
        self.mfa_pending.set(false);
        self.missing_input.set(None);
        self.error.set(None);
        self.focus.set(Some("email"));
    }

    pub fn sign_in_with_token(self, pasted: String) {
        let mut cloud = self.cloud.get_value();
        self.signing_in(Box::pin(async move {
            let session = cloud.sign_in_with_token(&pasted).await?;
            // The API tells a token's scope, not its account's e-mail address.
            Ok(SignedIn::Session(
                session,
                "an access token".to_owned(),
                cloud,
            ))
        }));
    }

    /// Holds the session `client` (the cloud that issued or accepted it) gave.
    fn signed_in_as(self, session: Session, who: String, client: PageCloud) {
        let held = HeldToken::signed_in(
            session.token,
            client.issuer(),
            self.remember.get_untracked(),
        );
        if let Some(key) = &held.remembered_as {
            storage_set(key, held.token.expose());
        }
        self.held.set_value(Some((held, client)));
        self.mfa_token.set_value(None);
        self.mfa_pending.set(false);
        self.diagnose_only.set(false);
        self.log_line(format!("Signed in as {who}."));
        self.signed_in.set(Some(who));
        self.error.set(None);
        // What needs the user next: a key still to send, or the open step.
        let deferred = self
            .repair
            .with_untracked(|r| r.as_ref().is_some_and(|r| r.send != SendOutcome::Sent));
        self.focus
            .set(Some(if deferred { "send-now" } else { "open-step" }));
    }

    /// "Sign out": forgets the token wherever the page kept it and revokes it at the cloud that
    /// issued it (not the cloud the page talks to now, which the simulated mode may have changed).
    pub fn sign_out(self) {
        self.forget_sign_in(false);
        self.log_line("Signed out.");
    }

    /// The cloud refused the held token (revoked elsewhere, expired): the page is signed out.
    fn token_refused(self) {
        if self.held.with_value(Option::is_none) {
            return;
        }
        self.forget_sign_in(true);
        self.fail_text(
            ErrorPlace::SignIn,
            "the cloud no longer accepts this sign-in (signed out elsewhere, revoked or expired), \
             so the page signed out"
                .into(),
            "Sign in again to continue.".into(),
        );
    }

    /// Signs the page out; `refused`: the cloud already refused the token, so it is not revoked.
    fn forget_sign_in(self, refused: bool) {
        let held = self.held.try_update_value(Option::take).flatten();
        self.signed_in.set(None);
        self.mfa_pending.set(false);
        self.mfa_token.set_value(None);
        let Some((held, mut issuer)) = held else {
            return;
        };
        let plan = held.sign_out(&stored_tokens(), refused);
        for key in &plan.forget {
            storage_remove(key);
        }
        if let Some((token, _)) = plan.revoke {
            spawn_local(async move {
                // A token the cloud no longer knows is signed out anyway.
                let _ = issuer.sign_out(&token).await;
            });
        }
    }

    /// The held token, if the page's current cloud issued it: a Particle token is never sent to
    /// the simulated cloud (and the other way round).
    fn current_token(self) -> Option<AccessToken> {
        let current = self.cloud.with_value(PageCloud::issuer);
        self.held.with_value(|h| {
            h.as_ref()
                .and_then(|(held, _)| held.for_cloud(&current).cloned())
        })
    }

    /// The page's cloud for a step: a refusal of the held token signs the page out.
    fn watched_cloud(self) -> WatchedCloud {
        WatchedCloud {
            cloud: self.cloud.get_value(),
            store: self,
        }
    }

    pub fn choose_diagnose_only(self) {
        self.diagnose_only.set(true);
        self.log_line("Diagnose only: nothing will be sent to the cloud.");
    }

    fn restore_remembered_token(self) {
        let client = self.cloud.get_value();
        let issuer = client.issuer();
        let key = issuer.storage_key();
        if let Some(saved) = storage_get(&key)
            && let Ok(token) = AccessToken::from_pasted(&saved)
        {
            self.held
                .set_value(Some((HeldToken::restored(token, issuer, key), client)));
            self.remember.set(true);
            self.signed_in
                .set(Some("the access token remembered on this computer".into()));
        }
    }

    // --- the repair steps ------------------------------------------------------------------------

    /// "Connect device": pick the device, open it, identify it, then diagnose, back up and plan.
    pub fn connect(self) {
        if !self.begin() {
            return;
        }
        // The code that opens, identifies and diagnoses the device downloads while the user
        // picks it in the browser's list (a failure here is reported when it is needed).
        spawn_local(async {
            let _ = preload_connect().await;
        });
        spawn_local(async move {
            if self.run_connect().await {
                if self.needs_restore.get_untracked() {
                    self.check_after_failure().await;
                } else if self.run_diagnosis().await {
                    self.go(Step::Diagnose);
                }
            }
            self.end();
        });
    }

    /// "Read the keys again": the diagnosis of the connected device failed before it read anything
    /// (the page's code for EC keys did not load, say); the device stays connected.
    pub fn diagnose_again(self) {
        if !self.begin() {
            return;
        }
        spawn_local(async move {
            if self.run_diagnosis().await {
                self.go(Step::Diagnose);
            }
            self.end();
        });
    }

    /// The device ID last typed for a Core (checked), to show in its field again.
    pub fn typed_device(self) -> Option<String> {
        self.typed_device.get_value()
    }

    /// "Use this ID and connect": the Core's device ID typed in the error panel, checked first (a
    /// bad one is refused next to the field, which keeps the focus), then used as a support link's
    /// expected device while Connect device runs again.
    pub fn connect_with_device_id(self, text: &str) {
        if self.busy.get_untracked() {
            return;
        }
        match wizard::check_device_id(text) {
            Ok(id) => {
                self.device_id_problem.set(None);
                self.log_line(format!("Device ID entered: {id}."));
                self.typed_device.set_value(Some(id));
                self.connect();
            }
            Err(e) => {
                self.device_id_problem
                    .set(Some((report::capitalise(&e.to_string()), e.hint())));
                self.focus.set(Some(wizard::DEVICE_ID_FIELD));
            }
        }
    }

    /// "Try again" after the chooser was closed: Reconnect after a failed write (the device was
    /// unplugged), otherwise Connect device again.
    pub fn try_again(self) {
        if self.needs_restore.get_untracked() {
            self.reconnect();
        } else {
            self.connect();
        }
    }

    /// "Reconnect": the device is back in DFU mode (or was unplugged and plugged in again).
    pub fn reconnect(self) {
        self.replug_sim();
        self.connect();
    }

    async fn run_connect(self) -> bool {
        let picked = match webusb::request_device().await {
            Ok(p) => p,
            Err(TransportError::Cancelled) => {
                // Nothing picked: what the page found stays; the checklist shows where the user is.
                self.log_line("No device was picked in the browser's list.");
                self.error
                    .set(Some((ErrorPlace::Steps, report::no_device_help())));
                self.focus.set(Some("error"));
                return false;
            }
            Err(e) => {
                self.on_event(DoctorEvent::Step(Step::Connect));
                self.fail(ErrorPlace::Steps, &e.into());
                return false;
            }
        };
        match connect_task(self, picked).await {
            Ok(task) => task.await,
            Err(ChunkNotLoaded) => {
                self.chunk_not_loaded(
                    ErrorPlace::Steps,
                    "connecting to the device",
                    "press Connect device again",
                );
                false
            }
        }
    }

    /// [`Self::run_connect`] once a device was picked and the code to open it is here.
    async fn connect_picked(self, picked: webusb::PickedDevice) -> bool {
        self.forget_device();
        if !self.needs_restore.get_untracked() {
            self.repair_started.set(false);
        }
        self.on_event(DoctorEvent::Step(Step::Connect));
        // A device in normal mode is opened without claiming: its control requests go to the
        // device, and its serial interface stays the system's.
        let picked_platform = picked.platform();
        let opened = match picked_platform {
            Some((_, UsbMode::Runtime)) => picked.open_unclaimed().await,
            _ => picked.open(0).await,
        };
        let mut transport = match opened {
            Ok(t) => t,
            Err(e) => {
                self.fail(ErrorPlace::Steps, &e.into());
                return false;
            }
        };
        transport.set_on_disconnect(move || {
            self.connected.set(false);
            self.log_line("The device disconnected.");
        });
        // A Core does not report its ID: the one typed in the page, else the support link's.
        let typed = match picked_platform {
            Some((crate::device::Platform::Core, _)) => self.typed_device.get_value(),
            _ => None,
        };
        let expected = typed.or_else(|| self.link.with_value(|l| l.expected_device.clone()));
        let cancel = self.cancel.get_value();
        let on_event = &mut |e| self.on_event(e);
        match connect_any(transport, expected.as_deref(), cancel.clone(), on_event).await {
            Ok(Connected::Dfu(doctor)) => self.hold_doctor(*doctor),
            Ok(Connected::Running(running)) => {
                self.running_facts.set(Some(running.facts().clone()));
                match RuntimeDoctor::choose(running, cancel, on_event).await {
                    PathChoice::ControlRequests(mut runtime) => {
                        runtime.set_product(self.link.with_value(|l| l.product.clone()));
                        self.identity.set(Some(runtime.identity()));
                        self.runtime.set_value(Some(*runtime));
                        self.switch.set(Some(Switch::NotNeeded));
                        self.connected.set(true);
                        true
                    }
                    PathChoice::Dfu { running, fallback } => {
                        self.running.set_value(Some(running));
                        self.show_switch(wizard::offer_dfu(&fallback));
                        false
                    }
                }
            }
            Err(e) => {
                self.fail(ErrorPlace::Steps, &e);
                false
            }
        }
    }

    /// A device connected in DFU mode: the doctor the steps use.
    fn hold_doctor(self, mut doctor: Doctor<WebUsbTransport>) -> bool {
        doctor.set_product(self.link.with_value(|l| l.product.clone()));
        self.identity.set(Some(doctor.identity().clone()));
        self.doctor.set_value(Some(doctor));
        self.connected.set(true);
        true
    }

    fn show_switch(self, switch: Switch) {
        self.focus.set(wizard::switch_focus(&switch));
        self.switch.set(Some(switch));
    }

    /// "Put it in DFU mode for me": request 50, then the second prompt (or the serial port, or
    /// the buttons).
    pub fn enter_dfu(self) {
        self.switch_running(false);
    }

    /// "Put it in DFU mode through its serial port": the serial port at 14400 baud (Chrome asks
    /// for the port first), then the second prompt (or the buttons).
    pub fn enter_dfu_by_serial(self) {
        self.switch_running(true);
    }

    fn switch_running(self, serial: bool) {
        if self.running.with_value(Option::is_none) || !self.begin() {
            return;
        }
        let Some(mut running) = self.running.try_update_value(Option::take).flatten() else {
            self.end();
            return;
        };
        spawn_local(async move {
            let on_event = &mut |e| self.on_event(e);
            let outcome = if serial {
                running
                    .enter_dfu_by_serial(&mut WebSerialPort::new(), on_event)
                    .await
            } else {
                running.enter_dfu(on_event).await
            };
            self.after_enter(running, &outcome);
            self.end();
        });
    }

    fn after_enter(self, running: RunningDevice<WebUsbTransport>, outcome: &EnterDfuOutcome) {
        match outcome.ticket() {
            Some(ticket) => self.ticket.set_value(Some(ticket.clone())),
            None => self.running.set_value(Some(running)),
        }
        self.show_switch(wizard::after_enter(outcome, serial_supported()));
    }

    /// "Choose the device in DFU mode": the browser's second prompt; only the device sent to DFU
    /// mode is accepted. Then diagnose, back up and plan.
    pub fn choose_switched_device(self) {
        let Some(ticket) = self.ticket.get_value() else {
            return;
        };
        if !self.begin() {
            return;
        }
        spawn_local(async move {
            if self.connect_switched(&ticket).await && self.run_diagnosis().await {
                self.go(Step::Diagnose);
            }
            self.end();
        });
    }

    async fn connect_switched(self, ticket: &SwitchTicket) -> bool {
        self.on_event(DoctorEvent::Step(Step::Connect));
        let picked = match webusb::request_device().await {
            Ok(p) => p,
            Err(TransportError::Cancelled) => {
                self.log_line("No device was picked in the browser's list.");
                self.error
                    .set(Some((ErrorPlace::Steps, report::no_device_help())));
                self.focus.set(Some("error"));
                return false;
            }
            Err(e) => {
                self.fail(ErrorPlace::Steps, &e.into());
                return false;
            }
        };
        let mut transport = match picked.open(0).await {
            Ok(t) => t,
            Err(e) => {
                self.fail(ErrorPlace::Steps, &e.into());
                return false;
            }
        };
        transport.set_on_disconnect(move || {
            self.connected.set(false);
            self.log_line("The device disconnected.");
        });
        match Doctor::connect_switched(transport, ticket, self.cancel.get_value(), &mut |e| {
            self.on_event(e)
        })
        .await
        {
            Ok(doctor) => {
                self.switch.set(None);
                self.running_facts.set(None);
                self.hold_doctor(doctor)
            }
            Err(e) => {
                self.fail(ErrorPlace::Steps, &e);
                false
            }
        }
    }

    /// After a write that could not be undone, on the reconnected device: the doctor reads the
    /// backed-up slots back; unchanged, the page says so and plans again (Repair retries);
    /// changed, it offers "Restore backup".
    async fn check_after_failure(self) {
        let (Some(mut doctor), Some(backup)) = (self.take_doctor(), self.backup.get_value()) else {
            return;
        };
        let checked = doctor
            .check_against_backup(&backup, &mut |e| self.on_event(e))
            .await;
        self.doctor.set_value(Some(doctor));
        match checked {
            Ok(outcome) => {
                self.log_line(report::after_failure_text(&outcome));
                self.after_failure.set(Some(outcome));
                if outcome == AfterFailure::Unchanged {
                    self.needs_restore.set(false);
                    if self.run_diagnosis().await {
                        // Nothing reached the device: the Plan step's Repair retries.
                        self.repair_started.set(false);
                        self.go(Step::Plan);
                    }
                } else {
                    self.view.set(Step::Repair);
                    self.focus.set(Some("restore-backup"));
                }
            }
            Err(e) => self.fail(ErrorPlace::Steps, &e),
        }
    }

    fn forget_device(self) {
        self.doctor.set_value(None);
        self.running.set_value(None);
        self.runtime.set_value(None);
        self.ticket.set_value(None);
        self.running_facts.set(None);
        self.switch.set(None);
        self.connected.set(false);
        self.identity.set(None);
        self.diagnosis.set(None);
        self.plan.set(None);
        self.repair.set(None);
        self.verify.set(None);
        self.device_status.set(None);
        self.error.set(None);
        self.advanced_result.set(None);
        self.after_failure.set(None);
    }

    /// The second witness: once the repaired device runs its firmware again, its runtime
    /// personality (if the browser already granted it: no prompt is shown for it) answers request
    /// 300. It is looked for while it restarts, for at most `WITNESS_APPEARS_WITHIN_MS`; nothing
    /// depends on it.
    async fn read_witness(self) {
        let Some(id) = self.identity.get_untracked().map(|i| i.device_id) else {
            return;
        };
        let mut waited = 0;
        let picked = loop {
            let devices = webusb::granted_devices().await.unwrap_or_default();
            let runtime = devices.into_iter().find(|d| {
                matches!(d.platform(), Some((_, UsbMode::Runtime)))
                    && d.device_id().is_some_and(|d| d == id)
            });
            match runtime {
                Some(picked) => break picked,
                None if waited >= crate::doctor::WITNESS_APPEARS_WITHIN_MS => return,
                None => {
                    webusb::sleep_ms(crate::doctor::RESET_POLL_MS).await;
                    waited += crate::doctor::RESET_POLL_MS;
                }
            }
        };
        let Ok(mut t) = picked.open_unclaimed().await else {
            return;
        };
        let status = crate::doctor::device_witness(&mut t, &id, &mut |e| self.on_event(e)).await;
        t.close().await;
        // Unless the page moved on to another device meanwhile.
        if self
            .identity
            .get_untracked()
            .is_some_and(|i| i.device_id == id)
        {
            self.device_status.set(status);
        }
    }

    fn take_doctor(self) -> Option<Doctor<WebUsbTransport>> {
        self.doctor.try_update_value(Option::take).flatten()
    }

    /// Diagnose, back up and plan (read-only), stopping at the plan for the user to confirm: the
    /// `connect` chunk's code ([`diagnosis_task`]), fetched first if it is not yet.
    async fn run_diagnosis(self) -> bool {
        match diagnosis_task(self).await {
            Ok(task) => {
                let planned = task.await;
                if planned {
                    // The plan is on screen: the repair's code downloads while the user reads it.
                    spawn_local(async {
                        let _ = preload_repair().await;
                    });
                }
                planned
            }
            Err(ChunkNotLoaded) => {
                self.chunk_not_loaded(
                    ErrorPlace::Steps,
                    "reading the keys",
                    "press Read the keys again",
                );
                false
            }
        }
    }

    /// [`Self::run_diagnosis`] once its code is here.
    async fn diagnose_now(self) -> bool {
        if self.runtime.with_value(Option::is_some) {
            return self.run_runtime_diagnosis().await;
        }
        let Some(mut doctor) = self.take_doctor() else {
            return false;
        };
        let mut cloud = self.watched_cloud();
        let token = self.current_token();
        let on_event = &mut |e| self.on_event(e);
        let diagnosis = doctor
            .diagnose(
                CloudContext {
                    api: &mut cloud,
                    token: token.as_ref(),
                },
                on_event,
            )
            .await;
        match diagnosis {
            Ok(d) => {
                match doctor.back_up(on_event) {
                    Ok(backup) => {
                        self.backup_files
                            .set(backup.files().into_iter().map(|f| f.name).collect());
                        self.backup.set_value(Some(backup.clone()));
                    }
                    Err(e) => {
                        // Cancelled before the backup: show that, not the plan's "no backup".
                        self.diagnosis.set(Some(d));
                        self.doctor.set_value(Some(doctor));
                        self.fail(ErrorPlace::Steps, &e);
                        return false;
                    }
                }
                self.diagnosis.set(Some(d));
                self.doctor.set_value(Some(doctor));
                self.replan();
                true
            }
            Err(e) => {
                self.doctor.set_value(Some(doctor));
                self.fail(ErrorPlace::Steps, &e);
                false
            }
        }
    }

    /// [`Self::run_diagnosis`] over control requests in normal mode.
    async fn run_runtime_diagnosis(self) -> bool {
        let Some(mut doctor) = self.runtime.try_update_value(Option::take).flatten() else {
            return false;
        };
        let mut cloud = self.watched_cloud();
        let token = self.current_token();
        let on_event = &mut |e| self.on_event(e);
        let ctx = CloudContext {
            api: &mut cloud,
            token: token.as_ref(),
        };
        let done = match doctor.diagnose(ctx, on_event).await {
            Ok(d) => {
                let backed_up = doctor.back_up(on_event).cloned();
                self.diagnosis.set(Some(d));
                match backed_up {
                    Ok(backup) => {
                        self.backup_files
                            .set(backup.files().into_iter().map(|f| f.name).collect());
                        self.backup.set_value(Some(backup));
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        self.runtime.set_value(Some(doctor));
        match done {
            Ok(()) => {
                self.replan();
                true
            }
            Err(e) => {
                self.fail(ErrorPlace::Steps, &e);
                false
            }
        }
    }

    /// Plans again with the current options (the plan is pure: nothing is written).
    pub fn replan(self) {
        let Some(diagnosis) = self.diagnosis.get_untracked() else {
            return;
        };
        let mut options = self.options.get_untracked();
        options.server = self.server_choice();
        let planned = self
            .doctor
            .with_value(|d| {
                d.as_ref()
                    .map(|d| d.plan(&diagnosis, &options, &mut |e| self.on_event(e)))
            })
            .or_else(|| {
                self.runtime.with_value(|d| {
                    d.as_ref()
                        .map(|d| d.plan(&diagnosis, &options, &mut |e| self.on_event(e)))
                })
            });
        match planned {
            Some(Ok(plan)) => self.plan.set(Some(plan)),
            Some(Err(e)) => self.fail(ErrorPlace::Steps, &e),
            None => {}
        }
    }

    /// In the simulated mode the simulated cloud plays Particle with its own key.
    fn server_choice(self) -> ServerChoice {
        match self.test_cloud_region() {
            Some(region) => ServerChoice::Custom {
                region,
                description: "the simulated cloud's key and address".into(),
            },
            None => ServerChoice::Particle,
        }
    }

    pub fn set_force_new_key(self, on: bool) {
        self.options.update(|o| o.force_new_key = on);
        self.replan();
    }

    pub fn set_send_later(self, on: bool) {
        self.options.update(|o| o.send_later = on);
        self.replan();
    }

    /// "Repair": carry out the confirmed plan, then leave DFU mode and verify.
    pub fn repair(self) {
        let Some(plan) = self.plan.get_untracked() else {
            return;
        };
        if !self.begin() {
            return;
        }
        self.after_failure.set(None);
        self.repair_started.set(true);
        spawn_local(async move {
            match repair_task(self, plan).await {
                Ok(task) => task.await,
                Err(ChunkNotLoaded) => {
                    self.repair_started.set(false);
                    self.chunk_not_loaded(ErrorPlace::Steps, "the repair", "press Repair again");
                    self.end();
                }
            }
        });
    }

    /// [`Self::repair`] once its code is here: in DFU mode, or over control requests.
    async fn repair_now(self, plan: Plan) {
        if self.runtime.with_value(Option::is_some) {
            return self.runtime_repair(plan).await;
        }
        let Some(mut doctor) = self.take_doctor() else {
            self.end();
            return;
        };
        let mut cloud = self.watched_cloud();
        let token = self.current_token();
        let ctx = CloudContext {
            api: &mut cloud,
            token: token.as_ref(),
        };
        match doctor.repair(&plan, ctx, &mut |e| self.on_event(e)).await {
            Ok(report) => {
                let sent = self.hold_report(report, doctor.online_wait());
                let ctx = CloudContext {
                    api: &mut cloud,
                    token: token.as_ref().filter(|_| sent),
                };
                match doctor
                    .leave_and_verify(ctx, VERIFY_TIMEOUT_MS, &mut |e| self.on_event(e))
                    .await
                {
                    Ok((outcome, counts)) => {
                        self.show_verified(
                            outcome,
                            &format!("{} control transfers", counts.transfers),
                        );
                    }
                    Err(e) => self.fail(ErrorPlace::Steps, &e),
                }
            }
            Err(e) => {
                self.doctor.set_value(Some(doctor));
                self.fail(ErrorPlace::Steps, &e);
                if !self.needs_restore.get_untracked() {
                    // Undone or never started: the Plan step's Repair is the way on.
                    self.repair_started.set(false);
                }
            }
        }
        self.end();
    }

    /// A repair's report, and the wait for the cloud after it; whether the key was sent (a key not
    /// sent cannot bring the device online: no point in waiting).
    fn hold_report(self, report: RepairReport, wait: OnlineWait) -> bool {
        self.online_wait.set_value(Some(wait));
        self.log_line(report::repair_summary(&report));
        let sent = report.send == SendOutcome::Sent;
        self.repair.set(Some(report));
        sent
    }

    /// The device left DFU mode (or reset) after a repair and the cloud answered: the Verify step,
    /// and the device's own witness beside the busy state (the page is free while it looks).
    fn show_verified(self, outcome: VerifyOutcome, transfers: &str) {
        self.log_line(format!(
            "{} ({transfers})",
            report::verify_summary(&outcome).0
        ));
        self.verify.set(Some(outcome));
        self.connected.set(false);
        self.go(Step::Verify);
        spawn_local(self.read_witness());
    }

    /// [`Self::repair`] over control requests: write, read back, send the key, then reset
    /// (request 40) and wait for the cloud.
    async fn runtime_repair(self, plan: Plan) {
        let Some(mut doctor) = self.runtime.try_update_value(Option::take).flatten() else {
            self.end();
            return;
        };
        let mut cloud = self.watched_cloud();
        let token = self.current_token();
        let ctx = CloudContext {
            api: &mut cloud,
            token: token.as_ref(),
        };
        match doctor.repair(&plan, ctx, &mut |e| self.on_event(e)).await {
            Ok(report) => {
                let sent = self.hold_report(report, doctor.online_wait());
                let ctx = CloudContext {
                    api: &mut cloud,
                    token: token.as_ref().filter(|_| sent),
                };
                // The device's own status (request 300) would need the browser to open it again
                // after its reset: the cloud is the witness here.
                match doctor
                    .reset_and_verify(&mut || None, ctx, VERIFY_TIMEOUT_MS, &mut |e| {
                        self.on_event(e)
                    })
                    .await
                {
                    Ok(v) => self.show_verified(
                        v.outcome,
                        &format!("{} control transfers, no DFU mode", v.transfers.transfers),
                    ),
                    Err(e) => self.fail(ErrorPlace::Steps, &e),
                }
            }
            Err(e) => {
                self.runtime.set_value(Some(doctor));
                self.fail(ErrorPlace::Steps, &e);
                if !self.needs_restore.get_untracked() {
                    self.repair_started.set(false);
                }
            }
        }
        self.end();
    }

    /// "Wait longer": asks the cloud again, as long again, whether the repaired device is online.
    pub fn wait_longer(self) {
        let (Some(wait), Some(token)) = (self.online_wait.get_value(), self.current_token()) else {
            return;
        };
        if !self.begin() {
            return;
        }
        self.on_event(DoctorEvent::Step(Step::Verify));
        let mut cloud = self.watched_cloud();
        let cancel = self.cancel.get_value();
        spawn_local(async move {
            let outcome = wait
                .wait(&mut cloud, &token, VERIFY_TIMEOUT_MS, &cancel, &mut |e| {
                    self.on_event(e)
                })
                .await;
            self.log_line(report::verify_summary(&outcome).0);
            self.verify.set(Some(outcome));
            self.focus.set(Some("open-step"));
            self.end();
        });
    }

    /// "Send the key now": after a repair that did not send the key (sent later, or the send
    /// failed), sends the public key the repair read back from the device (no DFU mode needed),
    /// then waits for the device to come online.
    pub fn send_key_now(self) {
        let key = self
            .repair
            .with_untracked(|r| r.as_ref().and_then(|r| r.public_key.clone()));
        let (Some(wait), Some(token), Some(key)) =
            (self.online_wait.get_value(), self.current_token(), key)
        else {
            return;
        };
        if !self.begin() {
            return;
        }
        self.on_event(DoctorEvent::Step(Step::Verify));
        let mut cloud = self.watched_cloud();
        let cancel = self.cancel.get_value();
        spawn_local(async move {
            match wait
                .send_key(&mut cloud, &token, &key, &mut |e| self.on_event(e))
                .await
            {
                Ok(()) => {
                    self.repair
                        .update(|r| r.iter_mut().for_each(|r| r.send = SendOutcome::Sent));
                    let outcome = wait
                        .wait(&mut cloud, &token, VERIFY_TIMEOUT_MS, &cancel, &mut |e| {
                            self.on_event(e)
                        })
                        .await;
                    self.log_line(report::verify_summary(&outcome).0);
                    self.verify.set(Some(outcome));
                    self.focus.set(Some("open-step"));
                }
                Err(e) => self.fail(ErrorPlace::Steps, &e),
            }
            self.end();
        });
    }

    /// "Restore backup": write the backup back to the reconnected device.
    pub fn restore_backup(self) {
        let Some(backup) = self.backup.get_value() else {
            return;
        };
        if !self.begin() {
            return;
        }
        spawn_local(async move {
            match restore_task(self, backup).await {
                Ok(task) => task.await,
                Err(ChunkNotLoaded) => {
                    self.chunk_not_loaded(
                        ErrorPlace::Steps,
                        "restoring the backup",
                        "press Restore backup again",
                    );
                    self.end();
                }
            }
        });
    }

    /// [`Self::restore_backup`] once its code is here.
    async fn restore_now(self, backup: Backup) {
        if let Some(mut doctor) = self.runtime.try_update_value(Option::take).flatten() {
            match doctor.restore(&backup, &mut |e| self.on_event(e)).await {
                Ok(n) => {
                    self.needs_restore.set(false);
                    self.log_line(format!(
                        "Restored {n} slots from the backup over control requests."
                    ));
                    self.runtime.set_value(Some(doctor));
                    self.repair_started.set(false);
                    if self.run_diagnosis().await {
                        self.go(Step::Diagnose);
                    }
                }
                Err(e) => {
                    self.runtime.set_value(Some(doctor));
                    self.fail(ErrorPlace::Steps, &e);
                }
            }
            self.end();
            return;
        }
        // Pressed before reconnecting: reconnect first (the browser asks for the device again).
        if !self.connected.get_untracked() {
            self.replug_sim();
            if !self.run_connect().await {
                self.end();
                return;
            }
        }
        if let Some(mut doctor) = self.take_doctor() {
            match doctor.restore(&backup, &mut |e| self.on_event(e)).await {
                Ok(n) => {
                    self.needs_restore.set(false);
                    self.after_failure.set(None);
                    self.log_line(format!(
                        "Restored {n} bytes from the backup; the device holds its keys from \
                         before the repair."
                    ));
                    self.doctor.set_value(Some(doctor));
                    self.repair_started.set(false);
                    if self.run_diagnosis().await {
                        self.go(Step::Diagnose);
                    }
                }
                Err(e) => {
                    self.doctor.set_value(Some(doctor));
                    self.fail(ErrorPlace::Steps, &e);
                }
            }
        }
        self.end();
    }

    /// "Repair another device": forget the device, keep the sign-in (and any backup).
    pub fn repair_another(self) {
        self.replug_sim();
        self.forget_device();
        self.repair_started.set(false);
        self.step.set(Some(Step::Connect));
        self.view.set(Step::Connect);
        self.focus.set(Some("connect"));
        self.log_line("Ready for the next device: put it in DFU mode and press Connect device.");
    }

    /// A backup file's download button: saves the file named `name`.
    pub fn download_backup_file(self, name: &str) {
        let file = self
            .backup
            .with_value(|b| b.as_ref()?.files().into_iter().find(|f| f.name == name));
        if let Some(file) = file {
            download(&file.name, &file.bytes, "application/octet-stream");
        }
    }

    // --- advanced panel --------------------------------------------------------------------------

    /// An advanced command on the connected device (which stays connected afterwards). `file` is
    /// the file input whose pick the command reads, if it reads one. A command that writes waits
    /// for "Write" in the panel's confirmation ([`Store::confirm_pending`]); one that reads runs.
    pub fn advanced(self, command: Command, file: Option<NodeRef<Input>>) {
        self.error.set(None);
        self.advanced_result.set(None);
        self.pending.set(None);
        if self.busy.get_untracked() {
            return;
        }
        if self.doctor.with_value(Option::is_none) && self.runtime.with_value(Option::is_none) {
            return self.fail_text(
                ErrorPlace::Advanced,
                "no device is connected".into(),
                "Press Connect device first; the advanced commands work on a connected device."
                    .into(),
            );
        }
        spawn_local(async move {
            match advanced_task(self, command, file).await {
                Ok(task) => task.await,
                Err(ChunkNotLoaded) => self.chunk_not_loaded(
                    ErrorPlace::Advanced,
                    "the advanced commands",
                    "press the command's button again",
                ),
            }
        });
    }

    /// [`Self::advanced`] once the panel's code is here: the file read, a custom server's key file
    /// parsed, then the question, or the command.
    async fn advanced_now(self, command: Command, file: Option<NodeRef<Input>>) {
        let command = match file {
            Some(input) => command.with_file(read_picked(input).await),
            None => command,
        };
        // A custom server's key file is parsed now, before the question.
        if let Command::WriteServer { key_file, address } = &command {
            let checked = self
                .doctor
                .with_value(|d| {
                    d.as_ref()
                        .map(|d| d.server_region(key_file.as_deref(), address).map(|_| ()))
                })
                .or_else(|| {
                    self.runtime.with_value(|d| {
                        d.as_ref()
                            .map(|d| d.server_region(key_file.as_deref(), address).map(|_| ()))
                    })
                });
            if let Some(Err(e)) = checked {
                return self.fail(ErrorPlace::Advanced, &e);
            }
        }
        match wizard::confirmation(&command) {
            // No file picked: the command says so, nothing to ask about.
            Some(_) if matches!(command, Command::LoadKeyFile { file: None }) => {
                self.run_advanced(command)
            }
            Some(question) => {
                self.pending_command.set_value(Some(command));
                self.pending.set(Some(question));
                self.focus.set(Some("confirm-write"));
            }
            None => self.run_advanced(command),
        }
    }

    /// The advanced panel was opened (or closed): its commands' code downloads now, so the first
    /// command does not wait for it (a failure is reported when a command needs the code).
    pub fn advanced_opened(self) {
        spawn_local(async {
            let _ = preload_command().await;
        });
    }

    /// "Write" in the panel's confirmation: runs the command it asked about.
    pub fn confirm_pending(self) {
        self.pending.set(None);
        if let Some(command) = self
            .pending_command
            .try_update_value(Option::take)
            .flatten()
        {
            self.run_advanced(command);
        }
    }

    /// "Cancel" in the panel's confirmation: nothing is written.
    pub fn cancel_pending(self) {
        self.pending.set(None);
        self.pending_command.set_value(None);
        self.log_line("Nothing was written.");
    }

    fn run_advanced(self, command: Command) {
        if !self.begin() {
            return;
        }
        spawn_local(async move {
            match command_task(self, command).await {
                Ok(task) => task.await,
                Err(ChunkNotLoaded) => {
                    self.chunk_not_loaded(
                        ErrorPlace::Advanced,
                        "the advanced commands",
                        "press the command's button again",
                    );
                    self.end();
                }
            }
        });
    }

    /// [`Self::run_advanced`] once its code is here.
    async fn run_command_now(self, command: Command) {
        // Over control requests when the repair runs that way, else in DFU mode: the same
        // commands on the same slots.
        let runtime = self.runtime.try_update_value(Option::take).flatten();
        let doctor = match runtime {
            Some(_) => None,
            None => self.take_doctor(),
        };
        if runtime.is_none() && doctor.is_none() {
            self.end();
            return;
        }
        // After a write, or a send, the diagnosis and the plan no longer say what holds now.
        let changes =
            wizard::confirmation(&command).is_some() || matches!(command, Command::SendKey { .. });
        let mut cloud = self.watched_cloud();
        let token = self.current_token();
        let ctx = CloudContext {
            api: &mut cloud,
            token: token.as_ref(),
        };
        let on_event = &mut |e| self.on_event(e);
        let result = match (runtime, doctor) {
            (Some(mut runtime), _) => {
                let result = runtime.run_command(command, ctx, on_event).await;
                self.runtime.set_value(Some(runtime));
                result
            }
            (None, Some(mut doctor)) => {
                let result = doctor.run_command(command, ctx, on_event).await;
                self.doctor.set_value(Some(doctor));
                result
            }
            (None, None) => return self.end(),
        };
        match result {
            Ok(outcome) => {
                if let Some(file) = &outcome.download {
                    download(&file.name, &file.bytes, "application/octet-stream");
                }
                self.log_line(outcome.message.clone());
                // The device changed: the diagnosis and the plan say what it holds now.
                if changes {
                    self.run_diagnosis().await;
                }
                self.advanced_result.set(Some(outcome.message));
                self.focus.set(Some("advanced-result"));
            }
            Err(e) => self.fail(ErrorPlace::Advanced, &e),
        }
        self.end();
    }

    /// `keys server` from the panel's fields: Particle's key (or, in the simulated mode, the
    /// simulated cloud's) unless a custom server is chosen, whose fields are checked first (next
    /// to each field) and whose key file `file` holds.
    pub fn write_server(self, custom: bool, host: &str, port: &str, file: NodeRef<Input>) {
        self.server_problem.set(None);
        let address = if custom {
            let picked = file
                .get_untracked()
                .and_then(|i| i.files())
                .is_some_and(|f| f.length() > 0);
            match wizard::check_custom_server(host, port, picked) {
                Ok(address) => address,
                Err((field, text)) => {
                    self.server_problem.set(Some((field, text)));
                    self.focus.set(Some(field.id()));
                    return;
                }
            }
        } else {
            match server_address(false, host, port) {
                Ok(address) => address,
                Err(e) => return self.fail(ErrorPlace::Advanced, &e),
            }
        };
        let command = Command::WriteServer {
            key_file: if custom {
                None
            } else {
                self.test_cloud_region()
            },
            address,
        };
        self.advanced(command, custom.then_some(file));
    }

    /// The simulated cloud's server-key region, in the simulated mode.
    pub fn test_cloud_region(self) -> Option<Vec<u8>> {
        self.sim
            .with_value(|s| s.as_ref().map(SimHandle::server_region))
    }

    /// `keys send` with the panel's product field (empty: the product the link or the diagnosis
    /// knew).
    pub fn send_key(self, product: &str) {
        match product_field(product) {
            Ok(product) => self.advanced(Command::SendKey { product }, None),
            Err(e) => self.fail(ErrorPlace::Advanced, &e),
        }
    }
}

// The page's chunks (src/ui/split.rs): `connect` (open, identify and diagnose a device: the first
// thing a user needs after the chooser, fetched while it is open), `repair` (write, read back,
// send, verify, restore: fetched once a diagnosis made a plan), `advanced` (the panel's commands:
// fetched when the panel is opened).

split_point! {
    /// Opening and identifying a device the user picked ([`Store::run_connect`]).
    chunk connect, preload preload_connect;
    fn connect_task(store: Store, picked: webusb::PickedDevice) -> bool { store.connect_picked(picked) }
}

split_point! {
    /// The diagnosis, backup and plan of the connected device ([`Store::run_diagnosis`]).
    chunk connect;
    fn diagnosis_task(store: Store) -> bool { store.diagnose_now() }
}

split_point! {
    /// The repair of a confirmed plan, then leaving DFU mode and verifying ([`Store::repair`]).
    chunk repair, preload preload_repair;
    fn repair_task(store: Store, plan: Plan) -> () { store.repair_now(plan) }
}

split_point! {
    /// Writing the backup back ([`Store::restore_backup`]).
    chunk repair;
    fn restore_task(store: Store, backup: Backup) -> () { store.restore_now(backup) }
}

split_point! {
    /// An advanced command the user confirmed, or one that only reads ([`Store::run_advanced`]).
    chunk advanced, preload preload_command;
    fn command_task(store: Store, command: Command) -> () { store.run_command_now(command) }
}

split_point! {
    /// An advanced command, from the file read to its question or its outcome ([`Store::advanced`]).
    chunk advanced;
    fn advanced_task(store: Store, command: Command, file: Option<NodeRef<Input>>) -> () {
        store.advanced_now(command, file)
    }
}

fn link_problem(e: &LinkError) -> (String, String) {
    (report::capitalise(&e.to_string()), e.hint())
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn storage_get(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

fn storage_set(key: &str, value: &str) {
    if let Some(s) = local_storage() {
        let _ = s.set_item(key, value);
    }
}

/// The page's token entries in localStorage, as `(key, value)`.
fn stored_tokens() -> Vec<(String, String)> {
    let Some(s) = local_storage() else {
        return Vec::new();
    };
    let count = s.length().unwrap_or(0);
    (0..count)
        .filter_map(|i| s.key(i).ok().flatten())
        .filter(|k| k.starts_with(TOKEN_STORAGE_KEY))
        .filter_map(|k| {
            let v = storage_get(&k)?;
            Some((k, v))
        })
        .collect()
}

fn storage_remove(key: &str) {
    if let Some(s) = local_storage() {
        let _ = s.remove_item(key);
    }
}

/// Reads `location.search` of the page.
pub fn page_query() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// The simulated platform's name as the page shows it.
pub fn sim_name(platform: &str) -> &'static str {
    match platform {
        "core" => "Core",
        "electron" => "Electron",
        _ => "Photon",
    }
}
