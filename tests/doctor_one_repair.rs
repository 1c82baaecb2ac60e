//! One repair, two ways to reach the slots: the same fault of the picker repaired in DFU mode
//! (`Doctor`, DFU alt 1) and in normal mode (`RuntimeDoctor`, requests 211/210) plans the same,
//! writes the same, and leaves the same bytes; the advanced panel's commands run on both and
//! leave the same bytes too.

mod doctor_common;

use doctor_common::*;
use futures_executor::block_on;
use key_rescue::doctor::{
    Action, CancelFlag, Command, Connected, Doctor, DoctorError, DoctorEvent, PathChoice, Plan,
    RepairPath, RepairReport, RuntimeDoctor, connect_any,
};
use key_rescue::keys::ServerAddressSpec;
use key_rescue::keys::diagnose::PrivateKeyStatus;
use key_rescue::sim::device::SimBuilder;
use key_rescue::sim::faults::Fault;
use key_rescue::sim::world::{SimWorld, UsbHandle};
use std::sync::{Mutex, OnceLock};

/// The device private key slot of a Photon (particle-dct.md 2).
const PRIVATE_SLOT: std::ops::Range<usize> = 34..34 + 1216;

/// A session on either path, as the page holds it after Connect.
enum Session {
    Dfu(Box<Doctor<key_rescue::sim::world::SharedDevice>>),
    Runtime(Box<RuntimeDoctor<UsbHandle>>),
}

/// The simulated Photon with `fault`, in DFU mode or running its firmware, and its cloud. The
/// builder is the same for both paths (its DCT, the faulty key included, is fixed when it is
/// made), so both start from the same bytes.
fn world_with(fault: Fault, normal_mode: bool) -> (SimWorld, Vec<u8>) {
    let builder = builder_for(fault);
    let cloud = new_cloud();
    let region = cloud.server_key_region();
    let builder = if normal_mode {
        builder.normal_mode()
    } else {
        builder
    };
    (SimWorld::new(builder.build(), cloud), region)
}

/// One builder per fault for the whole test binary.
fn builder_for(fault: Fault) -> SimBuilder {
    static BUILDERS: OnceLock<Mutex<Vec<(Fault, SimBuilder)>>> = OnceLock::new();
    let mut made = BUILDERS.get_or_init(Default::default).lock().unwrap();
    if let Some((_, b)) = made.iter().find(|(f, _)| *f == fault) {
        return b.clone();
    }
    let b = fault
        .device_builder(&new_cloud().server_key_region())
        .expect("the fault builds");
    made.push((fault, b.clone()));
    b
}

fn connect(w: &SimWorld, path: RepairPath) -> Session {
    let on = &mut |_: DoctorEvent| {};
    match path {
        RepairPath::Dfu => Session::Dfu(Box::new(
            block_on(Doctor::connect(w.transport(), None, CancelFlag::new(), on)).unwrap(),
        )),
        RepairPath::ControlRequests => {
            let h = UsbHandle::open(&w.device).unwrap();
            let Connected::Running(running) =
                block_on(connect_any(h, None, CancelFlag::new(), on)).unwrap()
            else {
                panic!("connected in DFU mode");
            };
            match block_on(RuntimeDoctor::choose(running, CancelFlag::new(), on)) {
                PathChoice::ControlRequests(doctor) => Session::Runtime(doctor),
                PathChoice::Dfu { fallback, .. } => panic!("fell back: {}", fallback.reason),
            }
        }
    }
}

/// Connect, diagnose, back up, plan and repair on `path`, stopping before the device restarts.
fn repair_on(fault: Fault, path: RepairPath) -> (SimWorld, Plan, RepairReport) {
    let (w, region) = world_with(fault, path == RepairPath::ControlRequests);
    let mut api = w.cloud_api();
    let token = w.token(DEMO_EMAIL);
    let options = sim_cloud_options(region);
    let on = &mut |_: DoctorEvent| {};
    let (plan, report) = match connect(&w, path) {
        Session::Dfu(mut d) => {
            let diagnosis = block_on(d.diagnose(ctx(&mut api, Some(&token)), on)).unwrap();
            d.back_up(on).unwrap();
            let plan = d.plan(&diagnosis, &options, on).unwrap();
            let report = block_on(d.repair(&plan, ctx(&mut api, Some(&token)), on)).unwrap();
            (plan, report)
        }
        Session::Runtime(mut d) => {
            let diagnosis = block_on(d.diagnose(ctx(&mut api, Some(&token)), on)).unwrap();
            d.back_up(on).unwrap();
            let plan = d.plan(&diagnosis, &options, on).unwrap();
            let report = block_on(d.repair(&plan, ctx(&mut api, Some(&token)), on)).unwrap();
            (plan, report)
        }
    };
    (w, plan, report)
}

#[test]
fn the_same_fault_repaired_on_both_paths_plans_writes_and_leaves_the_same_bytes() {
    for fault in [
        Fault::BlankKey,
        Fault::CorruptKey,
        Fault::Pkcs8Key,
        Fault::WrongServerKey,
        Fault::CustomServer,
        Fault::None,
    ] {
        let (dfu_world, dfu_plan, dfu_report) = repair_on(fault, RepairPath::Dfu);
        let (rt_world, rt_plan, rt_report) = repair_on(fault, RepairPath::ControlRequests);
        assert_eq!(dfu_plan, rt_plan, "{fault:?}: the plans differ");
        assert_eq!(dfu_report.path, RepairPath::Dfu);
        assert_eq!(rt_report.path, RepairPath::ControlRequests);
        assert_eq!(dfu_report.written, rt_report.written, "{fault:?}");
        assert_eq!(dfu_report.send, rt_report.send, "{fault:?}");
        let dfu = dfu_world.device.borrow().dct().to_vec();
        let rt = rt_world.device.borrow().dct().to_vec();
        let new_key = dfu_plan
            .actions
            .iter()
            .any(|a| matches!(a, Action::NewDeviceKey { .. }));
        if new_key {
            // A key pair is generated on each run: every byte outside the private key slot is
            // the same, and inside it each holds a valid key of the same kind, padded the same.
            assert_eq!(differs(&dfu, &rt, 0..PRIVATE_SLOT.start), None, "{fault:?}");
            assert_eq!(
                differs(&dfu, &rt, PRIVATE_SLOT.end..dfu.len()),
                None,
                "{fault:?}"
            );
            for w in [&dfu_world, &rt_world] {
                let dct = w.device.borrow().dct().to_vec();
                let PrivateKeyStatus::Valid { public_key } = private_key_status(w, &dct) else {
                    panic!("{fault:?}: no valid key written");
                };
                assert_eq!(
                    Some(public_key.algorithm),
                    dfu_report.public_key.as_ref().map(|k| k.algorithm)
                );
                let der_end = dct[PRIVATE_SLOT][..].iter().rposition(|&b| b != 0xFF);
                assert!(der_end.is_some_and(|e| e < 1216 - 16), "{fault:?}: padding");
            }
        } else {
            assert_eq!(
                differs(&dfu, &rt, 0..dfu.len()),
                None,
                "{fault:?}: the DCTs differ after the repair"
            );
        }
        // What the cloud holds is the key read back from each device.
        for w in [&dfu_world, &rt_world] {
            assert_eq!(cloud_key(w), device_public_key(w), "{fault:?}");
        }
    }
}

/// Diagnose and back up on `path`, then run `commands` one after the other.
fn commands_on(
    fault: Fault,
    path: RepairPath,
    commands: &[Command],
) -> (SimWorld, Vec<Result<String, DoctorError>>) {
    let (w, _) = world_with(fault, path == RepairPath::ControlRequests);
    let mut api = w.cloud_api();
    let token = w.token(DEMO_EMAIL);
    let on = &mut |_: DoctorEvent| {};
    let mut session = connect(&w, path);
    let mut said = Vec::new();
    match &mut session {
        Session::Dfu(d) => {
            block_on(d.diagnose(ctx(&mut api, Some(&token)), on)).unwrap();
            d.back_up(on).unwrap();
        }
        Session::Runtime(d) => {
            block_on(d.diagnose(ctx(&mut api, Some(&token)), on)).unwrap();
            d.back_up(on).unwrap();
        }
    }
    for command in commands {
        let done = match &mut session {
            Session::Dfu(d) => {
                block_on(d.run_command(command.clone(), ctx(&mut api, Some(&token)), on))
            }
            Session::Runtime(d) => {
                block_on(d.run_command(command.clone(), ctx(&mut api, Some(&token)), on))
            }
        };
        said.push(done.map(|o| {
            let file = o
                .download
                .map(|f| format!(" [{} {:?}]", f.name, &f.bytes[..]));
            format!("{}{}", o.message, file.unwrap_or_default())
        }));
    }
    (w, said)
}

#[test]
fn the_advanced_commands_run_over_control_requests_and_leave_what_dfu_mode_leaves() {
    let key_file = pkcs8_key_der();
    let commands = [
        Command::LoadKeyFile {
            file: Some(key_file),
        },
        Command::SaveKey,
        Command::WriteServer {
            key_file: None,
            address: ServerAddressSpec::Host {
                host: "cloud.example.com".into(),
                port: Some(5684),
            },
        },
        Command::ReadAddress,
        Command::SendKey { product: None },
    ];
    let (dfu_world, dfu_said) = commands_on(Fault::CorruptKey, RepairPath::Dfu, &commands);
    let (rt_world, rt_said) =
        commands_on(Fault::CorruptKey, RepairPath::ControlRequests, &commands);
    for (i, (d, r)) in dfu_said.iter().zip(&rt_said).enumerate() {
        assert!(d.is_ok(), "DFU mode, {:?}: {d:?}", commands[i]);
        assert_eq!(d, r, "{:?}", commands[i]);
    }
    let (dfu, rt) = (
        dfu_world.device.borrow().dct().to_vec(),
        rt_world.device.borrow().dct().to_vec(),
    );
    assert_eq!(
        differs(&dfu, &rt, 0..dfu.len()),
        None,
        "the same commands left different bytes"
    );
    assert_eq!(cloud_key(&rt_world), device_public_key(&rt_world));
    assert!(cloud_key(&rt_world).is_some());
}

#[test]
fn the_flash_dump_over_control_requests_says_it_needs_dfu_mode_and_how() {
    let (w, said) = commands_on(
        Fault::None,
        RepairPath::ControlRequests,
        &[Command::DumpFlash],
    );
    let Err(err) = &said[0] else {
        panic!("{said:?}");
    };
    assert!(matches!(err, DoctorError::NeedsDfuMode { .. }), "{err:?}");
    assert!(err.to_string().contains("needs DFU mode"), "{err}");
    assert!(err.hint().contains("DFU mode") && err.hint().ends_with('.'));
    // Nothing was sent to the device beyond the diagnosis: it still runs its firmware.
    assert_eq!(
        w.device.borrow().mode(),
        key_rescue::sim::device::Mode::Runtime
    );
}

#[test]
fn a_write_refused_over_control_requests_is_the_same_rollback_as_in_dfu_mode() {
    // The advanced panel's "keys new" on a running device whose firmware refuses the write: the
    // one write reports it with the path and leaves the slot as backed up.
    let cloud = new_cloud();
    let region = cloud.server_key_region();
    let builder = Fault::CorruptKey
        .device_builder(&region)
        .unwrap()
        .refuse_key_writes(-219)
        .normal_mode();
    let w = SimWorld::new(builder.build(), cloud);
    let before = w.device.borrow().dct().to_vec();
    let mut api = w.cloud_api();
    let token = w.token(DEMO_EMAIL);
    let on = &mut |_: DoctorEvent| {};
    let Session::Runtime(mut d) = connect(&w, RepairPath::ControlRequests) else {
        unreachable!()
    };
    block_on(d.diagnose(ctx(&mut api, Some(&token)), on)).unwrap();
    d.back_up(on).unwrap();
    let err =
        block_on(d.run_command(Command::NewKey, ctx(&mut api, Some(&token)), on)).unwrap_err();
    let DoctorError::SlotWriteFailed { restore, path, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*path, RepairPath::ControlRequests.name());
    assert_eq!(*restore, key_rescue::doctor::RestoreOutcome::Unchanged);
    let after = w.device.borrow().dct().to_vec();
    assert_eq!(differs(&before, &after, 0..before.len()), None);
}

/// The picker's runtime write faults (started in normal mode): a refused write leaves the device
/// unchanged; a read-back that differs is rolled back from the backup, and the repair pressed
/// again brings the device online without DFU mode.
#[test]
fn the_pickers_runtime_write_faults_are_rolled_back_and_a_retry_repairs() {
    for (fault, restore) in [
        (
            Fault::KeyWriteRefused,
            key_rescue::doctor::RestoreOutcome::Unchanged,
        ),
        (
            Fault::KeyReadBackDiffers,
            key_rescue::doctor::RestoreOutcome::Restored,
        ),
    ] {
        let cloud = new_cloud();
        let region = cloud.server_key_region();
        let builder = fault.in_normal_mode(builder_for(fault));
        let w = SimWorld::new(builder.build(), cloud);
        let before = w.device.borrow().dct().to_vec();
        let mut api = w.cloud_api();
        let token = w.token(DEMO_EMAIL);
        let log = std::cell::RefCell::new(Vec::<String>::new());
        let on = &mut |e: DoctorEvent| {
            if let DoctorEvent::Log(l) = e {
                log.borrow_mut().push(l)
            }
        };
        let Session::Runtime(mut d) = connect(&w, RepairPath::ControlRequests) else {
            unreachable!()
        };
        let diagnosis = block_on(d.diagnose(ctx(&mut api, Some(&token)), on)).unwrap();
        d.back_up(on).unwrap();
        let plan = d.plan(&diagnosis, &sim_cloud_options(region), on).unwrap();
        let err = block_on(d.repair(&plan, ctx(&mut api, Some(&token)), on)).unwrap_err();
        let DoctorError::SlotWriteFailed { restore: got, .. } = &err else {
            panic!("{fault:?}: {err:?}");
        };
        assert_eq!(*got, restore, "{fault:?}");
        let after = w.device.borrow().dct().to_vec();
        assert_eq!(differs(&before, &after, 0..before.len()), None, "{fault:?}");
        assert_eq!(cloud_key(&w), None, "{fault:?}: nothing was sent");
        assert!(err.hint().ends_with("Then retry the repair."), "{fault:?}");
        assert!(
            log.borrow()
                .iter()
                .any(|l| l.starts_with("after the failure: ")),
            "{fault:?}: {log:#?}"
        );
        // Pressed again: the refused write is refused again; the other one repairs.
        let again = block_on(d.repair(&plan, ctx(&mut api, Some(&token)), on));
        match fault {
            Fault::KeyWriteRefused => assert!(again.is_err()),
            _ => {
                assert_eq!(again.unwrap().path, RepairPath::ControlRequests);
                assert_eq!(cloud_key(&w), device_public_key(&w));
            }
        }
    }
}

/// Issue 14 item 4: after a repair in DFU mode the device restarts in normal mode; its runtime
/// personality answers request 300 as a second witness beside the cloud. Only that device, only
/// running its firmware.
#[test]
fn after_a_dfu_repair_the_restarted_device_reports_its_own_connection() {
    use key_rescue::doctor::device_witness;
    use key_rescue::runtime::ConnectionStatus;
    // A blank Photon in DFU mode whose firmware (Device OS 2.3.1) runs after the leave.
    let w = world(
        key_rescue::sim::device::SimDevice::builder(key_rescue::sim::device::Platform::Photon)
            .firmware("2.3.1")
            .build(),
        Owner::Demo,
    );
    let id = device_id(&w);
    // Still in DFU mode: no witness.
    assert_eq!(
        block_on(device_witness(&mut w.transport(), &id, &mut |_| {})),
        None
    );
    let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
    run.assert_online();
    let mut log = Vec::new();
    let mut handle = UsbHandle::open(&w.device).expect("the device is back on the bus");
    let status = block_on(device_witness(&mut handle, &id, &mut |e| {
        if let DoctorEvent::Log(l) = e {
            log.push(l)
        }
    }));
    assert_eq!(status, Some(ConnectionStatus::Connected));
    assert!(log.iter().any(|l| l.contains("request 300")), "{log:?}");
    assert_eq!(
        key_rescue::doctor::report::device_status_sentence(ConnectionStatus::Connected),
        "The device itself reports it is connected to the cloud (asked over USB, request 300)."
    );
    // Another device's ID: not asked.
    let mut other = UsbHandle::open(&w.device).unwrap();
    assert_eq!(
        block_on(device_witness(
            &mut other,
            "0123456789abcdef01234568",
            &mut |_| {}
        )),
        None
    );
}
