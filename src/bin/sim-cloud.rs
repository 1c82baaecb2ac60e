//! `sim-cloud`: the simulated Particle cloud served over loopback HTTP, for browser and end-to-end
//! tests. Native only; on wasm32 it compiles to an empty program.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
const HELP: &str = "\
sim-cloud: a simulated Particle cloud on loopback (the HTTP contract of api.particle.io)

USAGE: sim-cloud [--port N] [--host 127.0.0.1|::1|localhost] [--scenario demo|empty] [--test-control]
                 [--device-host NAME] [--device-port N]

  --port N          TCP port; 0 (the default) picks a free one. The bound port is printed on
                    stdout as the first line, alone (e.g. `41234`), then stdout stays quiet;
                    request logs go to stderr.
  --host H          loopback address to bind (default 127.0.0.1); other addresses are refused.
  --scenario S      demo (default): accounts, products and devices, all with passwords:
                      demo@example.com / demo-password     owns Photon 0123456789abcdef01234567
                      mfa@example.com / mfa-password       MFA, one-time code 123456; owns the
                                                           product Photon e00fce68aaaaaaaaaaaaaaaa
                      developer@example.com / password     Developer in product 12345
                                                           (slug demo-product-v1) and 54321
                      viewer@example.com / password        View-only in product 12345
                      stranger@example.com / password      owns nothing
                      sso@example.com / password           single sign-on (password refused)
                    empty: no accounts or devices.
  --test-control    serve the test control routes below (never on a shared machine):
                      POST /__sim/advance?ms=N         move the cloud's clock forward (token expiry)
                      POST /__sim/fail?status=S&count=N[&path=P]
                                                       answer the next N requests (whose path
                                                       starts with P) with S (429, 5xx)
                      POST /__sim/hang?count=N[&path=P]
                                                       leave the next N requests (whose path
                                                       starts with P) unanswered: the connection
                                                       stays open and nothing is written (count=0
                                                       clears it)
                      POST /__sim/redirect?location=L&count=N[&path=P]
                                                       answer the next N requests with
                                                       308 Permanent Redirect to L
                      POST /__sim/token?email=E&ttl=S  issue a token without signing in
                      GET  /__sim/server-key-region    {\"hex\": the 512-byte DCT region at 2082}
                      GET  /__sim/devices/ID           stored key, online, last boot outcome
                      POST /__sim/devices/ID/boot      body: the DCT in hex; the Photon boots and
                                                       runs the handshake; answers the outcome
                      POST /__sim/devices/ID/offline   the device drops off (reset, DFU mode)
  --device-host H, --device-port N
                    the server address simulated devices must hold in their DCT to reach this
                    cloud (default device.spark.io:5683, what `particle keys server` writes).
  -h, --help        this text.

The cloud's RSA-2048 server key is generated at start. CORS is answered like the real API
(preflights allow only the Authorization and Content-Type headers). Stop it with Ctrl-C.
";

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use key_rescue::sim::cloud::SimCloud;
    use key_rescue::sim::cloud::scenario::seed_demo;
    use key_rescue::sim::cloud::server::{ServerOptions, SimServer};
    use std::io::Write;
    use std::net::TcpListener;

    fn fail(message: &str) -> ! {
        eprintln!("sim-cloud: {message}\n\n{HELP}");
        std::process::exit(2);
    }

    let mut port: u16 = 0;
    let mut host = "127.0.0.1".to_owned();
    let mut scenario = "demo".to_owned();
    let mut options = ServerOptions::default();
    let mut device_host = None;
    let mut device_port: Option<u16> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| fail(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return;
            }
            "--port" => {
                port = value("--port")
                    .parse()
                    .unwrap_or_else(|_| fail("--port takes a number from 0 to 65535"))
            }
            "--host" => host = value("--host"),
            "--scenario" => scenario = value("--scenario"),
            "--test-control" => options.test_control = true,
            "--device-host" => device_host = Some(value("--device-host")),
            "--device-port" => {
                device_port = Some(
                    value("--device-port")
                        .parse()
                        .unwrap_or_else(|_| fail("--device-port takes a number")),
                )
            }
            other => fail(&format!("unknown argument {other}")),
        }
    }
    // Loopback only: this server hands out tokens for fixed demo passwords.
    let bind = match host.as_str() {
        "127.0.0.1" | "localhost" => "127.0.0.1",
        "::1" | "[::1]" => "[::1]",
        other => fail(&format!("--host {other} is not a loopback address")),
    };

    let demo = match scenario.as_str() {
        "demo" => true,
        "empty" => false,
        other => fail(&format!("unknown scenario {other}")),
    };

    let mut cloud = SimCloud::generate().unwrap_or_else(|e| fail(&format!("key generation: {e}")));
    if demo {
        seed_demo(&mut cloud);
    }
    // Either flag changes the address; the other keeps the cloud's default.
    if device_host.is_some() || device_port.is_some() {
        let host = device_host.unwrap_or_else(|| cloud.server_host().to_owned());
        let port = device_port.unwrap_or(cloud.server_port());
        cloud.set_server_address(&host, port);
    }

    let listener = TcpListener::bind(format!("{bind}:{port}"))
        .unwrap_or_else(|e| fail(&format!("cannot listen on {bind}:{port}: {e}")));
    let bound = listener
        .local_addr()
        .unwrap_or_else(|e| fail(&format!("no local address: {e}")))
        .port();
    // The stdout protocol: the port alone on the first line, flushed, so a test can read it.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{bound}");
    let _ = out.flush();
    eprintln!("sim-cloud: serving scenario {scenario} on http://{bind}:{bound}");
    SimServer::new(cloud, options).run(&listener);
}
