//! The smallest page on Key Rescue's stack (see Cargo.toml). Each feature adds what the page needs
//! from one part of the stack, used the way the page uses it, so that no part is optimised away.

use leptos::prelude::*;

/// RSA-1024 as the page makes it: primes from the browser's CSPRNG tested with crypto-primes, the
/// key from rsa's `from_primes`, validated; then, with `der`, its PKCS#1 and SPKI encodings read
/// back, and with `ec`, a P-256 key read from PKCS#8 with its public key in SPKI.
#[cfg(feature = "keygen")]
fn keys() -> String {
    use rsa::traits::PublicKeyParts;
    let prime = || loop {
        let mut b = [0u8; 64];
        getrandom::fill(&mut b).expect("CSPRNG");
        b[0] |= 0xc0;
        b[63] |= 1;
        let c = rsa::BoxedUint::from_be_slice(&b, 512).expect("512 bits");
        if crypto_primes::is_prime(crypto_primes::Flavor::Any, &c) {
            break c;
        }
    };
    let key = rsa::PrivateKey::from_primes(vec![prime(), prime()], rsa::BoxedUint::from(65537u32))
        .expect("key");
    key.validate().expect("valid");
    let out = key.to_public_key().n_bytes().len().to_string();
    #[cfg(feature = "der")]
    let out = {
        let mut out = out;
        use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
        use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
        let der = key.to_pkcs1_der().expect("pkcs1");
        let back = rsa::PrivateKey::from_pkcs1_der(der.as_bytes()).expect("pkcs1 back");
        let spki = back.to_public_key().to_public_key_der().expect("spki");
        let public = rsa::PublicKey::from_public_key_der(spki.as_bytes()).expect("spki back");
        out.push_str(&public.n_bytes().len().to_string());
        #[cfg(feature = "ec")]
        {
            use p256::pkcs8::DecodePrivateKey;
            if let Ok(ec) = p256::SecretKey::from_pkcs8_der(der.as_bytes()) {
                let spki = ec.public_key().to_public_key_der().expect("ec spki");
                out.push_str(&spki.as_bytes().len().to_string());
            }
        }
        out
    };
    out
}

#[cfg(not(feature = "keygen"))]
fn keys() -> String {
    String::from("no keys")
}

/// Asks for a Particle device and reads a DFU status from it, then posts to Particle's API.
async fn usb_and_cloud(set: WriteSignal<String>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let filter = web_sys::UsbDeviceFilter::new();
    filter.set_vendor_id(0x2b04);
    let options = web_sys::UsbDeviceRequestOptions::new(&[filter]);
    let usb = window.navigator().usb();
    if let Ok(device) = wasm_bindgen_futures::JsFuture::from(usb.request_device(&options)).await {
        let device: web_sys::UsbDevice = device.into();
        let setup = web_sys::UsbControlTransferParameters::new(
            0,
            web_sys::UsbRecipient::Interface,
            3,
            web_sys::UsbRequestType::Class,
            0,
        );
        let status =
            wasm_bindgen_futures::JsFuture::from(device.control_transfer_in(&setup, 6)).await;
        set.set(format!("status read: {}", status.is_ok()));
    }
    let request = gloo_net::http::Request::post("https://api.particle.io/oauth/token").body("x");
    if let Ok(response) = match request {
        Ok(r) => r.send().await,
        Err(e) => Err(e),
    } {
        set.set(response.text().await.unwrap_or_default());
    }
}

#[component]
fn App() -> impl IntoView {
    let (out, set_out) = signal(String::new());
    let (count, set_count) = signal(0u32);
    view! {
        <h1>"Floor"</h1>
        <p>{move || out.get()}</p>
        <button on:click=move |_| set_out.set(keys())>"keys"</button>
        <button on:click=move |_| leptos::task::spawn_local(usb_and_cloud(set_out))>"usb"</button>
        <button on:click=move |_| set_count.update(|n| *n += 1)>{move || count.get()}</button>
        <Show when=move || count.get() % 2 == 0>
            <p>"even"</p>
        </Show>
    }
}

fn main() {
    leptos::mount::mount_to_body(App);
}
