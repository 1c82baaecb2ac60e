//! The fault matrix: every USB fault at every control transfer of a repair, and every cloud fault at
//! every cloud request. Whatever fails, the device is never written without a backup, never holds a
//! half-written key, the cloud never gets a key the device does not hold, the message says what to
//! do, and a second attempt repairs the device.

mod doctor_common;

use doctor_common::*;
use futures_executor::block_on;
use key_rescue::cloud::{ApiError, ApiRequest, ApiResponse, CloudApi};
use key_rescue::dfu::State;
use key_rescue::doctor::{DoctorError, RestoreOutcome, SendOutcome, VerifyOutcome};
use key_rescue::keys::diagnose::PrivateKeyStatus;
use key_rescue::sim::device::{Platform as SimPlatform, SimBuilder, SimDevice};
use key_rescue::sim::world::{SimWorld, WorldCloudApi};

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
    use key_rescue::doctor::{CancelFlag, Doctor};
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
