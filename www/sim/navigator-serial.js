// A `navigator.serial` stand-in backed by the same simulated devices as navigator-usb.js.
//
// Each simulated device running its firmware has one USB CDC serial port. `requestPort` plays
// Chrome's chooser (the first port that matches a filter, granted to the page), `port.open` sets the
// device's line coding as the operating system's CDC driver does (SET_CONTROL_LINE_STATE, then
// SET_LINE_CODING to the communication interface), which at 14400 baud sends the simulated firmware
// to DFU mode, and `port.close` gives it back. Chrome's preconditions and DOMExceptions, no more:
// MDN's documented ones, with Chrome's messages as pages report them; what no source settles is
// marked unverified.
//
// Install from Rust with `key_rescue::sim::device::js::install_simulated_serial`, or from
// JavaScript:
//   import { installFakeSerial } from './navigator-serial.js';
//   installFakeSerial([new SimUsbDevice('photon', { mode: 'runtime' })], {});

let current = null;

function domError(name, message) {
  return new DOMException(message, name);
}

// One SerialPort per enumeration of a device in normal mode: after the device resets, the port is
// gone and the personality that comes back (if it runs its firmware) has a new one.
class FakeSerialPort extends EventTarget {
  constructor(backend, serial) {
    super();
    this._backend = backend;
    this._serial = serial;
    this._enumeration = backend.enumeration;
    this._gone = false;
    this._state = 'closed';
    this.connected = true;
    this.onconnect = null;
    this.ondisconnect = null;
  }

  // Streams exist only while the port is open; the 14400-baud path never reads or writes.
  get readable() {
    return null;
  }

  get writable() {
    return null;
  }

  getInfo() {
    return { usbVendorId: this._backend.vendorId, usbProductId: this._backend.productId };
  }

  open(options) {
    return new Promise((resolve, reject) => {
      // The binding's dictionary conversion first: baudRate is a required member.
      if (!options || options.baudRate === undefined) {
        reject(new TypeError("Failed to execute 'open' on 'SerialPort': Failed to read the 'baudRate' property from 'SerialOptions': Required member is undefined."));
        return;
      }
      if (this._state !== 'closed') {
        reject(domError('InvalidStateError', 'The port is already open.'));
        return;
      }
      if (!(Number(options.baudRate) > 0)) {
        reject(new TypeError("Failed to execute 'open' on 'SerialPort': Requested baud rate must be greater than zero."));
        return;
      }
      this._serial._sync();
      // A port whose device has gone: the driver cannot open it (which name Chrome gives is
      // unverified; NetworkError as for any failed open).
      if (this._gone || this._serial._held) {
        reject(domError('NetworkError', 'Failed to open serial port.'));
        return;
      }
      this._state = 'opening';
      const lines = this._backend.controlOut('class', 'interface', 0x22, 3, 0, new Uint8Array(0));
      const baud = Number(options.baudRate) >>> 0;
      const coding = new Uint8Array([baud & 0xff, (baud >> 8) & 0xff, (baud >> 16) & 0xff, baud >>> 24, 0, 0, 8]);
      const set = this._backend.controlOut('class', 'interface', 0x20, 0, 0, coding);
      if (lines.status === 'hang' || set.status === 'hang') {
        // A wedged device: the open never settles.
        return;
      }
      if (lines.status !== 'ok' || set.status !== 'ok') {
        this._state = 'closed';
        reject(domError('NetworkError', 'Failed to open serial port.'));
        return;
      }
      this._state = 'opened';
      this._serial.opened.push(baud);
      resolve(undefined);
    });
  }

  close() {
    return new Promise((resolve, reject) => {
      if (this._state !== 'opened') {
        reject(domError('InvalidStateError', 'The port is already closed.'));
        return;
      }
      this._state = 'closed';
      // Dropping DTR on a device that has already reset goes nowhere; closing still succeeds
      // (unverified in Chrome).
      this._serial._sync();
      if (!this._gone) this._backend.controlOut('class', 'interface', 0x22, 0, 0, new Uint8Array(0));
      resolve(undefined);
    });
  }

  forget() {
    this._serial._granted.delete(grantKey(this._backend));
    return Promise.resolve(undefined);
  }
}

// Grants are kept like WebUSB's, by (vendor id, product id, serial number) (unverified for Web
// Serial): the DFU personality has no serial port, and the runtime one is granted again after a
// reset.
function grantKey(backend) {
  return `${backend.vendorId}:${backend.productId}:${backend.serialNumber}`;
}

function matches(port, f) {
  const info = port.getInfo();
  if (f.usbVendorId !== undefined && f.usbVendorId !== info.usbVendorId) return false;
  if (f.usbProductId !== undefined && f.usbProductId !== info.usbProductId) return false;
  return true;
}

class FakeSerial extends EventTarget {
  constructor(backends, options) {
    super();
    this._backends = backends;
    this._options = options;
    this._ports = [];
    this._granted = new Set();
    this._refuseNext = false;
    this._held = Boolean(options.held);
    // Bit rates the page opened ports at, for tests.
    this.opened = [];
    this.onconnect = null;
    this.ondisconnect = null;
    this._sync();
  }

  requestPort(options) {
    return new Promise((resolve, reject) => {
      const filters = (options && options.filters) || [];
      for (const f of filters) {
        if (f.usbProductId !== undefined && f.usbVendorId === undefined) {
          reject(new TypeError("Failed to execute 'requestPort' on 'Serial': A filter containing a usbProductId must also specify a usbVendorId."));
          return;
        }
      }
      if (this._options.requireUserGesture && !(navigator.userActivation && navigator.userActivation.isActive)) {
        reject(domError('SecurityError', "Failed to execute 'requestPort' on 'Serial': Must be handling a user gesture to show a permission request."));
        return;
      }
      if (this._refuseNext) {
        this._refuseNext = false;
        reject(domError('NotFoundError', 'No port selected by the user.'));
        return;
      }
      this._sync();
      const port = this._ports.find((p) => !p._gone && (filters.length === 0 || filters.some((f) => matches(p, f))));
      if (!port) {
        // An empty chooser: all the user can do is close it.
        reject(domError('NotFoundError', 'No port selected by the user.'));
        return;
      }
      this._granted.add(grantKey(port._backend));
      resolve(port);
    });
  }

  getPorts() {
    this._sync();
    return Promise.resolve(this._ports.filter((p) => !p._gone && this._granted.has(grantKey(p._backend))));
  }

  // Follows each device along its clock: a port of an earlier enumeration is gone, and a device
  // running its firmware has a port.
  _sync() {
    for (const backend of this._backends) {
      const onBus = backend.hasFirmware ? backend.syncClock() : !backend.disconnected();
      for (const p of this._ports) {
        if (p._backend === backend && !p._gone && (p._enumeration !== backend.enumeration || !onBus)) {
          p._gone = true;
          p.connected = false;
          p._state = 'closed';
          if (this._granted.has(grantKey(backend))) this._fire('disconnect', p);
        }
      }
      const live = this._ports.some((p) => p._backend === backend && !p._gone);
      if (onBus && backend.mode === 'runtime' && !live) {
        const port = new FakeSerialPort(backend, this);
        this._ports.push(port);
        if (this._granted.has(grantKey(backend))) this._fire('connect', port);
      }
    }
  }

  _fire(type, port) {
    const event = new Event(type, { bubbles: true });
    const handler = type === 'connect' ? this.onconnect : this.ondisconnect;
    port.dispatchEvent(event);
    if (typeof handler === 'function') handler.call(this, event);
    this.dispatchEvent(new Event(type));
  }
}

/// Installs the stand-in as `navigator.serial` over these `SimUsbDevice`s (the same objects the
/// `navigator.usb` stand-in uses). Options: held (false: another program holds every port),
/// requireUserGesture (false).
export function installFakeSerial(backends, options) {
  const opts = Object.assign({ held: false, requireUserGesture: false }, options || {});
  current = new FakeSerial(Array.from(backends), opts);
  Object.defineProperty(navigator, 'serial', { value: current, configurable: true });
  return current;
}

/// Removes the stand-in; the browser's own `navigator.serial` (if any) is visible again.
export function uninstallFakeSerial() {
  delete navigator.serial;
  current = null;
}

/// The next `requestPort` rejects as if the user closed the chooser.
export function refuseNextPortRequest() {
  if (current) current._refuseNext = true;
}

/// Another program holds (true) or releases (false) the devices' serial ports.
export function holdSerialPorts(held) {
  if (current) current._held = Boolean(held);
}

/// The bit rates the page opened ports at so far.
export function openedBaudRates() {
  return current ? current.opened.slice() : [];
}
