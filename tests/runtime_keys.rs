//! The key and server-address requests (`key_rescue::runtime::keys`) against the simulated
//! firmware: whole slots, 0xFF padding, one DCT shared with the DFU personality, not supported on
//! Gen 3, PENDING while the system thread is connecting, and the faults.
#![cfg(not(target_arch = "wasm32"))]

use futures_executor::block_on;
use key_rescue::dfu::Dfu;
use key_rescue::runtime::keys::{SecurityKeyType, ServerAddressReply, ServerProtocol};
use key_rescue::runtime::{Channel, Error, ResultCode, keys};
use key_rescue::sim::device::{Mode, Platform, SimBuilder, SimDevice};
use key_rescue::sim::world::UsbHandle;
use key_rescue::usb::{Transport, TransportError};
use std::cell::RefCell;
use std::rc::Rc;

fn running(builder: SimBuilder) -> Rc<RefCell<SimDevice>> {
    Rc::new(RefCell::new(builder.normal_mode().build()))
}

#[test]
fn a_slot_read_is_the_whole_slot_and_a_write_is_padded_with_erased_bytes() {
    let dev = running(SimBuilder::new(Platform::Photon).dct_bytes(34, &[0x30, 0x82, 0x02, 0x5d]));
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut h)).unwrap();
    let slot = block_on(ch.get_security_key(SecurityKeyType::TcpDevicePrivateKey)).unwrap();
    assert_eq!(slot.len(), 1216);
    assert_eq!(&slot[..4], &[0x30, 0x82, 0x02, 0x5d]);
    assert_eq!(
        block_on(ch.get_security_key(SecurityKeyType::TcpServerPublicKey))
            .unwrap()
            .len(),
        768
    );
    block_on(ch.set_security_key(SecurityKeyType::TcpDevicePrivateKey, &[1, 2, 3])).unwrap();
    let dct = dev.borrow().dct().to_vec();
    assert_eq!(&dct[34..37], &[1, 2, 3]);
    assert!(dct[37..34 + 1216].iter().all(|&b| b == 0xFF));
    // A UDP type on a TCP-only Photon.
    let err = block_on(ch.get_security_key(SecurityKeyType::UdpDevicePrivateKey)).unwrap_err();
    assert!(err.is_not_supported(), "{err}");
    let err = block_on(ch.set_security_key(SecurityKeyType::TcpDevicePrivateKey, &[0; 1217]))
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Failed {
            code: ResultCode::TooLarge,
            ..
        }
    ));
}

#[test]
fn the_address_is_written_as_the_firmware_encodes_it_and_a_blank_block_reads_as_not_set() {
    let dev = running(SimBuilder::new(Platform::Photon));
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut h)).unwrap();
    assert_eq!(
        block_on(ch.get_server_address(ServerProtocol::Tcp)).unwrap(),
        ServerAddressReply::NotSet
    );
    block_on(ch.set_server_address(ServerProtocol::Tcp, "$id.udp.particle.io", 5683)).unwrap();
    assert_eq!(
        block_on(ch.get_server_address(ServerProtocol::Tcp)).unwrap(),
        ServerAddressReply::Address {
            address: "$id.udp.particle.io".into(),
            port: 5683
        }
    );
    let dct = dev.borrow().dct().to_vec();
    assert_eq!(&dct[2466..2468], &[1, 19]);
    assert_eq!(&dct[2466 + 66..2466 + 68], &[0x16, 0x33]);
    let err = block_on(ch.set_server_address(ServerProtocol::Tcp, &"a".repeat(64), 1)).unwrap_err();
    assert!(matches!(
        err,
        Error::Failed {
            code: ResultCode::TooLarge,
            ..
        }
    ));
    let err = block_on(ch.get_server_address(ServerProtocol::Udp)).unwrap_err();
    assert!(err.is_not_supported());
}

#[test]
fn gen3_answers_not_supported_to_all_four() {
    for platform in [Platform::Argon, Platform::Boron] {
        let dev = running(SimBuilder::new(platform));
        let mut h = UsbHandle::open(&dev).unwrap();
        let mut ch = block_on(Channel::open(&mut h)).unwrap();
        let errs = [
            block_on(ch.get_security_key(SecurityKeyType::UdpDevicePrivateKey)).map(drop),
            block_on(ch.set_security_key(SecurityKeyType::UdpDevicePrivateKey, &[1])),
            block_on(ch.get_server_address(ServerProtocol::Udp)).map(drop),
            block_on(ch.set_server_address(ServerProtocol::Udp, "a", 1)),
        ];
        for e in errs {
            assert!(e.unwrap_err().is_not_supported(), "{platform:?}");
        }
    }
    // The Electron has both TCP and UDP slots.
    let dev = running(SimBuilder::new(Platform::Electron));
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut h)).unwrap();
    let slot = block_on(ch.get_security_key(SecurityKeyType::UdpDevicePrivateKey)).unwrap();
    assert_eq!(slot.len(), 192);
}

#[test]
fn keys_written_at_run_time_are_what_the_bootloader_reads_after_a_reset_into_dfu() {
    let dev = running(SimBuilder::new(Platform::Photon));
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut h)).unwrap();
    block_on(ch.set_security_key(SecurityKeyType::TcpDevicePrivateKey, b"written at run time"))
        .unwrap();
    block_on(ch.enter_dfu()).unwrap();
    block_on(h.sleep(3_000));
    assert_eq!(dev.borrow_mut().mode(), Mode::Dfu);
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut dfu = block_on(Dfu::open(&mut h, 0, 1)).unwrap();
    let read = block_on(dfu.read(34, 19)).unwrap();
    assert_eq!(read, b"written at run time");
}

#[test]
fn key_requests_stay_pending_while_the_device_connects_until_listening_mode_aborts_it() {
    let dev = running(SimBuilder::new(Platform::Photon).system_busy(600_000));
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut h))
        .unwrap()
        .with_max_pending_ms(2_000);
    let err = block_on(ch.get_security_key(SecurityKeyType::TcpDevicePrivateKey)).unwrap_err();
    assert!(matches!(err, Error::StillPending { .. }), "{err}");
    // 70 is queued at INIT and cancels the connection attempt there.
    block_on(ch.start_listening()).unwrap();
    let slot = block_on(ch.get_security_key(SecurityKeyType::TcpDevicePrivateKey)).unwrap();
    assert_eq!(slot.len(), 1216);
}

#[test]
fn faults_refused_write_pulled_cable_differing_read_back_never_completing() {
    // Refused: nothing written.
    let dev = running(SimBuilder::new(Platform::Photon).refuse_key_writes(-219));
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut h)).unwrap();
    let err =
        block_on(ch.set_security_key(SecurityKeyType::TcpDevicePrivateKey, &[1])).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Failed {
                code: ResultCode::Other(-219),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(dev.borrow().dct()[34], 0xFF);

    // Cable pulled: the slot is written, the host hears nothing, the device is gone.
    let dev = running(SimBuilder::new(Platform::Photon).unplug_on_key_write());
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut h)).unwrap();
    let err =
        block_on(ch.set_security_key(SecurityKeyType::TcpDevicePrivateKey, &[1])).unwrap_err();
    assert_eq!(err, Error::Transport(TransportError::Disconnected));
    assert_eq!(dev.borrow().dct()[34], 1);
    assert!(UsbHandle::open(&dev).is_err());
    dev.borrow_mut().replug();
    assert_eq!(dev.borrow().mode(), Mode::Runtime);
    assert!(UsbHandle::open(&dev).is_ok());

    // A read-back that differs (once).
    let dev = running(SimBuilder::new(Platform::Photon).corrupt_key_writes(1));
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut h)).unwrap();
    let data = vec![0x42; 612];
    block_on(ch.set_security_key(SecurityKeyType::TcpDevicePrivateKey, &data)).unwrap();
    let back = block_on(ch.get_security_key(SecurityKeyType::TcpDevicePrivateKey)).unwrap();
    assert_ne!(&back[..612], &data[..]);
    block_on(ch.set_security_key(SecurityKeyType::TcpDevicePrivateKey, &data)).unwrap();
    let back = block_on(ch.get_security_key(SecurityKeyType::TcpDevicePrivateKey)).unwrap();
    assert_eq!(&back[..612], &data[..]);

    // Never completing: the channel gives up and cancels; other requests still work.
    let dev = running(SimBuilder::new(Platform::Photon).key_requests_never_complete());
    let mut h = UsbHandle::open(&dev).unwrap();
    let mut ch = block_on(Channel::open(&mut h)).unwrap();
    let err = block_on(ch.get_security_key(SecurityKeyType::TcpDevicePrivateKey)).unwrap_err();
    assert!(matches!(
        err,
        Error::StillPending {
            request_type: keys::GET_SECURITY_KEY,
            ..
        }
    ));
    assert_eq!(dev.borrow().control_channel().active(), 0);
    assert!(block_on(ch.device_id()).is_ok());
}
