//! The control-request channel (`key_rescue::runtime`) against the simulated firmware: every
//! service status, result codes, timeouts, stalls, BUSY, request ids, and the mode switches.
#![cfg(not(target_arch = "wasm32"))]

use futures_executor::block_on;
use key_rescue::device::{Platform as HostPlatform, UsbMode};
use key_rescue::dfu::{Dfu, State};
use key_rescue::runtime::{
    CHECK_INTERVALS_MS, Channel, ConnectionStatus, Error, MAX_BUSY_RETRIES, MAX_PENDING_MS,
    ResultCode, Service, request_type,
};
use key_rescue::sim::device::{Mode, Platform, REENUMERATE_MS, SimBuilder, SimDevice};
use key_rescue::sim::world::UsbHandle;
use key_rescue::usb::{ControlSetup, Counting, DeviceInfo, Transport, TransportError};
use std::cell::RefCell;
use std::rc::Rc;

const PLATFORMS: [Platform; 5] = [
    Platform::Photon,
    Platform::P1,
    Platform::Electron,
    Platform::Argon,
    Platform::Boron,
];

/// Every transfer as (bmRequestType, bRequest, wValue, wIndex, wLength or data length).
#[derive(Default)]
struct Recorder<T> {
    inner: T,
    log: Vec<(u8, u8, u16, u16, usize)>,
}

impl<T: Transport> Transport for Recorder<T> {
    async fn control_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError> {
        self.log.push((
            setup.bm_request_type(true),
            setup.request,
            setup.value,
            setup.index,
            usize::from(len),
        ));
        self.inner.control_in(setup, len).await
    }
    async fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
    ) -> Result<(), TransportError> {
        self.log.push((
            setup.bm_request_type(false),
            setup.request,
            setup.value,
            setup.index,
            data.len(),
        ));
        self.inner.control_out(setup, data).await
    }
    async fn sleep(&mut self, ms: u32) {
        self.inner.sleep(ms).await
    }
    fn info(&self) -> DeviceInfo {
        self.inner.info()
    }
}

fn shared(dev: SimDevice) -> Rc<RefCell<SimDevice>> {
    Rc::new(RefCell::new(dev))
}

fn recorder(dev: SimDevice) -> Recorder<SimDevice> {
    Recorder {
        inner: dev,
        log: Vec::new(),
    }
}

#[test]
fn every_platform_answers_device_id_and_version_with_incrementing_request_ids() {
    for platform in PLATFORMS {
        let dev = SimBuilder::new(platform)
            .normal_mode()
            .firmware("1.5.2")
            .build();
        let id = dev.device_id().to_owned();
        let info = dev.info();
        assert_eq!(
            HostPlatform::from_usb_ids(info.vendor_id, info.product_id).map(|(_, mode)| mode),
            Some(UsbMode::Runtime),
            "{platform:?}"
        );
        let mut t = recorder(dev);
        let mut ch = block_on(Channel::open(&mut t)).unwrap();
        assert_eq!(block_on(ch.device_id()).unwrap(), id);
        assert_eq!(block_on(ch.system_version()).unwrap(), "1.5.2");
        let log = &t.log;
        // RESET(0) first, then INIT type 20 (id 1), CHECK 1, RECV 1, INIT type 30 (id 2), ...
        assert_eq!(log[0], (0xC0, 5, 0, 0, 64));
        assert_eq!(log[1], (0xC0, 1, 0, 20, 64));
        assert_eq!(log[2], (0xC0, 2, 0, 1, 64));
        // GetDeviceIdReply: tag, length 24, 24 digits.
        assert_eq!(log[3], (0xC0, 4, 0, 1, 26));
        assert_eq!(log[4], (0xC0, 1, 0, 30, 64));
        assert_eq!(log[5], (0xC0, 2, 0, 2, 64));
        assert_eq!(log[6], (0xC0, 4, 0, 2, 7));
        assert_eq!(
            log.len(),
            7,
            "{platform:?}: one CHECK each when the device is idle"
        );
        assert_eq!(t.inner.control_channel().active(), 0);
        assert_eq!(t.inner.now_ms(), 2 * u64::from(CHECK_INTERVALS_MS[0]));
    }
}

#[test]
fn firmware_before_0_8_stalls_and_is_told_apart() {
    let mut dev = SimBuilder::new(Platform::Photon)
        .normal_mode()
        .firmware("0.7.0")
        .build();
    let err = block_on(Channel::open(&mut dev)).err().unwrap();
    assert_eq!(err, Error::NoControlRequests);
    assert!(err.hint().contains("hold SETUP"));
    // Without the probe, the INIT itself says the same.
    let mut ch = Channel::resume(&mut dev);
    assert_eq!(
        block_on(ch.enter_dfu()).unwrap_err(),
        Error::NoControlRequests
    );
    assert_eq!(dev.mode(), Mode::Runtime);
}

#[test]
fn a_busy_system_thread_keeps_requests_pending_with_back_off() {
    let mut dev = SimBuilder::new(Platform::Photon)
        .normal_mode()
        .system_busy(5_000)
        .build();
    let mut ch = block_on(Channel::open(&mut dev)).unwrap();
    assert_eq!(
        block_on(ch.cloud_status()).unwrap(),
        ConnectionStatus::Connected
    );
    // The whole back-off: 50, 50, 100, 100, 250, 250, 500, 500, 1000, 1000, 1000, 1000 = 4800;
    // the next CHECK at 5800 finds it done.
    let checks = ch.checks();
    assert!(checks >= 12, "{checks}");
    assert_eq!(dev.now_ms(), 5_800);

    let mut dev = SimBuilder::new(Platform::Photon)
        .normal_mode()
        .system_busy(3_000)
        .build();
    let mut ch = block_on(Channel::open(&mut dev)).unwrap();
    let status = block_on(ch.cloud_status());
    // 300 does not cancel the attempt; done at the CHECK after the system thread is free.
    assert_eq!(status.unwrap(), ConnectionStatus::Connected);
}

#[test]
fn a_request_pending_past_the_cap_is_cancelled_and_reported() {
    let mut dev = SimBuilder::new(Platform::Boron)
        .normal_mode()
        .system_busy(120_000)
        .build();
    let mut ch = block_on(Channel::open(&mut dev)).unwrap();
    let err = block_on(ch.device_id()).unwrap_err();
    let Error::StillPending {
        request_type: 20,
        waited_ms,
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(waited_ms <= MAX_PENDING_MS && waited_ms > MAX_PENDING_MS - 1_000);
    assert!(err.hint().contains("busy"));
    // RESET with the request's id freed the device's slot.
    assert_eq!(dev.control_channel().active(), 0);
    assert!(dev.now_ms() <= u64::from(MAX_PENDING_MS));
}

#[test]
fn dfu_mode_cancels_the_cloud_attempt_and_the_device_comes_back_as_its_dfu_personality() {
    for platform in PLATFORMS {
        let dev = shared(
            SimBuilder::new(platform)
                .normal_mode()
                .system_busy(60_000)
                .build(),
        );
        let id = dev.borrow().device_id().to_owned();
        let mut runtime = UsbHandle::open(&dev).unwrap();
        let mut ch = block_on(Channel::open(&mut runtime)).unwrap();
        block_on(ch.enter_dfu()).unwrap();
        // Request 50 cancelled the busy connection attempt: done at the first CHECK.
        assert_eq!(ch.checks(), 1, "{platform:?}");
        let (at, to) = dev.borrow().reset_scheduled().unwrap();
        assert_eq!((at, to), (50 + 1_000, Mode::Dfu));
        // Still answering until the reset, then gone for good.
        block_on(runtime.sleep(1_000));
        assert_eq!(
            block_on(Channel::open(&mut runtime)).err(),
            Some(Error::Transport(TransportError::Disconnected))
        );
        assert!(
            UsbHandle::open(&dev).is_err(),
            "off the bus while it resets"
        );
        block_on(runtime.sleep(REENUMERATE_MS as u32));
        let mut dfu = UsbHandle::open(&dev).unwrap();
        let info = dfu.info();
        assert_eq!(
            HostPlatform::from_usb_ids(info.vendor_id, info.product_id).map(|(_, m)| m),
            Some(UsbMode::Dfu)
        );
        assert_eq!(info.device_id().as_deref(), Some(id.as_str()));
        // The old handle stays dead; the new one is a working bootloader on the same memories.
        assert!(block_on(runtime.control_in(ControlSetup::class_interface(5, 0, 0), 1)).is_err());
        let session = block_on(Dfu::open(&mut dfu, 0, 1)).unwrap();
        drop(session);
        assert_eq!(dev.borrow().state(), State::DfuIdle);
    }
}

#[test]
fn reset_brings_back_the_firmware_as_a_new_usb_device() {
    let dev = shared(SimDevice::photon_running());
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut h)).unwrap();
    block_on(ch.reset()).unwrap();
    block_on(h.sleep(1_000 + REENUMERATE_MS as u32));
    assert_eq!(dev.borrow().mode(), Mode::Runtime);
    assert!(block_on(Channel::open(&mut h)).is_err());
    let mut again = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut again)).unwrap();
    assert_eq!(block_on(ch.system_version()).unwrap(), "2.3.1");
}

#[test]
fn a_device_that_never_re_enumerates_stays_off_the_bus() {
    let dev = shared(
        SimBuilder::new(Platform::Electron)
            .normal_mode()
            .never_reenumerates()
            .build(),
    );
    let mut h = UsbHandle::open(&dev).unwrap();
    block_on(block_on(Channel::open(&mut h)).unwrap().enter_dfu()).unwrap();
    block_on(h.sleep(600_000));
    assert!(UsbHandle::open(&dev).is_err());
}

#[test]
fn busy_after_four_active_requests_is_retried_then_reported() {
    let mut dev = SimDevice::photon_running();
    // Another program left four requests active.
    for _ in 0..4 {
        let r = block_on(dev.control_in(Service::Init.setup(0, 70), 64)).unwrap();
        assert_eq!(r[4..6], [0, 0]);
    }
    let before = dev.control_channel().inits;
    let mut ch = Channel::resume(&mut dev);
    assert_eq!(block_on(ch.device_id()).unwrap_err(), Error::Busy);
    assert_eq!(dev.control_channel().inits - before, MAX_BUSY_RETRIES + 1);
    // Opening the channel (RESET 0) clears what the other program left behind.
    let mut ch = block_on(Channel::open(&mut dev)).unwrap();
    assert!(block_on(ch.device_id()).is_ok());
}

#[test]
fn no_memory_at_init_is_typed() {
    let mut dev = SimDevice::photon_running();
    dev.faults_mut().runtime_no_memory = true;
    let mut ch = block_on(Channel::open(&mut dev)).unwrap();
    assert_eq!(
        block_on(ch.system_version()).unwrap_err(),
        Error::NoMemory { request_type: 30 }
    );
}

/// A transport on which another host cancels every request right after its INIT.
struct Meddler(SimDevice);

impl Transport for Meddler {
    async fn control_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError> {
        let reply = self.0.control_in(setup, len).await;
        if setup.request == Service::Init as u8 {
            self.0.control_in(Service::Reset.setup(0, 0), 64).await?;
        }
        reply
    }
    async fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
    ) -> Result<(), TransportError> {
        self.0.control_out(setup, data).await
    }
    async fn sleep(&mut self, ms: u32) {
        self.0.sleep(ms).await
    }
}

#[test]
fn a_request_cancelled_by_another_host_is_not_found() {
    let mut t = Meddler(SimDevice::photon_running());
    let mut ch = block_on(Channel::open(&mut t)).unwrap();
    assert_eq!(
        block_on(ch.device_id()).unwrap_err(),
        Error::NotFound { request_type: 20 }
    );
}

#[test]
fn negative_result_codes_are_named() {
    for (code, named) in [
        (-120, ResultCode::NotSupported),
        (-210, ResultCode::InvalidState),
        (-110, ResultCode::Busy),
        (-130, ResultCode::NotAllowed),
        (-160, ResultCode::Timeout),
        (-260, ResultCode::NoMemory),
        (-270, ResultCode::InvalidArgument),
        (-999, ResultCode::Other(-999)),
    ] {
        let mut dev = SimBuilder::new(Platform::Argon)
            .normal_mode()
            .fail_request(request_type::DFU_MODE, code)
            .build();
        let mut ch = block_on(Channel::open(&mut dev)).unwrap();
        assert_eq!(
            block_on(ch.enter_dfu()).unwrap_err(),
            Error::Failed {
                request_type: 50,
                code: named
            }
        );
        assert_eq!(
            dev.reset_scheduled(),
            None,
            "a refused request 50 changes nothing"
        );
    }
    // A type the firmware has no handler for.
    let mut dev = SimDevice::photon_running();
    let mut ch = block_on(Channel::open(&mut dev)).unwrap();
    let err = block_on(ch.request(999, &[])).unwrap_err();
    assert_eq!(
        err,
        Error::Failed {
            request_type: 999,
            code: ResultCode::NotSupported
        }
    );
    assert_eq!(
        err.to_string(),
        "the device refused control request 999: not supported (-120)"
    );
}

#[test]
fn payloads_go_through_send_pooled_or_allocated_and_come_back_through_recv() {
    for len in [1usize, 64, 65, 300, 4096] {
        let mut t = recorder(SimDevice::photon_running());
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut ch = block_on(Channel::open(&mut t)).unwrap();
        let reply = block_on(ch.request(request_type::ECHO, &payload)).unwrap();
        assert_eq!(reply.data, payload, "{len}");
        let sends: Vec<_> = t.log.iter().filter(|e| e.1 == 3).collect();
        assert_eq!(sends, [&(0x40, 3, 0, 1, len)]);
        // Over 64 bytes the device allocates on its system thread first: INIT answers PENDING
        // and a CHECK precedes the SEND.
        let checks_before_send = t
            .log
            .iter()
            .take_while(|e| e.1 != 3)
            .filter(|e| e.1 == 2)
            .count();
        assert_eq!(checks_before_send, usize::from(len > 64), "{len}");
        assert_eq!(t.inner.control_channel().active(), 0);
    }
    // A reply larger than the page reads is refused and the request cancelled.
    let mut dev = SimDevice::photon_running();
    let mut ch = block_on(Channel::open(&mut dev)).unwrap();
    let err = block_on(ch.request(request_type::ECHO, &[0; 5000])).unwrap_err();
    assert!(matches!(err, Error::BadServiceReply { .. }), "{err:?}");
    assert_eq!(dev.control_channel().active(), 0);
}

#[test]
fn a_stall_mid_request_and_a_transfer_past_its_deadline_are_typed() {
    // Transfer 1 is the RESET probe, 2 the INIT, 3 the CHECK.
    let mut dev = SimDevice::photon_running();
    dev.faults_mut().stall_at_request = Some(3);
    let mut ch = block_on(Channel::open(&mut dev)).unwrap();
    let err = block_on(ch.device_id()).unwrap_err();
    assert_eq!(
        err,
        Error::Stalled {
            service: Service::Check,
            request_type: 20
        }
    );
    let mut dev = SimDevice::photon_running();
    dev.faults_mut().hang_at_request = Some(4);
    let mut ch = block_on(Channel::open(&mut dev)).unwrap();
    let err = block_on(ch.device_id()).unwrap_err();
    assert_eq!(err, Error::Transport(TransportError::Timeout));
    assert!(err.hint().contains("Unplug"));
}

#[test]
fn fourteen_thousand_four_hundred_baud_enters_dfu_mode_even_on_old_firmware() {
    let dev = shared(
        SimBuilder::new(Platform::Photon)
            .normal_mode()
            .firmware("0.6.4")
            .build(),
    );
    let mut h = UsbHandle::open(&dev).unwrap();
    let set_line_coding = ControlSetup::class_interface(0x20, 0, 0);
    // 28800 baud (listening mode) is not DFU mode.
    let coding = |baud: u32| {
        let mut c = baud.to_le_bytes().to_vec();
        c.extend_from_slice(&[0, 0, 8]);
        c
    };
    block_on(h.control_out(set_line_coding, &coding(28_800))).unwrap();
    assert_eq!(dev.borrow().reset_scheduled(), None);
    block_on(h.control_out(set_line_coding, &coding(14_400))).unwrap();
    assert_eq!(dev.borrow().reset_scheduled().map(|s| s.1), Some(Mode::Dfu));
    block_on(h.sleep(2_000));
    assert_eq!(dev.borrow().mode(), Mode::Dfu);
    assert!(UsbHandle::open(&dev).is_ok());
}

#[test]
fn leaving_dfu_mode_brings_back_the_firmware_when_the_device_has_one() {
    let dev = shared(SimBuilder::new(Platform::Photon).firmware("2.3.1").build());
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut t = Counting::new(h.clone());
    {
        let dfu = block_on(Dfu::open(&mut t, 0, 1)).unwrap();
        block_on(dfu.leave(None)).unwrap();
    }
    block_on(h.sleep(1_000 + REENUMERATE_MS as u32));
    assert_eq!(dev.borrow().mode(), Mode::Runtime);
    let mut runtime = UsbHandle::open(&dev).unwrap();
    assert!(block_on(Channel::open(&mut runtime)).is_ok());
}
