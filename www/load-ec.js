// Loads the page's P-256 code on demand (src/ui/ec_module.rs): the key-rescue-ec module that Trunk
// builds beside the page (www/index.html; data-type="worker" keeps its file name). The page needs it
// only for a device with EC keys (Electron, Argon, Boron), so a Photon's repair never downloads it.
// A same-origin module, which the page's Content-Security-Policy allows by 'self'.

let loading = null;
let ec = null;

// Resolves once the module is ready; rejects with the browser's error (tried again next time).
export function loadEc() {
  loading ??= import(new URL('key-rescue-ec.js', document.baseURI).href).then(async (m) => {
    await m.default();
    ec = m;
  });
  return loading.catch((e) => {
    loading = null;
    throw e;
  });
}

// The module's two calls (src/bin/key-rescue-ec.rs); only called once loadEc has resolved. The
// private number passed to ecPublicPoint is a view of the page's memory that the module zeroes.
export function ecPublicPoint(d) {
  return ec.ecPublicPoint(d);
}

export function ecDecodePoint(sec1) {
  return ec.ecDecodePoint(sec1);
}
