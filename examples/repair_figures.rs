//! Prints the control transfers of a full repair of a simulated Photon, step by step, beside the
//! sequence particle-cli 3 runs for the same repair (`keys server`, then `keys doctor`: read the
//! old key as a backup, write the new key without erase, leave, upload; particle-dct.md 6.3, 6.4),
//! replayed with this project's DFU host against the same simulator.
//!
//! Run: `cargo run --release --example repair_figures`

use futures_executor::block_on;
use key_rescue::device::{KEYS_ALT, PARTICLE_TCP_SERVER_REGION};
use key_rescue::dfu::{Dfu, Erase};
use key_rescue::doctor::{CancelFlag, CloudContext, Doctor, PlanOptions, ServerChoice};
use key_rescue::sim::cloud::{SimCloud, scenario};
use key_rescue::sim::device::{Platform as SimPlatform, SimDevice};
use key_rescue::sim::world::SimWorld;
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
}
