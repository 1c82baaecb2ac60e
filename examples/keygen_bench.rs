//! RSA-1024 device-key generation time, native: 50 keys through `generate_rsa_device_key` (which
//! also runs the firmware's fixed-offset check and regenerates on a miss), and, when `openssl` is
//! on PATH, 50 runs of `openssl genrsa 1024` as a process for comparison.
//!
//! Run: `cargo run --release --example keygen_bench` (or without `--release` for the debug profile,
//! which optimises only the bignum crates).

use std::process::{Command, Stdio};
use std::time::Instant;

const RUNS: usize = 50;

fn main() {
    let mut ours = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let key = key_rescue::keys::generate_rsa_device_key().expect("key generation");
        ours.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(key.der().len() <= key_rescue::keys::RSA_PRIVATE_KEY_SLOT_LEN);
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    report(
        &format!("key-rescue generate_rsa_device_key ({profile})"),
        &mut ours,
    );

    let openssl_available = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !openssl_available {
        println!("openssl genrsa 1024: openssl not on PATH, skipped");
        return;
    }
    let mut theirs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let status = Command::new("openssl")
            .args(["genrsa", "1024"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        theirs.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(status.success());
    }
    report("openssl genrsa 1024 (process)", &mut theirs);
}

fn report(name: &str, ms: &mut [f64]) {
    ms.sort_by(f64::total_cmp);
    let median = (ms[(ms.len() - 1) / 2] + ms[ms.len() / 2]) / 2.0;
    // Nearest-rank p95.
    let p95 = ms[((ms.len() as f64 * 0.95).ceil() as usize).saturating_sub(1)];
    println!(
        "{name}: n={} median {median:.1} ms, p95 {p95:.1} ms, min {:.1} ms, max {:.1} ms",
        ms.len(),
        ms[0],
        ms[ms.len() - 1]
    );
}
