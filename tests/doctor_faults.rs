//! The fault matrix: every USB fault at every control transfer of a repair, and every cloud fault at
//! every cloud request. Whatever fails, the device is never written without a backup, never holds a
//! half-written key, the cloud never gets a key the device does not hold, the message says what to
//! do, and a second attempt repairs the device.

mod doctor_common;

use doctor_common::*;
use futures_executor::block_on;
use key_rescue::cloud::{ApiError, ApiRequest, ApiResponse, CloudApi};
use key_rescue::dfu::State;
use key_rescue::doctor::{AfterFailure, CancelFlag, Doctor};
use key_rescue::doctor::{DoctorError, RestoreOutcome, SendOutcome, VerifyOutcome};
use key_rescue::keys::diagnose::PrivateKeyStatus;
use key_rescue::sim::device::{Platform as SimPlatform, SimBuilder, SimDevice};
use key_rescue::sim::faults::Fault;
use key_rescue::sim::world::{SimWorld, WorldCloudApi};
use key_rescue::usb::{CONTROL_DEADLINE_MS, STATUS_DEADLINE_MS, TransportError};

/// Control transfers a clean repair of a blank simulated Photon takes, leave included.
fn clean_run_transfers() -> u32 {
    let w = photon_world(Owner::Demo);
    let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
    run.assert_online();

    w.device.borrow().transfers()
}

/// After a failed run: the device is put back in DFU mode (faults cleared), and a second repair
/// must bring it online.
fn assert_second_attempt_repairs(w: &SimWorld, what: &str) {
    {
        let mut device = w.device.borrow_mut();
        device.reenter_dfu();
        *device.faults_mut() = Default::default();
    }
    let run = block_on(full_repair(w, options_for(w), Some(DEMO_EMAIL)));
    assert!(
        matches!(run.verify, Some(Ok(VerifyOutcome::Online { .. }))),
        "{what}: the second attempt did not repair the device: {:?}",
        run.error().map(|e| e.to_string())
    );
    assert_invariants(w, &run);
}

fn run_with_fault(device: SimBuilder, what: &str) -> (SimWorld, Run) {
    let w = world(device.build(), Owner::Demo);
    let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
    assert_invariants(&w, &run);
    if let Some(err) = run.error() {
        assert!(!err.hint().is_empty(), "{what}: {err} has no hint");
    }
    (w, run)
}

#[test]
fn a_disconnect_at_any_transfer_leaves_the_device_recoverable() {
    let total = clean_run_transfers();
    assert!(
        total > 20,
        "a repair takes more than a handful of transfers: {total}"
    );
    for n in 0..total {
        let what = format!("disconnect after {n} transfers");
        let (w, run) = run_with_fault(
            SimDevice::builder(SimPlatform::Photon).disconnect_after(n),
            &what,
        );
        match run.error() {
            Some(err) => {
                let text = format!("{err} {err:?}");
                assert!(
                    text.contains("isconnected"),
                    "{what}: unspecific error {text}"
                );
                assert!(err.hint().contains("Reconnect"), "{what}: {}", err.hint());
            }
            // Only the leave may lose the device without an error: that is how a reset looks.
            None => assert!(
                run.repair.as_ref().is_some_and(|r| r.is_ok()),
                "{what}: no error and no repair"
            ),
        }
        assert_second_attempt_repairs(&w, &what);
    }
}

#[test]
fn a_stall_at_any_transfer_leaves_the_device_recoverable() {
    let total = clean_run_transfers();
    for n in 0..total {
        let what = format!("stall at request {n}");
        let (w, run) = run_with_fault(
            SimDevice::builder(SimPlatform::Photon).stall_at_request(n),
            &what,
        );
        if let Some(err) = run.error() {
            let text = format!("{err:?}");
            assert!(
                text.contains("Stall")
                    || text.contains("Rejected")
                    || text.contains("Failed")
                    || text.contains("ShortReply"),
                "{what}: unspecific error {err} ({text})"
            );
            // The device is still connected after a one-off stall, so a rollback must succeed.
            if let DoctorError::WriteFailed { restore, .. } = err {
                assert!(
                    matches!(
                        restore,
                        RestoreOutcome::Unchanged | RestoreOutcome::Restored
                    ),
                    "{what}: {restore:?}"
                );
            }
        }
        assert_second_attempt_repairs(&w, &what);
    }
}

#[test]
fn a_write_the_bootloader_rejects_is_rolled_back_and_explained() {
    let (w, run) = run_with_fault(
        SimDevice::builder(SimPlatform::Photon).stall_on_write(),
        "stall on every write",
    );
    let err = run.error().expect("the write must fail");
    match err {
        DoctorError::WriteFailed { what, restore, .. } => {
            assert_eq!(*what, "server key");
            // A rejected write changes nothing, and the read-back proves it.
            assert_eq!(*restore, RestoreOutcome::Unchanged);
        }
        other => panic!("expected a write failure, got {other}"),
    }
    assert!(err.to_string().contains("writing the server key failed"));
    assert_eq!(cloud_key(&w), None, "nothing was sent");
    assert_second_attempt_repairs(&w, "stall on every write");
}

#[test]
fn a_device_asking_for_absurd_waits_is_capped_and_named_in_the_log() {
    // 0xFFFFFF ms (4.66 hours) per poll, three extra polls after each block: each wait is cut to
    // the cap, the repair still succeeds, and the log names what the device asked for.
    let (_, run) = run_with_fault(
        SimDevice::builder(SimPlatform::Photon).busy(3, 0xFF_FFFF),
        "absurd poll timeouts",
    );
    run.repaired();
    let line = run
        .log
        .iter()
        .find(|l| l.contains("between status requests"))
        .unwrap_or_else(|| panic!("no poll-wait line in {:#?}", run.log));
    assert!(line.contains("up to 16777215 ms"), "{line}");
    assert!(
        line.contains(&format!("cut to {} ms", key_rescue::dfu::MAX_POLL_SLEEP_MS)),
        "{line}"
    );
    // A well-behaved Photon's DCT writes (no erase on alt 1): 1 ms after each block, nothing cut.
    let (_, run) = run_with_fault(SimDevice::builder(SimPlatform::Photon), "clean");
    run.repaired();
    let line = run
        .log
        .iter()
        .find(|l| l.contains("between status requests"))
        .unwrap_or_else(|| panic!("no poll-wait line in {:#?}", run.log));
    assert!(
        line.contains("up to 1 ms") && !line.contains("cut to"),
        "{line}"
    );
}

#[test]
fn gen3_bootloaders_dirty_slow_or_refusing_writes_are_repaired_or_rolled_back() {
    // The nRF52840 bootloader's own state machine (src/sim/device/nrf52.rs): a request with no
    // transition stalls into dfuERROR, and a failed write is dfuERROR at the next poll.
    for platform in [SimPlatform::Argon, SimPlatform::Boron] {
        let clean: Vec<(&str, SimBuilder)> = vec![
            (
                "left in dfuERROR",
                SimDevice::builder(platform).start_in(State::Error),
            ),
            (
                "left in dfuDNLOAD-IDLE",
                SimDevice::builder(platform).start_in(State::DnloadIdle),
            ),
            (
                "left in dfuUPLOAD-IDLE",
                SimDevice::builder(platform).start_in(State::UploadIdle),
            ),
            (
                "busy with poll timeouts",
                SimDevice::builder(platform).busy(3, 25),
            ),
        ];
        for (what, builder) in clean {
            let what = format!("{platform:?} {what}");
            let (_, run) = run_with_fault(builder, &what);
            assert!(
                matches!(run.verify, Some(Ok(VerifyOutcome::Online { .. }))),
                "{what}: {:?}",
                run.error().map(|e| e.to_string())
            );
        }
        let what = format!("{platform:?} refusing every write");
        let (w, run) = run_with_fault(SimDevice::builder(platform).stall_on_write(), &what);
        match run.error() {
            Some(DoctorError::WriteFailed { restore, .. }) => {
                assert_eq!(*restore, RestoreOutcome::Unchanged, "{what}");
            }
            other => panic!("{what}: expected a write failure, got {other:?}"),
        }
        assert_second_attempt_repairs(&w, &what);
    }
}

#[test]
fn slow_and_dirty_bootloaders_are_repaired_without_errors() {
    let cases: Vec<(&str, SimBuilder)> = vec![
        (
            "busy with poll timeouts",
            SimDevice::builder(SimPlatform::Photon).busy(3, 25),
        ),
        (
            "left in dfuERROR",
            SimDevice::builder(SimPlatform::Photon).start_in(State::Error),
        ),
        (
            "left in dfuDNLOAD-IDLE",
            SimDevice::builder(SimPlatform::Photon).start_in(State::DnloadIdle),
        ),
        (
            "left in dfuUPLOAD-IDLE",
            SimDevice::builder(SimPlatform::Photon).start_in(State::UploadIdle),
        ),
        (
            "old bootloader reporting dfuMANIFEST",
            SimDevice::builder(SimPlatform::Photon).old_bootloader(),
        ),
        (
            "names only in string descriptors",
            SimDevice::builder(SimPlatform::Photon).hide_alternate_names(),
        ),
    ];
    for (what, builder) in cases {
        let (_, run) = run_with_fault(builder, what);
        assert!(
            matches!(run.verify, Some(Ok(VerifyOutcome::Online { .. }))),
            "{what}: {:?}",
            run.error().map(|e| e.to_string())
        );
    }
}

/// A cloud client that fails its `fail_at`-th request (0-based) with `error`.
struct FaultyCloud {
    inner: WorldCloudApi,
    fail_at: usize,
    error: ApiError,
    seen: usize,
}

impl FaultyCloud {
    fn new(w: &SimWorld, fail_at: usize, error: ApiError) -> Self {
        Self {
            inner: w.cloud_api(),
            fail_at,
            error,
            seen: 0,
        }
    }
}

impl CloudApi for FaultyCloud {
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let n = self.seen;
        self.seen += 1;
        if n == self.fail_at {
            return Err(self.error.clone());
        }
        self.inner.execute(request).await
    }

    async fn sleep(&mut self, ms: u32) {
        self.inner.sleep(ms).await;
    }

    fn now_ms(&self) -> u64 {
        self.inner.now_ms()
    }
}

fn cloud_errors() -> Vec<ApiError> {
    vec![
        ApiError::Network {
            message: "Failed to fetch".into(),
        },
        ApiError::Server { status: 503 },
        ApiError::RateLimited,
        ApiError::TokenExpired,
    ]
}

#[test]
fn a_cloud_failure_at_any_request_leaves_the_device_recoverable() {
    // Requests of a clean run: the lookup, the key upload, then the online polls.
    let clean = {
        let w = photon_world(Owner::Demo);
        let mut api = FaultyCloud::new(&w, usize::MAX, ApiError::RateLimited);
        let mut run = block_on(repair_with(&w, &mut api, options_for(&w), Some(DEMO_EMAIL)));
        block_on(verify_with(&w, &mut run, &mut api, Some(DEMO_EMAIL)));
        run.assert_online();
        api.seen
    };
    assert!(clean >= 3, "lookup, upload and at least one poll: {clean}");
    for fail_at in 0..clean {
        for error in cloud_errors() {
            let what = format!("cloud request {fail_at} fails with {error}");
            let w = photon_world(Owner::Demo);
            let mut api = FaultyCloud::new(&w, fail_at, error.clone());
            let mut run = block_on(repair_with(&w, &mut api, options_for(&w), Some(DEMO_EMAIL)));
            block_on(verify_with(&w, &mut run, &mut api, Some(DEMO_EMAIL)));
            assert_invariants(&w, &run);
            match fail_at {
                // The lookup: the plan waits for the cloud and nothing is written.
                0 => {
                    let err = run.error().expect("the repair must stop");
                    assert!(
                        matches!(err, DoctorError::CloudNeeded { .. }),
                        "{what}: {err}"
                    );
                    assert!(
                        err.to_string().contains(&error.to_string()),
                        "{what}: {err}"
                    );
                    assert_eq!(
                        differs(&run.dct_before, w.device.borrow().dct(), 0..8391),
                        None
                    );
                }
                // The upload: the device keeps its new key, the send can be retried from it.
                1 => {
                    let repair = run.repaired();
                    assert!(
                        matches!(&repair.send, SendOutcome::Failed { error: e, .. } if *e == error.to_string()),
                        "{what}: {:?}",
                        repair.send
                    );
                    assert!(matches!(
                        private_key_status(&w, w.device.borrow().dct()),
                        PrivateKeyStatus::Valid { .. }
                    ));
                    assert_eq!(cloud_key(&w), None, "{what}: nothing reached the cloud");
                }
                // A poll while waiting: transient errors are retried, others are reported.
                _ => match run.verify.as_ref().unwrap().as_ref().unwrap() {
                    VerifyOutcome::Online { .. } => {}
                    VerifyOutcome::CouldNotCheck { hint, .. } => assert!(!hint.is_empty()),
                    other => panic!("{what}: {other:?}"),
                },
            }
        }
    }
}

#[test]
fn a_failed_upload_is_retried_from_the_key_read_back_from_the_device() {
    let w = photon_world(Owner::Demo);
    let mut api = FaultyCloud::new(&w, 1, ApiError::Server { status: 502 });
    let run = block_on(repair_with(&w, &mut api, options_for(&w), Some(DEMO_EMAIL)));
    assert!(matches!(run.repaired().send, SendOutcome::Failed { .. }));
    let mut doctor = run.doctor.unwrap();
    let token = w.token(DEMO_EMAIL);
    let sent =
        block_on(doctor.send_key_from_device(None, ctx(&mut api, Some(&token)), &mut |_| {}))
            .unwrap();
    assert_eq!(cloud_key(&w), Some(sent.spki_der));
    assert_eq!(cloud_key(&w), device_public_key(&w));
    let (verify, _) = block_on(doctor.leave_and_verify(
        ctx(&mut api, Some(&token)),
        VERIFY_TIMEOUT_MS,
        &mut |_| {},
    ))
    .unwrap();
    assert!(matches!(verify, VerifyOutcome::Online { .. }), "{verify:?}");
}

#[test]
fn an_upload_refused_after_the_write_is_undone_by_restoring_the_backup() {
    // A Developer passes the role check; the upload is then refused (the role changed meanwhile).
    // Requests: the device lookup, the user, the product team, then the upload.
    let w = photon_world(Owner::Product);
    let mut api = FaultyCloud::new(
        &w,
        3,
        ApiError::ProductRoleMissing {
            product_id: PRODUCT_ID,
        },
    );
    let run = block_on(repair_with(
        &w,
        &mut api,
        options_for(&w),
        Some(DEVELOPER_EMAIL),
    ));
    let repair = run.repaired();
    match &repair.send {
        SendOutcome::Failed { error, hint } => {
            assert!(error.contains("may not send keys"), "{error}");
            assert!(!hint.is_empty());
        }
        other => panic!("expected the upload to be refused: {other:?}"),
    }
    assert_eq!(cloud_key(&w), None);
    // The user restores the backup: the device is as it was.
    let mut doctor = run.doctor.unwrap();
    let backup = doctor.backup().expect("a backup").clone();
    let restored = block_on(doctor.restore(&backup, &mut |_| {})).unwrap();
    assert!(restored > 0);
    assert_eq!(
        differs(&run.dct_before, w.device.borrow().dct(), 0..3618),
        None
    );
}

#[test]
fn cancelling_stops_before_the_next_step_and_writes_nothing() {
    let w = photon_world(Owner::Demo);
    let cancel = CancelFlag::new();
    let token = w.token(DEMO_EMAIL);
    let mut api = w.cloud_api();
    let mut doctor = block_on(Doctor::connect(
        w.transport(),
        None,
        cancel.clone(),
        &mut |_| {},
    ))
    .unwrap();
    let diagnosis = block_on(doctor.diagnose(ctx(&mut api, Some(&token)), &mut |_| {})).unwrap();
    doctor.back_up(&mut |_| {}).unwrap();
    let plan = doctor
        .plan(&diagnosis, &options_for(&w), &mut |_| {})
        .unwrap();
    cancel.cancel();
    let before = w.device.borrow().dct().to_vec();
    let err = block_on(doctor.repair(&plan, ctx(&mut api, Some(&token)), &mut |_| {})).unwrap_err();
    assert!(matches!(err, DoctorError::Cancelled { .. }), "{err}");
    assert_eq!(differs(&before, w.device.borrow().dct(), 0..8391), None);
    cancel.reset();
    let report = block_on(doctor.repair(&plan, ctx(&mut api, Some(&token)), &mut |_| {})).unwrap();
    assert_eq!(report.send, SendOutcome::Sent);
}

#[test]
fn a_write_reported_as_dfu_error_is_explained_and_the_device_is_unchanged() {
    // ST's reference bootloader reports a failed write as dfuERROR with errWRITE, not a stall.
    let (w, run) = run_with_fault(
        SimDevice::builder(SimPlatform::Photon).error_on_write(0x03),
        "dfuERROR errWRITE on every write",
    );
    let err = run.error().expect("the write must fail");
    match err {
        DoctorError::WriteFailed {
            what,
            cause,
            restore,
        } => {
            assert_eq!(*what, "server key");
            assert!(
                matches!(
                    cause,
                    key_rescue::dfu::Error::WriteFailed {
                        status: 0x03,
                        state: State::Error,
                        ..
                    }
                ),
                "{cause:?}"
            );
            assert_eq!(*restore, RestoreOutcome::Unchanged);
        }
        other => panic!("expected a write failure, got {other}"),
    }
    assert_eq!(cloud_key(&w), None, "nothing was sent");
    assert_second_attempt_repairs(&w, "dfuERROR errWRITE");
}

// --- a transfer that never completes (issue 17) ---------------------------------------------------

/// A Photon whose private key a brownout damaged, as the fault picker builds it.
fn corrupt_key_photon() -> SimBuilder {
    Fault::CorruptKey
        .device_builder(&new_cloud().server_key_region())
        .expect("a corrupt-key Photon")
}

fn is_timeout(e: &DoctorError) -> bool {
    let timeout = key_rescue::dfu::Error::Transport(TransportError::Timeout);
    match e {
        DoctorError::Dfu(cause) | DoctorError::WriteFailed { cause, .. } => *cause == timeout,
        _ => false,
    }
}

/// Whether the device holds every byte of `backup` (the slots a repair may touch).
fn holds_backup(w: &SimWorld, backup: &key_rescue::doctor::Backup) -> bool {
    let device = w.device.borrow();
    backup.regions.iter().all(|r| {
        let at = r.address as usize;
        device.memory(r.alt).get(at..at + r.bytes.len()) == Some(&r.bytes[..])
    })
}

/// What the page does after a failure: the user replugs the device and presses Reconnect; after a
/// write that could not be undone the doctor reads the slots back and the page offers Retry when
/// they equal the backup, Restore backup when they differ. Then a repair must bring it online.
fn recover_as_the_page_does(w: &SimWorld, run: &Run, what: &str) {
    {
        let mut device = w.device.borrow_mut();
        device.reenter_dfu();
        *device.faults_mut() = Default::default();
    }
    let restore_offered = matches!(
        run.error(),
        Some(DoctorError::WriteFailed {
            restore: RestoreOutcome::NotRestored { .. },
            ..
        })
    );
    if restore_offered {
        let backup = run
            .doctor
            .as_ref()
            .and_then(|d| d.backup())
            .cloned()
            .expect("a write ran, so a backup was taken");
        let mut doctor = block_on(Doctor::connect(
            w.transport(),
            None,
            CancelFlag::new(),
            &mut |_| {},
        ))
        .unwrap_or_else(|e| panic!("{what}: Reconnect failed: {e}"));
        let held = holds_backup(w, &backup);
        let check = block_on(doctor.check_against_backup(&backup, &mut |_| {})).unwrap();
        match check {
            AfterFailure::Unchanged => assert!(held, "{what}: said unchanged, but it changed"),
            AfterFailure::Changed { bytes } => {
                assert!(
                    !held && bytes > 0,
                    "{what}: said changed, but it holds the backup"
                );
                let restored = block_on(doctor.restore(&backup, &mut |_| {})).unwrap();
                assert!(restored > 0, "{what}");
                assert!(
                    holds_backup(w, &backup),
                    "{what}: the restore did not restore"
                );
            }
        }
    }
    assert_second_attempt_repairs(w, what);
}

#[test]
fn a_transfer_that_never_completes_at_any_position_ends_in_a_timeout_within_its_deadline() {
    let builder = corrupt_key_photon();
    let (total, clean_ms) = {
        let w = world(builder.clone().build(), Owner::Demo);
        let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
        run.assert_online();
        let device = w.device.borrow();
        (device.transfers(), device.now_ms())
    };
    assert!(
        total > 20,
        "a repair takes more than a handful of transfers"
    );
    for n in 1..=total {
        let what = format!("transfer {n} of {total} never completes");
        let (w, run) = run_with_fault(builder.clone().hang_at_request(n), &what);
        let Some(err) = run.error() else {
            // Only the leave's last status request may go unanswered without an error: the
            // device resets inside it, which is how a leave looks (`Dfu::leave`).
            assert!(
                w.device.borrow().left_dfu() && run.repair.as_ref().is_some_and(|r| r.is_ok()),
                "{what}: the run ended without an error"
            );
            run.assert_online();
            continue;
        };
        assert!(is_timeout(err), "{what}: not a typed timeout: {err:?}");
        let hint = err.hint();
        assert!(
            hint.contains("Unplug") && hint.contains("Reconnect"),
            "{what}: {hint}"
        );
        {
            let device = w.device.borrow();
            assert!(device.hung(), "{what}");
            // Nothing more is sent to a device that stopped answering: each try would keep the
            // page busy for another deadline.
            assert_eq!(device.transfers(), n, "{what}: transfers after the timeout");
            // Virtual time: the run's own poll sleeps (at most the clean run's) plus one deadline.
            let now = device.now_ms();
            assert!(now >= u64::from(CONTROL_DEADLINE_MS), "{what}: {now} ms");
            assert!(
                now <= clean_ms + u64::from(STATUS_DEADLINE_MS),
                "{what}: {now} ms, more than one deadline past the clean run's {clean_ms} ms"
            );
        }
        // Never worse: `run_with_fault` checked the invariants (the old key or a valid new one,
        // a backup before any write, the cloud only holds what the device holds).
        recover_as_the_page_does(&w, &run, &what);
    }
}

#[test]
fn the_never_completing_fault_hangs_the_device_during_the_key_write() {
    let region = new_cloud().server_key_region();
    let builder = Fault::TransferNeverCompletes
        .device_builder(&region)
        .unwrap();
    let (w, run) = run_with_fault(builder, "the fault picker's never-completing transfer");
    match run.error() {
        Some(DoctorError::WriteFailed {
            what,
            cause,
            restore: RestoreOutcome::NotRestored { .. },
        }) => {
            assert_eq!(*what, "device private key");
            assert_eq!(
                *cause,
                key_rescue::dfu::Error::Transport(TransportError::Timeout)
            );
        }
        other => panic!("expected the key write to time out: {other:?}"),
    }
    let help = key_rescue::doctor::report::error_help(run.error().unwrap()).unwrap();
    assert_eq!(
        help.extra,
        Some(key_rescue::doctor::report::ExtraHelp::RestoreNeeded)
    );
    assert!(help.cause.contains("stopped answering"), "{}", help.cause);
    recover_as_the_page_does(&w, &run, "never-completing transfer in the key write");
}

#[test]
fn a_timeout_outside_a_write_says_the_device_stopped_answering() {
    // Transfer 3 is read while connecting: no write, no backup, the panel says unplug and replug.
    let (w, run) = run_with_fault(
        SimDevice::builder(SimPlatform::Photon).hang_at_request(3),
        "a transfer that never completes while connecting",
    );
    let err = run.connect_error.as_ref().expect("connecting fails");
    let help = key_rescue::doctor::report::error_help(err).unwrap();
    assert_eq!(
        help.extra,
        Some(key_rescue::doctor::report::ExtraHelp::StoppedAnswering)
    );
    assert!(help.hint.starts_with("Unplug the device"), "{}", help.hint);
    assert_second_attempt_repairs(&w, "a timeout while connecting");
}

// --- device-reported layouts and sizes are bounded by the platform table (issue 17, item 6) -------

#[test]
fn a_layout_beyond_the_platform_table_is_refused_before_anything_is_read() {
    // `1*4095Mg` made the page widen the Core's key area to one 4 GiB sector and allocate it.
    let cases: Vec<(&str, SimBuilder)> = vec![
        (
            "Core with one 4095 MiB sector",
            SimDevice::builder(SimPlatform::Core)
                .layout(1, "@ SPI Flash: SST25x  /0x00000000/1*4095Mg"),
        ),
        (
            "Photon DCT of 4 GiB",
            SimDevice::builder(SimPlatform::Photon).layout(1, "@DCT Flash   /0x00000000/1*4095Mg"),
        ),
    ];
    for (what, builder) in cases {
        let w = world(builder.build(), Owner::Demo);
        let err = block_on(Doctor::connect(
            w.transport(),
            typed_device_id(&w).as_deref(),
            CancelFlag::new(),
            &mut |_| {},
        ))
        .err()
        .unwrap_or_else(|| panic!("{what}: connected"));
        assert!(
            matches!(err, DoctorError::LayoutNotInTable { alt: 1, .. }),
            "{what}: {err:?}"
        );
        assert!(
            err.hint().starts_with("Nothing was read or written"),
            "{what}"
        );
        // Only the descriptors and the bootloader's state were asked for: no UPLOAD of memory.
        assert!(w.device.borrow().transfers() < 12, "{what}");
    }
}

#[test]
fn a_transfer_size_other_than_the_platforms_is_refused() {
    for size in [8192, 2048, 64] {
        let w = world(
            SimDevice::builder(SimPlatform::Photon)
                .reported_transfer_size(size)
                .build(),
            Owner::Demo,
        );
        let before = w.device.borrow().dct().to_vec();
        let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
        match run.connect_error {
            Some(DoctorError::TransferSizeNotInTable {
                reported, expected, ..
            }) => assert_eq!((reported, expected), (size, 4096)),
            other => panic!("wTransferSize {size}: {other:?}"),
        }
        assert_eq!(differs(&before, w.device.borrow().dct(), 0..8391), None);
    }
}

/// A cloud client through which the user presses Cancel at the first request.
struct CancellingCloud {
    inner: WorldCloudApi,
    cancel: CancelFlag,
    seen: usize,
}

impl CloudApi for CancellingCloud {
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        self.seen += 1;
        self.cancel.cancel();
        self.inner.execute(request).await
    }

    async fn sleep(&mut self, ms: u32) {
        self.inner.sleep(ms).await;
    }

    fn now_ms(&self) -> u64 {
        self.inner.now_ms()
    }
}

#[test]
fn cancel_stops_the_wait_for_the_cloud_between_two_polls() {
    let w = photon_world(Owner::Demo);
    let cancel = CancelFlag::new();
    let token = w.token(DEMO_EMAIL);
    let mut api = w.cloud_api();
    let mut doctor = block_on(Doctor::connect(
        w.transport(),
        None,
        cancel.clone(),
        &mut |_| {},
    ))
    .unwrap();
    let diagnosis = block_on(doctor.diagnose(ctx(&mut api, Some(&token)), &mut |_| {})).unwrap();
    doctor.back_up(&mut |_| {}).unwrap();
    let plan = doctor
        .plan(&diagnosis, &options_for(&w), &mut |_| {})
        .unwrap();
    block_on(doctor.repair(&plan, ctx(&mut api, Some(&token)), &mut |_| {})).unwrap();
    let mut waiting = CancellingCloud {
        inner: api,
        cancel: cancel.clone(),
        seen: 0,
    };
    let (outcome, _) = block_on(doctor.leave_and_verify(
        ctx(&mut waiting, Some(&token)),
        VERIFY_TIMEOUT_MS,
        &mut |_| {},
    ))
    .unwrap();
    // The device left DFU mode (the leave went first); the page stopped after one poll instead
    // of waiting 60 s.
    assert!(w.device.borrow().left_dfu());
    assert!(
        matches!(outcome, VerifyOutcome::StoppedWaiting { waited_s: 0, .. }),
        "{outcome:?}"
    );
    assert_eq!(waiting.seen, 1);
    let (headline, steps) = key_rescue::doctor::report::verify_summary(&outcome);
    assert!(headline.contains("stopped waiting"), "{headline}");
    assert!(!steps.is_empty());
}
