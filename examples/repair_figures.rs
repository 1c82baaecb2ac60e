//! Prints the control transfers of a full repair of a simulated Photon, step by step, beside the
//! sequence particle-cli 3 runs for the same repair (`keys server`, then `keys doctor`: read the
//! old key as a backup, write the new key without erase, leave, upload; particle-dct.md 6.3, 6.4),
//! replayed with this project's DFU host against the same simulator.
//!
//! Then a running Photon's repair over control requests (no DFU mode) beside the same repair
//! through DFU mode, for three faults: control transfers and virtual time.
//!
//! Run: `cargo run --release --example repair_figures`

use futures_executor::block_on;
use key_rescue::device::{KEYS_ALT, PARTICLE_TCP_SERVER_REGION};
use key_rescue::dfu::{Dfu, Erase};
use key_rescue::doctor::{
    CancelFlag, CloudContext, Connected, Doctor, PathChoice, PlanOptions, RuntimeDoctor,
    ServerChoice, connect_any,
};
use key_rescue::sim::cloud::{SimCloud, scenario};
use key_rescue::sim::device::{Platform as SimPlatform, SimDevice};
use key_rescue::sim::faults::Fault;
use key_rescue::sim::world::{SimWorld, UsbHandle};
use key_rescue::usb::{Counting, TransferCounts};
use std::time::Instant;

fn row(step: &str, c: TransferCounts) {
    println!(
        "{step:<34} {:>9} {:>9} {:>9}",
        c.transfers, c.bytes_in, c.bytes_out
    );
}

fn header(title: &str) {
    println!("\n{title}");
    println!(
        "{:<34} {:>9} {:>9} {:>9}",
        "step", "transfers", "bytes in", "bytes out"
    );
}

fn main() {
    let mut cloud = SimCloud::generate().expect("a cloud key");
    scenario::seed_demo(&mut cloud);
    let device = SimDevice::builder(SimPlatform::Photon)
        .device_id(scenario::DEMO_PHOTON_ID)
        .build();
    let world = SimWorld::new(device, cloud);
    let token = world.token(scenario::DEMO_EMAIL);
    let mut api = world.cloud_api();
    let options = PlanOptions {
        server: ServerChoice::Custom {
            region: world.cloud.borrow().server_key_region(),
            description: "the simulated cloud".into(),
        },
        ..PlanOptions::default()
    };
    let mut log = |_| {};
    let started = Instant::now();

    header("Key Rescue: full repair of a Photon with blank keys (simulated)");
    let mut doctor = block_on(Doctor::connect(
        world.transport(),
        None,
        CancelFlag::new(),
        &mut log,
    ))
    .unwrap();
    let mut last = doctor.transfers();
    row("connect (identify, dfuIDLE)", last);
    let diagnosis = block_on(doctor.diagnose(
        CloudContext {
            api: &mut api,
            token: Some(&token),
        },
        &mut log,
    ))
    .unwrap();
    row(
        "diagnose (read every key slot)",
        doctor.transfers().since(last),
    );
    last = doctor.transfers();
    doctor.back_up(&mut log).unwrap();
    row(
        "back up (bytes already read)",
        doctor.transfers().since(last),
    );
    let plan = doctor.plan(&diagnosis, &options, &mut log).unwrap();
    let report = block_on(doctor.repair(
        &plan,
        CloudContext {
            api: &mut api,
            token: Some(&token),
        },
        &mut log,
    ))
    .unwrap();
    row(
        "repair (2 writes + read-backs)",
        doctor.transfers().since(last),
    );
    last = doctor.transfers();
    let (verify, total) = block_on(doctor.leave_and_verify(
        CloudContext {
            api: &mut api,
            token: Some(&token),
        },
        60_000,
        &mut log,
    ))
    .unwrap();
    row("leave DFU", total.since(last));
    row("total", total);
    println!(
        "outcome: wrote {:?}, send {:?}, verify {:?}; native wall time {:.1} ms",
        report.written,
        report.send,
        verify,
        started.elapsed().as_secs_f64() * 1000.0
    );

    header("particle-cli 3 for the same repair, replayed against the same simulator");
    let key = key_rescue::keys::generate_rsa_device_key().unwrap();
    let mut t = Counting::new(
        SimDevice::builder(SimPlatform::Photon)
            .device_id(scenario::DEMO_PHOTON_ID)
            .build(),
    );
    {
        let mut dfu = block_on(Dfu::open(&mut t, 0, KEYS_ALT)).unwrap();
        block_on(dfu.write(2082, PARTICLE_TCP_SERVER_REGION, Erase::Never)).unwrap();
    }
    let after_server = t.counts();
    row("keys server (open, write 512 B)", after_server);
    let mut dfu = block_on(Dfu::open(&mut t, 0, KEYS_ALT)).unwrap();
    block_on(dfu.read(34, 612)).unwrap();
    block_on(dfu.write(34, key.der(), Erase::Never)).unwrap();
    block_on(dfu.leave(None)).unwrap();
    let cli = t.counts();
    row(
        "keys doctor (backup, write, leave)",
        cli.since(after_server),
    );
    row("total", cli);
    println!(
        "the CLI does not read back what it wrote, check ownership before writing, or wait for the device to come online"
    );
    runtime_figures();
}

/// Virtual time of a simulated world: the device's clock, which moves with every wait on the USB
/// transport and with the cloud client's waits (`WorldCloudApi::sleep`); requests themselves take
/// no time in the simulation. The user's own time at a second browser prompt is not in it.
fn clocks(world: &SimWorld, _api: &key_rescue::sim::world::WorldCloudApi) -> u64 {
    world.device.borrow().now_ms()
}

fn normal_mode_world(fault: Fault) -> SimWorld {
    let mut cloud = SimCloud::generate().expect("a cloud key");
    scenario::seed_demo(&mut cloud);
    let region = cloud.server_key_region();
    let device = fault
        .device_builder(&region)
        .expect("the fault builds")
        .normal_mode()
        .build();
    SimWorld::new(device, cloud)
}

fn options(world: &SimWorld) -> PlanOptions {
    PlanOptions {
        server: ServerChoice::Custom {
            region: world.cloud.borrow().server_key_region(),
            description: "the simulated cloud".into(),
        },
        ..PlanOptions::default()
    }
}

fn add(a: TransferCounts, b: TransferCounts) -> TransferCounts {
    TransferCounts {
        transfers: a.transfers + b.transfers,
        bytes_in: a.bytes_in + b.bytes_in,
        bytes_out: a.bytes_out + b.bytes_out,
    }
}

/// The repair of a running Photon with `fault` over control requests: connect, choose the path,
/// diagnose, back up, plan, repair, reset (40), watch 300 and the cloud until online.
fn runtime_repair(fault: Fault) -> (TransferCounts, u64, String) {
    let world = normal_mode_world(fault);
    let token = world.token(scenario::DEMO_EMAIL);
    let mut api = world.cloud_api();
    let start = clocks(&world, &api);
    let mut log = |_| {};
    let h = UsbHandle::open(&world.device).unwrap();
    let Connected::Running(running) =
        block_on(connect_any(h, None, CancelFlag::new(), &mut log)).unwrap()
    else {
        panic!("not in normal mode")
    };
    let PathChoice::ControlRequests(mut doctor) =
        block_on(RuntimeDoctor::choose(running, CancelFlag::new(), &mut log))
    else {
        panic!("fell back to DFU mode")
    };
    let d = block_on(doctor.diagnose(
        CloudContext {
            api: &mut api,
            token: Some(&token),
        },
        &mut log,
    ))
    .unwrap();
    doctor.back_up(&mut log).unwrap();
    let plan = doctor.plan(&d, &options(&world), &mut log).unwrap();
    block_on(doctor.repair(
        &plan,
        CloudContext {
            api: &mut api,
            token: Some(&token),
        },
        &mut log,
    ))
    .unwrap();
    let dev = world.device.clone();
    let mut reopen = || UsbHandle::open(&dev).ok();
    let verify = block_on(doctor.reset_and_verify(
        &mut reopen,
        CloudContext {
            api: &mut api,
            token: Some(&token),
        },
        60_000,
        &mut log,
    ))
    .unwrap();
    (
        verify.transfers,
        clocks(&world, &api) - start,
        format!("{:?}", verify.outcome),
    )
}

/// The same repair through DFU mode: connect in normal mode, request 50, the second prompt
/// (picked as soon as the DFU device is on the bus), the DFU repair, leave, wait until online.
fn dfu_repair(fault: Fault) -> (TransferCounts, u64, String) {
    let world = normal_mode_world(fault);
    let token = world.token(scenario::DEMO_EMAIL);
    let mut api = world.cloud_api();
    let start = clocks(&world, &api);
    let mut log = |_| {};
    let h = UsbHandle::open(&world.device).unwrap();
    let Connected::Running(mut running) =
        block_on(connect_any(h, None, CancelFlag::new(), &mut log)).unwrap()
    else {
        panic!("not in normal mode")
    };
    let outcome = block_on(running.enter_dfu(&mut log));
    let ticket = outcome.ticket().expect("switched").clone();
    let before_dfu = running.transfers();
    let dfu_handle = loop {
        if let Ok(h) = UsbHandle::open(&world.device) {
            break h;
        }
        world.device.borrow_mut().advance(100);
    };
    let mut doctor = block_on(Doctor::connect_switched(
        dfu_handle,
        &ticket,
        CancelFlag::new(),
        &mut log,
    ))
    .unwrap();
    let d = block_on(doctor.diagnose(
        CloudContext {
            api: &mut api,
            token: Some(&token),
        },
        &mut log,
    ))
    .unwrap();
    doctor.back_up(&mut log).unwrap();
    let plan = doctor.plan(&d, &options(&world), &mut log).unwrap();
    block_on(doctor.repair(
        &plan,
        CloudContext {
            api: &mut api,
            token: Some(&token),
        },
        &mut log,
    ))
    .unwrap();
    let (verify, counts) = block_on(doctor.leave_and_verify(
        CloudContext {
            api: &mut api,
            token: Some(&token),
        },
        60_000,
        &mut log,
    ))
    .unwrap();
    (
        add(before_dfu, counts),
        clocks(&world, &api) - start,
        format!("{verify:?}"),
    )
}

fn runtime_figures() {
    println!(
        "\nA running Photon repaired over control requests beside the same repair through DFU mode (simulated)"
    );
    println!(
        "{:<18} {:<20} {:>9} {:>9} {:>9} {:>12}  outcome",
        "fault", "path", "transfers", "bytes in", "bytes out", "virtual ms"
    );
    for fault in [Fault::BlankKey, Fault::CorruptKey, Fault::WrongServerKey] {
        for (path, (c, ms, outcome)) in [
            ("control requests", runtime_repair(fault)),
            ("DFU mode", dfu_repair(fault)),
        ] {
            let outcome: String = outcome.chars().take(24).collect();
            println!(
                "{:<18} {:<20} {:>9} {:>9} {:>9} {:>12}  {outcome}",
                fault.name(),
                path,
                c.transfers,
                c.bytes_in,
                c.bytes_out,
                ms
            );
        }
    }
    println!(
        "virtual ms: the simulated device's clock (USB waits and the waits for the cloud); the DFU path \
         adds the user's own time at the second browser prompt"
    );
}
