//! Whole repairs, natively, against the simulated devices and the simulated cloud: the happy path on
//! every platform family, the decisions the plan makes, and the refusals.

mod doctor_common;

use doctor_common::*;
use futures_executor::block_on;
use key_rescue::cloud::ProductRef;
use key_rescue::doctor::{
    Action, CloudAccess, Command, DoctorError, PlanBlock, PlanOptions, SendOutcome, ServerChoice,
};
use key_rescue::keys::diagnose::{PrivateKeyStatus, ServerKeyStatus};
use key_rescue::sim::device::{Platform as SimPlatform, SimDevice};
use key_rescue::sim::world::SimWorld;

#[test]
fn photon_with_blank_keys_is_repaired_and_comes_online() {
    let w = photon_world(Owner::Demo);
    let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
    let diagnosis = run.diagnosis.as_ref().unwrap();
    assert_eq!(diagnosis.report.private_key, PrivateKeyStatus::Blank);
    assert_eq!(diagnosis.report.server_key, ServerKeyStatus::Blank);
    let plan = run.plan.as_ref().unwrap();
    assert!(matches!(plan.actions[0], Action::WriteServerKey { .. }));
    assert!(matches!(plan.actions[1], Action::NewDeviceKey { .. }));
    assert!(matches!(
        plan.actions[2],
        Action::SendPublicKey {
            product_id: None,
            ..
        }
    ));
    let repair = run.repaired();
    assert_eq!(repair.written, vec!["server key", "device private key"]);
    assert_eq!(repair.send, SendOutcome::Sent);
    run.assert_online();
    assert_invariants(&w, &run);
    assert_eq!(
        cloud_key(&w),
        device_public_key(&w),
        "the cloud holds the device's key"
    );
    assert!(w.cloud.borrow().device(&device_id(&w)).unwrap().online);
    // The backup holds the bytes from before the repair: a blank slot.
    assert!(run.backup_private_slot.iter().all(|&b| b == 0xFF));
}

#[test]
fn p1_is_repaired_like_the_photon() {
    let w = world(SimDevice::builder(SimPlatform::P1).build(), Owner::Demo);
    let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
    assert_eq!(run.repaired().send, SendOutcome::Sent);
    run.assert_online();
    assert_invariants(&w, &run);
}

#[test]
fn electron_gets_an_ec_key_and_particles_udp_server_key() {
    let w = world(
        SimDevice::builder(SimPlatform::Electron).build(),
        Owner::Demo,
    );
    let run = block_on(full_repair(&w, PlanOptions::default(), Some(DEMO_EMAIL)));
    let plan = run.plan.as_ref().unwrap();
    assert!(plan.actions.iter().any(|a| matches!(
        a,
        Action::NewDeviceKey {
            algorithm: key_rescue::device::KeyAlgorithm::EcP256,
            address: 3106,
            ..
        }
    )));
    assert!(
        plan.actions
            .iter()
            .any(|a| matches!(a, Action::WriteServerKey { address: 3298, .. }))
    );
    run.assert_online();
    assert_eq!(
        w.cloud
            .borrow()
            .device(&device_id(&w))
            .unwrap()
            .public_key
            .as_ref()
            .unwrap()
            .algorithm,
        "ecc"
    );
    assert_invariants(&w, &run);
}

#[test]
fn argon_is_repaired_over_its_ec_slots() {
    let w = world(SimDevice::builder(SimPlatform::Argon).build(), Owner::Demo);
    let run = block_on(full_repair(&w, PlanOptions::default(), Some(DEMO_EMAIL)));
    assert_eq!(run.repaired().send, SendOutcome::Sent);
    run.assert_online();
    assert_invariants(&w, &run);
}

#[test]
fn a_valid_key_the_cloud_lost_is_only_sent_again() {
    let healthy = healthy_photon_dct_patches();
    let w = world(
        build_with(SimPlatform::Photon, &healthy.patches),
        Owner::Demo,
    );
    let before = w.device.borrow().dct().to_vec();
    let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
    let plan = run.plan.as_ref().unwrap();
    assert_eq!(plan.actions.len(), 1, "{:?}", plan.actions);
    assert!(matches!(plan.actions[0], Action::SendPublicKey { .. }));
    assert!(!plan.writes_device());
    let now = w.device.borrow().dct().to_vec();
    assert_eq!(
        differs(&now, &before, private_slot(&w)),
        None,
        "private key untouched"
    );
    assert_eq!(
        differs(&now, &before, server_region(&w)),
        None,
        "server key untouched"
    );
    run.assert_online();
    assert_eq!(cloud_key(&w), Some(healthy.public_spki));
}

#[test]
fn forcing_new_keys_replaces_a_valid_key() {
    let healthy = healthy_photon_dct_patches();
    let w = world(
        build_with(SimPlatform::Photon, &healthy.patches),
        Owner::Demo,
    );
    let mut options = options_for(&w);
    options.force_new_key = true;
    let run = block_on(full_repair(&w, options, Some(DEMO_EMAIL)));
    assert_eq!(run.repaired().written, vec!["device private key"]);
    assert_ne!(cloud_key(&w), Some(healthy.public_spki));
    run.assert_online();
    assert_invariants(&w, &run);
}

#[test]
fn an_openssl3_pkcs8_key_is_found_unusable_and_replaced() {
    let mut patches = healthy_photon_dct_patches().patches;
    patches.retain(|(offset, _)| *offset != 34);
    patches.push((34, pkcs8_key_der()));
    let w = world(build_with(SimPlatform::Photon, &patches), Owner::Demo);
    let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
    let report = &run.diagnosis.as_ref().unwrap().report;
    assert!(
        matches!(report.private_key, PrivateKeyStatus::Unusable { .. }),
        "{:?}",
        report.private_key
    );
    let plan = run.plan.as_ref().unwrap();
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| matches!(a, Action::WriteServerKey { .. }))
    );
    assert!(
        plan.actions
            .iter()
            .any(|a| matches!(a, Action::NewDeviceKey { .. }))
    );
    run.assert_online();
}

#[test]
fn a_brownout_corrupted_key_is_replaced() {
    let healthy = healthy_photon_dct_patches();
    let device = builder_with(SimPlatform::Photon, &healthy.patches)
        // Inside P and Q: damage to D alone would leave a key the firmware still uses (its CRT
        // decryption never reads D; issue 12).
        .brownout_dct(34 + 300, 64)
        .build();
    let w = world(device, Owner::Demo);
    let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
    let report = &run.diagnosis.as_ref().unwrap().report;
    assert!(
        !matches!(report.private_key, PrivateKeyStatus::Valid { .. }),
        "a brownout-damaged key must not pass: {:?}",
        report.private_key
    );
    run.assert_online();
}

#[test]
fn signed_out_diagnosis_works_and_the_plan_waits_for_the_cloud() {
    let w = photon_world(Owner::Demo);
    let run = block_on(full_repair(&w, options_for(&w), None));
    assert_eq!(
        run.diagnosis.as_ref().unwrap().cloud,
        CloudAccess::SignedOut
    );
    let plan = run.plan.as_ref().unwrap();
    assert!(matches!(plan.blocked, Some(PlanBlock::CloudNeeded { .. })));
    let err = run.repair.as_ref().unwrap().as_ref().unwrap_err();
    assert!(matches!(err, DoctorError::CloudNeeded { .. }), "{err}");
    assert!(err.hint().contains("Sign in"));
    assert_eq!(
        differs(&run.dct_before, w.device.borrow().dct(), 0..8391),
        None,
        "nothing written"
    );
}

#[test]
fn repair_now_send_later_then_send_from_the_device() {
    let w = photon_world(Owner::Demo);
    let mut options = options_for(&w);
    options.send_later = true;
    let run = block_on(full_repair_until_repair(&w, options, None));
    let repair = run.repaired();
    assert_eq!(repair.send, SendOutcome::Deferred);
    assert_eq!(cloud_key(&w), None);
    // Later, signed in: the key is read back from the device and sent.
    let mut doctor = run.doctor.unwrap();
    let token = w.token(DEMO_EMAIL);
    let mut api = w.cloud_api();
    let sent =
        block_on(doctor.send_key_from_device(None, ctx(&mut api, Some(&token)), &mut |_| {}))
            .unwrap();
    assert_eq!(cloud_key(&w), Some(sent.spki_der.clone()));
    assert_eq!(device_public_key(&w), Some(sent.spki_der));
}

#[test]
fn a_device_of_another_account_is_not_touched() {
    let w = photon_world(Owner::Someone);
    let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
    let diagnosis = run.diagnosis.as_ref().unwrap();
    assert!(
        matches!(diagnosis.cloud, CloudAccess::Denied { .. }),
        "{:?}",
        diagnosis.cloud
    );
    let err = run.repair.as_ref().unwrap().as_ref().unwrap_err();
    assert!(err.to_string().contains("not in this account"), "{err}");
    assert_eq!(
        differs(&run.dct_before, w.device.borrow().dct(), 0..8391),
        None,
        "nothing written"
    );
}

#[test]
fn a_product_device_is_sent_with_its_product_id_by_a_team_developer() {
    let w = photon_world(Owner::Product);
    let run = block_on(full_repair(&w, options_for(&w), Some(DEVELOPER_EMAIL)));
    let plan = run.plan.as_ref().unwrap();
    assert!(plan.actions.iter().any(|a| matches!(
        a,
        Action::SendPublicKey {
            product_id: Some(PRODUCT_ID),
            ..
        }
    )));
    assert_eq!(run.repaired().send, SendOutcome::Sent);
    assert_eq!(cloud_key(&w), device_public_key(&w));
}

#[test]
fn a_view_only_team_member_is_stopped_before_anything_is_written() {
    let w = photon_world(Owner::Product);
    let run = block_on(full_repair(
        &w,
        options_for(&w),
        Some(key_rescue::sim::cloud::scenario::VIEWER_EMAIL),
    ));
    match &run.diagnosis.as_ref().unwrap().cloud {
        CloudAccess::Denied { reason, hint } => {
            assert!(reason.contains("View-only"), "{reason}");
            assert!(hint.contains("Administrator"), "{hint}");
        }
        other => panic!("a View-only member must be denied before writing: {other:?}"),
    }
    let err = run.repair.as_ref().unwrap().as_ref().unwrap_err();
    assert!(matches!(err, DoctorError::CloudNeeded { .. }), "{err}");
    assert!(
        err.to_string().contains("may not send device keys"),
        "{err}"
    );
    assert_eq!(
        differs(&run.dct_before, w.device.borrow().dct(), 0..8391),
        None,
        "nothing written"
    );
    assert_eq!(cloud_key(&w), None);
}

#[test]
fn the_support_links_device_id_is_enforced() {
    let w = photon_world(Owner::Demo);
    let err = block_on(key_rescue::doctor::Doctor::connect(
        w.transport(),
        Some("ffffffffffffffffffffffff"),
        Default::default(),
        &mut |_| {},
    ))
    .err()
    .unwrap();
    assert!(matches!(err, DoctorError::WrongDevice { .. }), "{err}");
    assert!(err.to_string().contains(&device_id(&w)));
    // The same ID in upper case is the same device.
    let upper = device_id(&w).to_ascii_uppercase();
    assert!(
        block_on(key_rescue::doctor::Doctor::connect(
            w.transport(),
            Some(&upper),
            Default::default(),
            &mut |_| {},
        ))
        .is_ok()
    );
}

/// Connects the world's device in DFU mode with `expected` as the support link's device ID.
fn connect_with_id(
    w: &SimWorld,
    expected: Option<&str>,
) -> Result<key_rescue::doctor::Doctor<key_rescue::sim::world::SharedDevice>, DoctorError> {
    block_on(key_rescue::doctor::Doctor::connect(
        w.transport(),
        expected,
        Default::default(),
        &mut |_| {},
    ))
}

/// A Core's DFU bootloader reports 12 hex digits derived from its unique ID, not its device ID
/// (v0.4.9 `dfu_hal.c` 125-140): the ID the user enters is confirmed against that serial.
#[test]
fn a_cores_device_id_comes_from_the_user_and_is_checked_against_its_serial() {
    let w = world(SimDevice::builder(SimPlatform::Core).build(), Owner::Demo);
    let connect = |expected: Option<&str>| connect_with_id(&w, expected);
    let id = device_id(&w);
    let Err(DoctorError::CoreNeedsDeviceId { serial }) = connect(None) else {
        panic!("a Core without an entered ID must ask for it");
    };
    assert_eq!(serial.len(), 12, "{serial}");
    assert!(!id.contains(&serial.to_ascii_lowercase()));
    let err = connect(Some("ffffffffffffffffffffffff")).err().unwrap();
    assert!(
        matches!(err, DoctorError::CoreSerialMismatch { .. }),
        "{err}"
    );
    assert!(!err.hint().is_empty());
    let doctor = connect(Some(&format!(" {} ", id.to_ascii_uppercase()))).unwrap();
    assert_eq!(doctor.identity().device_id, id);
}

/// The page's device-ID field for a Core: the failure offers the field, a typed ID is checked
/// before use (a bad one never reaches the device), a valid ID that is not this Core's is refused
/// against its serial and offers the field again, and this Core's ID, typed with spaces and in upper
/// case, connects it and is diagnosed.
#[test]
fn a_cores_device_id_typed_in_the_page_is_checked_then_accepted() {
    use key_rescue::doctor::report::{ExtraHelp, error_help};
    use key_rescue::doctor::wizard::check_device_id;
    let w = world(SimDevice::builder(SimPlatform::Core).build(), Owner::Demo);
    let connect = |expected: Option<&str>| connect_with_id(&w, expected);
    let first = connect(None).err().unwrap();
    let help = error_help(&first).unwrap();
    assert_eq!(help.extra, Some(ExtraHelp::DeviceIdNeeded));
    assert!(help.hint.ends_with('.') && help.hint.contains("Use this ID and connect"));
    assert!(check_device_id("53ff6d06").is_err());
    assert!(check_device_id("53ff6d06507553511831178g").is_err());
    let wrong = check_device_id("ffffffffffffffffffffffff").unwrap();
    let err = connect(Some(&wrong)).err().unwrap();
    assert!(
        matches!(err, DoctorError::CoreSerialMismatch { .. }),
        "{err}"
    );
    assert_eq!(
        error_help(&err).unwrap().extra,
        Some(ExtraHelp::DeviceIdNeeded)
    );
    let id = device_id(&w);
    let typed = check_device_id(&format!("  {}\t", id.to_ascii_uppercase())).unwrap();
    let mut doctor = connect(Some(&typed)).unwrap();
    assert_eq!(doctor.identity().device_id, id);
    let mut api = w.cloud_api();
    let diagnosis = block_on(doctor.diagnose(ctx(&mut api, None), &mut |_| {})).unwrap();
    assert_eq!(diagnosis.identity.device_id, id);
}

#[test]
fn a_runtime_mode_device_is_asked_to_enter_dfu_and_others_are_refused() {
    let runtime = FakeUsb::new(0x2b04, 0xc006, "3a0038000d47353033323637");
    let err = block_on(key_rescue::doctor::Doctor::connect(
        runtime,
        None,
        Default::default(),
        &mut |_| {},
    ))
    .err()
    .unwrap();
    assert_eq!(err, DoctorError::NotInDfuMode { platform: "Photon" });
    assert!(err.hint().contains("blinks yellow"));
    let st = FakeUsb::new(0x0483, 0xdf11, "");
    let err = block_on(key_rescue::doctor::Doctor::connect(
        st,
        None,
        Default::default(),
        &mut |_| {},
    ))
    .err()
    .unwrap();
    assert!(matches!(
        err,
        DoctorError::NotParticle {
            vendor_id: 0x0483,
            ..
        }
    ));
}

#[test]
fn a_bootloader_that_cannot_reach_the_dct_is_never_written() {
    let device = SimDevice::builder(SimPlatform::Photon)
        .dct_unreachable()
        .build();
    let w = world(device, Owner::Demo);
    let run = block_on(full_repair(&w, options_for(&w), Some(DEMO_EMAIL)));
    let err = run.diagnosis_error.expect("diagnosis must fail");
    assert_eq!(err, DoctorError::DctUnreachable);
    assert!(err.hint().contains("nothing was written"));
    assert!(run.plan.is_none());
}

#[test]
fn a_custom_server_is_written_with_its_address() {
    let w = photon_world(Owner::Demo);
    let region = key_rescue::keys::build_server_region(
        key_rescue::device::Platform::Photon,
        key_rescue::device::Transport::Tcp,
        None,
        &key_rescue::keys::ServerAddressSpec::Host {
            host: "my.server.example".into(),
            port: Some(1234),
        },
    )
    .unwrap();
    let options = PlanOptions {
        server: ServerChoice::Custom {
            region: region.clone(),
            description: "my.server.example:1234".into(),
        },
        ..PlanOptions::default()
    };
    let run = block_on(full_repair_until_repair(&w, options, Some(DEMO_EMAIL)));
    assert!(run.repair.as_ref().unwrap().is_ok());
    let dct = w.device.borrow().dct().to_vec();
    assert!(dct[2082..2082 + 512] == region[..], "the region as built");
    assert_eq!(&dct[2466..2468], &[0x01, 17]);
    assert_eq!(&dct[2532..2534], &[0x04, 0xd2]);
}

#[test]
fn a_server_region_for_another_transport_is_left_out_and_said() {
    // A test cloud's TCP region (512 bytes) on an Electron, whose UDP server-key slot holds 320:
    // writing it would run past the slot. It used to end the repair with "not backed up yet".
    let w = world(
        SimDevice::builder(SimPlatform::Electron).build(),
        Owner::Demo,
    );
    let before = w.device.borrow().dct().to_vec();
    let region = key_rescue::device::PARTICLE_TCP_SERVER_REGION.to_vec();
    let options = PlanOptions {
        server: ServerChoice::Custom {
            region,
            description: "the simulated cloud's key and address".into(),
        },
        ..PlanOptions::default()
    };
    let run = block_on(full_repair_until_repair(&w, options, Some(DEMO_EMAIL)));
    let plan = run.plan.as_ref().unwrap();
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| matches!(a, Action::WriteServerKey { .. })),
        "{plan:?}"
    );
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("512-byte region") && n.contains("holds 320 bytes")),
        "{:?}",
        plan.notes
    );
    let repair = run.repaired();
    assert_eq!(repair.written, vec!["device private key"]);
    let after = w.device.borrow().dct().to_vec();
    assert_eq!(
        after[3298..3618],
        before[3298..3618],
        "the server-key slot is unchanged"
    );
}

#[test]
fn the_core_spi_flash_is_rewritten_sector_by_sector_without_losing_its_neighbours() {
    // The Core keeps its keys in SPI flash that must be erased (4 KiB sectors) before a write:
    // erasing the server key's sector would wipe the rest of it unless the doctor writes it back.
    let neighbour = b"bytes beside the keys that must survive".to_vec();
    let device = SimDevice::builder(SimPlatform::Core)
        .dct_bytes(0x1800, &neighbour)
        .dct_bytes(0x2800, &neighbour)
        .build();
    let w = world(device, Owner::Demo);
    let run = block_on(full_repair_until_repair(
        &w,
        PlanOptions::default(),
        Some(DEMO_EMAIL),
    ));
    let repair = run.repaired();
    assert_eq!(repair.written, vec!["server key", "device private key"]);
    assert_eq!(repair.send, SendOutcome::Sent);
    let flash = w.device.borrow().dct().to_vec();
    assert!(flash[0x1000..0x1000 + 2048] == key_rescue::device::PARTICLE_CORE_SERVER_REGION[..]);
    assert!(
        flash[0x1800..0x1800 + neighbour.len()] == neighbour[..],
        "server sector neighbour"
    );
    assert!(
        flash[0x2800..0x2800 + neighbour.len()] == neighbour[..],
        "key sector neighbour"
    );
    assert_eq!(cloud_key(&w), device_public_key(&w));
    let erases = w.device.borrow().erases();
    assert!(
        erases.contains(&0x1000) && erases.contains(&0x2000),
        "{erases:x?}"
    );
}

#[test]
fn restoring_a_core_backup_erases_first_and_brings_back_every_byte() {
    // SPI flash writes only clear bits: putting the old sectors back without erasing would AND
    // them with the new keys. The restore must rewrite whole sectors, erased first.
    let w = world(SimDevice::builder(SimPlatform::Core).build(), Owner::Demo);
    let run = block_on(full_repair_until_repair(
        &w,
        PlanOptions::default(),
        Some(DEMO_EMAIL),
    ));
    assert!(run.repair.as_ref().unwrap().is_ok());
    assert!(differs(&run.dct_before, w.device.borrow().dct(), 0x1000..0x3000).is_some());
    let mut doctor = run.doctor.unwrap();
    let backup = doctor.backup().expect("a backup").clone();
    let restored = block_on(doctor.restore(&backup, &mut |_| {})).unwrap();
    assert!(restored > 0);
    assert_eq!(
        differs(&run.dct_before, w.device.borrow().dct(), 0x1000..0x3000),
        None,
        "the key sectors are as they were before the repair"
    );
}

// ----- product devices (issue 12, cloud item 1) ---------------------------------------------------

/// The demo product's Photon, in a cloud whose `/v1/devices/:id` answers only owners (production
/// may refuse a team member there).
fn product_world_answering_team_only_through_the_product() -> SimWorld {
    let w = photon_world(Owner::Product);
    w.cloud.borrow_mut().set_device_route_answers_team(false);
    w
}

#[test]
fn a_team_member_refused_by_the_device_route_is_told_to_give_the_product() {
    let w = product_world_answering_team_only_through_the_product();
    let run = block_on(full_repair(&w, options_for(&w), Some(DEVELOPER_EMAIL)));
    match &run.diagnosis.as_ref().unwrap().cloud {
        CloudAccess::Denied { reason, hint } => {
            assert!(reason.contains("not in this account"), "{reason}");
            assert!(hint.contains("?product="), "{hint}");
            assert!(hint.ends_with('.'), "{hint}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cloud_key(&w), None);
}

#[test]
fn a_product_from_the_link_is_looked_up_sent_and_verified_through_the_product() {
    for product in [
        ProductRef::Id(PRODUCT_ID),
        ProductRef::parse(key_rescue::sim::cloud::scenario::DEMO_PRODUCT_SLUG).unwrap(),
    ] {
        let w = product_world_answering_team_only_through_the_product();
        let run = block_on(full_repair_in_product(
            &w,
            options_for(&w),
            Some(DEVELOPER_EMAIL),
            Some(product.clone()),
        ));
        assert_eq!(
            run.diagnosis.as_ref().unwrap().cloud,
            CloudAccess::Allowed {
                product_id: Some(PRODUCT_ID)
            },
            "{product}"
        );
        assert!(run.plan.as_ref().unwrap().actions.iter().any(|a| matches!(
            a,
            Action::SendPublicKey {
                product_id: Some(PRODUCT_ID),
                ..
            }
        )));
        assert_eq!(run.repaired().send, SendOutcome::Sent);
        assert_eq!(cloud_key(&w), device_public_key(&w));
        // Polling /v1/devices/:id would be refused: the verify step asks the product's route.
        run.assert_online();
    }
}

#[test]
fn a_product_that_does_not_have_the_device_falls_back_to_the_device_route() {
    // The demo account's own developer device, with a product it is not on the team of.
    let w = photon_world(Owner::Demo);
    let run = block_on(full_repair_in_product(
        &w,
        options_for(&w),
        Some(DEMO_EMAIL),
        Some(ProductRef::Id(PRODUCT_ID)),
    ));
    assert_eq!(
        run.diagnosis.as_ref().unwrap().cloud,
        CloudAccess::Allowed { product_id: None }
    );
    run.assert_online();

    // Someone else's device: the product's answer is the one shown.
    let w = photon_world(Owner::Someone);
    let run = block_on(full_repair_in_product(
        &w,
        options_for(&w),
        Some(DEVELOPER_EMAIL),
        Some(ProductRef::Id(PRODUCT_ID)),
    ));
    match &run.diagnosis.as_ref().unwrap().cloud {
        CloudAccess::Denied { reason, .. } => {
            assert!(reason.contains("is not in product 12345"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cloud_key(&w), None);
}

#[test]
fn keys_send_with_a_product_slug_sends_the_products_number() {
    let w = product_world_answering_team_only_through_the_product();
    let slug = ProductRef::parse(key_rescue::sim::cloud::scenario::DEMO_PRODUCT_SLUG).unwrap();
    let mut options = options_for(&w);
    options.send_later = true;
    let mut api = w.cloud_api();
    // Repaired signed out ("send the key later"): the product's number is not known yet.
    let run = block_on(repair_in_product(
        &w,
        &mut api,
        options,
        None,
        Some(slug.clone()),
    ));
    assert_eq!(run.repaired().send, SendOutcome::Deferred);
    let mut doctor = run.doctor.unwrap();
    let token = w.token(DEVELOPER_EMAIL);
    // Told no product, a team member's upload is refused ...
    let err = block_on(doctor.run_command(
        Command::SendKey { product: None },
        ctx(&mut api, Some(&token)),
        &mut |_| {},
    ))
    .unwrap_err();
    assert!(err.to_string().contains("not in this account"), "{err}");
    assert_eq!(cloud_key(&w), None);
    // ... with the product's slug in the panel's field it goes with the product's number.
    let field = key_rescue::doctor::product_field(" Demo-Product-V1 ").unwrap();
    assert_eq!(field, Some(slug));
    block_on(doctor.run_command(
        Command::SendKey { product: field },
        ctx(&mut api, Some(&token)),
        &mut |_| {},
    ))
    .unwrap();
    assert_eq!(cloud_key(&w), device_public_key(&w));
    assert_eq!(
        key_rescue::doctor::product_field("my product"),
        Err(DoctorError::ProductNotValid {
            text: "my product".into()
        })
    );
    assert_eq!(key_rescue::doctor::product_field("  "), Ok(None));
}
