//! Shared harness of the doctor tests: a simulated device and cloud wired together, a whole repair
//! run step by step as the page runs it, and the safety invariants every run must keep.
#![allow(dead_code)]

use key_rescue::cloud::{AccessToken, CloudApi, ProductRef};
use key_rescue::device::Platform;
use key_rescue::doctor::{
    CancelFlag, CloudContext, Diagnosis, Doctor, DoctorError, DoctorEvent, Plan, PlanOptions,
    RepairReport, ServerChoice, VerifyOutcome,
};
use key_rescue::keys::diagnose::PrivateKeyStatus;
use key_rescue::keys::{self, DctSnapshot};
use key_rescue::sim::cloud::scenario;
use key_rescue::sim::cloud::{SimCloud, SimCloudDevice};
use key_rescue::sim::device::{Platform as SimPlatform, SimBuilder, SimDevice};
use key_rescue::sim::world::{SharedDevice, SimWorld, host_platform};
use key_rescue::usb::{ControlSetup, DeviceInfo, Transport, TransportError};
use rsa::pkcs8::EncodePrivateKey;
use std::sync::OnceLock;

pub const DEMO_EMAIL: &str = scenario::DEMO_EMAIL;
pub const DEVELOPER_EMAIL: &str = scenario::DEVELOPER_EMAIL;
pub const PRODUCT_ID: u32 = scenario::DEMO_PRODUCT_ID;
/// How long `leave_and_verify` waits (virtual time: it costs nothing).
pub const VERIFY_TIMEOUT_MS: u32 = 60_000;

/// One RSA-2048 cloud key for the whole test binary: generating it is the slow part.
fn cloud_server_key() -> rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("RSA-2048 key for the cloud")
    })
    .clone()
}

pub fn new_cloud() -> SimCloud {
    let mut cloud = SimCloud::new(cloud_server_key());
    scenario::seed_demo(&mut cloud);
    cloud
}

/// Who the cloud says the simulated device belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    /// The demo account (a developer device).
    Demo,
    /// Another account.
    Someone,
    /// The demo product, whose team has a Developer and a View-only member.
    Product,
}

pub fn world(device: SimDevice, owner: Owner) -> SimWorld {
    let mut cloud = new_cloud();
    let platform_id = host_platform(&device).info().id;
    let id = device.device_id().to_owned();
    cloud.add_device(match owner {
        Owner::Demo => SimCloudDevice::new(&id, DEMO_EMAIL, platform_id),
        Owner::Someone => SimCloudDevice::new(&id, "someone-else@example.com", platform_id),
        Owner::Product => {
            SimCloudDevice::new(&id, scenario::MFA_EMAIL, platform_id).in_product(PRODUCT_ID)
        }
    });
    SimWorld::new(device, cloud)
}

/// A simulated device's builder with `patches` laid over its DCT (more faults can follow).
pub fn builder_with(platform: SimPlatform, patches: &[(usize, Vec<u8>)]) -> SimBuilder {
    let mut b = SimDevice::builder(platform);
    for (offset, bytes) in patches {
        b = b.dct_bytes(*offset, bytes);
    }
    b
}

/// A blank simulated Photon owned by `owner`, with its cloud.
pub fn photon_world(owner: Owner) -> SimWorld {
    world(SimDevice::builder(SimPlatform::Photon).build(), owner)
}

pub fn build_with(platform: SimPlatform, patches: &[(usize, Vec<u8>)]) -> SimDevice {
    builder_with(platform, patches).build()
}

/// For RSA devices the simulated cloud plays Particle with its own key, which the device must hold
/// (nobody has Particle's private key); EC devices use Particle's UDP key (a key-equality stand-in).
pub fn options_for(w: &SimWorld) -> PlanOptions {
    let rsa = matches!(
        host_platform(&w.device.borrow()),
        Platform::Photon | Platform::P1 | Platform::Core
    );
    if rsa {
        sim_cloud_options(w.cloud.borrow().server_key_region())
    } else {
        PlanOptions::default()
    }
}

/// The simulated cloud's server-key `region` as the server to write.
pub fn sim_cloud_options(region: Vec<u8>) -> PlanOptions {
    PlanOptions {
        server: ServerChoice::Custom {
            region,
            description: "the simulated cloud".into(),
        },
        ..PlanOptions::default()
    }
}

pub struct Healthy {
    pub patches: Vec<(usize, Vec<u8>)>,
    pub public_spki: Vec<u8>,
}

/// A Photon DCT with a valid key and the simulated cloud's server key region.
pub fn healthy_photon_dct_patches() -> Healthy {
    let key = keys::generate_rsa_device_key().unwrap();
    let region = SimCloud::new(cloud_server_key()).server_key_region();
    Healthy {
        patches: vec![(34, key.der().to_vec()), (2082, region)],
        public_spki: key.public_key().spki_der.clone(),
    }
}

/// An RSA-1024 key as OpenSSL 3 writes it by default: PKCS#8, not PKCS#1.
pub fn pkcs8_key_der() -> Vec<u8> {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
    key.to_pkcs8_der().unwrap().as_bytes().to_vec()
}

pub fn ctx<'a, C: CloudApi>(api: &'a mut C, token: Option<&'a AccessToken>) -> CloudContext<'a, C> {
    CloudContext { api, token }
}

pub fn device_id(w: &SimWorld) -> String {
    w.device.borrow().device_id().to_owned()
}

/// The public key the cloud holds for the device.
pub fn cloud_key(w: &SimWorld) -> Option<Vec<u8>> {
    let id = device_id(w);
    let cloud = w.cloud.borrow();
    cloud
        .device(&id)?
        .public_key
        .as_ref()
        .map(|k| k.der.clone())
}

/// The public key of the private key the device holds now, read the way the firmware reads it.
pub fn device_public_key(w: &SimWorld) -> Option<Vec<u8>> {
    match private_key_status(w, w.device.borrow().dct()) {
        PrivateKeyStatus::Valid { public_key } => Some(public_key.spki_der),
        _ => None,
    }
}

pub fn private_key_status(w: &SimWorld, dct: &[u8]) -> PrivateKeyStatus {
    let platform = host_platform(&w.device.borrow());
    let id = device_id(w);
    keys::diagnose(platform, &DctSnapshot::new(0, dct), Some(&id)).private_key
}

/// Everything a run produced, step by step.
pub struct Run {
    pub doctor: Option<Doctor<SharedDevice>>,
    pub connect_error: Option<DoctorError>,
    pub diagnosis: Option<Diagnosis>,
    pub diagnosis_error: Option<DoctorError>,
    pub backup_taken: bool,
    pub backup_private_slot: Vec<u8>,
    pub plan: Option<Plan>,
    pub repair: Option<Result<RepairReport, DoctorError>>,
    pub verify: Option<Result<VerifyOutcome, DoctorError>>,
    pub dct_before: Vec<u8>,
    pub cloud_key_before: Option<Vec<u8>>,
    /// The doctor's log lines from connect to the end of the repair.
    pub log: Vec<String>,
}

impl Run {
    /// The repair's report; panics with the error if the repair did not run or failed.
    pub fn repaired(&self) -> &RepairReport {
        match &self.repair {
            Some(Ok(report)) => report,
            Some(Err(e)) => panic!("the repair failed: {e}"),
            None => panic!("no repair ran: {:?}", self.error().map(|e| e.to_string())),
        }
    }

    /// Asserts that the run left DFU mode and the cloud reported the device online.
    pub fn assert_online(&self) {
        match &self.verify {
            Some(Ok(VerifyOutcome::Online { .. })) => {}
            other => panic!(
                "the device did not come online: {other:?} (error: {:?})",
                self.error().map(|e| e.to_string())
            ),
        }
    }

    /// The error that stopped the run, if one did.
    pub fn error(&self) -> Option<&DoctorError> {
        self.connect_error
            .as_ref()
            .or(self.diagnosis_error.as_ref())
            .or(self.repair.as_ref().and_then(|r| r.as_ref().err()))
            .or(self.verify.as_ref().and_then(|r| r.as_ref().err()))
    }
}

/// Connect, diagnose, back up, plan and repair, as the page does; stops at the first error.
pub async fn full_repair_until_repair(
    w: &SimWorld,
    options: PlanOptions,
    email: Option<&str>,
) -> Run {
    let mut api = w.cloud_api();
    repair_with(w, &mut api, options, email).await
}

/// A whole repair: the steps above, then leave DFU mode and wait for the cloud.
pub async fn full_repair(w: &SimWorld, options: PlanOptions, email: Option<&str>) -> Run {
    let mut api = w.cloud_api();
    let mut run = repair_with(w, &mut api, options, email).await;
    verify_with(w, &mut run, &mut api, email).await;
    run
}

/// The steps up to the repair with a given cloud client (tests inject cloud faults through it).
pub async fn repair_with<C: CloudApi>(
    w: &SimWorld,
    api: &mut C,
    options: PlanOptions,
    email: Option<&str>,
) -> Run {
    repair_in_product(w, api, options, email, None).await
}

/// A whole repair of a device the page was told the product of (a link's `product=`).
pub async fn full_repair_in_product(
    w: &SimWorld,
    options: PlanOptions,
    email: Option<&str>,
    product: Option<ProductRef>,
) -> Run {
    let mut api = w.cloud_api();
    let mut run = repair_in_product(w, &mut api, options, email, product).await;
    verify_with(w, &mut run, &mut api, email).await;
    run
}

/// [`repair_with`] for a device the page was told the product of.
pub async fn repair_in_product<C: CloudApi>(
    w: &SimWorld,
    api: &mut C,
    options: PlanOptions,
    email: Option<&str>,
    product: Option<ProductRef>,
) -> Run {
    let token = email.map(|e| w.token(e));
    let mut run = Run {
        doctor: None,
        connect_error: None,
        diagnosis: None,
        diagnosis_error: None,
        backup_taken: false,
        backup_private_slot: Vec::new(),
        plan: None,
        repair: None,
        verify: None,
        dct_before: w.device.borrow().dct().to_vec(),
        cloud_key_before: cloud_key(w),
        log: Vec::new(),
    };
    let mut log = Vec::new();
    let mut on_event = |event| {
        if let DoctorEvent::Log(line) = event {
            log.push(line);
        }
    };
    // The device ID a user enters for a Core, whose bootloader does not report it.
    let expected = typed_device_id(w);
    let mut doctor = match Doctor::connect(
        w.transport(),
        expected.as_deref(),
        CancelFlag::new(),
        &mut on_event,
    )
    .await
    {
        Ok(d) => d,
        Err(e) => {
            run.connect_error = Some(e);
            run.log = log;
            return run;
        }
    };
    doctor.set_product(product);
    match doctor
        .diagnose(ctx(api, token.as_ref()), &mut on_event)
        .await
    {
        Ok(d) => run.diagnosis = Some(d),
        Err(e) => {
            run.diagnosis_error = Some(e);
            run.doctor = Some(doctor);
            run.log = log;
            return run;
        }
    }
    let backup = doctor
        .back_up(&mut on_event)
        .expect("a diagnosis leaves a backup");
    run.backup_taken = true;
    let slot = private_slot(w);
    run.backup_private_slot = backup
        .bytes_at(1, slot.start as u32, slot.len())
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let plan = doctor
        .plan(run.diagnosis.as_ref().unwrap(), &options, &mut on_event)
        .expect("planning after a backup");
    run.repair = Some(
        doctor
            .repair(&plan, ctx(api, token.as_ref()), &mut on_event)
            .await,
    );
    run.plan = Some(plan);
    run.doctor = Some(doctor);
    run.log = log;
    run
}

/// The device ID the user types in for a Core (its DFU serial number is not the ID); `None` for
/// every other platform, whose bootloader reports it.
pub fn typed_device_id(w: &SimWorld) -> Option<String> {
    let device = w.device.borrow();
    (device.platform() == SimPlatform::Core).then(|| device.device_id().to_owned())
}

/// Leaves DFU mode and waits for the cloud, if the repair succeeded.
pub async fn verify_with<C: CloudApi>(
    w: &SimWorld,
    run: &mut Run,
    api: &mut C,
    email: Option<&str>,
) {
    if !matches!(run.repair, Some(Ok(_))) {
        return;
    }
    let token = email.map(|e| w.token(e));
    let doctor = run.doctor.take().unwrap();
    let result = doctor
        .leave_and_verify(ctx(api, token.as_ref()), VERIFY_TIMEOUT_MS, &mut |_| {})
        .await;
    run.verify = Some(result.map(|(outcome, _)| outcome));
}

/// The rules every run keeps, whatever failed:
/// - the device changed only if a backup of the bytes before was taken;
/// - its private key is the one from before, or a valid one (never a half-written key);
/// - a key the cloud got is the key on the device;
/// - a failure says what to do next.
pub fn assert_invariants(w: &SimWorld, run: &Run) {
    let dct_now = w.device.borrow().dct().to_vec();
    let key_slot = private_slot(w);
    let server = server_region(w);
    let changed = differs(&dct_now, &run.dct_before, key_slot.clone()).is_some()
        || differs(&dct_now, &run.dct_before, server).is_some();
    assert!(
        !changed || run.backup_taken,
        "the device was written without a backup"
    );
    if run.backup_taken {
        assert!(
            run.backup_private_slot == run.dct_before[key_slot.clone()],
            "the backup does not hold the private key slot as it was before"
        );
    }
    let key_unchanged = differs(&dct_now, &run.dct_before, key_slot).is_none();
    let key_valid = matches!(
        private_key_status(w, &dct_now),
        PrivateKeyStatus::Valid { .. }
    );
    assert!(
        key_unchanged || key_valid,
        "the private key slot holds neither the old key nor a valid new one"
    );
    let cloud_now = cloud_key(w);
    if cloud_now != run.cloud_key_before {
        assert!(
            cloud_now == device_public_key(w),
            "the cloud got a key the device does not hold"
        );
    }
    if let Some(err) = run.error() {
        assert!(!err.hint().trim().is_empty(), "{err} has no next step");
        assert!(!err.to_string().trim().is_empty());
    }
}

/// The DCT range of the platform's live private key slot (what the firmware reads).
pub fn private_slot(w: &SimWorld) -> std::ops::Range<usize> {
    let slot = host_platform(&w.device.borrow())
        .info()
        .default_keys()
        .private_key;
    slot.offset as usize..(slot.offset + slot.read_len) as usize
}

/// The DCT range of the platform's server key region.
pub fn server_region(w: &SimWorld) -> std::ops::Range<usize> {
    let server = host_platform(&w.device.borrow())
        .info()
        .default_keys()
        .server_key;
    server.offset as usize..(server.offset + server.size) as usize
}

/// The first offset in `range` where `a` and `b` differ (printing whole DCTs helps nobody).
pub fn differs(a: &[u8], b: &[u8], range: std::ops::Range<usize>) -> Option<usize> {
    range.into_iter().find(|&i| a.get(i) != b.get(i))
}

/// A USB device that is not a DFU-mode Particle device: only its ids are known.
pub struct FakeUsb(DeviceInfo);

impl FakeUsb {
    pub fn new(vendor_id: u16, product_id: u16, serial: &str) -> Self {
        Self(DeviceInfo {
            vendor_id,
            product_id,
            serial_number: Some(serial.to_owned()),
            ..DeviceInfo::default()
        })
    }
}

impl Transport for FakeUsb {
    async fn control_in(&mut self, _: ControlSetup, _: u16) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::Stall)
    }

    async fn control_out(&mut self, _: ControlSetup, _: &[u8]) -> Result<(), TransportError> {
        Err(TransportError::Stall)
    }

    async fn sleep(&mut self, _: u32) {}

    fn info(&self) -> DeviceInfo {
        self.0.clone()
    }
}
