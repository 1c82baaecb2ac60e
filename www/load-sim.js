// Loads the page's simulated mode on demand (src/ui/sim_module.rs): the key-rescue-sim module that
// Trunk builds beside the page (www/index.html; data-type="worker" keeps its file name), with the
// simulated device and cloud and the navigator.usb / navigator.serial stand-ins it imports. A
// same-origin module, which the page's Content-Security-Policy allows by 'self'.

let loading = null;

// Resolves to the module's SimPage, or rejects with [message, hint] when the simulated mode could
// not start, or with the browser's error when the module could not be loaded (tried again next time).
export function startSimulation(fault, normalMode, api, platform) {
  loading ??= import(new URL('key-rescue-sim.js', document.baseURI).href).then(async (sim) => {
    await sim.default();
    return sim;
  });
  return loading.then(
    (sim) => sim.startSimulation(fault, normalMode, api, platform),
    (e) => {
      loading = null;
      throw e;
    },
  );
}
