//! The whole page: the store, the test-cloud banner, a support link's problems, and the views in
//! reading order.

use crate::ui::advanced::Advanced;
use crate::ui::erased::dynamic;
use crate::ui::landing::Landing;
use crate::ui::signin::SignIn;
use crate::ui::steps::Steps;
use crate::ui::store::{Store, page_query};
use crate::ui::widgets::LogPanel;
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    let store = Store::new(&page_query());
    provide_context(store);
    view! {
        <a class="skip" href="#steps-heading">"Skip to the repair steps"</a>
        <header>
            <h1>"Key Rescue"</h1>
            <p class="lede">
                "Fixes a Particle Photon that blinks fast cyan with short red or orange bursts and "
                "never reaches the cloud: it repairs the device's cloud keys over USB, right here in "
                "Chrome, with nothing to install."
            </p>
        </header>
        {dynamic(move || {
            store
                .test_cloud
                .get()
                .map(|label| {
                    view! {
                        <div class="banner" role="note" data-testid="test-cloud-banner">
                            <strong>"Test cloud: "</strong>
                            "this page talks to " <code>{label}</code>
                            ", not to Particle's cloud. Keys sent here do not reach real devices' accounts."
                        </div>
                    }
                })
        })}
        <main>
            {store
                    .link_error
                    .get_value()
                    .map(|(cause, hint)| {
                        view! {
                            <div class="error" role="alert" data-testid="link-error">
                                <p class="error-cause">{cause}</p>
                                <p>{hint}</p>
                            </div>
                        }
                    })}
            {store
                    .link
                    .with_value(|l| l.expected_device.clone())
                    .map(|id| {
                        view! {
                            <p class="notice" data-testid="expected-device">
                                "This support link is for device " <code>{id}</code>
                                ": the page refuses any other device."
                            </p>
                        }
                    })}
            <Landing/>
            <SignIn/>
            <Steps/>
            <Advanced/>
            <LogPanel/>
        </main>
    }
}
