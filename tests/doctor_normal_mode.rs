//! The repair of a running device over control requests (`doctor::RuntimeDoctor`), natively:
//! every key fault of the simulated Photon's picker repaired without DFU mode and online, the
//! faults of the key requests, the path chosen and named, and the fallback to DFU mode.

mod doctor_common;

use doctor_common::*;
use futures_executor::block_on;
use key_rescue::doctor::{
    Action, CancelFlag, Connected, DoctorError, DoctorEvent, PathChoice, PlanBlock, RepairPath,
    RestoreOutcome, RuntimeDoctor, RuntimeVerify, VerifyOutcome, connect_any,
};
use key_rescue::runtime::ConnectionStatus;
use key_rescue::sim::device::{Mode, Platform, SimBuilder, SimDevice};
use key_rescue::sim::faults::Fault;
use key_rescue::sim::world::{SimWorld, UsbHandle};

/// The simulated Photon with a picker fault, running its firmware, and its cloud.
fn normal_mode_world(builder: SimBuilder) -> (SimWorld, Vec<u8>) {
    let cloud = new_cloud();
    let region = cloud.server_key_region();
    (SimWorld::new(builder.normal_mode().build(), cloud), region)
}

fn picker(fault: Fault) -> (SimWorld, Vec<u8>) {
    let cloud = new_cloud();
    let region = cloud.server_key_region();
    let builder = fault.device_builder(&region).expect("the fault builds");
    (SimWorld::new(builder.normal_mode().build(), cloud), region)
}

/// Connect and choose the path, as the page does after the first (and only) prompt.
fn choose(w: &SimWorld, log: &mut Vec<String>) -> PathChoice<UsbHandle> {
    let h = UsbHandle::open(&w.device).unwrap();
    let mut on = |e: DoctorEvent| {
        if let DoctorEvent::Log(l) = e {
            log.push(l)
        }
    };
    let Connected::Running(running) =
        block_on(connect_any(h, None, CancelFlag::new(), &mut on)).unwrap()
    else {
        panic!("connected in DFU mode");
    };
    block_on(RuntimeDoctor::choose(running, CancelFlag::new(), &mut on))
}

struct RuntimeRun {
    log: Vec<String>,
    plan_actions: Vec<&'static str>,
    repair: Result<key_rescue::doctor::RepairReport, DoctorError>,
    verify: Option<RuntimeVerify>,
    blocked: Option<PlanBlock>,
    backup_private_slot: Vec<u8>,
}

/// The whole repair over control requests, stopping at the first error.
fn runtime_repair(w: &SimWorld, region: Vec<u8>, email: &str) -> RuntimeRun {
    let mut log = Vec::new();
    let PathChoice::ControlRequests(mut doctor) = choose(w, &mut log) else {
        panic!("fell back to DFU mode: {log:?}");
    };
    let mut api = w.cloud_api();
    let token = w.token(email);
    let mut on = |e: DoctorEvent| {
        if let DoctorEvent::Log(l) = e {
            log.push(l)
        }
    };
    let diagnosis = block_on(doctor.diagnose(ctx(&mut api, Some(&token)), &mut on)).unwrap();
    let backup = doctor.back_up(&mut on).unwrap();
    let backup_private_slot = backup.regions[0].bytes.to_vec();
    let plan = doctor
        .plan(&diagnosis, &sim_cloud_options(region), &mut on)
        .unwrap();
    let plan_actions = plan
        .actions
        .iter()
        .map(|a| match a {
            Action::WriteServerKey { .. } => "server",
            Action::NewDeviceKey { .. } => "key",
            Action::SendPublicKey { .. } => "send",
        })
        .collect();
    let blocked = plan.blocked.clone();
    let repair = block_on(doctor.repair(&plan, ctx(&mut api, Some(&token)), &mut on));
    let verify = if repair.is_ok() {
        let dev = w.device.clone();
        let mut reopen = || UsbHandle::open(&dev).ok();
        Some(
            block_on(doctor.reset_and_verify(
                &mut reopen,
                ctx(&mut api, Some(&token)),
                VERIFY_TIMEOUT_MS,
                &mut on,
            ))
            .unwrap(),
        )
    } else {
        None
    };
    RuntimeRun {
        log,
        plan_actions,
        repair,
        verify,
        blocked,
        backup_private_slot,
    }
}

fn assert_online_without_dfu(w: &SimWorld, run: &RuntimeRun, what: &str) {
    let verify = run
        .verify
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no verify: {:?}", run.repair.as_ref().err()));
    assert!(
        matches!(verify.outcome, VerifyOutcome::Online { .. }),
        "{what}: {:?}\n{:#?}",
        verify.outcome,
        run.log
    );
    assert_eq!(
        verify.device_status,
        Some(ConnectionStatus::Connected),
        "{what}"
    );
    let report = run.repair.as_ref().unwrap();
    assert_eq!(report.path, RepairPath::ControlRequests);
    // Never in DFU mode, and what the cloud holds is what the device holds.
    assert_eq!(w.device.borrow().mode(), Mode::Runtime, "{what}");
    assert_eq!(cloud_key(w), device_public_key(w), "{what}");
    assert!(
        run.log
            .iter()
            .any(|l| l.contains("repair path: control requests in normal mode")),
        "{what}"
    );
}

#[test]
fn every_key_fault_of_the_picker_is_repaired_without_dfu_mode_and_comes_online() {
    for (fault, actions) in [
        (Fault::BlankKey, vec!["key", "send"]),
        (Fault::CorruptKey, vec!["key", "send"]),
        (Fault::Pkcs8Key, vec!["key", "send"]),
        (Fault::WrongServerKey, vec!["server", "send"]),
        (Fault::CustomServer, vec!["server", "send"]),
        (Fault::None, vec!["send"]),
    ] {
        let (w, region) = picker(fault);
        let run = runtime_repair(&w, region, DEMO_EMAIL);
        assert_eq!(run.plan_actions, actions, "{fault:?}");
        assert_online_without_dfu(&w, &run, &format!("{fault:?}"));
    }
}

/// Particle's address block carries no port (0xFFFF), and the firmware then connects to 5683
/// (`system_cloud_connection.cpp` 161): the log says the port used, not 221's raw 65535.
#[test]
fn the_log_names_the_port_the_firmware_uses_not_the_unset_one() {
    let (w, region) = picker(Fault::BlankKey);
    let run = runtime_repair(&w, region, DEMO_EMAIL);
    let line = run
        .log
        .iter()
        .find(|l| l.contains("(request 221)"))
        .expect("the address read by 221 is logged");
    assert!(line.contains(":5683 (no port stored"), "{line}");
    assert!(!line.contains("65535"), "{line}");
}

#[test]
fn the_custom_servers_address_is_replaced_inside_the_whole_server_key_slot() {
    let (w, region) = picker(Fault::CustomServer);
    let run = runtime_repair(&w, region.clone(), DEMO_EMAIL);
    assert_online_without_dfu(&w, &run, "custom server");
    let dct = w.device.borrow().dct().to_vec();
    assert_eq!(&dct[2082..2082 + region.len()], &region[..]);
}

#[test]
fn another_accounts_device_is_diagnosed_but_nothing_is_written() {
    let (w, region) = picker(Fault::NotYourDevice);
    let before = w.device.borrow().dct().to_vec();
    let run = runtime_repair(&w, region, DEMO_EMAIL);
    assert!(matches!(run.blocked, Some(PlanBlock::CloudNeeded { .. })));
    assert!(matches!(run.repair, Err(DoctorError::CloudNeeded { .. })));
    assert_eq!(w.device.borrow().dct(), &before[..]);
}

#[test]
fn the_running_device_is_given_back_for_dfu_mode_only_before_a_write() {
    let (w, _) = picker(Fault::BlankKey);
    let mut log = Vec::new();
    let PathChoice::ControlRequests(doctor) = choose(&w, &mut log) else {
        panic!("{log:?}");
    };
    let running = doctor.fall_back().ok().expect("nothing was written");
    assert_eq!(running.facts().device_id, device_id(&w));
    // After a (refused) write, no.
    let cloud = new_cloud();
    let region2 = cloud.server_key_region();
    let builder = Fault::BlankKey
        .device_builder(&region2)
        .unwrap()
        .refuse_key_writes(-100);
    let w = SimWorld::new(builder.normal_mode().build(), cloud);
    let PathChoice::ControlRequests(mut doctor) = choose(&w, &mut log) else {
        panic!("{log:?}");
    };
    let mut api = w.cloud_api();
    let token = w.token(DEMO_EMAIL);
    let d = block_on(doctor.diagnose(ctx(&mut api, Some(&token)), &mut |_| {})).unwrap();
    doctor.back_up(&mut |_| {}).unwrap();
    let plan = doctor
        .plan(&d, &sim_cloud_options(region2), &mut |_| {})
        .unwrap();
    assert!(block_on(doctor.repair(&plan, ctx(&mut api, Some(&token)), &mut |_| {})).is_err());
    assert!(doctor.fall_back().is_err());
}

#[test]
fn a_refused_write_is_reported_and_the_device_is_unchanged() {
    let (w, region) = normal_mode_world(
        Fault::BlankKey
            .device_builder(&new_cloud().server_key_region())
            .unwrap()
            .refuse_key_writes(-219),
    );
    let before = w.device.borrow().dct().to_vec();
    let run = runtime_repair(&w, region, DEMO_EMAIL);
    let Err(DoctorError::SlotWriteFailed { restore, path, .. }) = &run.repair else {
        panic!("{:?}", run.repair);
    };
    assert_eq!(*restore, RestoreOutcome::Unchanged);
    assert_eq!(*path, RepairPath::ControlRequests.name());
    assert_eq!(w.device.borrow().dct(), &before[..]);
    assert!(cloud_key(&w).is_none());
}

#[test]
fn a_read_back_that_differs_is_rolled_back_from_the_backup() {
    let cloud = new_cloud();
    let region = cloud.server_key_region();
    let builder = Fault::CorruptKey
        .device_builder(&region)
        .unwrap()
        .corrupt_key_writes(1);
    let w = SimWorld::new(builder.normal_mode().build(), cloud);
    let before = w.device.borrow().dct().to_vec();
    let run = runtime_repair(&w, region, DEMO_EMAIL);
    let Err(DoctorError::SlotWriteFailed { restore, .. }) = &run.repair else {
        panic!("{:?}", run.repair);
    };
    assert_eq!(*restore, RestoreOutcome::Restored);
    assert_eq!(
        &w.device.borrow().dct()[34..34 + 1216],
        &before[34..34 + 1216]
    );
    assert_eq!(run.backup_private_slot, before[34..34 + 1216].to_vec());
}

#[test]
fn a_pulled_cable_mid_write_leaves_a_restorable_device_after_replugging() {
    let cloud = new_cloud();
    let region = cloud.server_key_region();
    let builder = Fault::BlankKey
        .device_builder(&region)
        .unwrap()
        .unplug_on_key_write();
    let w = SimWorld::new(builder.normal_mode().build(), cloud);
    let before = w.device.borrow().dct().to_vec();
    let mut log = Vec::new();
    let PathChoice::ControlRequests(mut doctor) = choose(&w, &mut log) else {
        panic!("{log:?}");
    };
    let mut api = w.cloud_api();
    let token = w.token(DEMO_EMAIL);
    let d = block_on(doctor.diagnose(ctx(&mut api, Some(&token)), &mut |_| {})).unwrap();
    let backup = doctor.back_up(&mut |_| {}).unwrap().clone();
    let plan = doctor
        .plan(&d, &sim_cloud_options(region), &mut |_| {})
        .unwrap();
    let err = block_on(doctor.repair(&plan, ctx(&mut api, Some(&token)), &mut |_| {})).unwrap_err();
    let DoctorError::SlotWriteFailed { restore, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(matches!(restore, RestoreOutcome::NotRestored { .. }));
    assert!(err.hint().contains("Restore backup"));
    // The slot was written before the cable came out.
    assert_ne!(&w.device.borrow().dct()[34..40], &before[34..40]);
    // Plugged in again (normal mode): the backup restores over control requests.
    w.device.borrow_mut().replug();
    let PathChoice::ControlRequests(mut again) = choose(&w, &mut log) else {
        panic!("{log:?}");
    };
    let n = block_on(again.restore(&backup, &mut |_| {})).unwrap();
    assert_eq!(n, 1);
    assert_eq!(w.device.borrow().dct(), &before[..]);
}

#[test]
fn key_requests_that_never_complete_fall_back_to_dfu_mode_before_any_write() {
    let (w, _) = normal_mode_world(
        Fault::BlankKey
            .device_builder(&new_cloud().server_key_region())
            .unwrap()
            .key_requests_never_complete(),
    );
    let before = w.device.borrow().dct().to_vec();
    let mut log = Vec::new();
    let PathChoice::Dfu { fallback, .. } = choose(&w, &mut log) else {
        panic!("chose control requests");
    };
    assert!(
        fallback.reason.contains("key requests failed"),
        "{}",
        fallback.reason
    );
    assert!(log.iter().any(|l| l.starts_with("repair path: DFU mode")));
    assert_eq!(w.device.borrow().dct(), &before[..]);
}

#[test]
fn a_device_busy_connecting_is_asked_to_stop_first_and_the_log_says_why_it_blinks_blue() {
    let cloud = new_cloud();
    let region = cloud.server_key_region();
    let builder = Fault::BlankKey
        .device_builder(&region)
        .unwrap()
        .system_busy(600_000);
    let w = SimWorld::new(builder.normal_mode().build(), cloud);
    let run = runtime_repair(&w, region, DEMO_EMAIL);
    assert!(
        run.log
            .iter()
            .any(|l| l.contains("request 70") && l.contains("dark blue")),
        "{:#?}",
        run.log
    );
    assert_online_without_dfu(&w, &run, "busy");
}

#[test]
fn gen3_the_core_and_old_firmware_go_to_dfu_mode_and_say_why() {
    for (builder, expect) in [
        (SimBuilder::new(Platform::Argon), "not supported"),
        (SimBuilder::new(Platform::Boron), "not supported"),
        (
            SimBuilder::new(Platform::Photon).firmware("0.7.0"),
            "before 0.8",
        ),
        (SimBuilder::new(Platform::Electron), "Electron"),
    ] {
        let w = SimWorld::new(builder.normal_mode().build(), new_cloud());
        let mut log = Vec::new();
        match choose(&w, &mut log) {
            PathChoice::Dfu { fallback, running } => {
                assert!(fallback.reason.contains(expect), "{}", fallback.reason);
                // The running device is handed back, ready for request 50 as in the DFU path.
                assert!(!running.facts().device_id.is_empty());
            }
            PathChoice::ControlRequests(_) => panic!("{expect}: chose control requests"),
        }
    }
}

/// The same write (write, read back, compare, roll back) on the DFU implementation of the slots.
#[test]
fn the_one_slot_write_runs_on_dfu_mode_too() {
    use key_rescue::dfu::Dfu;
    use key_rescue::doctor::{DfuSlots, KeySlots, Slot, write_verified};
    use key_rescue::usb::Counting;
    let slot = Slot {
        what: "device private key",
        address: 34,
        len: 1216,
    };
    let original = vec![0xFF; 1216];
    let mut image = original.clone();
    image[..3].copy_from_slice(&[1, 2, 3]);

    let mut t = Counting::new(SimDevice::photon());
    let mut dfu = block_on(Dfu::open(&mut t, 0, 1)).unwrap();
    let mut slots = DfuSlots(&mut dfu);
    assert_eq!(slots.path(), RepairPath::Dfu);
    let back = block_on(write_verified(&mut slots, slot, &image, &original)).unwrap();
    assert_eq!(back.as_slice(), &image[..]);

    // A write the bootloader refuses leaves the slot as it was, and says so.
    let mut t = Counting::new(
        SimDevice::builder(Platform::Photon)
            .stall_on_write()
            .build(),
    );
    let mut dfu = block_on(Dfu::open(&mut t, 0, 1)).unwrap();
    let mut slots = DfuSlots(&mut dfu);
    let err = block_on(write_verified(&mut slots, slot, &image, &original)).unwrap_err();
    let DoctorError::SlotWriteFailed { restore, path, .. } = err else {
        panic!("{err:?}");
    };
    assert_eq!(restore, RestoreOutcome::Unchanged);
    assert_eq!(path, "DFU mode");
    assert_eq!(&t.inner().dct()[34..34 + 1216], &original[..]);
}
