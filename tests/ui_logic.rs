//! The page's logic outside the views, natively: every simulated problem of the fault picker leads
//! to the diagnosis, plan or error the page shows for it, and the advanced panel's commands.

mod doctor_common;

use doctor_common::*;
use futures_executor::block_on;
use key_rescue::doctor::report::{self, ExtraHelp};
use key_rescue::doctor::{
    Action, CancelFlag, CloudAccess, Command, Doctor, DoctorError, PlanBlock, RestoreOutcome,
    server_address,
};
use key_rescue::keys::diagnose::{PrivateKeyStatus, ServerKeyStatus};
use key_rescue::sim::faults::{Fault, NAMES};
use key_rescue::sim::world::SimWorld;

fn sim_world(fault: Fault) -> (SimWorld, Vec<u8>) {
    let cloud = new_cloud();
    let region = cloud.server_key_region();
    let builder = fault.device_builder(&region).expect("the fault builds");
    (SimWorld::new(builder.build(), cloud), region)
}

fn run(fault: Fault) -> (SimWorld, Run) {
    let (w, region) = sim_world(fault);
    let run = block_on(full_repair(&w, sim_cloud_options(region), Some(DEMO_EMAIL)));
    (w, run)
}

/// The doctor on `w`'s device, connected (not yet diagnosed, so holding no backup).
async fn connected(w: &SimWorld) -> Doctor<impl key_rescue::usb::Transport> {
    Doctor::connect(w.transport(), None, CancelFlag::new(), &mut |_| {})
        .await
        .unwrap()
}

fn actions(run: &Run) -> Vec<&'static str> {
    run.plan
        .as_ref()
        .unwrap()
        .actions
        .iter()
        .map(|a| match a {
            Action::WriteServerKey { .. } => "server",
            Action::NewDeviceKey { .. } => "key",
            Action::SendPublicKey { .. } => "send",
        })
        .collect()
}

#[test]
fn the_picker_lists_every_fault_in_order() {
    assert_eq!(NAMES.len(), Fault::ALL.len());
    assert_eq!(NAMES[0], "none");
    assert_eq!(NAMES[8], "not-your-device");
    assert_eq!(
        Fault::from_name("cloud-never-answers"),
        Some(Fault::CloudNeverAnswers)
    );
}

#[test]
fn fault_none_only_sends_the_key_and_comes_online() {
    let (w, run) = run(Fault::None);
    assert_eq!(actions(&run), ["send"]);
    run.assert_online();
    assert_invariants(&w, &run);
    let d = run.diagnosis.as_ref().unwrap();
    assert!(report::private_key_line(d).text.contains("valid"));
    assert!(report::cloud_line(d).text.contains("your account"));
    assert!(report::address_line(d).text.contains("Particle"));
}

#[test]
fn fault_corrupt_key_gets_a_new_key() {
    let (w, run) = run(Fault::CorruptKey);
    let d = run.diagnosis.as_ref().unwrap();
    assert!(matches!(
        d.report.private_key,
        PrivateKeyStatus::Corrupt { .. }
    ));
    assert!(report::private_key_line(d).text.contains("corrupt"));
    assert_eq!(actions(&run), ["key", "send"]);
    run.assert_online();
    assert_invariants(&w, &run);
}

#[test]
fn fault_blank_key_gets_a_new_key() {
    let (w, run) = run(Fault::BlankKey);
    assert_eq!(
        run.diagnosis.as_ref().unwrap().report.private_key,
        PrivateKeyStatus::Blank
    );
    assert_eq!(actions(&run), ["key", "send"]);
    run.assert_online();
    assert_invariants(&w, &run);
}

#[test]
fn fault_wrong_server_key_gets_the_clouds_key_back() {
    let (w, run) = run(Fault::WrongServerKey);
    let d = run.diagnosis.as_ref().unwrap();
    assert!(matches!(
        d.report.server_key,
        ServerKeyStatus::Custom { .. } | ServerKeyStatus::Corrupt { .. }
    ));
    assert_eq!(actions(&run), ["server", "send"]);
    run.assert_online();
    assert_invariants(&w, &run);
}

#[test]
fn fault_custom_server_shows_the_host_and_is_rewritten() {
    let (w, run) = run(Fault::CustomServer);
    let d = run.diagnosis.as_ref().unwrap();
    let address = report::address_line(d).text;
    assert!(address.contains("cloud.example.com:5684"), "{address}");
    assert_eq!(actions(&run), ["server", "send"]);
    run.assert_online();
    assert_invariants(&w, &run);
}

#[test]
fn fault_pkcs8_key_is_unusable_and_replaced() {
    let (w, run) = run(Fault::Pkcs8Key);
    let d = run.diagnosis.as_ref().unwrap();
    assert!(matches!(
        d.report.private_key,
        PrivateKeyStatus::Unusable { .. }
    ));
    assert!(report::private_key_line(d).text.contains("PKCS#8"));
    assert_eq!(actions(&run), ["key", "send"]);
    run.assert_online();
    assert_invariants(&w, &run);
}

#[test]
fn disconnect_fault_drops_the_device_during_the_key_write() {
    let (w, run) = run(Fault::DisconnectDuringWrite);
    let err = run.error().expect("the repair fails");
    assert!(
        matches!(
            err,
            DoctorError::WriteFailed {
                restore: RestoreOutcome::NotRestored { .. },
                ..
            }
        ),
        "{err}"
    );
    let help = report::error_help(err).unwrap();
    assert_eq!(help.extra, Some(ExtraHelp::RestoreNeeded));
    assert!(help.cause.contains("disconnected"), "{}", help.cause);
    assert!(help.hint.contains("Restore backup"));
    assert_invariants(&w, &run);

    // Reconnected, the backup puts the device back as it was.
    w.device.borrow_mut().reenter_dfu();
    let backup = run.doctor.as_ref().unwrap().backup().unwrap().clone();
    let restored = block_on(async {
        let mut doctor = connected(&w).await;
        doctor.restore(&backup, &mut |_| {}).await
    });
    assert!(restored.unwrap() > 0);
    assert_eq!(
        &w.device.borrow().dct()[private_slot(&w)],
        &run.dct_before[private_slot(&w)]
    );
}

#[test]
fn fault_interface_claimed_refuses_the_claim() {
    let (w, _) = sim_world(Fault::InterfaceClaimed);
    let err = w.device.borrow_mut().claim(0).unwrap_err();
    let help = report::error_help(&DoctorError::from(err)).unwrap();
    assert_eq!(help.extra, Some(ExtraHelp::InterfaceBusy));
    assert!(help.cause.contains("held by another program"));
}

#[test]
fn fault_not_your_device_blocks_the_send() {
    let (w, region) = sim_world(Fault::NotYourDevice);
    let run = block_on(full_repair_until_repair(
        &w,
        sim_cloud_options(region),
        Some(DEMO_EMAIL),
    ));
    let d = run.diagnosis.as_ref().unwrap();
    assert!(matches!(d.cloud, CloudAccess::Denied { .. }));
    assert!(report::cloud_line(d).text.contains("not in this account"));
    assert!(matches!(
        run.plan.as_ref().unwrap().blocked,
        Some(PlanBlock::CloudNeeded { .. })
    ));
    assert!(
        !run.plan.as_ref().unwrap().can_run(),
        "Repair stays disabled"
    );
    assert!(matches!(run.error(), Some(DoctorError::CloudNeeded { .. })));
}

#[test]
fn a_plan_with_something_to_do_and_nothing_in_the_way_can_run() {
    let (_, run) = run(Fault::None);
    let plan = run.plan.as_ref().unwrap();
    assert!(plan.blocked.is_none() && !plan.is_empty());
    assert!(plan.can_run());
}

#[test]
fn a_wrong_device_is_refused_and_the_panel_names_both() {
    let (w, _) = sim_world(Fault::None);
    let err = block_on(Doctor::connect(
        w.transport(),
        Some("aaaaaaaaaaaaaaaaaaaaaaaa"),
        CancelFlag::new(),
        &mut |_| {},
    ))
    .err()
    .unwrap();
    let help = report::error_help(&err).unwrap();
    assert_eq!(help.extra, Some(ExtraHelp::WrongDevice));
    assert!(help.cause.contains("aaaaaaaaaaaaaaaaaaaaaaaa"));
    assert!(help.cause.contains("0123456789abcdef01234567"));
}

#[test]
fn the_readable_report_names_the_device_and_holds_no_secret() {
    let (_, run) = run(Fault::CorruptKey);
    let d = run.diagnosis.as_ref().unwrap();
    let text = report::render_text(d, None);
    assert!(text.contains("0123456789abcdef01234567"));
    assert!(text.contains("[Problem] Device private key"));
    assert!(!text.contains("PRIVATE KEY-----"));
    let json = d.to_json();
    assert!(!json.contains("PRIVATE KEY"));
}

#[test]
fn the_json_report_is_written_as_serde_json_wrote_it() {
    for fault in Fault::ALL {
        let (_, run) = run(fault);
        if let Some(d) = run.diagnosis.as_ref() {
            assert_eq!(
                d.to_json(),
                serde_json::to_string_pretty(d).unwrap(),
                "{fault:?}"
            );
            assert_eq!(
                d.report.to_json(),
                serde_json::to_string(&d.report).unwrap()
            );
        }
    }
}

#[test]
fn a_closed_chooser_shows_no_error_panel() {
    let e = DoctorError::from(key_rescue::usb::TransportError::Cancelled);
    assert!(report::error_help(&e).is_none());
    let denied = DoctorError::from(key_rescue::usb::TransportError::AccessDenied);
    assert_eq!(
        report::error_help(&denied).unwrap().extra,
        Some(ExtraHelp::UsbPermissions)
    );
    assert!(report::UDEV_RULE.contains("ATTRS{idVendor}==\"2b04\""));
}

#[test]
fn the_simulated_clouds_key_reads_as_right_and_another_key_as_wrong() {
    let (_, healthy) = run(Fault::None);
    let d = healthy.diagnosis.as_ref().unwrap();
    let own = &healthy.dct_before[2082..2082 + 512];
    let line = report::server_key_line_for(d, Some(own));
    assert_eq!(line.verdict, report::Verdict::Good, "{}", line.text);
    assert!(line.text.contains("Particle"));
    // A device holding another key, judged against the test cloud's region, is not right.
    let (_, wrong_run) = run(Fault::WrongServerKey);
    let wrong = wrong_run.diagnosis.as_ref().unwrap();
    let other = report::server_key_line_for(wrong, Some(own));
    assert_eq!(other.verdict, report::Verdict::Unknown);
    assert!(other.text.contains("not Particle's"));
}

#[test]
fn the_readable_report_judges_the_server_key_as_the_page_does() {
    let (_, healthy) = run(Fault::None);
    let d = healthy.diagnosis.as_ref().unwrap();
    let own = &healthy.dct_before[2082..2082 + 512];
    // In the simulated mode the page shows the test cloud's key as right: so does the download.
    let text = report::render_text(d, Some(own));
    assert!(
        text.contains("[OK] Cloud server key: the test cloud's key"),
        "{text}"
    );
    assert!(text.contains("server key the test cloud's;"), "{text}");
    assert!(!text.contains("not Particle's"), "{text}");
    // Judged against Particle's cloud, the same device holds a key that is not Particle's.
    let production = report::render_text(d, None);
    assert!(
        production.contains("server key not Particle's;"),
        "{production}"
    );
    // Another key stays wrong in the test cloud's world.
    let (_, wrong_run) = run(Fault::WrongServerKey);
    let wrong = report::render_text(wrong_run.diagnosis.as_ref().unwrap(), Some(own));
    assert!(wrong.contains("server key not Particle's;"), "{wrong}");
}

#[test]
fn advanced_commands_save_write_and_decode_keys() {
    let (w, region) = sim_world(Fault::None);
    block_on(async {
        let mut api = w.cloud_api();
        let token = w.token(DEMO_EMAIL);
        let mut doctor = connected(&w).await;
        // Writes need the backup the diagnosis takes.
        assert!(matches!(
            doctor.write_new_key(&mut |_| {}).await,
            Err(DoctorError::NoBackup)
        ));
        doctor
            .diagnose(ctx(&mut api, Some(&token)), &mut |_| {})
            .await
            .unwrap();
        doctor.back_up(&mut |_| {}).unwrap();

        let saved = doctor.save_private_key(&mut |_| {}).await.unwrap();
        assert_eq!(saved.name, "0123456789abcdef01234567_rsa_private_key.der");
        assert_eq!(&saved.bytes[..2], &[0x30, 0x82]);
        assert!(saved.bytes.len() < 612, "cut at the DER length");

        // keys new, then keys load of the saved file puts the old key back.
        let new = doctor.write_new_key(&mut |_| {}).await.unwrap();
        assert_eq!(device_public_key(&w), Some(new.spki_der.clone()));
        let loaded = doctor
            .write_key_file(&saved.bytes, &mut |_| {})
            .await
            .unwrap();
        assert_ne!(loaded.fingerprint, new.fingerprint);
        assert_eq!(
            &w.device.borrow().dct()[34..34 + saved.bytes.len()],
            &saved.bytes[..]
        );

        // keys server with a custom host and port, then keys address decodes it.
        let custom = doctor
            .server_region(
                Some(&region),
                &key_rescue::keys::ServerAddressSpec::Host {
                    host: "10.0.0.2".into(),
                    port: Some(5700),
                },
            )
            .unwrap();
        doctor
            .write_server_region(&custom, &mut |_| {})
            .await
            .unwrap();
        let address = doctor
            .read_server_address(&mut |_| {})
            .await
            .unwrap()
            .unwrap();
        assert_eq!((address.host.as_str(), address.port), ("10.0.0.2", 5700));

        // keys send: the key on the device goes to the cloud.
        let sent = doctor
            .send_key_from_device(None, ctx(&mut api, Some(&token)), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(cloud_key(&w), Some(sent.spki_der));
    });
}

#[test]
fn the_advanced_panel_runs_each_command_through_the_doctor_and_words_its_result() {
    let (w, region) = sim_world(Fault::None);
    block_on(async {
        let mut api = w.cloud_api();
        let token = w.token(DEMO_EMAIL);
        let mut doctor = connected(&w).await;
        doctor
            .diagnose(ctx(&mut api, Some(&token)), &mut |_| {})
            .await
            .unwrap();
        doctor.back_up(&mut |_| {}).unwrap();
        let dct_before = w.device.borrow().dct().to_vec();

        // No file picked: a typed error with a next step, and nothing written.
        let err = doctor
            .run_command(
                Command::LoadKeyFile { file: None },
                ctx(&mut api, Some(&token)),
                &mut |_| {},
            )
            .await
            .unwrap_err();
        assert_eq!(err, DoctorError::NoFilePicked { what: "key file" });
        assert!(err.hint().contains("Choose the key file"));
        assert_eq!(w.device.borrow().dct(), &dct_before[..]);

        let saved = doctor
            .run_command(Command::SaveKey, ctx(&mut api, Some(&token)), &mut |_| {})
            .await
            .unwrap();
        let file = saved.download.expect("keys save downloads the key");
        assert_eq!(file.name, "0123456789abcdef01234567_rsa_private_key.der");
        assert!(saved.message.contains(&file.name), "{}", saved.message);

        let new = doctor
            .run_command(Command::NewKey, ctx(&mut api, Some(&token)), &mut |_| {})
            .await
            .unwrap();
        assert!(new.download.is_none());
        assert!(
            new.message.starts_with("Wrote a new key"),
            "{}",
            new.message
        );

        let sent = doctor
            .run_command(
                Command::SendKey { product: None },
                ctx(&mut api, Some(&token)),
                &mut |_| {},
            )
            .await
            .unwrap();
        let on_device = device_public_key(&w).unwrap();
        assert_eq!(cloud_key(&w), Some(on_device));
        assert!(sent.message.starts_with("Sent the device's public key"));

        // The server fields as typed, then `keys address` reads them back.
        let address = server_address(true, " 10.0.0.2", "5700 ").unwrap();
        doctor
            .run_command(
                Command::WriteServer {
                    key_file: Some(region.clone()),
                    address,
                },
                ctx(&mut api, Some(&token)),
                &mut |_| {},
            )
            .await
            .unwrap();
        let read = doctor
            .run_command(
                Command::ReadAddress,
                ctx(&mut api, Some(&token)),
                &mut |_| {},
            )
            .await
            .unwrap();
        assert_eq!(read.message, "Server address: 10.0.0.2:5700.");

        let dump = doctor
            .run_command(Command::DumpFlash, ctx(&mut api, Some(&token)), &mut |_| {})
            .await
            .unwrap();
        let flash = dump.download.expect("the dump downloads the flash");
        assert!(
            flash
                .name
                .starts_with("internal_flash_0123456789abcdef01234567_0x")
        );
        assert!(
            dump.message
                .contains(&format!("Saved {} bytes", flash.bytes.len()))
        );
    });
    assert!(matches!(
        server_address(true, "10.0.0.2", "port"),
        Err(DoctorError::PortNotANumber { .. })
    ));
}

// ----- the sign-in the page holds ------------------------------------------------------------------

mod sign_out {
    use super::*;
    use key_rescue::cloud::{
        AccessToken, ApiBase, ApiError, ApiRequest, CloudApi, HeldToken, Issuer, SignOut,
        TOKEN_STORAGE_KEY,
    };
    use key_rescue::sim::cloud::api::SimCloudApi;
    use key_rescue::sim::cloud::scenario::DEMO_PHOTON_ID;
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::rc::Rc;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

    fn production() -> Issuer {
        Issuer::Api(ApiBase::production())
    }

    fn stored(entries: &[(&str, &str)]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_remembered_token_is_forgotten_and_revoked_at_particle_after_the_simulated_mode() {
        // Remember ticked, signed in at Particle's cloud.
        let token = AccessToken::new(TOKEN);
        let held = HeldToken::signed_in(token.clone(), production(), true);
        assert_eq!(held.remembered_as.as_deref(), Some(TOKEN_STORAGE_KEY));
        // "Try with a simulated Photon": the page now talks to a test cloud, which never gets
        // Particle's token.
        assert_eq!(held.for_cloud(&Issuer::InPage), None);
        let loopback = Issuer::Api(ApiBase::parse("http://127.0.0.1:8081").unwrap());
        assert_eq!(held.for_cloud(&loopback), None);
        assert_eq!(held.for_cloud(&production()), Some(&token));
        // Sign out: the storage key and the revoke follow the token, not the simulated mode.
        let storage = stored(&[
            (TOKEN_STORAGE_KEY, TOKEN),
            (
                "key-rescue-token in-page simulated cloud",
                "another-token-of-the-sim-cloud",
            ),
            ("unrelated-setting", TOKEN),
        ]);
        assert_eq!(
            held.sign_out(&storage, false),
            SignOut {
                revoke: Some((token, production())),
                forget: vec![TOKEN_STORAGE_KEY.to_owned()],
            }
        );
    }

    #[test]
    fn sign_out_forgets_every_copy_of_the_token() {
        let token = AccessToken::new(TOKEN);
        let loopback = Issuer::Api(ApiBase::parse("http://127.0.0.1:8081").unwrap());
        // Not remembered, but a copy sits under another of the page's keys (an older page).
        let held = HeldToken::signed_in(token.clone(), loopback.clone(), false);
        assert_eq!(held.remembered_as, None);
        let storage = stored(&[
            ("key-rescue-token in-page simulated cloud", TOKEN),
            (
                TOKEN_STORAGE_KEY,
                "a-different-token-remembered-for-particle",
            ),
        ]);
        let plan = held.sign_out(&storage, false);
        assert_eq!(
            plan.forget,
            vec![
                "key-rescue-token http://127.0.0.1:8081".to_owned(),
                "key-rescue-token in-page simulated cloud".to_owned(),
            ]
        );
        assert_eq!(plan.revoke, Some((token, loopback)));
    }

    #[test]
    fn an_in_page_token_is_never_remembered() {
        let held = HeldToken::signed_in(AccessToken::new(TOKEN), Issuer::InPage, true);
        assert_eq!(held.remembered_as, None);
    }

    /// The page's sign-out carried out against two simulated clouds: "Particle" (which issued the
    /// token) and the simulated mode's cloud (which the page talks to when Sign out is pressed).
    #[test]
    fn the_revoke_reaches_the_issuing_cloud_and_a_reload_finds_nothing() {
        let particle = Rc::new(RefCell::new(new_cloud()));
        let mut particle_api = SimCloudApi::new(particle.clone(), 0);
        let session = block_on(particle_api.sign_in(DEMO_EMAIL, "demo-password")).unwrap();
        let mut storage: BTreeMap<String, String> = BTreeMap::new();
        let held = HeldToken::signed_in(session.token.clone(), production(), true);
        let key = held.remembered_as.clone().unwrap();
        storage.insert(key, held.token.expose().to_owned());
        // The simulated mode starts; sign out.
        let current = Issuer::InPage;
        assert!(held.for_cloud(&current).is_none());
        let entries: Vec<(String, String)> = storage.clone().into_iter().collect();
        let plan = held.sign_out(&entries, false);
        for k in &plan.forget {
            storage.remove(k);
        }
        let (token, issuer) = plan.revoke.expect("revoked");
        assert_eq!(issuer, production(), "the revoke goes to the issuing cloud");
        block_on(particle_api.sign_out(&token)).unwrap();
        // Particle no longer accepts the token, and a reload restores nothing.
        assert_eq!(
            block_on(particle_api.devices(&session.token)).unwrap_err(),
            ApiError::TokenInvalid
        );
        assert!(!storage.contains_key(&production().storage_key()));
        assert!(storage.is_empty());
    }

    #[test]
    fn a_refusal_of_the_held_token_is_recognised_on_any_route() {
        let cloud = Rc::new(RefCell::new(new_cloud()));
        let mut api = SimCloudApi::new(cloud, 0);
        let token = block_on(api.sign_in(DEMO_EMAIL, "demo-password"))
            .unwrap()
            .token;
        let other = block_on(api.sign_in(DEMO_EMAIL, "demo-password"))
            .unwrap()
            .token;
        let held = HeldToken::signed_in(token.clone(), Issuer::InPage, false);
        let lookup = ApiRequest::device(&token, DEMO_PHOTON_ID);
        let ok = block_on(api.execute(&lookup)).unwrap();
        assert!(!held.refused_by(&lookup, &ok));
        // Revoked elsewhere (another tab, the console): every call now refuses it.
        block_on(api.sign_out(&token)).unwrap();
        for request in [
            ApiRequest::device(&token, DEMO_PHOTON_ID),
            ApiRequest::devices(&token),
            ApiRequest::user(&token),
        ] {
            let resp = block_on(api.execute(&request)).unwrap();
            assert!(held.refused_by(&request, &resp), "{request:?} -> {resp:?}");
        }
        // A refusal of some other token, or a refusal without a token, is not this token's.
        block_on(api.sign_out(&other)).unwrap();
        let theirs = ApiRequest::devices(&other);
        let resp = block_on(api.execute(&theirs)).unwrap();
        assert!(!held.refused_by(&theirs, &resp));
        let wrong_password = ApiRequest::sign_in(DEMO_EMAIL, "wrong");
        let resp = block_on(api.execute(&wrong_password)).unwrap();
        assert!(!held.refused_by(&wrong_password, &resp));
        // Signing out after a refusal forgets without revoking.
        assert_eq!(held.sign_out(&[], true).revoke, None);
    }
}

#[test]
fn fault_cloud_never_answers_ends_in_a_typed_timeout_and_leaves_the_device_alone() {
    use key_rescue::cloud::{ApiError, CloudApi, REQUEST_TIMEOUT_MS};
    let fault = Fault::CloudNeverAnswers;
    let (w, region) = sim_world(fault);
    let mut api = w.cloud_api();
    // What the page's simulated mode does with this fault (src/sim/browser.rs).
    api.inner_mut().set_silent(fault.cloud_never_answers());
    let start = api.now_ms();
    let run = block_on(repair_with(
        &w,
        &mut api,
        sim_cloud_options(region),
        Some(DEMO_EMAIL),
    ));
    let d = run
        .diagnosis
        .as_ref()
        .expect("the device is still diagnosed");
    match &d.cloud {
        CloudAccess::Unavailable { reason, hint } => {
            assert_eq!(*reason, ApiError::timeout().to_string());
            assert!(hint.contains("internet connection"), "{hint}");
        }
        other => panic!("expected the cloud to be unavailable, got {other:?}"),
    }
    // Each unanswered request cost exactly one deadline of virtual time, no more.
    let elapsed = api.now_ms() - start;
    assert!(elapsed >= u64::from(REQUEST_TIMEOUT_MS), "{elapsed}");
    assert_eq!(elapsed % u64::from(REQUEST_TIMEOUT_MS), 0, "{elapsed}");
    assert!(!fault.label().is_empty());
    assert!(!Fault::None.cloud_never_answers());
}

/// The wizard through a whole repair, a failed write and its recovery: one step open at a time,
/// the indicator's marks, Continue and Back, and no button that cannot work.
mod wizard_rules {
    use key_rescue::doctor::Step;
    use key_rescue::doctor::wizard::{self, Facts, Mark, Recovery};

    fn marks(f: &Facts, open: Step) -> Vec<Mark> {
        Step::ALL
            .iter()
            .map(|s| wizard::mark(f, *s, open))
            .collect()
    }

    #[test]
    fn a_repair_walks_the_steps_in_order_with_one_open() {
        use Mark::{Current as C, Done as D, Upcoming as U};
        let mut f = Facts::default();
        // At first only Connect: the user cannot ask for a later step.
        assert_eq!(wizard::open(&f, None, Step::Plan), Step::Connect);
        assert_eq!(marks(&f, Step::Connect), [C, U, U, U, U, U]);
        assert!(wizard::can_connect(&f, false));
        assert!(
            !wizard::can_connect(&f, true),
            "not while the simulated Photon starts"
        );
        assert!(!wizard::can_repair(&f));
        // Connect runs: the running step is open, and nothing else can be pressed.
        f.busy = true;
        assert_eq!(
            wizard::open(&f, Some(Step::Diagnose), Step::Connect),
            Step::Diagnose
        );
        assert!(!wizard::can_connect(&f, false));
        // Diagnosed, backed up and planned: the wizard stops at Diagnose for the user to read.
        f = Facts {
            connected: true,
            identified: true,
            diagnosed: true,
            backed_up: true,
            plan_can_run: true,
            ..Facts::default()
        };
        let open = wizard::open(&f, Some(Step::Plan), Step::Diagnose);
        assert_eq!(open, Step::Diagnose);
        assert_eq!(marks(&f, open), [D, C, U, U, U, U]);
        assert_eq!(wizard::back(&f, open), None);
        assert_eq!(wizard::next(&f, open), Some(Step::BackUp));
        assert_eq!(wizard::next(&f, Step::BackUp), Some(Step::Plan));
        assert_eq!(marks(&f, Step::Plan), [D, D, D, C, U, U]);
        // Back is safe before anything is written.
        assert_eq!(wizard::back(&f, Step::Plan), Some(Step::BackUp));
        assert_eq!(wizard::back(&f, Step::BackUp), Some(Step::Diagnose));
        assert_eq!(
            wizard::next(&f, Step::Plan),
            None,
            "Plan goes on with Repair only"
        );
        assert!(wizard::can_repair(&f));
        // Repair pressed: no Back, no second Repair.
        f.repair_started = true;
        f.busy = true;
        assert_eq!(wizard::back(&f, Step::Plan), None);
        assert!(!wizard::can_repair(&f));
        assert_eq!(
            wizard::next(&f, Step::Diagnose),
            None,
            "nothing moves while a step runs"
        );
        // Repaired and verified: Verify is open, every step before it done.
        f = Facts {
            repaired: true,
            verified: true,
            connected: false,
            ..f
        };
        f.busy = false;
        let open = wizard::open(&f, None, Step::Verify);
        assert_eq!(marks(&f, open), [D, D, D, D, D, C]);
        assert_eq!(wizard::back(&f, open), None);
    }

    #[test]
    fn repair_is_never_enabled_while_it_cannot_work() {
        let ready = Facts {
            connected: true,
            identified: true,
            diagnosed: true,
            backed_up: true,
            plan_can_run: true,
            ..Facts::default()
        };
        assert!(wizard::can_repair(&ready));
        for f in [
            Facts {
                connected: false,
                ..ready
            },
            Facts {
                plan_can_run: false,
                ..ready
            },
            Facts {
                busy: true,
                ..ready
            },
            Facts {
                repair_started: true,
                ..ready
            },
            Facts {
                needs_reconnect: true,
                ..ready
            },
        ] {
            assert!(!wizard::can_repair(&f), "{f:?}");
        }
    }

    #[test]
    fn a_failed_write_is_one_ordered_path_reconnect_then_restore_or_retry() {
        // The cable was pulled during the write: the Repair step stays open for the recovery.
        let f = Facts {
            identified: true,
            diagnosed: true,
            backed_up: true,
            plan_can_run: true,
            repair_started: true,
            needs_reconnect: true,
            ..Facts::default()
        };
        assert_eq!(wizard::open(&f, None, Step::Repair), Step::Repair);
        assert_eq!(wizard::recovery(&f, None), Recovery::Reconnect);
        assert!(
            !wizard::can_repair(&f),
            "no Repair on a disconnected device"
        );
        // Reconnected, the slots read back: changed → Restore backup, unchanged → Repair again.
        let back = Facts {
            connected: true,
            ..f
        };
        assert_eq!(wizard::recovery(&back, Some(true)), Recovery::Restore);
        let unchanged = Facts {
            needs_reconnect: false,
            ..back
        };
        assert_eq!(wizard::recovery(&unchanged, Some(false)), Recovery::Retry);
        // A chooser closed during the reconnect changes nothing: still Reconnect first.
        assert_eq!(wizard::recovery(&f, Some(true)), Recovery::Reconnect);
        // A step the facts do not allow is never open: after a reconnect cleared the diagnosis,
        // asking for Plan opens the furthest step the facts allow.
        let cleared = Facts {
            diagnosed: false,
            backed_up: false,
            repair_started: false,
            ..back
        };
        assert_eq!(wizard::open(&cleared, None, Step::Plan), Step::Diagnose);
    }

    #[test]
    fn folded_steps_say_what_they_found_in_one_line() {
        use key_rescue::doctor::report::{Line, Verdict};
        let line = |verdict, title| Line {
            verdict,
            title,
            text: String::new(),
        };
        assert_eq!(
            wizard::diagnosis_summary(&[
                line(Verdict::Problem, "Device private key"),
                line(Verdict::Good, "Cloud server key"),
                line(Verdict::Problem, "Particle cloud"),
            ]),
            "problem: Device private key, Particle cloud."
        );
        assert_eq!(
            wizard::diagnosis_summary(&[line(Verdict::Good, "Device private key")]),
            "no problem found in the key slots."
        );
        // A custom server is not called a problem, but the line does not call it fine either.
        assert_eq!(
            wizard::diagnosis_summary(&[
                line(Verdict::Good, "Device private key"),
                line(Verdict::Unknown, "Cloud server key"),
                line(Verdict::Unknown, "Cloud server address"),
            ]),
            "no problem found in the key slots; to check: Cloud server key, Cloud server address."
        );
        assert_eq!(
            wizard::diagnosis_summary(&[
                line(Verdict::Problem, "Device private key"),
                line(Verdict::Unknown, "Particle cloud"),
            ]),
            "problem: Device private key; to check: Particle cloud."
        );
        assert_eq!(wizard::plan_summary(0), "nothing to change.");
        assert_eq!(wizard::plan_summary(1), "1 change.");
        assert_eq!(wizard::plan_summary(3), "3 changes.");
    }
}

/// "Wait longer": once the first wait ran out (the doctor is gone, the device left DFU mode), the
/// page asks the cloud again with what `Doctor::online_wait` kept, and the device is found online.
#[test]
fn wait_longer_asks_the_cloud_again_after_the_first_wait_ran_out() {
    use key_rescue::doctor::{CloudContext, VerifyOutcome};
    let (w, region) = sim_world(Fault::None);
    let mut run = block_on(full_repair_until_repair(
        &w,
        sim_cloud_options(region),
        Some(DEMO_EMAIL),
    ));
    run.repaired();
    let doctor = run.doctor.take().expect("the doctor after the repair");
    let wait = doctor.online_wait();
    assert_eq!(
        wait.device_id,
        key_rescue::sim::cloud::scenario::DEMO_PHOTON_ID
    );
    let mut api = w.cloud_api();
    let token = w.token(DEMO_EMAIL);
    let ctx = CloudContext {
        api: &mut api,
        token: Some(&token),
    };
    let (first, _) = block_on(doctor.leave_and_verify(ctx, 1, &mut |_| {})).unwrap();
    assert!(
        matches!(first, VerifyOutcome::StayedOffline { .. }),
        "{first:?}"
    );
    let mut log = Vec::new();
    let second = block_on(
        wait.wait(&mut api, &token, 90_000, &CancelFlag::new(), &mut |e| {
            log.push(e)
        }),
    );
    assert!(matches!(second, VerifyOutcome::Online { .. }), "{second:?}");
    // Cancel stops a wait between two polls.
    let cancel = CancelFlag::new();
    cancel.cancel();
    let (w2, region2) = sim_world(Fault::None);
    let mut run2 = block_on(full_repair_until_repair(
        &w2,
        sim_cloud_options(region2),
        Some(DEMO_EMAIL),
    ));
    run2.repaired();
    let wait2 = run2.doctor.take().unwrap().online_wait();
    let stopped = block_on(wait2.wait(
        &mut w2.cloud_api(),
        &w2.token(DEMO_EMAIL),
        90_000,
        &cancel,
        &mut |_| {},
    ));
    assert!(
        matches!(stopped, VerifyOutcome::StoppedWaiting { .. }),
        "{stopped:?}"
    );
}

/// The success screen's slots, before → after, for a repair that wrote a new key and sent it.
#[test]
fn the_success_screen_says_what_each_slot_was_and_is() {
    use key_rescue::doctor::SendOutcome;
    use key_rescue::doctor::wizard::slot_changes;
    let (_w, run) = run(Fault::CorruptKey);
    let d = run.diagnosis.as_ref().unwrap();
    let r = run.repaired();
    assert_eq!(r.send, SendOutcome::Sent);
    let lines = report::lines_for(d, None);
    let changes = slot_changes(&lines, &r.written, r.send == SendOutcome::Sent);
    let titles: Vec<&str> = changes.iter().map(|c| c.title).collect();
    assert_eq!(
        titles,
        [
            "Device private key",
            "Cloud server key",
            "Cloud server address",
            "Particle cloud"
        ]
    );
    assert!(
        changes[0].before.starts_with("Problem: "),
        "{:?}",
        changes[0]
    );
    assert!(changes[0].before.contains("corrupt"), "{:?}", changes[0]);
    assert_eq!(changes[0].after, "a new key, written and read back");
    assert_eq!(changes[3].after, "holds the device's public key");
    // Nothing written there: unchanged; a key not sent is said so.
    let kept = slot_changes(&lines, &[], false);
    assert_eq!(kept[0].after, "unchanged");
    assert_eq!(kept[3].after, "the key was not sent");
}

/// "Repair now, send the key later" is honoured when signed in, and the key written but not sent
/// is sent later from the public key read back from the device, after it left DFU mode; then the
/// device comes online.
#[test]
fn send_later_is_honoured_when_signed_in_and_the_key_is_sent_after_dfu() {
    use key_rescue::doctor::{CloudContext, SendOutcome, VerifyOutcome};
    let (w, region) = sim_world(Fault::CorruptKey);
    let mut options = sim_cloud_options(region);
    options.send_later = true;
    let mut run = block_on(full_repair_until_repair(&w, options, Some(DEMO_EMAIL)));
    assert!(
        !run.plan
            .as_ref()
            .unwrap()
            .actions
            .iter()
            .any(|a| matches!(a, Action::SendPublicKey { .. })),
        "no send in the plan"
    );
    let r = run.repaired().clone();
    assert_eq!(r.send, SendOutcome::Deferred);
    let public_key = r.public_key.clone().expect("read back from the device");
    let doctor = run.doctor.take().unwrap();
    let wait = doctor.online_wait();
    let mut api = w.cloud_api();
    // Left DFU mode without asking the cloud (the page passes no token while a key is unsent).
    let ctx = CloudContext {
        api: &mut api,
        token: None,
    };
    let (left, _) = block_on(doctor.leave_and_verify(ctx, 90_000, &mut |_| {})).unwrap();
    assert!(matches!(left, VerifyOutcome::LeftDfu { .. }), "{left:?}");
    let token = w.token(DEMO_EMAIL);
    block_on(wait.send_key(&mut api, &token, &public_key, &mut |_| {})).unwrap();
    let online = block_on(wait.wait(&mut api, &token, 90_000, &CancelFlag::new(), &mut |_| {}));
    assert!(matches!(online, VerifyOutcome::Online { .. }), "{online:?}");
    // Somebody else's account is refused, with a typed error.
    let stranger = w.token("stranger@example.com");
    assert!(block_on(wait.send_key(&mut api, &stranger, &public_key, &mut |_| {})).is_err());
}

/// The advanced panel asks before every write, and checks a custom server's fields before
/// anything is read or written (the empty custom server used to write Particle's key and say so).
#[test]
fn advanced_writes_are_confirmed_and_custom_server_fields_checked_first() {
    use key_rescue::doctor::wizard::{ServerField, check_custom_server, confirmation};
    use key_rescue::keys::ServerAddressSpec;
    for write in [
        Command::NewKey,
        Command::LoadKeyFile { file: None },
        Command::WriteServer {
            key_file: None,
            address: ServerAddressSpec::Unchanged,
        },
    ] {
        let q = confirmation(&write).expect("a write is confirmed");
        assert!(q.starts_with("Write") && q.ends_with('.'), "{q}");
    }
    for read in [
        Command::SaveKey,
        Command::ReadAddress,
        Command::DumpFlash,
        Command::SendKey { product: None },
    ] {
        assert_eq!(confirmation(&read), None);
    }
    let field =
        |h: &str, p: &str, f: bool| check_custom_server(h, p, f).map_err(|(field, _)| field);
    assert_eq!(
        field("", "", false),
        Err(ServerField::Host),
        "empty: nothing written"
    );
    assert_eq!(field("  ", "5683", true), Err(ServerField::Host));
    assert_eq!(field("bad host!", "", true), Err(ServerField::Host));
    assert_eq!(field("300.1.1.1", "", true), Err(ServerField::Host));
    assert_eq!(field("10.0.0.1", "0", true), Err(ServerField::Port));
    assert_eq!(field("10.0.0.1", "65536", true), Err(ServerField::Port));
    assert_eq!(field("10.0.0.1", "-1", true), Err(ServerField::Port));
    assert_eq!(field("10.0.0.1", "5683", false), Err(ServerField::KeyFile));
    assert_eq!(
        check_custom_server(" cloud.example.com ", "", true),
        Ok(ServerAddressSpec::Host {
            host: "cloud.example.com".into(),
            port: None
        })
    );
    assert_eq!(
        check_custom_server("10.0.0.1", "65535", true),
        Ok(ServerAddressSpec::Host {
            host: "10.0.0.1".into(),
            port: Some(65535)
        })
    );
    assert_eq!(ServerField::Port.id(), "server-port");
}

// --- a device picked in normal mode: what the Connect step offers ---------------------------

use key_rescue::doctor::wizard::{self, Switch};
use key_rescue::doctor::{
    Connected, EnterDfuOutcome, PathChoice, RuntimeDoctor, SwitchTicket, connect_any,
};
use key_rescue::sim::world::UsbHandle;

/// The simulated Photon with `fault` as the page's start option "in normal mode" builds it,
/// connected, and the path `RuntimeDoctor::choose` picks for it.
fn normal_mode_choice(fault: Fault) -> (SimWorld, PathChoice<UsbHandle>) {
    let cloud = new_cloud();
    let region = cloud.server_key_region();
    let builder = fault.in_normal_mode(fault.device_builder(&region).unwrap());
    let w = SimWorld::new(builder.build(), cloud);
    let h = UsbHandle::open(&w.device).unwrap();
    let Connected::Running(running) =
        block_on(connect_any(h, None, CancelFlag::new(), &mut |_| {})).unwrap()
    else {
        panic!("{fault:?}: connected in DFU mode");
    };
    let choice = block_on(RuntimeDoctor::choose(
        running,
        CancelFlag::new(),
        &mut |_| {},
    ));
    (w, choice)
}

fn ticket() -> SwitchTicket {
    SwitchTicket {
        platform: key_rescue::device::Platform::Photon,
        device_id: "0123456789abcdef01234567".into(),
    }
}

#[test]
fn the_normal_mode_faults_start_in_normal_mode_and_pick_their_path() {
    for f in Fault::ALL {
        assert_eq!(
            f.normal_mode_only(),
            matches!(
                f,
                Fault::OldFirmware
                    | Fault::SerialRefused
                    | Fault::BusyConnecting
                    | Fault::KeyRequestsRefused
                    | Fault::NeverReenumerates
            ),
            "{f:?}"
        );
    }
    // A key fault in normal mode: repaired over control requests, nothing to switch.
    let (_, choice) = normal_mode_choice(Fault::CorruptKey);
    assert!(matches!(choice, PathChoice::ControlRequests(_)));
    // Old firmware, refused key requests: the Connect step offers request 50 and says why.
    for (fault, why) in [
        (Fault::OldFirmware, "before 0.8"),
        (Fault::SerialRefused, "before 0.8"),
        (Fault::KeyRequestsRefused, "not supported"),
        (Fault::NeverReenumerates, "not supported"),
    ] {
        let (_, choice) = normal_mode_choice(fault);
        let PathChoice::Dfu { fallback, .. } = choice else {
            panic!("{fault:?}: control requests");
        };
        let offer = wizard::offer_dfu(&fallback);
        assert!(
            matches!(&offer, Switch::Offer { reason } if reason.contains(why)),
            "{fault:?}: {offer:?}"
        );
        assert_eq!(wizard::switch_focus(&offer), Some("enter-dfu"));
    }
}

#[test]
fn after_request_50_the_second_prompt_then_the_serial_port_then_the_buttons() {
    let switched = EnterDfuOutcome::Switched {
        ticket: ticket(),
        left_after_ms: 1250,
    };
    assert_eq!(
        wizard::after_enter(&switched, false),
        Switch::SecondPrompt { reset: true }
    );
    let stayed = EnterDfuOutcome::DidNotReset { ticket: ticket() };
    assert_eq!(
        wizard::after_enter(&stayed, true),
        Switch::SecondPrompt { reset: false }
    );
    assert_eq!(
        wizard::switch_focus(&Switch::SecondPrompt { reset: true }),
        Some("second-prompt")
    );
    // Refused because the firmware is old (or stalls): the serial port, where Web Serial exists.
    for refused in [EnterDfuOutcome::OldFirmware, EnterDfuOutcome::Stalled] {
        assert_eq!(wizard::after_enter(&refused, true), Switch::SerialPort);
        assert!(matches!(
            wizard::after_enter(&refused, false),
            Switch::Buttons { why } if why.contains("no Web Serial")
        ));
    }
    assert_eq!(
        wizard::switch_focus(&Switch::SerialPort),
        Some("serial-dfu")
    );
    // The serial port refused (the chooser closed): only the buttons are left.
    let closed = EnterDfuOutcome::SerialFailed {
        error: "no serial port was picked".into(),
        hint: String::new(),
        cancelled: true,
    };
    assert!(matches!(
        wizard::after_enter(&closed, true),
        Switch::Buttons { why } if why == "No serial port was picked."
    ));
    let refused = EnterDfuOutcome::Refused {
        error: "the device is busy".into(),
        hint: String::new(),
    };
    let buttons = wizard::after_enter(&refused, true);
    assert!(matches!(&buttons, Switch::Buttons { why } if why.contains("the device is busy")));
    assert_eq!(wizard::switch_focus(&buttons), Some("connect"));
}

#[test]
fn the_button_instructions_name_the_platforms_own_buttons() {
    use key_rescue::device::Platform as P;
    assert!(wizard::dfu_buttons(P::Photon).contains("SETUP"));
    assert!(wizard::dfu_buttons(P::P1).contains("P1's board"));
    assert!(wizard::dfu_buttons(P::Argon).contains("MODE"));
    assert!(wizard::dfu_buttons(P::Core).contains("RST"));
    for p in [P::Photon, P::P1, P::Electron, P::Argon, P::Boron, P::Core] {
        assert!(wizard::dfu_buttons(p).contains("yellow"), "{p:?}");
    }
}

/// The diagnostic report as the page downloads it (pretty) and the key report (compact), for every
/// fault: byte for byte what src/json.rs wrote before JSON went through serde types (issue 16). The
/// fixture was captured from that code; keys are random per run, so `pem` and `fingerprint` values
/// are replaced by `…` on both sides. Faults added to the picker after the capture have no
/// section in the fixture and are left out.
#[test]
fn the_json_report_keeps_the_bytes_it_had_before_serde_types() {
    let want = include_str!("json_fixtures/reports_before.txt");
    let mut dump = String::new();
    for fault in Fault::ALL {
        if !want.lines().any(|l| l == format!("=== {fault:?}")) {
            continue;
        }
        let (_, run) = run(fault);
        if let Some(d) = run.diagnosis.as_ref() {
            dump.push_str(&format!(
                "=== {fault:?}\n{}\n{}\n",
                d.to_json(),
                d.report.to_json()
            ));
        }
    }
    let got = without_key_values(&dump);
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count());
}

/// `text` with the string value of every `pem` and `fingerprint` member replaced by `…`.
fn without_key_values(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = ["\"pem\":", "\"fingerprint\":"]
        .iter()
        .filter_map(|k| rest.find(k).map(|i| i + k.len()))
        .min()
    {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after_space) = rest.strip_prefix(' ') {
            out.push(' ');
            rest = after_space;
        }
        if let Some(after) = rest
            .strip_prefix('"')
            .and_then(|r| r.find('"').map(|end| &r[end + 1..]))
        {
            out.push_str("\"…\"");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
