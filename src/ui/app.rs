//! The whole page: the store, the test-cloud banner, a support link's problems, and the views in
//! reading order.

use crate::ui::advanced::Advanced;
use crate::ui::erased::dynamic;
use crate::ui::landing::Background;
use crate::ui::signin::SignIn;
use crate::ui::steps::Steps;
use crate::ui::store::{Store, page_query};
use crate::ui::widgets::LogPanel;
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    // The static first screen of index.html gives way to the app, in the same task (no frame
    // shows both).
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    crate::ui::ec_module::install_loader();
    let store = Store::new(&page_query());
    provide_context(store);
    // What needs the user next gets the focus (and so scrolls into view) once it is rendered.
    Effect::new(move |_| {
        if let Some(id) = store.focus.get() {
            request_animation_frame(move || focus_element(id));
        }
    });
    view! {
        <a class="skip" href="#steps-heading">"Skip to the repair steps"</a>
        <header>
            <h1>"Key Rescue"</h1>
            <p class="lede">
                "Repairs the cloud keys of a Particle Photon that blinks fast cyan and never "
                "connects, over USB in Chrome, with nothing to install."
            </p>
        </header>
        {dynamic(move || {
            store
                .test_cloud
                .get()
                .map(|label| {
                    view! {
                        <aside class="banner" aria-label="Test cloud" data-testid="test-cloud-banner">
                            <strong>"Test cloud: "</strong>
                            "this page talks to " <code>{label}</code>
                            ", not to Particle's cloud. Keys sent here do not reach real devices' accounts."
                        </aside>
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
            <Steps/>
            <SignIn/>
            <Background/>
            <Advanced/>
            <LogPanel/>
        </main>
    }
}

fn focus_element(id: &str) {
    use wasm_bindgen::JsCast;
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(e) = element {
        let _ = e.focus();
    }
}
