//! The demo scenario: accounts, a product and devices that the page's simulated mode, the loopback
//! server (`sim-cloud --demo`) and the tests share.

use super::{SimAccount, SimCloud, SimCloudDevice, TeamRole};

/// Owns [`DEMO_PHOTON_ID`]; no MFA.
pub const DEMO_EMAIL: &str = "demo@example.com";
pub const DEMO_PASSWORD: &str = "demo-password";
/// An account with MFA; its one-time code is always [`MFA_OTP`].
pub const MFA_EMAIL: &str = "mfa@example.com";
pub const MFA_PASSWORD: &str = "mfa-password";
pub const MFA_OTP: &str = "123456";
/// A Developer in [`DEMO_PRODUCT_ID`]: may send keys for its devices.
pub const DEVELOPER_EMAIL: &str = "developer@example.com";
/// A View-only member of [`DEMO_PRODUCT_ID`]: may look at devices but not send keys.
pub const VIEWER_EMAIL: &str = "viewer@example.com";
/// An account that owns nothing.
pub const STRANGER_EMAIL: &str = "stranger@example.com";
/// A single-sign-on account: password sign-in is refused with `sso_user`.
pub const SSO_EMAIL: &str = "sso@example.com";
/// The password of every demo account except [`DEMO_EMAIL`] and [`MFA_EMAIL`].
pub const OTHER_PASSWORD: &str = "password";

/// A developer Photon claimed to [`DEMO_EMAIL`].
pub const DEMO_PHOTON_ID: &str = "0123456789abcdef01234567";
/// A Photon in [`DEMO_PRODUCT_ID`], claimed to [`DEMO_EMAIL`]'s colleague [`MFA_EMAIL`].
pub const PRODUCT_PHOTON_ID: &str = "e00fce68aaaaaaaaaaaaaaaa";
pub const DEMO_PRODUCT_ID: u32 = 12_345;
/// [`DEMO_PRODUCT_ID`]'s slug, which product routes take in place of its number.
pub const DEMO_PRODUCT_SLUG: &str = "demo-product-v1";
/// A second product, with no devices the demo accounts can see.
pub const OTHER_PRODUCT_ID: u32 = 54_321;
/// A Photon nobody in the demo may see.
pub const FOREIGN_PHOTON_ID: &str = "ffffffffffffffff00000001";
pub const PHOTON_PLATFORM_ID: u16 = 6;

/// Adds the demo accounts, product and devices to `cloud`. The devices start offline with no key
/// known: the page's repair uploads one.
pub fn seed_demo(cloud: &mut SimCloud) {
    cloud.add_account(SimAccount::new(DEMO_EMAIL, DEMO_PASSWORD));
    cloud.add_account(SimAccount::new(MFA_EMAIL, MFA_PASSWORD).with_mfa(MFA_OTP));
    for email in [DEVELOPER_EMAIL, VIEWER_EMAIL, STRANGER_EMAIL] {
        cloud.add_account(SimAccount::new(email, OTHER_PASSWORD));
    }
    let mut sso = SimAccount::new(SSO_EMAIL, OTHER_PASSWORD);
    sso.sso = true;
    cloud.add_account(sso);

    cloud.add_product(DEMO_PRODUCT_ID);
    cloud.set_product_slug(DEMO_PRODUCT_ID, DEMO_PRODUCT_SLUG);
    cloud.add_product(OTHER_PRODUCT_ID);
    cloud.add_team_member(OTHER_PRODUCT_ID, DEVELOPER_EMAIL, TeamRole::Developer);
    cloud.add_team_member(DEMO_PRODUCT_ID, DEVELOPER_EMAIL, TeamRole::Developer);
    cloud.add_team_member(DEMO_PRODUCT_ID, VIEWER_EMAIL, TeamRole::ViewOnly);

    cloud.add_device(SimCloudDevice::new(
        DEMO_PHOTON_ID,
        DEMO_EMAIL,
        PHOTON_PLATFORM_ID,
    ));
    cloud.add_device(
        SimCloudDevice::new(PRODUCT_PHOTON_ID, MFA_EMAIL, PHOTON_PLATFORM_ID)
            .in_product(DEMO_PRODUCT_ID),
    );
    cloud.add_device(SimCloudDevice::new(
        FOREIGN_PHOTON_ID,
        "someone-else@example.com",
        PHOTON_PLATFORM_ID,
    ));
}
