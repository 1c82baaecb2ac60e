//! Planning the smallest repair from a diagnosis: pure logic, no I/O, shown to the user before any
//! byte is written.

use super::Backup;
use crate::device::{KeyAlgorithm, TransportKeys};
use crate::keys::DctReport;
use crate::keys::diagnose::{PrivateKeyStatus, ServerKeyStatus};
use serde::Serialize;

/// Which cloud the device should talk to after the repair.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ServerChoice {
    /// Particle's cloud: rewrite the server key and address only if they are not Particle's.
    #[default]
    Particle,
    /// A custom cloud: this exact server-key region (built by `keys::build_server_region`).
    Custom {
        region: Vec<u8>,
        description: String,
    },
}

/// What the user chose before planning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanOptions {
    /// Write a new key pair even if the current private key is valid.
    pub force_new_key: bool,
    pub server: ServerChoice,
    /// Repair the device now and send its public key later (signed out, or not allowed yet).
    pub send_later: bool,
}

/// What the cloud lookup said about sending keys for this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "access", rename_all = "snake_case")]
pub enum CloudAccess {
    /// Nobody is signed in ("diagnose only").
    SignedOut,
    /// The signed-in account can see the device; for a product device, the product id to send.
    Allowed { product_id: Option<u32> },
    /// The account may not manage this device.
    Denied { reason: String, hint: String },
    /// The cloud could not be asked (offline, rate limited, server error).
    Unavailable { reason: String, hint: String },
}

/// One thing the repair will do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Write the server public key and address region (as `particle keys server` builds it).
    WriteServerKey {
        alt: u8,
        address: u32,
        #[serde(skip)]
        bytes: Vec<u8>,
        reason: String,
    },
    /// Generate a new device key pair in the browser and write its private key.
    NewDeviceKey {
        algorithm: KeyAlgorithm,
        alt: u8,
        address: u32,
        slot_len: u32,
        reason: String,
    },
    /// Send the public key of the key read back from the device to the cloud (with the product id
    /// for a product device).
    SendPublicKey {
        product_id: Option<u32>,
        reason: String,
    },
}

impl Action {
    /// A one-line description for the plan shown before acting.
    pub fn describe(&self) -> String {
        match self {
            Self::WriteServerKey { reason, .. } => format!("Write the cloud server key: {reason}"),
            Self::NewDeviceKey { reason, .. } => format!("Write a new device key: {reason}"),
            Self::SendPublicKey { reason, .. } => {
                format!("Send the device's public key to the cloud: {reason}")
            }
        }
    }
}

/// Why the plan cannot run as chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "blocked", rename_all = "snake_case")]
pub enum PlanBlock {
    /// The key must go to the cloud and the cloud said no (or nobody is signed in).
    CloudNeeded { reason: String },
    /// The diagnosis did not cover the key slots.
    NotDiagnosed,
}

/// The smallest repair, shown before acting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub blocked: Option<PlanBlock>,
    /// Things the user should know that are not actions (a key to send later, say).
    pub notes: Vec<String>,
}

impl Plan {
    pub fn writes_device(&self) -> bool {
        self.actions
            .iter()
            .any(|a| !matches!(a, Action::SendPublicKey { .. }))
    }

    /// `Some(product_id)` when the plan sends the public key.
    pub fn send_action(&self) -> Option<Option<u32>> {
        self.actions.iter().find_map(|a| match a {
            Action::SendPublicKey { product_id, .. } => Some(*product_id),
            _ => None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Whether Repair can carry it out: something to do, and nothing in the way.
    pub fn can_run(&self) -> bool {
        self.blocked.is_none() && !self.is_empty()
    }
}

/// Plans the smallest repair for `report`, given what the cloud allows and what the user chose.
///
/// - a blank, corrupt or foreign server key or address: write Particle's (or the chosen custom)
///   server-key region;
/// - a blank, corrupt or unusable private key (or `force_new_key`): a new key pair;
/// - a valid private key: only send its public key again;
/// - sending needs cloud access, unless the user chose to send later.
pub fn plan(
    report: &DctReport,
    keys: &TransportKeys,
    backup: &Backup,
    access: &CloudAccess,
    options: &PlanOptions,
) -> Plan {
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    let server = keys.server_key;

    let server_write = match &options.server {
        ServerChoice::Particle => particle_server_problem(report).map(|reason| {
            (
                keys.default_server_region.to_vec(),
                format!("{reason}; writing Particle's cloud key and address"),
            )
        }),
        // A region made for the other transport (a test cloud's TCP region on a UDP device, say)
        // would run past the slot into what follows it: it is left out, and the plan says so.
        ServerChoice::Custom {
            region,
            description,
        } if region.len() != server.size as usize => {
            notes.push(format!(
                "The server key is left as it is: {description} is a {}-byte region, and this \
                 device's server-key slot holds {} bytes (another transport's keys).",
                region.len(),
                server.size
            ));
            None
        }
        ServerChoice::Custom {
            region,
            description,
        } => {
            let current = backup.bytes_at(server.alt, server.offset, region.len());
            (current != Some(region.as_slice()))
                .then(|| (region.clone(), format!("switching to {description}")))
        }
    };
    if let Some((bytes, reason)) = server_write {
        actions.push(Action::WriteServerKey {
            alt: server.alt,
            address: server.offset,
            bytes,
            reason,
        });
    }

    let slot = keys.private_key;
    let new_key_reason = match &report.private_key {
        PrivateKeyStatus::NotRead => {
            return Plan {
                actions: Vec::new(),
                blocked: Some(PlanBlock::NotDiagnosed),
                notes,
            };
        }
        PrivateKeyStatus::Valid { .. } if options.force_new_key => {
            Some("a new key pair was asked for".to_owned())
        }
        PrivateKeyStatus::Valid { .. } => None,
        PrivateKeyStatus::Blank => Some("the private key slot is blank".to_owned()),
        PrivateKeyStatus::Corrupt { reason } => {
            Some(format!("the private key is corrupt ({reason})"))
        }
        PrivateKeyStatus::Unusable { reason } => Some(format!(
            "the firmware cannot use the private key ({reason})"
        )),
    };
    let send_reason = match &new_key_reason {
        Some(_) => "the cloud must know the new key",
        None => "the key on the device is valid; the cloud may have lost it",
    };
    if let Some(reason) = new_key_reason {
        actions.push(Action::NewDeviceKey {
            algorithm: slot.algorithm,
            alt: slot.alt,
            address: slot.offset,
            slot_len: slot.read_len,
            reason,
        });
    }

    let mut blocked = None;
    match access {
        // Asked for, signed in or not: the key is sent later, from the device (issue 13, 7).
        _ if options.send_later => notes.push(
            "The public key is not sent now: sign in and press \"Send key\" later; the page reads \
             it back from the device, so nothing is lost."
                .to_owned(),
        ),
        CloudAccess::Allowed { product_id } => actions.push(Action::SendPublicKey {
            product_id: *product_id,
            reason: send_reason.to_owned(),
        }),
        CloudAccess::SignedOut => {
            blocked = Some(PlanBlock::CloudNeeded {
                reason: "nobody is signed in".to_owned(),
            })
        }
        CloudAccess::Denied { reason, .. } | CloudAccess::Unavailable { reason, .. } => {
            blocked = Some(PlanBlock::CloudNeeded {
                reason: reason.clone(),
            })
        }
    }
    Plan {
        actions,
        blocked,
        notes,
    }
}

/// Why the server key or address is not Particle's, or `None` if both are.
fn particle_server_problem(report: &DctReport) -> Option<String> {
    let key = match &report.server_key {
        ServerKeyStatus::ParticleProduction => None,
        ServerKeyStatus::Blank => Some("the server key is blank".to_owned()),
        ServerKeyStatus::Custom { .. } => Some("the server key is not Particle's".to_owned()),
        ServerKeyStatus::Corrupt { reason } => {
            Some(format!("the server key is corrupt ({reason})"))
        }
        ServerKeyStatus::NotRead => Some("the server key was not read".to_owned()),
    };
    let address = match &report.server_address {
        Some(a) if a.is_particle_default && !a.fallback => None,
        Some(a) if a.fallback => Some("the server address is blank".to_owned()),
        Some(a) => Some(format!("the server address is {}:{}", a.host, a.port)),
        None => Some("the server address was not read".to_owned()),
    };
    match (key, address) {
        (None, None) => None,
        (Some(k), None) => Some(k),
        (None, Some(a)) => Some(a),
        (Some(k), Some(a)) => Some(format!("{k} and {}", a.replacen("the ", "", 1))),
    }
}
