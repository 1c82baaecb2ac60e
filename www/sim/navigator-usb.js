// A `navigator.usb` stand-in backed by simulated devices (webusb.md, 9).
//
// The wasm side exports `SimUsbDevice` (src/sim/device/js.rs), which answers control transfers
// synchronously. This module wraps each one in an object shaped like Chrome's USBDevice, enforces
// Chrome's preconditions and errors, returns real Promises, copies OUT data synchronously, and fires
// `disconnect` after a DFU leave. Because web-sys bindings are structural, the Rust WebUSB transport
// runs unchanged against it, in the page's simulated mode and in headless browser tests.
//
// Install from Rust with `key_rescue::sim::device::js::install_simulated_usb`, or from JavaScript:
//   import { installFakeUsb } from './navigator-usb.js';
//   installFakeUsb([new SimUsbDevice('photon', {})], { resetDelayMs: 500 });
// More devices can be plugged in later (`plugDevice`), and a test can say which listed device the
// user picks in the next chooser (`chooseNextDevice`).

let current = null;

const REQUEST_TYPES = ['standard', 'class', 'vendor'];
const RECIPIENTS = ['device', 'interface', 'endpoint', 'other'];

function domError(name, message) {
  return new DOMException(message, name);
}

function disconnectedError() {
  return domError('NotFoundError', 'The device was disconnected.');
}

class FakeUsbDevice {
  constructor(backend, usb, options) {
    this._backend = backend;
    this._usb = usb;
    this._options = options;
    this._gone = false;
    this._leaveSeen = false;
    this.opened = false;
    this.vendorId = backend.vendorId;
    this.productId = backend.productId;
    this.serialNumber = backend.serialNumber;
    this.productName = backend.productName;
    this.manufacturerName = backend.manufacturerName;
    this.usbVersionMajor = 2;
    this.usbVersionMinor = 0;
    this.usbVersionSubminor = 0;
    this.deviceClass = 0;
    this.deviceSubclass = 0;
    this.deviceProtocol = 0;
    this.deviceVersionMajor = 2;
    this.deviceVersionMinor = 5;
    this.deviceVersionSubminor = 0;
    // One USBDevice per enumeration: after the hardware resets (into DFU mode, back into its
    // firmware) this object is gone and the new personality is a new USBDevice (see FakeUsb._sync).
    this._enumeration = backend.enumeration;
    this._mode = backend.mode;
    const names = backend.alternateNames();
    const alternates = names.map((name, i) => ({
      alternateSetting: i,
      interfaceClass: 0xfe,
      interfaceSubclass: 1,
      interfaceProtocol: 2,
      interfaceName: options.hideInterfaceNames || name === '' ? null : name,
      endpoints: [],
    }));
    this._interface = {
      interfaceNumber: 0,
      claimed: false,
      alternate: alternates[0],
      alternates,
    };
    if (this._mode === 'runtime') {
      // Normal mode: a CDC serial port (communication interface 0, data interface 1). The exact
      // composite layout of Device OS's runtime descriptors is not modelled (unverified); control
      // requests go to the device and need no interface.
      this._interface = {
        interfaceNumber: 0,
        claimed: false,
        alternate: { alternateSetting: 0, interfaceClass: 2, interfaceSubclass: 2, interfaceProtocol: 1, interfaceName: null, endpoints: [] },
        alternates: [],
      };
      this._interface.alternates = [this._interface.alternate];
    }
    this.configurations = [
      { configurationValue: 1, configurationName: null, interfaces: [this._interface] },
    ];
    // Chrome builds the USBDevice with the configuration the operating system already selected
    // (sysfs bConfigurationValue on Linux; usb_device.cc, constructor: active_configuration), so
    // a configured device has `configuration` set before the page calls anything (webusb.md 9.4).
    // Particle's host (particle-usb) never calls selectConfiguration and relies on this.
    this.configuration = this.configurations[0];
  }

  // Runs `body` as a Promise after the common checks, in Chrome's order: the setup dictionary's
  // enums (`needs.enums`), the device still there, then opened (`needs.opened`).
  _call(needs, body) {
    return new Promise((resolve, reject) => {
      try {
        this._usb._sync();
        if ('enums' in needs) this._checkEnums(needs.enums);
        if (this._gone) throw disconnectedError();
        if (needs.opened && !this.opened) {
          throw domError('InvalidStateError', 'The device must be opened first.');
        }
        resolve(body());
      } catch (e) {
        reject(e);
      }
    });
  }

  // Chrome's EnsureDeviceConfigured (usb_device.cc): opened, then a configuration selected.
  _ensureConfigured() {
    if (!this.opened) throw domError('InvalidStateError', 'The device must be opened first.');
    if (this.configuration === null) {
      throw domError('InvalidStateError', 'The device must have a configuration selected.');
    }
  }

  // Chrome's EnsureInterfaceClaimed: configured, an interface of the current configuration, claimed.
  _ensureClaimed(number) {
    this._ensureConfigured();
    if (number !== this._interface.interfaceNumber) {
      throw domError('NotFoundError', 'The interface number provided is not supported by the device in its current configuration.');
    }
    if (!this._interface.claimed) {
      throw domError('InvalidStateError', 'The specified interface has not been claimed.');
    }
  }

  // The binding's dictionary conversion: a bad enum value is a TypeError before anything else.
  _checkEnums(setup) {
    if (!setup || !REQUEST_TYPES.includes(setup.requestType)) {
      throw new TypeError(`The provided value '${setup && setup.requestType}' is not a valid enum value of type USBRequestType.`);
    }
    if (!RECIPIENTS.includes(setup.recipient)) {
      throw new TypeError(`The provided value '${setup.recipient}' is not a valid enum value of type USBRecipient.`);
    }
  }

  // Chrome's ConvertControlTransferParameters (usb_device.cc), run after the open() check:
  // recipient 'device' and 'other' need nothing more; 'interface' needs a configuration and the
  // interface (index & 0xff) claimed; 'endpoint' needs a configuration and endpoint index & 0x0f
  // (1 to 15) in a claimed, selected alternate. The DFU interface has no endpoints besides 0.
  _checkRecipient(setup) {
    if (setup.recipient === 'interface') {
      this._ensureClaimed(setup.index & 0xff);
    } else if (setup.recipient === 'endpoint') {
      this._ensureConfigured();
      if ((setup.index & 0x0f) === 0) {
        throw domError('IndexSizeError', 'The specified endpoint number is out of range.');
      }
      throw domError('NotFoundError', 'The specified endpoint is not part of a claimed and selected alternate interface.');
    }
  }

  // Turns a backend outcome into a resolved result or a thrown DOMException, and notices a leave.
  _finish(result, kind) {
    this._watchLeave();
    switch (result.status) {
      case 'ok':
        if (kind === 'in') {
          const bytes = result.data || new Uint8Array(0);
          return { status: 'ok', data: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
        }
        return { status: 'ok', bytesWritten: result.bytesWritten };
      case 'stall':
        if (this._options.windowsStalls) {
          throw domError('NetworkError', 'A transfer error has occurred.');
        }
        return kind === 'in' ? { status: 'stall', data: null } : { status: 'stall', bytesWritten: 0 };
      case 'disconnected':
        this._markGone(0);
        throw disconnectedError();
      case 'hang':
        // A wedged device: Chrome's promise never settles (WebUSB has no transfer timeout).
        return new Promise(() => {});
      default:
        throw domError('NetworkError', 'A transfer error has occurred.');
    }
  }

  // After a leave the bootloader resets about 500 ms later: the device drops off the bus.
  _watchLeave() {
    if (!this._leaveSeen && this._backend.leftDfu()) {
      this._leaveSeen = true;
      this._markGone(this._options.resetDelayMs);
    }
  }

  _markGone(delayMs) {
    if (this._goneScheduled) return;
    this._goneScheduled = true;
    setTimeout(() => {
      this._gone = true;
      this.opened = false;
      this._interface.claimed = false;
      this._usb._deviceGone(this);
    }, delayMs);
  }

  open() {
    return this._call({}, () => {
      const r = this._backend.open();
      if (r === 'access-denied') throw domError('SecurityError', 'Access denied.');
      if (r === 'disconnected') throw disconnectedError();
      this.opened = true;
    });
  }

  close() {
    return this._call({}, () => {
      // Closing releases every interface and forgets the selected alternates; the configuration
      // stays (usb_device.cc OnDeviceOpenedOrClosed).
      this.opened = false;
      this._interface.claimed = false;
      this._interface.alternate = this._interface.alternates[0];
    });
  }

  selectConfiguration(value) {
    return this._call({ opened: true }, () => {
      if (value !== 1) throw domError('NotFoundError', 'The configuration value provided is not supported by the device.');
      // Selecting the current configuration resolves without a request to the device.
      if (this.configuration !== null) return;
      this.configuration = this.configurations[0];
    });
  }

  claimInterface(number) {
    return this._call({}, () => {
      this._ensureConfigured();
      if (number !== this._interface.interfaceNumber) {
        throw domError('NotFoundError', 'The interface number provided is not supported by the device in its current configuration.');
      }
      const r = this._backend.claim(number);
      if (r === 'claim-refused') throw domError('NetworkError', 'Unable to claim interface.');
      if (r === 'disconnected') throw disconnectedError();
      this._interface.claimed = true;
    });
  }

  releaseInterface(number) {
    return this._call({}, () => {
      this._ensureConfigured();
      if (number !== this._interface.interfaceNumber) {
        throw domError('NotFoundError', 'The interface number provided is not supported by the device in its current configuration.');
      }
      this._interface.claimed = false;
      this._interface.alternate = this._interface.alternates[0];
    });
  }

  selectAlternateInterface(number, alternate) {
    return this._call({}, () => {
      this._ensureClaimed(number);
      const alt = this._interface.alternates.find((a) => a.alternateSetting === alternate);
      if (!alt) {
        throw domError('NotFoundError', 'The alternate setting provided is not supported by the device in its current configuration.');
      }
      // Chrome sends SET_INTERFACE to the device.
      const r = this._backend.controlOut('standard', 'interface', 11, alternate, number, new Uint8Array(0));
      if (r.status === 'disconnected') {
        this._markGone(0);
        throw disconnectedError();
      }
      if (r.status === 'hang') return new Promise(() => {});
      if (r.status !== 'ok') throw domError('NetworkError', 'Unable to set device interface.');
      this._interface.alternate = alt;
    });
  }

  controlTransferIn(setup, length) {
    return this._call({ enums: setup, opened: true }, () => {
      this._checkRecipient(setup);
      const r = this._backend.controlIn(setup.requestType, setup.recipient, setup.request, setup.value, setup.index, length);
      return this._finish(r, 'in');
    });
  }

  controlTransferOut(setup, data) {
    // Copy the OUT data now, before anything asynchronous: `data` may be a view into wasm memory.
    let bytes = new Uint8Array(0);
    if (data !== undefined && data !== null) {
      bytes = ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
        : new Uint8Array(data.slice(0));
    }
    return this._call({ enums: setup, opened: true }, () => {
      this._checkRecipient(setup);
      const r = this._backend.controlOut(setup.requestType, setup.recipient, setup.request, setup.value, setup.index, bytes);
      return this._finish(r, 'out');
    });
  }

  reset() {
    return this._call({ opened: true }, () => {});
  }

  forget() {
    return this._call({}, () => {
      this._usb._granted.delete(grantKey(this));
    });
  }
}

// Chrome keeps a grant for a device with a serial number by (vendor id, product id, serial number)
// (UsbChooserContext; webusb.md 5), so the same personality found again after a reset is still
// granted, while the other personality (another product id) needs its own requestDevice.
function grantKey(device) {
  return `${device.vendorId}:${device.productId}:${device.serialNumber}`;
}

function matchesFilter(device, f) {
  if (f.vendorId !== undefined && f.vendorId !== device.vendorId) return false;
  if (f.productId !== undefined && f.productId !== device.productId) return false;
  if (f.serialNumber !== undefined && f.serialNumber !== device.serialNumber) return false;
  if (f.classCode !== undefined && f.classCode !== 0xfe) return false;
  return true;
}

class FakeUsb extends EventTarget {
  constructor(backends, options) {
    super();
    this._options = options;
    this._backends = backends;
    this._devices = backends.map((b) => new FakeUsbDevice(b, this, options));
    this._granted = new Set();
    // Devices with firmware reset on their own clock (request 50, 14400 baud): watch them, as the
    // browser watches the bus, so `disconnect` fires even when no transfer is in flight.
    this._timer = backends.some((b) => b.hasFirmware) ? setInterval(() => this._sync(), 50) : null;
    this._cancelNext = false;
    this._pickNext = null;
    this.onconnect = null;
    this.ondisconnect = null;
  }

  requestDevice(options) {
    return new Promise((resolve, reject) => {
      if (!options || !Array.isArray(options.filters)) {
        reject(new TypeError("Failed to execute 'requestDevice' on 'USB': required member filters is undefined."));
        return;
      }
      for (const f of options.filters) {
        if (f.productId !== undefined && f.vendorId === undefined) {
          reject(new TypeError("Failed to execute 'requestDevice' on 'USB': A filter containing a productId must also contain a vendorId."));
          return;
        }
      }
      if (this._options.requireUserGesture && !(navigator.userActivation && navigator.userActivation.isActive)) {
        reject(domError('SecurityError', "Failed to execute 'requestDevice' on 'USB': Must be handling a user gesture to show a permission request."));
        return;
      }
      if (this._cancelNext) {
        this._cancelNext = false;
        reject(domError('NotFoundError', 'No device selected.'));
        return;
      }
      this._sync();
      // The chooser's list: every device on the bus that a filter matches, granted or not.
      const listed = this._devices.filter(
        (d) => !d._gone && (options.filters.length === 0 || options.filters.some((f) => matchesFilter(d, f))),
      );
      // The user picks the device chooseNextDevice named (a device the chooser does not list cannot
      // be picked: the chooser is closed), or else the first one listed.
      const pick = this._pickNext;
      this._pickNext = null;
      const device = pick === null ? listed[0] : listed.find((d) => d.serialNumber === pick);
      if (!device) {
        reject(domError('NotFoundError', 'No device selected.'));
        return;
      }
      this._granted.add(grantKey(device));
      resolve(device);
    });
  }

  getDevices() {
    this._sync();
    return Promise.resolve(this._devices.filter((d) => !d._gone && this._granted.has(grantKey(d))));
  }

  // Follows each device with firmware along its clock: a USBDevice of an earlier enumeration is
  // gone (`disconnect` for a granted one), and the personality now on the bus gets a new USBDevice,
  // listed by requestDevice but not by getDevices until granted.
  _sync() {
    this._backends.forEach((backend) => {
      if (!backend.hasFirmware) return;
      const onBus = backend.syncClock();
      const enumeration = backend.enumeration;
      for (const d of this._devices) {
        if (d._backend === backend && !d._gone && (d._enumeration !== enumeration || !onBus)) {
          d._gone = true;
          d._goneScheduled = true;
          d.opened = false;
          d._interface.claimed = false;
          if (this._granted.has(grantKey(d))) this._deviceGone(d);
        }
      }
      const live = this._devices.some((d) => d._backend === backend && !d._gone);
      if (onBus && !live) {
        const device = new FakeUsbDevice(backend, this, this._options);
        this._devices.push(device);
        if (this._granted.has(grantKey(device))) this._deviceConnected(device);
      }
    });
  }

  // Another device plugged in (a second Photon beside the first): a new USBDevice, listed by
  // requestDevice but not by getDevices until granted; `connect` fires only for a granted one, as
  // Chrome tells a page only about devices it may use.
  _plug(backend) {
    this._backends.push(backend);
    if (backend.hasFirmware && this._timer === null) this._timer = setInterval(() => this._sync(), 50);
    const device = new FakeUsbDevice(backend, this, this._options);
    this._devices.push(device);
    if (this._granted.has(grantKey(device))) this._deviceConnected(device);
    return device;
  }

  _deviceConnected(device) {
    const event = new Event('connect');
    Object.defineProperty(event, 'device', { value: device });
    if (typeof this.onconnect === 'function') this.onconnect(event);
    this.dispatchEvent(event);
  }

  _deviceGone(device) {
    const event = new Event('disconnect');
    Object.defineProperty(event, 'device', { value: device });
    if (typeof this.ondisconnect === 'function') this.ondisconnect(event);
    this.dispatchEvent(event);
  }
}

/// Installs the stand-in as `navigator.usb`, with one fake USBDevice per backend.
/// Options: resetDelayMs (500), windowsStalls (false), hideInterfaceNames (false),
/// requireUserGesture (false).
export function installFakeUsb(backends, options) {
  const opts = Object.assign(
    { resetDelayMs: 500, windowsStalls: false, hideInterfaceNames: false, requireUserGesture: false },
    options || {},
  );
  current = new FakeUsb(Array.from(backends), opts);
  Object.defineProperty(navigator, 'usb', { value: current, configurable: true });
  return current;
}

/// Removes the stand-in; the browser's own `navigator.usb` (if any) is visible again.
export function uninstallFakeUsb() {
  if (current && current._timer !== null) clearInterval(current._timer);
  delete navigator.usb;
  current = null;
}

/// The next `requestDevice` rejects as if the user closed the chooser.
export function cancelNextRequest() {
  if (current) current._cancelNext = true;
}

/// Plugs another device (a `SimUsbDevice`) into the installed stand-in, beside those it was
/// installed with; it shares nothing with them. Returns its USBDevice.
export function plugDevice(backend) {
  if (!current) throw new Error('the navigator.usb stand-in is not installed');
  return current._plug(backend);
}

/// In the next `requestDevice` the user picks the listed device with this serial number (the
/// device ID), as a user with several devices does in Chrome's chooser; when the chooser does not
/// list it, the user closes the chooser ("No device selected."). Without it the first listed
/// device is picked.
export function chooseNextDevice(serialNumber) {
  if (current) current._pickNext = serialNumber;
}
