//! A simulated Particle cloud with the contract of cloud-api.md: accounts, devices, public keys.

use std::collections::BTreeMap;

/// A device as the simulated cloud knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCloudDevice {
    /// 24 lowercase hex characters.
    pub id: String,
    pub owner: String,
    pub platform_id: u16,
    pub online: bool,
    /// The device public key the cloud holds, as SPKI PEM.
    pub public_key_pem: Option<String>,
}

/// The cloud's state; requests are served in-process or over loopback HTTP.
#[derive(Debug, Clone, Default)]
pub struct SimCloud {
    devices: BTreeMap<String, SimCloudDevice>,
}

impl SimCloud {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a device; ids are stored lower-case like the CLI sends them.
    pub fn add_device(&mut self, mut device: SimCloudDevice) {
        device.id = device.id.to_ascii_lowercase();
        self.devices.insert(device.id.clone(), device);
    }

    /// Looks a device up by id, case-insensitively.
    pub fn device(&self, id: &str) -> Option<&SimCloudDevice> {
        self.devices.get(&id.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_case_insensitive() {
        let mut cloud = SimCloud::new();
        cloud.add_device(SimCloudDevice {
            id: "0123456789ABCDEF01234567".into(),
            owner: "maker@example.com".into(),
            platform_id: 6,
            online: false,
            public_key_pem: None,
        });
        assert_eq!(
            cloud.device("0123456789abcdef01234567").unwrap().owner,
            "maker@example.com"
        );
        assert!(cloud.device("ffffffffffffffffffffffff").is_none());
    }
}
