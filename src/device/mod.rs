//! Particle platforms: ids, USB ids and which DFU alternate settings hold what.
//!
//! Pure data and lookups; imports nothing from the browser. Facts: shared/reference/particle-dct.md, 1.

use serde::Serialize;

/// Particle's USB vendor id for Photon and later devices; the Core uses the OpenMoko id 0x1d50.
pub const PARTICLE_VID: u16 = 0x2b04;
pub const CORE_VID: u16 = 0x1d50;

/// A device family the page knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Platform {
    Core,
    Photon,
    P1,
    Electron,
    Argon,
    Boron,
}

/// Static facts about a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformInfo {
    pub platform: Platform,
    pub name: &'static str,
    /// Particle's numeric platform id (`platform_id` in the cloud API).
    pub id: u16,
    pub vendor_id: u16,
    /// USB product id in DFU mode.
    pub dfu_product_id: u16,
    /// USB product id when running firmware (the page asks the user to enter DFU mode).
    pub runtime_product_id: u16,
}

pub const PLATFORMS: [PlatformInfo; 6] = [
    info(Platform::Core, "Core", 0, CORE_VID, 0x607f, 0x607d),
    info(Platform::Photon, "Photon", 6, PARTICLE_VID, 0xd006, 0xc006),
    info(Platform::P1, "P1", 8, PARTICLE_VID, 0xd008, 0xc008),
    info(
        Platform::Electron,
        "Electron",
        10,
        PARTICLE_VID,
        0xd00a,
        0xc00a,
    ),
    info(Platform::Argon, "Argon", 12, PARTICLE_VID, 0xd00c, 0xc00c),
    info(Platform::Boron, "Boron", 13, PARTICLE_VID, 0xd00d, 0xc00d),
];

const fn info(
    platform: Platform,
    name: &'static str,
    id: u16,
    vendor_id: u16,
    dfu_product_id: u16,
    runtime_product_id: u16,
) -> PlatformInfo {
    PlatformInfo {
        platform,
        name,
        id,
        vendor_id,
        dfu_product_id,
        runtime_product_id,
    }
}

/// Which mode a connected USB device is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum UsbMode {
    Dfu,
    Runtime,
}

impl Platform {
    pub fn info(self) -> &'static PlatformInfo {
        PLATFORMS
            .iter()
            .find(|p| p.platform == self)
            .expect("every platform is in the table")
    }

    /// Identifies a device from its USB ids, in either mode; `None` for a non-Particle device.
    pub fn from_usb_ids(vendor_id: u16, product_id: u16) -> Option<(Self, UsbMode)> {
        PLATFORMS.iter().find_map(|p| {
            if p.vendor_id != vendor_id {
                None
            } else if p.dfu_product_id == product_id {
                Some((p.platform, UsbMode::Dfu))
            } else if p.runtime_product_id == product_id {
                Some((p.platform, UsbMode::Runtime))
            } else {
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photon_is_found_in_both_modes() {
        assert_eq!(
            Platform::from_usb_ids(0x2b04, 0xd006),
            Some((Platform::Photon, UsbMode::Dfu))
        );
        assert_eq!(
            Platform::from_usb_ids(0x2b04, 0xc006),
            Some((Platform::Photon, UsbMode::Runtime))
        );
        assert_eq!(
            Platform::from_usb_ids(0x1d50, 0x607f),
            Some((Platform::Core, UsbMode::Dfu))
        );
    }

    #[test]
    fn foreign_devices_are_not_recognised() {
        // An ST DfuSe bootloader, and a Particle product id under the wrong vendor.
        assert_eq!(Platform::from_usb_ids(0x0483, 0xdf11), None);
        assert_eq!(Platform::from_usb_ids(0x1d50, 0xd006), None);
    }

    #[test]
    fn usb_ids_are_unique() {
        let mut ids: Vec<(u16, u16)> = PLATFORMS
            .iter()
            .flat_map(|p| {
                [
                    (p.vendor_id, p.dfu_product_id),
                    (p.vendor_id, p.runtime_product_id),
                ]
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PLATFORMS.len() * 2);
    }
}
