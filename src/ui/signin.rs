//! Sign-in: e-mail and password (with the one-time code step), or a pasted access token; sign
//! out; or "diagnose only" without signing in.

use crate::cloud::{ApiError, InputField};
use crate::sim::cloud::scenario;
use crate::ui::erased::{Dynamic, dynamic, flag, on};
use crate::ui::store::{ErrorPlace, Store};
use crate::ui::widgets::ErrorPanel;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

#[component]
pub fn SignIn() -> impl IntoView {
    let store = expect_context::<Store>();
    view! {
        <section aria-labelledby="signin-heading" data-testid="signin">
            <h2 id="signin-heading">"Your Particle account"</h2>
            {dynamic(move || match store.signed_in.get() {
                Some(who) => view! {
                    <div class="row">
                        <p data-testid="signed-in" role="status">"Signed in as " {who} "."</p>
                        <button
                            type="button"
                            class="secondary"
                            data-testid="signout"
                            on:click=on(move |_| store.sign_out())
                        >
                            "Sign out"
                        </button>
                    </div>
                }
                .into_any(),
                None => view! { <SignInForms/> }.into_any(),
            })}
            <ErrorPanel place=ErrorPlace::SignIn/>
        </section>
    }
}

#[component]
fn SignInForms() -> impl IntoView {
    let store = expect_context::<Store>();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let otp = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        store.sign_in(email.get_untracked(), password.get_untracked());
        password.set(String::new());
    };
    let submit_otp = move |ev: SubmitEvent| {
        ev.prevent_default();
        store.sign_in_otp(otp.get_untracked());
        otp.set(String::new());
    };
    let submit_token = move |ev: SubmitEvent| {
        ev.prevent_default();
        store.sign_in_with_token(token.get_untracked());
        token.set(String::new());
    };
    let busy = flag(move || store.busy.get());
    view! {
        <p>
            "Sign in with the account that owns the device, so the page can give the cloud the "
            "device's new public key. The password goes only to Particle's cloud; the sign-in "
            "is kept in this tab's memory unless you tick \"Remember on this computer\"."
        </p>
        {dynamic(move || {
            store
                .in_simulation()
                .then(|| {
                    view! {
                        <p class="demo" data-testid="demo-credentials">
                            "Simulated cloud: sign in as " <code>{scenario::DEMO_EMAIL}</code>
                            " with password " <code>{scenario::DEMO_PASSWORD}</code> " (or "
                            <code>{scenario::MFA_EMAIL}</code> " / " <code>{scenario::MFA_PASSWORD}</code>
                            " with one-time code " <code>{scenario::MFA_OTP}</code> ")."
                        </p>
                    }
                })
        })}
        {dynamic(move || {
            if store.mfa_pending.get() {
                view! {
                    <form class="stack" on:submit=on(submit_otp)>
                        <p>
                            "This account uses two-step verification: enter the code your "
                            "authenticator app shows now."
                        </p>
                        <div class="field">
                            <label for="otp">"One-time code"</label>
                            <input
                                id="otp"
                                data-testid="otp"
                                inputmode="numeric"
                                autocomplete="one-time-code"
                                aria-describedby="otp-missing"
                                bind:value=otp
                            />
                            {missing(store, InputField::OneTimeCode, "otp-missing")}
                        </div>
                        <div class="row">
                            <button type="submit" data-testid="otp-submit" disabled=busy>
                                "Verify code"
                            </button>
                            <button
                                type="button"
                                class="secondary"
                                data-testid="otp-back"
                                on:click=on(move |_| store.back_from_code())
                                disabled=busy
                            >
                                "Back"
                            </button>
                        </div>
                    </form>
                }
                .into_any()
            } else {
                view! {
                    <form class="stack" on:submit=on(submit)>
                        <div class="field">
                            <label for="email">"Email"</label>
                            <input
                                id="email"
                                data-testid="email"
                                type="email"
                                autocomplete="username"
                                aria-describedby="email-missing"
                                bind:value=email
                            />
                            {missing(store, InputField::Email, "email-missing")}
                        </div>
                        <div class="field">
                            <label for="password">"Password"</label>
                            <input
                                id="password"
                                data-testid="password"
                                type="password"
                                autocomplete="current-password"
                                aria-describedby="password-missing"
                                bind:value=password
                            />
                            {missing(store, InputField::Password, "password-missing")}
                        </div>
                        <div class="check">
                            <input
                                id="remember"
                                data-testid="remember-token"
                                type="checkbox"
                                bind:checked=store.remember
                            />
                            <label for="remember">"Remember on this computer"</label>
                        </div>
                        <button type="submit" data-testid="signin-submit" disabled=busy>
                            "Sign in"
                        </button>
                    </form>
                }
                .into_any()
            }
        })}
        {dynamic(move || {
            store
                .signing
                .get()
                .then(|| {
                    view! {
                        <button
                            type="button"
                            class="secondary"
                            data-testid="signin-cancel"
                            on:click=on(move |_| store.cancel())
                        >
                            "Cancel sign-in"
                        </button>
                    }
                })
        })}
        <details class="token" data-testid="token">
            <summary>"Use an access token instead"</summary>
            <form class="stack" on:submit=on(submit_token)>
                <div class="field">
                    <label for="token">"Access token"</label>
                    <input
                        id="token"
                        data-testid="token-input"
                        type="password"
                        autocomplete="off"
                        aria-describedby="token-missing"
                        bind:value=token
                    />
                    {missing(store, InputField::AccessToken, "token-missing")}
                </div>
                <button type="submit" data-testid="token-submit" disabled=busy>
                    "Use token"
                </button>
            </form>
            <p class="muted">
                "Create one with " <code>"particle token create"</code>
                " (needed for single sign-on accounts)."
            </p>
        </details>
        <div class="row">
            <span class="muted">"No account at hand?"</span>
            <button
                type="button"
                class="secondary"
                data-testid="diagnose-only"
                on:click=on(move |_| store.choose_diagnose_only())
            >
                "Diagnose only"
            </button>
            <span class="muted" role="status">
                {dynamic(move || {
                    store
                        .diagnose_only
                        .get()
                        .then_some("Diagnose only: the page reads the device and sends nothing.")
                })}
            </span>
        </div>
    }
}

/// What is missing in `field`, next to it, when the last sign-in was refused for it (nothing was
/// sent). `id` is what the field's `aria-describedby` names.
fn missing(store: Store, field: InputField, id: &'static str) -> Dynamic {
    dynamic(move || {
        (store.missing_input.get() == Some(field)).then(|| {
            let e = ApiError::MissingInput { field };
            view! {
                <p class="field-error" id=id data-testid=id role="alert">
                    {format!("{}. {}", crate::doctor::report::capitalise(&e.to_string()), e.hint())}
                </p>
            }
        })
    })
}
