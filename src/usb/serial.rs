//! The device's USB serial port (CDC), as far as the page needs it: pick it, open it at a baud
//! rate, close it. Opening it at [`DFU_BAUD_RATE`] is the way into DFU mode for firmware that has
//! no control requests (runtime-usb.md, 4).
//!
//! Plain Rust like the [`super::Transport`] trait: the Web Serial adapter (`webusb.rs`, wasm32
//! only) and the simulated port (`crate::sim::serial`) implement it.

use thiserror::Error;

/// The bit rate whose SET_LINE_CODING makes the firmware call `System.dfu(false)`:
/// `START_DFU_FLASHER_SERIAL_SPEED=14400` (`build/module-defaults.mk`), checked by
/// `system_lineCodingBitRateHandler` (`system/src/system_update.cpp`, Device OS v2.3.1), which the
/// USB HAL calls on every SET_LINE_CODING (`HAL_USB_USART_Request_Handler`,
/// `hal/src/stm32f2xx/usb_hal.c`).
pub const DFU_BAUD_RATE: u32 = 14_400;

/// The deadline of opening or closing a serial port: both talk to the device (the host sends
/// SET_LINE_CODING and SET_CONTROL_LINE_STATE), so each gets the ordinary control-transfer
/// deadline. The chooser waits for the user and has none.
pub const SERIAL_DEADLINE_MS: u32 = super::CONTROL_DEADLINE_MS;

/// What went wrong with the serial port.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SerialError {
    /// The user closed the serial-port chooser without picking a port, or refused permission.
    #[error("no serial port was selected")]
    Refused,
    /// Another program (a serial monitor, the Particle CLI, another tab) has the port open.
    #[error("the device's serial port is held by another program")]
    Held,
    /// The picked port is not the device's: another vendor or product id.
    #[error(
        "the picked serial port is not the device's (USB ids {vendor_id:04x}:{product_id:04x})"
    )]
    NotTheDevice { vendor_id: u16, product_id: u16 },
    /// Opening or closing did not finish within [`SERIAL_DEADLINE_MS`].
    #[error("the serial port did not answer in time")]
    Timeout,
    /// The device left the bus while the port was in use.
    #[error("the device's serial port disappeared")]
    Disconnected,
    /// The browser refused serial access here (a permissions policy, no user gesture).
    #[error("the browser blocked access to serial ports on this page: {message}")]
    Blocked { message: String },
    /// This browser has no Web Serial (`navigator.serial` is missing).
    #[error("this browser cannot open serial ports")]
    Unsupported,
    /// Any other browser or driver error, with the name and message it gave.
    #[error("serial port error {name}: {message}")]
    Other { name: String, message: String },
}

impl SerialError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Refused => {
                "Press the button again and pick the device's serial port, or use the buttons \
                 to put it in DFU mode."
            }
            Self::Held => {
                "Close serial monitors, the Particle CLI and other tabs that use the device's \
                 serial port, then try again."
            }
            Self::NotTheDevice { .. } => {
                "Pick the port of the Particle device connected to this page, then try again."
            }
            Self::Timeout | Self::Disconnected | Self::Other { .. } => {
                "Unplug the device, plug it in again and retry, or use the buttons to put it \
                 in DFU mode."
            }
            Self::Blocked { .. } => {
                "Press the button again; if this page is embedded in another site, open Key \
                 Rescue in its own tab."
            }
            Self::Unsupported => "Use the buttons to put the device in DFU mode.",
        }
    }
}

/// A device's serial port. Not `Send`, like the browser futures behind it.
#[allow(async_fn_in_trait)]
pub trait SerialPort {
    /// Asks for the serial port of the USB device `vendor_id:product_id` (the browser shows its
    /// chooser: call it from a user gesture). A port of another device is
    /// [`SerialError::NotTheDevice`].
    async fn request(&mut self, vendor_id: u16, product_id: u16) -> Result<(), SerialError>;
    /// Opens the requested port at `baud_rate`: the host sets the line coding (SET_LINE_CODING).
    async fn open(&mut self, baud_rate: u32) -> Result<(), SerialError>;
    /// Closes the port.
    async fn close(&mut self) -> Result<(), SerialError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_sentence_and_a_hint() {
        let all = [
            SerialError::Refused,
            SerialError::Held,
            SerialError::NotTheDevice {
                vendor_id: 0x2341,
                product_id: 0x0043,
            },
            SerialError::Timeout,
            SerialError::Disconnected,
            SerialError::Blocked {
                message: "policy".into(),
            },
            SerialError::Unsupported,
            SerialError::Other {
                name: "X".into(),
                message: "y".into(),
            },
        ];
        for e in all {
            let text = e.to_string();
            assert!(
                text.starts_with(char::is_lowercase) && !text.ends_with('.'),
                "{text}"
            );
            assert!(e.hint().ends_with('.'), "{e:?}");
        }
        assert!(
            SerialError::NotTheDevice {
                vendor_id: 0x2341,
                product_id: 0x43
            }
            .to_string()
            .contains("2341:0043")
        );
    }
}
