//! The signed-in token the page holds: which cloud issued it, where it is remembered, and what
//! signing out (or the cloud refusing it) must do. Pure, so the page's sign-out is tested natively;
//! `ui/store.rs` carries the actions out (localStorage, the revoke request).
//!
//! The token belongs to the cloud that issued it, not to whichever cloud the page talks to now: the
//! simulated mode switches the page to a test cloud, and a sign-out after that must still forget the
//! remembered token and revoke it at Particle.

use super::{AccessToken, ApiBase, ApiRequest, ApiResponse, refuses_token};

/// The localStorage key of a token remembered for Particle's cloud; a test cloud's key adds its
/// address ([`Issuer::storage_key`]).
pub const TOKEN_STORAGE_KEY: &str = "key-rescue-token";

/// What the page calls its in-page simulated cloud (the banner, the storage key).
pub const IN_PAGE_CLOUD_LABEL: &str = "in-page simulated cloud";

/// The cloud a token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuer {
    /// Particle's API, or a loopback test cloud, over HTTP.
    Api(ApiBase),
    /// The simulated cloud that lives inside the page (gone at reload).
    InPage,
}

impl Issuer {
    /// Where a token from this cloud is remembered: one key per cloud, so a test cloud's token is
    /// never restored as Particle's.
    pub fn storage_key(&self) -> String {
        match self {
            Self::Api(base) if base.is_production() => TOKEN_STORAGE_KEY.to_owned(),
            Self::Api(base) => format!("{TOKEN_STORAGE_KEY} {}", base.as_str()),
            Self::InPage => format!("{TOKEN_STORAGE_KEY} {IN_PAGE_CLOUD_LABEL}"),
        }
    }

    /// Whether remembering a token from this cloud makes sense: the in-page cloud and its tokens
    /// are gone at reload.
    pub fn may_remember(&self) -> bool {
        !matches!(self, Self::InPage)
    }
}

/// A token the page signed in with, and where it came from and went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldToken {
    pub token: AccessToken,
    pub issuer: Issuer,
    /// The storage key it was remembered under ("Remember on this computer"), if any.
    pub remembered_as: Option<String>,
}

/// What signing out does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOut {
    /// Revoke this token at this cloud; `None` when the cloud has already refused it.
    pub revoke: Option<(AccessToken, Issuer)>,
    /// The storage keys to remove, each once.
    pub forget: Vec<String>,
}

impl HeldToken {
    /// A token `issuer` just issued (or accepted, for a pasted one); remembered if the user asked
    /// and the cloud outlives the page.
    pub fn signed_in(token: AccessToken, issuer: Issuer, remember: bool) -> Self {
        let remembered_as = (remember && issuer.may_remember()).then(|| issuer.storage_key());
        Self {
            token,
            issuer,
            remembered_as,
        }
    }

    /// A token read back from storage at `key` at page load, for `issuer`.
    pub fn restored(token: AccessToken, issuer: Issuer, key: String) -> Self {
        Self {
            token,
            issuer,
            remembered_as: Some(key),
        }
    }

    /// The token for a call to `current`: only the cloud that issued it ever receives it (a
    /// Particle token is not sent to a test cloud, nor the other way round).
    pub fn for_cloud(&self, current: &Issuer) -> Option<&AccessToken> {
        (self.issuer == *current).then_some(&self.token)
    }

    /// Whether `response` to `request` says the cloud no longer accepts this token: the request
    /// carried it, and the answer is a 401 (or the 400 "access token was not found").
    pub fn refused_by(&self, request: &ApiRequest, response: &ApiResponse) -> bool {
        let carried = request
            .header("Authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t == self.token.expose());
        carried && refuses_token(response)
    }

    /// Signing out: revoke at the issuer (unless `refused`: the cloud already refused it) and
    /// forget the token everywhere the page could have put it: the key it was remembered under,
    /// its issuer's key, and any other of the page's token keys in `stored` (storage's `(key,
    /// value)` pairs) that holds it.
    pub fn sign_out(self, stored: &[(String, String)], refused: bool) -> SignOut {
        let mut forget: Vec<String> = Vec::new();
        let mut add = |key: String| {
            if !forget.contains(&key) {
                forget.push(key);
            }
        };
        if let Some(key) = self.remembered_as.clone() {
            add(key);
        }
        if self.issuer.may_remember() {
            add(self.issuer.storage_key());
        }
        for (key, value) in stored {
            if key.starts_with(TOKEN_STORAGE_KEY) && value.trim() == self.token.expose() {
                add(key.clone());
            }
        }
        SignOut {
            revoke: (!refused).then_some((self.token, self.issuer)),
            forget,
        }
    }
}
