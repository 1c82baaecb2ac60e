//! A simulated device and a simulated cloud wired together, as the real ones are by the internet:
//! after the device leaves DFU mode it resets, boots its firmware a few seconds later, reads its
//! DCT and handshakes with the cloud (`sim::cloud::firmware`). Time is virtual: it moves when the
//! cloud client sleeps, so a whole repair runs instantly.

use super::cloud::SimCloud;
use super::cloud::api::SimCloudApi;
use super::cloud::firmware::{BootOutcome, connect_ec};
use super::device::SimDevice;
use crate::cloud::{AccessToken, ApiError, ApiRequest, ApiResponse, CloudApi};
use crate::device::{KeyAlgorithm, PARTICLE_UDP_SERVER_REGION, Platform};
use crate::usb::{ControlSetup, DeviceInfo, Transport, TransportError};
use std::cell::RefCell;
use std::rc::Rc;

/// From leaving DFU mode to the first handshake: reset, boot, Wi-Fi and DNS on a real Photon.
pub const BOOT_TO_HANDSHAKE_MS: u64 = 6_000;

/// The clock the simulated cloud starts at (2026-11-23T00:00:00Z), so timestamps look real.
pub const START_MS: u64 = 1_795_392_000_000;

/// A device and a cloud that see each other.
#[derive(Clone)]
pub struct SimWorld {
    pub device: Rc<RefCell<SimDevice>>,
    pub cloud: Rc<RefCell<SimCloud>>,
}

impl SimWorld {
    pub fn new(device: SimDevice, cloud: SimCloud) -> Self {
        Self {
            device: Rc::new(RefCell::new(device)),
            cloud: Rc::new(RefCell::new(cloud)),
        }
    }

    /// A world around a device that is already shared, e.g. with the `navigator.usb` stand-in.
    pub fn from_shared(device: Rc<RefCell<SimDevice>>, cloud: SimCloud) -> Self {
        Self {
            device,
            cloud: Rc::new(RefCell::new(cloud)),
        }
    }

    /// The device as a USB transport (what WebUSB gives the page).
    pub fn transport(&self) -> SharedDevice {
        SharedDevice(self.device.clone())
    }

    /// The cloud as the page's client sees it; the device boots when the client's clock passes
    /// its boot time.
    pub fn cloud_api(&self) -> WorldCloudApi {
        WorldCloudApi {
            api: SimCloudApi::new(self.cloud.clone(), START_MS),
            device: self.device.clone(),
            left_at: None,
            last_boot: None,
            restarts_seen: self.device.borrow().firmware_restarts(),
        }
    }

    /// An access token for `email`, as if that user had signed in.
    pub fn token(&self, email: &str) -> AccessToken {
        let token = self.cloud.borrow_mut().issue_token(email, 3600, START_MS);
        AccessToken::from_pasted(&token).expect("the simulated cloud issues well-formed tokens")
    }
}

/// A shared handle to a simulated device that implements [`Transport`].
#[derive(Clone)]
pub struct SharedDevice(pub Rc<RefCell<SimDevice>>);

impl Transport for SharedDevice {
    async fn control_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError> {
        self.0.borrow_mut().handle_in(setup, len)
    }

    async fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
    ) -> Result<(), TransportError> {
        self.0.borrow_mut().handle_out(setup, data)
    }

    // The simulated device's sleep only moves its virtual clock and is ready at once, so the borrow
    // never spans a real suspension; cloning the device (all its memories) per poll is not needed.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn sleep(&mut self, ms: u32) {
        self.0.borrow_mut().sleep(ms).await;
    }

    fn info(&self) -> DeviceInfo {
        self.0.borrow().info()
    }

    fn now_ms(&self) -> Option<u64> {
        Some(self.0.borrow().now_ms())
    }
}

/// One enumeration of a shared simulated device, as a browser's `USBDevice` is: after the device
/// resets (into DFU mode, back into its firmware, or replugged) every transfer through this handle
/// fails with Disconnected, and the new personality needs a new handle ([`UsbHandle::open`]).
#[derive(Clone)]
pub struct UsbHandle {
    device: Rc<RefCell<SimDevice>>,
    enumeration: u32,
}

impl UsbHandle {
    /// A handle on the device as it is on the bus now; Disconnected while it is off the bus.
    pub fn open(device: &Rc<RefCell<SimDevice>>) -> Result<Self, TransportError> {
        let mut d = device.borrow_mut();
        if !d.on_bus() {
            return Err(TransportError::Disconnected);
        }
        d.open()?;
        Ok(Self {
            device: device.clone(),
            enumeration: d.enumeration(),
        })
    }

    pub fn device(&self) -> &Rc<RefCell<SimDevice>> {
        &self.device
    }

    fn current(&self) -> Result<std::cell::RefMut<'_, SimDevice>, TransportError> {
        let d = self.device.borrow_mut();
        if d.enumeration() == self.enumeration {
            Ok(d)
        } else {
            Err(TransportError::Disconnected)
        }
    }
}

impl Transport for UsbHandle {
    async fn control_in(
        &mut self,
        setup: ControlSetup,
        len: u16,
    ) -> Result<Vec<u8>, TransportError> {
        self.current()?.handle_in(setup, len)
    }

    async fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
    ) -> Result<(), TransportError> {
        self.current()?.handle_out(setup, data)
    }

    // As for SharedDevice: the simulated sleep is ready at once, so the borrow never spans a
    // real suspension.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn sleep(&mut self, ms: u32) {
        self.device.borrow_mut().sleep(ms).await;
    }

    fn info(&self) -> DeviceInfo {
        self.device.borrow().info()
    }
}

/// The simulated cloud's client, which also lets the device boot once it has left DFU mode.
pub struct WorldCloudApi {
    api: SimCloudApi,
    device: Rc<RefCell<SimDevice>>,
    left_at: Option<u64>,
    last_boot: Option<BootOutcome>,
    /// The firmware restarts from normal mode already handshaken for (request 40 after a key
    /// repair over control requests, a replug).
    restarts_seen: u32,
}

impl WorldCloudApi {
    /// How the device's last boot went (LED, device error), once it has booted.
    pub fn last_boot(&self) -> Option<&BootOutcome> {
        self.last_boot.as_ref()
    }

    pub fn inner_mut(&mut self) -> &mut SimCloudApi {
        &mut self.api
    }

    /// Boots the device if it left DFU mode long enough ago. Its firmware's own DCT writes (a key
    /// it generated itself, say) land in the device's memory, as on a real device.
    fn run_device(&mut self) {
        let now = self.api.now_ms();
        let (left, restarts) = {
            let d = self.device.borrow();
            (d.left_dfu(), d.firmware_restarts())
        };
        let restarted = restarts > self.restarts_seen;
        if !restarted && (!left || self.last_boot.is_some()) {
            return;
        }
        let left_at = *self.left_at.get_or_insert(now);
        if now < left_at + BOOT_TO_HANDSHAKE_MS {
            // Rebooting: the firmware is connecting (request 300 answers 1).
            self.device.borrow_mut().set_cloud_status(Some(1));
            return;
        }
        self.restarts_seen = restarts;
        self.left_at = None;
        let (platform, id, dct) = {
            let d = self.device.borrow();
            (
                host_platform(&d),
                d.device_id().to_owned(),
                d.dct().to_vec(),
            )
        };
        let mut cloud = self.api.cloud().borrow_mut();
        let outcome = match platform.info().default_keys().private_key.algorithm {
            KeyAlgorithm::EcP256 if uses_udp(platform, &dct) => connect_ec(
                &dct,
                &id,
                &mut cloud,
                &PARTICLE_UDP_SERVER_REGION[..91],
                now,
            ),
            _ => cloud.boot_device(&dct, &id, now),
        };
        drop(cloud);
        let mut device = self.device.borrow_mut();
        for w in &outcome.dct_writes {
            device.set_dct_bytes(w.offset, &w.bytes);
        }
        // The firmware keeps retrying a failed handshake: connecting, or connected.
        device.set_cloud_status(Some(if outcome.online { 2 } else { 1 }));
        self.last_boot = Some(outcome);
    }
}

/// The host's platform for a simulated device. The simulator keeps its own table, written from the
/// reference facts independently of `crate::device`, so the two are matched by USB ids.
pub fn host_platform(device: &SimDevice) -> Platform {
    let sim = device.platform();
    Platform::from_usb_ids(sim.vendor_id(), sim.dfu_product_id())
        .map(|(p, _)| p)
        .expect("every simulated platform is in the host's table")
}

/// Whether an EC-capable device runs UDP: always on Gen 3, on the Electron unless byte 2977 is 0.
fn uses_udp(platform: Platform, dct: &[u8]) -> bool {
    match platform.info().transport_selector {
        Some(selector) => dct.get(selector.offset as usize) != Some(&selector.tcp_value),
        None => true,
    }
}

impl CloudApi for WorldCloudApi {
    async fn execute(&mut self, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
        self.run_device();
        self.api.execute(request).await
    }

    /// One world, one time: the device's clock moves with the cloud client's (a device that
    /// reset re-enumerates while the page waits for the cloud).
    async fn sleep(&mut self, ms: u32) {
        self.api.sleep(ms).await;
        if let Ok(mut device) = self.device.try_borrow_mut() {
            device.advance(u64::from(ms));
        }
        self.run_device();
    }

    fn now_ms(&self) -> u64 {
        self.api.now_ms()
    }
}
