//! Support links: the query string a support person sends, parsed and checked before the page
//! uses any of it.
//!
//! `device=<24 hex>` names the device the link is for (the doctor refuses another one),
//! `product=<number or slug>` the product it belongs to (the doctor then looks it up through the
//! product, as Particle's clients do for a product device),
//! `sim=photon` starts the simulated mode (`sim=core`: with a simulated Core instead, whose DFU
//! bootloader does not report its device ID), `fault=<name>` picks a simulated problem and
//! `api=<loopback base>` points the page at a local test cloud (only loopback or Particle's own API
//! pass `ApiBase::parse`, so a crafted link cannot send a password elsewhere). Anything malformed is
//! a typed error the page shows; nothing is silently ignored except unknown parameter names. Pure:
//! no browser imports; the fault names are passed in so this module does not depend on `sim`.

use crate::cloud::{ApiBase, ApiBaseError, ProductRef, form_decode};
use thiserror::Error;

/// The simulated platforms a link may start: the Photon (the page's own "Try with a simulated
/// Photon"), and the Core, whose DFU serial number is not its device ID.
pub const SIM_PLATFORMS: [&str; 3] = ["photon", "core", "electron"];

/// What a support link asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SupportLink {
    /// The device the link was made for: 24 lower-case hex characters.
    pub expected_device: Option<String>,
    /// The product the device belongs to, when the link names one.
    pub product: Option<ProductRef>,
    /// The simulated platform (`photon` or `core`), when the link starts the simulated mode.
    pub sim: Option<&'static str>,
    /// A fault name from the simulated catalogue (only with `sim`).
    pub fault: Option<&'static str>,
    /// A loopback test cloud instead of Particle's.
    pub api: Option<ApiBase>,
}

impl SupportLink {
    /// Whether the cloud in use is not Particle's production API.
    pub fn uses_test_cloud(&self) -> bool {
        self.sim.is_some() || self.api.as_ref().is_some_and(|a| !a.is_production())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LinkError {
    #[error("the link's device ID {0:?} is not 24 hexadecimal characters")]
    BadDeviceId(String),
    #[error("the link's product {0:?} is not a product number or slug")]
    BadProduct(String),
    #[error("the link asks for a simulated {0:?}, which this page does not offer")]
    UnknownSimulation(String),
    #[error("the link asks for the simulated problem {0:?}, which this page does not know")]
    UnknownFault(String),
    #[error("the link names a simulated problem but does not start the simulated mode")]
    FaultWithoutSimulation,
    #[error("the link gives {0} more than once")]
    Repeated(&'static str),
    #[error(transparent)]
    Api(#[from] ApiBaseError),
}

impl LinkError {
    pub fn hint(&self) -> String {
        match self {
            Self::BadDeviceId(_) => "Check the link: a device ID looks like \
                 0123456789abcdef01234567 (the console and `particle identify` show it). The page \
                 works without it too."
                .into(),
            Self::BadProduct(_) => "Check the link: a product is its number (12345) or its slug \
                 (my-product-v1), as the console shows them. The page works without it too."
                .into(),
            Self::UnknownSimulation(_) => {
                "Use sim=photon (or sim=core, sim=electron), or remove the sim parameter.".into()
            }
            Self::UnknownFault(_) | Self::FaultWithoutSimulation => {
                "Pick the simulated problem in the list below instead.".into()
            }
            Self::Repeated(_) => "Ask for a new link, or remove the repeated parameter.".into(),
            Self::Api(e) => e.hint().into(),
        }
    }
}

/// Parses `query` (with or without the leading `?`). `known_faults` are the names of the
/// simulated catalogue (`sim::faults::NAMES`).
pub fn parse(query: &str, known_faults: &[&'static str]) -> Result<SupportLink, LinkError> {
    let query = query.trim().trim_start_matches('?');
    let mut link = SupportLink::default();
    for (name, value) in form_decode(query) {
        let value = value.trim().to_owned();
        match name.as_str() {
            "device" => {
                once(link.expected_device.is_some(), "device")?;
                link.expected_device =
                    Some(device_id(&value).ok_or(LinkError::BadDeviceId(value))?);
            }
            "product" => {
                once(link.product.is_some(), "product")?;
                link.product = Some(ProductRef::parse(&value).ok_or(LinkError::BadProduct(value))?);
            }
            "sim" => {
                once(link.sim.is_some(), "sim")?;
                link.sim = Some(
                    SIM_PLATFORMS
                        .into_iter()
                        .find(|p| p.eq_ignore_ascii_case(&value))
                        .ok_or(LinkError::UnknownSimulation(value))?,
                );
            }
            "fault" => {
                once(link.fault.is_some(), "fault")?;
                link.fault = Some(
                    known_faults
                        .iter()
                        .copied()
                        .find(|f| f.eq_ignore_ascii_case(&value))
                        .ok_or(LinkError::UnknownFault(value))?,
                );
            }
            "api" => {
                once(link.api.is_some(), "api")?;
                link.api = Some(ApiBase::parse(&value)?);
            }
            _ => {}
        }
    }
    if link.fault.is_some() && link.sim.is_none() {
        return Err(LinkError::FaultWithoutSimulation);
    }
    Ok(link)
}

/// A device ID as a link or the page's device-ID field gives it: 24 hexadecimal characters in
/// either case, with surrounding whitespace; lower case, or `None` for anything else.
pub fn device_id(text: &str) -> Option<String> {
    let text = text.trim();
    (text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

/// Refuses a parameter the link already gave (`seen`: its field is already set).
fn once(seen: bool, name: &'static str) -> Result<(), LinkError> {
    if seen {
        Err(LinkError::Repeated(name))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAULTS: [&str; 3] = ["none", "corrupt-key", "not-your-device"];

    #[test]
    fn an_empty_query_is_the_plain_page() {
        let link = parse("", &FAULTS).unwrap();
        assert_eq!(link, SupportLink::default());
        assert!(!link.uses_test_cloud());
    }

    #[test]
    fn a_support_link_names_the_device() {
        let link = parse("?device=0123456789ABCDEF01234567", &FAULTS).unwrap();
        assert_eq!(
            link.expected_device.as_deref(),
            Some("0123456789abcdef01234567")
        );
    }

    #[test]
    fn simulated_mode_with_a_fault_and_a_loopback_cloud() {
        let link = parse(
            "sim=photon&fault=corrupt-key&api=http%3A%2F%2F127.0.0.1%3A8081",
            &FAULTS,
        )
        .unwrap();
        assert_eq!(link.sim, Some("photon"));
        assert_eq!(link.fault, Some("corrupt-key"));
        assert_eq!(link.api.as_ref().unwrap().as_str(), "http://127.0.0.1:8081");
        assert!(link.uses_test_cloud());
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert!(matches!(
            parse("device=0123", &FAULTS),
            Err(LinkError::BadDeviceId(_))
        ));
        assert!(matches!(
            parse("device=0123456789abcdef0123456g", &FAULTS),
            Err(LinkError::BadDeviceId(_))
        ));
        assert!(matches!(
            parse("sim=argon", &FAULTS),
            Err(LinkError::UnknownSimulation(_))
        ));
        assert!(matches!(
            parse("sim=photon&fault=melted", &FAULTS),
            Err(LinkError::UnknownFault(_))
        ));
        assert_eq!(
            parse("fault=corrupt-key", &FAULTS),
            Err(LinkError::FaultWithoutSimulation)
        );
        assert!(matches!(
            parse("api=https%3A%2F%2Fevil.example", &FAULTS),
            Err(LinkError::Api(_))
        ));
        assert_eq!(
            parse(
                "device=0123456789abcdef01234567&device=0123456789abcdef01234568",
                &FAULTS
            ),
            Err(LinkError::Repeated("device"))
        );
        for e in [
            LinkError::BadDeviceId("x".into()),
            LinkError::FaultWithoutSimulation,
        ] {
            assert!(!e.hint().is_empty() && !e.to_string().is_empty());
        }
    }

    #[test]
    fn a_support_link_names_the_product_by_number_or_slug() {
        let link = parse("device=0123456789abcdef01234567&product=12345", &FAULTS).unwrap();
        assert_eq!(link.product, Some(ProductRef::Id(12345)));
        let link = parse("product=%20My-Fleet-v2%20", &FAULTS).unwrap();
        assert_eq!(link.product, Some(ProductRef::Slug("my-fleet-v2".into())));
        for bad in [
            "product=",
            "product=0",
            "product=a%2Fb",
            "product=99999999999",
        ] {
            let err = parse(bad, &FAULTS).unwrap_err();
            assert!(matches!(err, LinkError::BadProduct(_)), "{bad}: {err}");
            assert!(err.hint().contains("slug") && err.hint().ends_with('.'));
        }
        assert_eq!(
            parse("product=1&product=2", &FAULTS),
            Err(LinkError::Repeated("product"))
        );
    }

    #[test]
    fn a_link_may_start_a_simulated_core() {
        assert_eq!(parse("sim=core", &FAULTS).unwrap().sim, Some("core"));
        assert_eq!(
            parse("sim=electron", &FAULTS).unwrap().sim,
            Some("electron")
        );
        assert_eq!(parse("sim=photon", &FAULTS).unwrap().sim, Some("photon"));
    }

    #[test]
    fn a_device_id_is_24_hex_characters_in_either_case_trimmed() {
        assert_eq!(
            device_id(" 53FF6D065075535118311787\n").as_deref(),
            Some("53ff6d065075535118311787")
        );
        for bad in [
            "",
            "53ff6d06507553511831178",
            "53ff6d0650755351183117870",
            "53ff6d06507553511831178g",
            "53ff6d06 5075535118311787",
        ] {
            assert_eq!(device_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let link = parse("utm_source=forum&sim=PHOTON", &FAULTS).unwrap();
        assert_eq!(link.sim, Some("photon"));
    }
}
