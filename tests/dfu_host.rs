//! The DfuSe host against the simulated bootloaders: round trips, every fault, every platform's
//! layout, and leave.
#![cfg(not(target_arch = "wasm32"))]

use futures_executor::block_on;
use key_rescue::dfu::{
    self, Dfu, Erase, Error, GEN2_PROTECTED, LeaveOutcome, MAX_BUSY_WAIT_MS, MAX_POLL_SLEEP_MS,
    State, get_status, request,
};
use key_rescue::sim::device::{DCT_LEN, Platform, SimBuilder, SimDevice};
use key_rescue::usb::{
    ControlSetup, Counting, DeviceInfo, RequestType, STATUS_DEADLINE_MS, Transport, TransportError,
};

/// A deterministic pattern that differs at every offset, so shifted data never verifies.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(u32::from(seed) % 32) as u8
                ^ seed
        })
        .collect()
}

fn open(dev: &mut SimDevice, alt: u8) -> Dfu<'_, SimDevice> {
    block_on(Dfu::open(dev, 0, alt)).expect("open")
}

const SIZES: [usize; 9] = [1, 3, 612, 4095, 4096, 4097, 8191, 8192, 8193];

#[test]
fn dct_round_trips_at_odd_offsets_and_sizes_around_4096() {
    for &len in &SIZES {
        for &offset in &[0usize, 1, 34, 2082, 4095, 4097] {
            if offset + len > 0x4000 {
                continue;
            }
            let mut dev = SimDevice::photon();
            let before = dev.memory(1).to_vec();
            let data = pattern(len, offset as u8 ^ 0x5C);
            let mut dfu = open(&mut dev, 1);
            block_on(dfu.write_verified(offset as u32, &data, Erase::Never))
                .unwrap_or_else(|e| panic!("{len} @ {offset}: {e}"));
            assert_eq!(block_on(dfu.read(offset as u32, len)).unwrap(), data);
            // Read-modify-write: every other DCT byte is unchanged.
            let after = dev.memory(1);
            assert_eq!(&after[..offset], &before[..offset], "{len} @ {offset}");
            assert_eq!(
                &after[offset + len..],
                &before[offset + len..],
                "{len} @ {offset}"
            );
            assert_eq!(&after[offset..offset + len], &data[..]);
        }
    }
}

#[test]
fn dct_erase_is_a_harmless_no_op() {
    let mut dev = SimDevice::photon();
    let key = pattern(612, 7);
    let mut dfu = open(&mut dev, 1);
    block_on(dfu.write_verified(34, &key, Erase::Sectors)).unwrap();
    assert_eq!(dev.erases(), [0]);
    assert_eq!(&dev.dct()[3618..3620], [0x3a, 0x00], "device ID kept");
}

#[test]
fn internal_flash_round_trips_at_odd_offsets_and_sizes() {
    for &len in &SIZES {
        for &offset in &[0u32, 1, 4095, 0x1_FFFF] {
            let address = 0x080A_0000 + offset;
            let mut dev = SimDevice::photon();
            let data = pattern(len, len as u8);
            let mut dfu = open(&mut dev, 0);
            block_on(dfu.write_verified(address, &data, Erase::Sectors))
                .unwrap_or_else(|e| panic!("{len} @ {address:#x}: {e}"));
            // Every sector touched was erased exactly once, by its start address.
            let mut sectors: Vec<u32> = Vec::new();
            let mut a = address;
            while a < address + len as u32 {
                // Above 0x08020000 every sector is 128 KiB and aligned to its size.
                let s = a & !0x1_FFFF;
                if sectors.last() != Some(&s) {
                    sectors.push(s);
                }
                a = s + 0x2_0000;
            }
            assert_eq!(dev.erases(), sectors, "{len} @ {address:#x}");
        }
    }
}

#[test]
fn internal_flash_reads_the_bootloader() {
    let mut dev = SimDevice::photon();
    let expected = dev.memory(0)[..4097].to_vec();
    let mut dfu = open(&mut dev, 0);
    assert_eq!(block_on(dfu.read(0x0800_0000, 4097)).unwrap(), expected);
}

#[test]
fn writing_over_unerased_flash_fails_with_a_stall_and_read_back_catches_it() {
    let mut dev = SimDevice::photon();
    let mut dfu = open(&mut dev, 0);
    block_on(dfu.write(0x080A_0000, &[0x0F; 8], Erase::Sectors)).unwrap();
    let err = block_on(dfu.write(0x080A_0000, &[0xF0; 8], Erase::Never)).unwrap_err();
    assert_eq!(
        err,
        Error::WriteRejected {
            address: 0x080A_0000
        }
    );
    // The device recovers: the next session reaches dfuIDLE and reads the ANDed bits.
    assert_eq!(block_on(dfu.read(0x080A_0000, 8)).unwrap(), [0; 8]);
    let err = block_on(dfu.verify(0x080A_0000, &[0xF0; 8])).unwrap_err();
    assert!(matches!(
        err,
        Error::VerifyMismatch {
            address: 0x080A_0000,
            expected: 0xF0,
            got: 0
        }
    ));
}

#[test]
fn refuses_non_writable_protected_and_out_of_range_memory_before_any_transfer() {
    let mut dev = SimDevice::photon();
    let mut dfu = open(&mut dev, 0);
    dfu.set_protected(vec![GEN2_PROTECTED]);
    let t0 = dfu.transport().transfers();
    let e = block_on(dfu.write(0x0800_4000, &[1], Erase::Sectors)).unwrap_err();
    assert_eq!(
        e,
        Error::NotWritable {
            address: 0x0800_4000
        }
    );
    let e = block_on(dfu.write(0x0800_C000, &[1], Erase::Sectors)).unwrap_err();
    assert_eq!(
        e,
        Error::Protected {
            address: 0x0800_C000
        }
    );
    let e = block_on(dfu.write(0x080F_FFFF, &[1, 2], Erase::Sectors)).unwrap_err();
    assert_eq!(
        e,
        Error::OutOfRange {
            address: 0x080F_FFFF,
            len: 2
        }
    );
    let e = block_on(dfu.read(0x0810_0000, 1)).unwrap_err();
    assert!(matches!(e, Error::OutOfRange { .. }));
    assert_eq!(dfu.transport().transfers(), t0);
    for e in [
        Error::NotWritable { address: 0 },
        Error::Protected { address: 0 },
        Error::OutOfRange { address: 0, len: 1 },
    ] {
        assert!(e.hint().ends_with('.') && !e.to_string().ends_with('.'));
    }
}

#[test]
fn without_the_protection_table_the_device_itself_refuses_with_a_stall() {
    let mut dev = SimDevice::photon();
    let mut dfu = open(&mut dev, 0);
    let e = block_on(dfu.write(0x0801_0000, &[1], Erase::Sectors)).unwrap_err();
    assert_eq!(
        e,
        Error::CommandRejected {
            command: dfu::Command::Erase,
            address: 0x0801_0000
        }
    );
    let e = block_on(dfu.write(0x0801_0000, &[1], Erase::Never)).unwrap_err();
    assert_eq!(
        e,
        Error::WriteRejected {
            address: 0x0801_0000
        }
    );
}

#[test]
fn dirty_starts_reach_idle_without_clrstatus_outside_error() {
    for state in [
        State::DfuIdle,
        State::DnloadIdle,
        State::UploadIdle,
        State::DnloadSync,
        State::Error,
        State::ManifestSync,
    ] {
        let mut dev = SimDevice::photon_in_state(state);
        let mut dfu = open(&mut dev, 1);
        assert_eq!(block_on(dfu.read(34, 4)).unwrap(), [0xFF; 4], "{state:?}");
        drop(dfu);
        assert_ne!(
            dev.status(),
            0x0E,
            "{state:?}: a CLRSTATUS hit a non-error state"
        );
    }
    let mut dev = SimBuilder::new(Platform::Photon)
        .start_in_error(0x03)
        .build();
    open(&mut dev, 1);
    assert_eq!(dev.state(), State::DfuIdle);
}

/// Issue 12, DFU host 1: state 15 (an UPLOAD with block 1) ignores ABORT and is left only by
/// CLRSTATUS twice, 15 -> dfuERROR -> dfuIDLE (`usbd_dfu_core.c` 926-940, 978-987).
#[test]
fn the_block_one_bug_state_is_left_by_two_clrstatus() {
    let mut dev = Recording::new(SimDevice::photon());
    let setup = ControlSetup::class_interface(request::UPLOAD, 1, 0);
    assert_eq!(
        block_on(dev.control_in(setup, 16)),
        Err(TransportError::Stall)
    );
    dev.take();
    let mut dfu = block_on(Dfu::open(&mut dev, 0, 1)).expect("open leaves state 15");
    assert_eq!(block_on(dfu.read(34, 4)).unwrap(), [0xFF; 4]);
    drop(dfu);
    let log = dev.take();
    let from = log.iter().position(|r| r == "GETSTATUS").unwrap();
    assert_eq!(
        log[from..from + 5],
        [
            "GETSTATUS",
            "CLRSTATUS",
            "GETSTATUS",
            "CLRSTATUS",
            "GETSTATUS"
        ]
    );
    assert_eq!(log.iter().filter(|r| *r == "CLRSTATUS").count(), 2);
    assert_eq!((dev.inner.state(), dev.inner.status()), (State::DfuIdle, 0));
}

/// Issue 12, DFU host 2: a DNLOAD an interrupted host left queued (an ERASE of sector 11 on
/// alt 0) must not run when the next session selects another alternate and asks for the status
/// (`usbd_dfu_core.c` 578, 622-627): GETSTATE first, ABORT, then SET_INTERFACE.
#[test]
fn a_dnload_left_queued_is_dropped_before_the_alternate_changes() {
    for alt in [1, 0] {
        let mut dev = Recording::new(SimDevice::photon());
        dev.inner.set_memory(0, 0xE_0000, &[0x12; 16]);
        let setup = ControlSetup::class_interface(request::DNLOAD, 0, 0);
        block_on(dev.control_out(setup, &[0x41, 0x00, 0x00, 0x0E, 0x08])).unwrap();
        dev.take();
        let mut dfu = block_on(Dfu::open(&mut dev, 0, alt))
            .unwrap_or_else(|e| panic!("alt {alt}: open failed: {e}"));
        let opened = dfu.transport_ref().log.clone();
        assert_eq!(
            opened[..3],
            ["GETSTATE", "ABORT", "SET_INTERFACE"],
            "{opened:?}"
        );
        let at = if alt == 0 { 0x080A_0000 } else { 34 };
        block_on(dfu.read(at, 4)).unwrap();
        drop(dfu);
        assert_eq!(dev.inner.erases(), [] as [u32; 0], "alt {alt}");
        assert_eq!(dev.inner.memory(0)[0xE_0000..0xE_0010], [0x12; 16]);
    }
    // Resume drops it too, before selecting again or asking for the status.
    let mut dev = Recording::new(SimDevice::photon());
    let facts = block_on(Dfu::open(&mut dev, 0, 1)).unwrap().facts();
    block_on(dev.select_alternate(0, 0)).unwrap();
    let setup = ControlSetup::class_interface(request::DNLOAD, 0, 0);
    block_on(dev.control_out(setup, &[0x41, 0x00, 0x00, 0x0E, 0x08])).unwrap();
    dev.take();
    for reselect in [true, false] {
        block_on(Dfu::resume(&mut dev, &facts, reselect)).unwrap();
    }
    let log = dev.take();
    assert_eq!(log[..3], ["GETSTATE", "ABORT", "SET_INTERFACE"], "{log:?}");
    assert_eq!(dev.inner.erases(), [] as [u32; 0]);
}

/// A device that is not in dfuDNLOAD-SYNC gets no ABORT from `open`: one GETSTATE, then the
/// alternate.
#[test]
fn open_reads_the_state_before_anything_else() {
    let mut dev = Recording::new(SimDevice::photon());
    block_on(Dfu::open(&mut dev, 0, 1)).unwrap();
    assert_eq!(dev.log[..2], ["GETSTATE", "SET_INTERFACE"]);
    assert!(!dev.log.contains(&"ABORT".to_owned()), "{:?}", dev.log);
}

#[test]
fn get_commands_lists_set_address_and_erase() {
    let mut dev = SimDevice::photon();
    let mut dfu = open(&mut dev, 1);
    assert_eq!(block_on(dfu.get_commands()).unwrap(), [0x00, 0x21, 0x41]);
}

#[test]
fn leave_accepts_dnload_idle_and_the_device_disconnects_500_ms_later() {
    let mut dev = SimDevice::photon();
    let dfu = open(&mut dev, 1);
    assert_eq!(
        block_on(dfu.leave(None)).unwrap(),
        LeaveOutcome::Reported(State::DnloadIdle)
    );
    assert!(dev.left_dfu());
    // The Photon keeps answering in dfuMANIFEST-WAIT-RESET until its 500 ms countdown ends
    // (`usbd_dfu_core.c` 958-968, 1012).
    let s = block_on(get_status(&mut dev, 0)).unwrap();
    assert_eq!((s.status, s.state), (0, State::ManifestWaitReset));
    block_on(dev.sleep(500));
    assert_eq!(
        block_on(get_status(&mut dev, 0)),
        Err(Error::Transport(TransportError::Disconnected))
    );
}

#[test]
fn leave_accepts_manifest_from_old_bootloaders_and_st_like_devices() {
    let mut dev = SimBuilder::new(Platform::Photon).old_bootloader().build();
    let dfu = open(&mut dev, 1);
    assert_eq!(
        block_on(dfu.leave(Some(0x0802_0000))).unwrap(),
        LeaveOutcome::Reported(State::Manifest)
    );
    // Gen 3 reports dfuMANIFEST (bootloader/src/nRF52840/usbd_dfu.cpp 262-265); the Core, like
    // the Photon, dfuDNLOAD-IDLE (Device OS v0.4.9 bootloader/src/core/usb_prop.c 668-683).
    for (p, reported) in [
        (Platform::Argon, State::Manifest),
        (Platform::Boron, State::Manifest),
        (Platform::Core, State::DnloadIdle),
    ] {
        let mut dev = SimDevice::builder(p).build();
        let dfu = open(&mut dev, 1);
        assert_eq!(
            block_on(dfu.leave(None)).unwrap(),
            LeaveOutcome::Reported(reported),
            "{p:?}"
        );
        assert!(dev.left_dfu());
    }
}

/// Gen 3's own state machine (`usbd_dfu.cpp`): a GET_COMMANDS sent as a DNLOAD by another host
/// leaves the device in dfuDNBUSY, where GETSTATE and GETSTATUS stall into dfuERROR; a DNLOAD
/// left queued, an UPLOAD left half-way and a dfuERROR must all be cleared by `open`.
#[test]
fn gen3_dirty_starts_left_by_another_host_are_cleared() {
    type Dirty = fn(&mut SimDevice);
    fn class(request: u8, value: u16) -> ControlSetup {
        ControlSetup::class_interface(request, value, 0)
    }
    let cases: [(&str, Dirty); 4] = [
        ("stuck in dfuDNBUSY after GET_COMMANDS", |d| {
            d.handle_out(class(request::DNLOAD, 0), &[0x00]).unwrap();
            d.handle_in(class(request::GETSTATUS, 0), 6).unwrap();
        }),
        ("a DNLOAD left queued", |d| {
            d.handle_out(class(request::DNLOAD, 0), &[0x21, 0, 0x40, 0x0d, 0])
                .unwrap();
        }),
        ("an UPLOAD left half-way", |d| {
            d.handle_out(class(request::DNLOAD, 0), &[0x21, 0, 0x40, 0x0d, 0])
                .unwrap();
            d.handle_in(class(request::GETSTATUS, 0), 6).unwrap();
            d.handle_out(class(request::ABORT, 0), &[]).unwrap();
            d.handle_in(class(request::UPLOAD, 2), 64).unwrap();
        }),
        ("dfuERROR after a blind CLRSTATUS", |d| {
            let _ = d.handle_out(class(request::CLRSTATUS, 0), &[]);
        }),
    ];
    for platform in [Platform::Argon, Platform::Boron] {
        for (what, dirty) in cases {
            let mut dev = SimDevice::builder(platform).build();
            dirty(&mut dev);
            let mut dfu = block_on(Dfu::open(&mut dev, 0, 1))
                .unwrap_or_else(|e| panic!("{platform:?} {what}: {e}"));
            let dct = block_on(dfu.read(0, 64)).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(dct.len(), 64, "{what}");
        }
    }
}

#[test]
fn leave_accepts_a_disconnect_before_the_status() {
    let mut dev = SimDevice::photon();
    let mut dfu = open(&mut dev, 1);
    // The leave's first GETSTATUS and its zero-length DNLOAD go through; the device is gone
    // before the final GETSTATUS.
    let n = dfu.transport().transfers();
    dfu.transport().faults_mut().disconnect_after = Some(n + 2);
    assert_eq!(
        block_on(dfu.leave(None)).unwrap(),
        LeaveOutcome::Disconnected
    );
}

#[test]
fn a_stall_at_any_request_of_a_write_fails_and_never_passes_silently() {
    let data = pattern(4097, 9);
    let clean = {
        let mut dev = SimDevice::photon();
        let mut dfu = open(&mut dev, 1);
        block_on(dfu.write(100, &data, Erase::Sectors)).unwrap();
        dev.transfers()
    };
    for n in 1..=clean {
        let mut dev = SimBuilder::new(Platform::Photon)
            .stall_at_request(n)
            .build();
        let result = block_on(async {
            let mut dfu = Dfu::open(&mut dev, 0, 1).await?;
            dfu.write_verified(100, &data, Erase::Sectors).await
        });
        // A stall either fails the operation or hits a request whose retry is harmless (the
        // dirty-start GETSTATUS); a write that "succeeds" must have landed completely.
        if result.is_ok() {
            assert_eq!(&dev.dct()[100..100 + data.len()], &data[..], "stall at {n}");
        }
    }
    let mut dev = SimBuilder::new(Platform::Photon).stall_on_write().build();
    let mut dfu = open(&mut dev, 1);
    assert_eq!(
        block_on(dfu.write(34, &data, Erase::Never)).unwrap_err(),
        Error::WriteRejected { address: 34 }
    );
}

#[test]
fn a_stall_at_each_request_of_the_data_phase_fails_the_write() {
    let data = pattern(612, 3);
    let mut probe = SimDevice::photon();
    let mut dfu = open(&mut probe, 1);
    // Read-only, so the probe's write runs exactly as the write below right after `open`.
    let start = dfu.transport_ref().transfers();
    block_on(dfu.write(34, &data, Erase::Sectors)).unwrap();
    let end = probe.transfers();
    for n in start + 1..=end {
        let mut dev = SimBuilder::new(Platform::Photon)
            .stall_at_request(n)
            .build();
        let mut dfu = open(&mut dev, 1);
        assert!(
            block_on(dfu.write(34, &data, Erase::Sectors)).is_err(),
            "stall at {n}"
        );
    }
}

#[test]
fn command_stalls_are_typed() {
    let mut dev = SimBuilder::new(Platform::Photon)
        .stall_on_command(0x21)
        .build();
    let mut dfu = open(&mut dev, 1);
    assert_eq!(
        block_on(dfu.read(34, 612)).unwrap_err(),
        Error::CommandRejected {
            command: dfu::Command::SetAddress,
            address: 34
        }
    );
    let mut dev = SimBuilder::new(Platform::Photon)
        .stall_on_command(0x41)
        .build();
    let mut dfu = open(&mut dev, 0);
    assert!(matches!(
        block_on(dfu.write(0x080A_0000, &[1], Erase::Sectors)).unwrap_err(),
        Error::CommandRejected {
            command: dfu::Command::Erase,
            ..
        }
    ));
}

#[test]
fn disconnect_mid_download_is_reported() {
    for after in [5, 8, 12, 20] {
        let mut dev = SimBuilder::new(Platform::Photon)
            .disconnect_after(after)
            .build();
        let result = block_on(async {
            let mut dfu = Dfu::open(&mut dev, 0, 1).await?;
            dfu.write_verified(0, &pattern(8193, 1), Erase::Never).await
        });
        let err = result.unwrap_err();
        assert_eq!(
            err,
            Error::Transport(TransportError::Disconnected),
            "after {after}"
        );
        assert_eq!(err.hint(), TransportError::Disconnected.hint());
    }
}

/// Issue 12, DFU host 3: the DCT alternate asks for 500 ms after an ERASE and 1 ms after
/// SET_ADDRESS and data blocks (`usbd_dct_if.c` 38-39, `usbd_dfu_core.c` 868-875); the host
/// sleeps exactly that before each next poll.
#[test]
fn the_dct_alternates_poll_timeouts_are_slept() {
    let mut dev = Recording::new(SimDevice::photon());
    let mut dfu = block_on(Dfu::open(&mut dev, 0, 1)).unwrap();
    // The first SET_ADDRESS runs while the pointer still holds a flash address: no wait asked.
    block_on(dfu.read(34, 4)).unwrap();
    assert_eq!(dfu.transport_ref().sleeps, [0]);
    block_on(dfu.write_verified(34, &pattern(612, 3), Erase::Sectors)).unwrap();
    // ERASE, SET_ADDRESS, the data block, the read-back's SET_ADDRESS.
    assert_eq!(dfu.transport_ref().sleeps, [0, 500, 1, 1, 1]);
    assert_eq!(dfu.poll_waits().longest_asked_ms, 500);
    assert_eq!(dfu.poll_waits().slept_ms, 503);
    assert_eq!(dfu.poll_waits().capped, 0);
    drop(dfu);
    assert_eq!(dev.inner.now_ms(), 503);
    assert_eq!(dev.inner.impatient_polls(), 0);
}

/// Issue 17, item 6: a device answering busy with bwPollTimeout 0xFFFFFF (4.66 hours) gets at
/// most MAX_POLL_SLEEP_MS per poll and a typed error after at most MAX_BUSY_WAIT_MS in all.
#[test]
fn an_endless_poll_timeout_is_capped_and_the_wait_is_bounded() {
    let sim = SimBuilder::new(Platform::Photon)
        .busy(u32::MAX, 0xFF_FFFF)
        .build();
    let mut dev = Recording::new(sim);
    let mut dfu = block_on(Dfu::open(&mut dev, 0, 1)).unwrap();
    let err = block_on(dfu.write(34, &[1, 2, 3], Erase::Never)).unwrap_err();
    let Error::StillBusy {
        polls,
        waited_ms,
        asked_ms,
    } = err
    else {
        panic!("{err:?}");
    };
    assert_eq!(asked_ms, 0xFF_FFFF);
    assert!(waited_ms <= MAX_BUSY_WAIT_MS, "{waited_ms}");
    assert!(polls > 1 && polls <= 100, "{polls}");
    let waits = dfu.poll_waits();
    assert_eq!(waits.longest_asked_ms, 0xFF_FFFF);
    assert!(waits.capped > 0);
    drop(dfu);
    assert!(!dev.sleeps.is_empty());
    assert!(
        dev.sleeps.iter().all(|&ms| ms <= MAX_POLL_SLEEP_MS),
        "{:?}",
        dev.sleeps
    );
    assert!(
        dev.inner.now_ms() <= MAX_BUSY_WAIT_MS,
        "{}",
        dev.inner.now_ms()
    );
    assert!(err.to_string().contains("16777215 ms"), "{err}");

    // A device busy forever with no wait at all is given up after a bounded number of polls.
    let mut dev = SimBuilder::new(Platform::Photon).busy(u32::MAX, 0).build();
    let mut dfu = open(&mut dev, 1);
    let before = dfu.transport_ref().transfers();
    let err = block_on(dfu.write(34, &[1, 2, 3], Erase::Never)).unwrap_err();
    assert!(
        matches!(err, Error::StillBusy { asked_ms: 0, .. }),
        "{err:?}"
    );
    assert!(dfu.transport_ref().transfers() - before <= 110);
}

/// A device that answers every poll "busy, no wait" but takes 10 s (inside the 15 s status
/// deadline) to answer: the time the polls took counts toward MAX_BUSY_WAIT_MS, so the wait ends
/// after a few polls instead of a hundred (1,000 s).
#[test]
fn slow_busy_answers_count_toward_the_busy_wait() {
    let mut dev = SimBuilder::new(Platform::Photon)
        .busy(u32::MAX, 0)
        .slow_status(10_000)
        .build();
    let mut dfu = open(&mut dev, 1);
    let started = dfu.transport_ref().now_ms();
    let err = block_on(dfu.write(34, &[1, 2, 3], Erase::Never)).unwrap_err();
    let Error::StillBusy {
        polls, waited_ms, ..
    } = err
    else {
        panic!("{err:?}");
    };
    drop(dfu);
    let elapsed = dev.now_ms() - started;
    assert!(polls <= 6, "{polls} polls");
    assert!(waited_ms > MAX_BUSY_WAIT_MS, "{waited_ms}");
    assert!(
        elapsed <= MAX_BUSY_WAIT_MS + u64::from(STATUS_DEADLINE_MS),
        "{elapsed} ms"
    );
}

#[test]
fn busy_devices_are_polled_patiently() {
    let mut dev = SimBuilder::new(Platform::Photon).busy(3, 25).build();
    let data = pattern(5000, 4);
    let mut dfu = open(&mut dev, 0);
    block_on(dfu.write_verified(0x080A_0000, &data, Erase::Sectors)).unwrap();
    assert_eq!(dev.impatient_polls(), 0);
    assert!(dev.now_ms() >= 25 * 4, "slept {} ms", dev.now_ms());
}

#[test]
fn zero_filled_dct_reads_come_back_as_zeros_and_writes_fail() {
    let mut dev = SimBuilder::new(Platform::Photon).dct_unreachable().build();
    let mut dfu = open(&mut dev, 1);
    assert_eq!(block_on(dfu.read(34, 612)).unwrap(), vec![0; 612]);
    assert_eq!(
        block_on(dfu.write(34, &[1, 2, 3], Erase::Never)).unwrap_err(),
        Error::WriteRejected { address: 34 }
    );
}

#[test]
fn brownout_corruption_is_visible_in_reads() {
    let key = pattern(612, 11);
    let mut dev = SimBuilder::new(Platform::Photon)
        .dct_bytes(34, &key)
        .brownout_dct(34 + 300, 100)
        .build();
    let dct = dev.dct().to_vec();
    let mut dfu = open(&mut dev, 1);
    let read = block_on(dfu.read(34, 612)).unwrap();
    assert_eq!(read, dct[34..646]);
    assert_eq!(read[..300], key[..300]);
    assert_ne!(read[300..400], key[300..400]);
}

#[test]
fn the_host_reads_alternate_names_from_string_descriptors_when_the_browser_has_none() {
    let mut dev = SimBuilder::new(Platform::Photon)
        .hide_alternate_names()
        .build();
    let dfu = open(&mut dev, 1);
    assert_eq!(dfu.layout().name, "DCT Flash");
}

#[test]
fn claim_and_open_refusals_are_typed() {
    let mut dev = SimBuilder::new(Platform::Photon).refuse_claim().build();
    assert_eq!(dev.open(), Ok(()));
    assert_eq!(dev.claim(0), Err(TransportError::UnableToClaim));
    let mut dev = SimBuilder::new(Platform::Photon).deny_open().build();
    assert_eq!(dev.open(), Err(TransportError::AccessDenied));
}

#[test]
fn every_platform_layout_parses_and_its_writable_memories_round_trip() {
    for p in Platform::ALL {
        let mut dev = SimDevice::builder(p).build();
        let names = dev.alternate_names();
        for (alt, name) in names.iter().enumerate() {
            let alt = alt as u8;
            let mut dfu = open(&mut dev, alt);
            let layout = dfu.layout().clone();
            assert_eq!(
                layout.name,
                name[1..name.find('/').unwrap()].trim_end(),
                "{p:?}"
            );
            // Pick a writable spot away from the start, aligned to 4 for internal flash.
            let seg = layout
                .segments()
                .filter(|s| s.access.writable && s.access.readable)
                .last()
                .unwrap_or_else(|| panic!("{p:?} alt {alt} has no writable segment"));
            let address = seg.start + seg.sector_size.min(8192) / 2;
            let len = 1500;
            let data = pattern(len, alt ^ p as u8);
            let erase = if seg.access.erasable {
                Erase::Sectors
            } else {
                Erase::Never
            };
            block_on(dfu.write_verified(address, &data, erase))
                .unwrap_or_else(|e| panic!("{p:?} alt {alt} {name}: {e}"));
        }
    }
}

#[test]
fn gen3_dcd_is_written_without_erasing() {
    let mut dev = SimDevice::builder(Platform::Boron).build();
    let mut dfu = open(&mut dev, 1);
    let key = pattern(121, 1);
    block_on(dfu.write_verified(3106, &key, Erase::Sectors)).unwrap();
    assert!(dev.erases().is_empty());
    assert_eq!(&dev.dct()[3106..3227], &key[..]);
    assert_eq!(dev.dct().len(), DCT_LEN);
}

#[test]
fn gen3_device_protection_refuses_reads_and_writes() {
    let mut dev = SimDevice::builder(Platform::Argon)
        .device_protection()
        .build();
    let mut dfu = open(&mut dev, 1);
    assert_eq!(
        block_on(dfu.read(34, 4)).unwrap_err(),
        Error::NotReadable { address: 34 }
    );
    assert_eq!(
        block_on(dfu.write(34, &[0], Erase::Never)).unwrap_err(),
        Error::NotWritable { address: 34 }
    );
}

#[test]
fn core_spi_flash_must_be_erased_before_a_write() {
    let mut dev = SimDevice::builder(Platform::Core).build();
    dev.set_memory(1, 0x2000, &pattern(1024, 2));
    let key = pattern(612, 8);
    let mut dfu = open(&mut dev, 1);
    assert_eq!(dfu.functional().transfer_size, 1024);
    // Without erasing, old and new bits are ANDed and only read-back notices.
    block_on(dfu.write(0x2000, &key, Erase::Never)).unwrap();
    assert!(matches!(
        block_on(dfu.verify(0x2000, &key)).unwrap_err(),
        Error::VerifyMismatch { .. }
    ));
    block_on(dfu.write_verified(0x2000, &key, Erase::Sectors)).unwrap();
    assert_eq!(dev.erases(), [0x2000]);
    // The erase cleared the whole 4 KiB sector.
    assert!(
        dev.memory(1)[0x2000 + 612..0x3000]
            .iter()
            .all(|&b| b == 0xFF)
    );
}

#[test]
fn p1_serial_flash_is_the_third_alternate() {
    let mut dev = SimDevice::builder(Platform::P1).build();
    let dfu = open(&mut dev, 2);
    assert_eq!(dfu.layout().name, "Serial Flash");
    assert_eq!(dfu.layout().segments().next().unwrap().count, 256);
}

#[test]
fn counting_transport_measures_a_key_read() {
    let mut dev = Counting::new(SimDevice::photon());
    let mut dfu = block_on(Dfu::open(&mut dev, 0, 1)).unwrap();
    let key = block_on(dfu.read(34, 612)).unwrap();
    assert_eq!(key.len(), 612);
    let c = dev.counts();
    assert_eq!(c.transfers, dev.inner().transfers());
    assert!(c.bytes_in >= 612);
}

/// A transport that names every request it passes on ("GETSTATUS", "DNLOAD 2", "SET_INTERFACE"...),
/// failed ones included.
struct Recording<T> {
    inner: T,
    log: Vec<String>,
    /// Every sleep asked of the transport, in ms.
    sleeps: Vec<u32>,
}

impl<T> Recording<T> {
    fn new(inner: T) -> Self {
        Self {
            inner,
            log: Vec::new(),
            sleeps: Vec::new(),
        }
    }

    /// The requests recorded since the last call.
    fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }

    fn note(&mut self, setup: ControlSetup) {
        let name = match (setup.request_type, setup.request) {
            (RequestType::Class, request::DNLOAD) => format!("DNLOAD {}", setup.value),
            (RequestType::Class, request::UPLOAD) => format!("UPLOAD {}", setup.value),
            (RequestType::Class, request::GETSTATUS) => "GETSTATUS".into(),
            (RequestType::Class, request::CLRSTATUS) => "CLRSTATUS".into(),
            (RequestType::Class, request::GETSTATE) => "GETSTATE".into(),
            (RequestType::Class, request::ABORT) => "ABORT".into(),
            (RequestType::Standard, 6) => "GET_DESCRIPTOR".into(),
            (RequestType::Standard, 11) => "SET_INTERFACE".into(),
            (kind, request) => format!("{kind:?} {request}"),
        };
        self.log.push(name);
    }
}

impl<T: Transport> Transport for Recording<T> {
    async fn control_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError> {
        self.note(setup);
        self.inner.control_in(setup, len).await
    }

    async fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
    ) -> Result<(), TransportError> {
        self.note(setup);
        self.inner.control_out(setup, data).await
    }

    async fn sleep(&mut self, ms: u32) {
        self.sleeps.push(ms);
        self.inner.sleep(ms).await;
    }

    fn info(&self) -> DeviceInfo {
        self.inner.info()
    }

    fn now_ms(&self) -> Option<u64> {
        self.inner.now_ms()
    }
}

/// The requests of a one-block read after the device is known to be ready: SET_ADDRESS and its
/// two polls, ABORT, one UPLOAD, ABORT.
const READ_ONE_BLOCK: [&str; 6] = [
    "DNLOAD 0",
    "GETSTATUS",
    "GETSTATUS",
    "ABORT",
    "UPLOAD 2",
    "ABORT",
];

/// The requests of a one-block write after the device is known to be ready: SET_ADDRESS and the
/// data block, each with its two polls.
const WRITE_ONE_BLOCK: [&str; 6] = [
    "DNLOAD 0",
    "GETSTATUS",
    "GETSTATUS",
    "DNLOAD 2",
    "GETSTATUS",
    "GETSTATUS",
];

/// The control transfers `open` takes on a simulated Photon's alt 1.
fn transfers_to_open() -> u32 {
    let mut dev = SimDevice::photon();
    open(&mut dev, 1);
    dev.transfers()
}

fn with_status_first(rest: &[&str]) -> Vec<String> {
    std::iter::once("GETSTATUS")
        .chain(rest.iter().copied())
        .map(String::from)
        .collect()
}

#[test]
fn resume_then_read_asks_for_the_status_once_before_the_first_dnload() {
    let mut dev = Recording::new(SimDevice::photon());
    let facts = block_on(Dfu::open(&mut dev, 0, 1)).unwrap().facts();
    let opened = dev.take();
    assert_eq!(opened.last().map(String::as_str), Some("GETSTATUS"));
    for reselect in [false, true] {
        dev.take();
        let mut dfu = block_on(Dfu::resume(&mut dev, &facts, reselect)).unwrap();
        assert_eq!(block_on(dfu.read(34, 612)).unwrap(), [0xFF; 612]);
        let log = dfu.transport_ref().log.clone();
        let first_dnload = log.iter().position(|r| r.starts_with("DNLOAD")).unwrap();
        assert_eq!(
            log[..first_dnload]
                .iter()
                .filter(|r| *r == "GETSTATUS")
                .count(),
            1,
            "{log:?}"
        );
        // The resume reads the state first (no DNLOAD queued, so no ABORT); its GETSTATUS found
        // dfuIDLE, so the read goes straight to SET_ADDRESS.
        assert_eq!(log[0], "GETSTATE");
        let resumed = if reselect { &log[2..] } else { &log[1..] };
        assert_eq!(resumed, with_status_first(&READ_ONE_BLOCK));
        if reselect {
            assert_eq!(log[1], "SET_INTERFACE");
        }
        // The read ended on an ABORT, not on a status request: the next read asks again.
        assert_eq!(block_on(dfu.read(34, 612)).unwrap(), [0xFF; 612]);
        assert_eq!(
            dfu.transport_ref().log[log.len()..],
            with_status_first(&READ_ONE_BLOCK)
        );
    }
}

#[test]
fn the_first_operation_after_open_does_not_ask_again() {
    fn after_open(op: impl FnOnce(&mut Dfu<'_, Recording<SimDevice>>)) -> Vec<String> {
        let mut dev = Recording::new(SimDevice::photon());
        let mut dfu = block_on(Dfu::open(&mut dev, 0, 1)).unwrap();
        let from = dfu.transport_ref().log.len();
        op(&mut dfu);
        drop(dfu);
        dev.log[from..].to_vec()
    }
    let write = after_open(|dfu| block_on(dfu.write(34, &[1, 2, 3], Erase::Never)).unwrap());
    assert_eq!(write, WRITE_ONE_BLOCK);
    // GET_COMMANDS skips its first status request, never its last (after the UPLOAD)...
    let commands = after_open(|dfu| {
        assert_eq!(block_on(dfu.get_commands()).unwrap(), [0x00, 0x21, 0x41]);
        // ...which found dfuIDLE again, so a read after it does not ask either.
        block_on(dfu.read(34, 4)).unwrap();
    });
    assert_eq!(commands[..2], ["UPLOAD 0", "GETSTATUS"]);
    assert_eq!(commands[2..], READ_ONE_BLOCK);
    let mut dev = Recording::new(SimDevice::photon());
    let dfu = block_on(Dfu::open(&mut dev, 0, 1)).unwrap();
    let from = dfu.transport_ref().log.len();
    assert_eq!(
        block_on(dfu.leave(None)).unwrap(),
        LeaveOutcome::Reported(State::DnloadIdle)
    );
    assert_eq!(dev.log[from..], ["DNLOAD 2", "GETSTATUS"]);
    // Without the first status request, a device gone before the leave's only GETSTATUS is
    // still a leave that worked.
    let opened = transfers_to_open();
    let mut dev = SimBuilder::new(Platform::Photon)
        .disconnect_after(opened + 1)
        .build();
    let dfu = open(&mut dev, 1);
    assert_eq!(
        block_on(dfu.leave(None)).unwrap(),
        LeaveOutcome::Disconnected
    );
    assert_eq!(dev.transfers(), opened + 2);
}

#[test]
fn a_transfer_or_a_failed_request_in_between_makes_the_next_operation_ask_again() {
    // A request the caller sends through the transport: the session cannot know what it did.
    let mut dev = Recording::new(SimDevice::photon());
    let mut dfu = block_on(Dfu::open(&mut dev, 0, 1)).unwrap();
    let setup = ControlSetup::class_interface(request::GETSTATE, 0, 0);
    assert_eq!(block_on(dfu.transport().control_in(setup, 1)).unwrap(), [2]);
    let from = dfu.transport_ref().log.len();
    block_on(dfu.read(34, 4)).unwrap();
    assert_eq!(
        dfu.transport_ref().log[from..],
        with_status_first(&READ_ONE_BLOCK)
    );

    // A stalled request: the SET_ADDRESS right after `open` fails, and the next read asks first.
    let opened = transfers_to_open();
    let mut dev = Recording::new(
        SimBuilder::new(Platform::Photon)
            .stall_at_request(opened + 1)
            .build(),
    );
    let mut dfu = block_on(Dfu::open(&mut dev, 0, 1)).unwrap();
    let from = dfu.transport_ref().log.len();
    assert_eq!(
        block_on(dfu.read(34, 4)).unwrap_err(),
        Error::CommandRejected {
            command: dfu::Command::SetAddress,
            address: 34
        }
    );
    assert_eq!(dfu.transport_ref().log[from..], ["DNLOAD 0"]);
    let from = dfu.transport_ref().log.len();
    assert_eq!(block_on(dfu.read(34, 4)).unwrap(), [0xFF; 4]);
    assert_eq!(
        dfu.transport_ref().log[from..],
        with_status_first(&READ_ONE_BLOCK)
    );

    // A stalled status request inside GET_COMMANDS (its last one, after the UPLOAD): the next
    // operation asks again, and a failed dirty start never counts as dfuIDLE either.
    let mut dev = Recording::new(
        SimBuilder::new(Platform::Photon)
            .stall_at_request(opened + 2)
            .build(),
    );
    let mut dfu = block_on(Dfu::open(&mut dev, 0, 1)).unwrap();
    assert_eq!(
        block_on(dfu.get_commands()).unwrap_err(),
        Error::Transport(TransportError::Stall)
    );
    let from = dfu.transport_ref().log.len();
    block_on(dfu.write(34, &[1, 2, 3], Erase::Never)).unwrap();
    assert_eq!(
        dfu.transport_ref().log[from..],
        with_status_first(&WRITE_ONE_BLOCK)
    );
}
