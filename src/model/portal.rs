//! `ReviewerPortal`: the reviewers' and owners' web page that `recert run --web-listen` serves,
//! and how people sign in to it (OpenID Connect). One per daemon, given with `--web-config`.
//!
//! The client secret and the session key are references ([`SecretRef`]), never inline.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::directory::{HTTP_URL, HTTP_URL_MESSAGE, SecretRef};
use super::envelope::DNS1123_LABEL;
use super::resource;

resource!(
    /// The reviewer web page: where it is reached, the OpenID Connect provider people sign in
    /// with, and the directory that says who they are.
    ReviewerPortal,
    ReviewerPortalSpec,
    ReviewerPortal
);

/// The page and its sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReviewerPortalSpec {
    /// The page's address as browsers reach it (`https://recert.corp.example`), without a
    /// path. The provider redirects back to `EXTERNAL_URL/auth/callback`. `http://` only on
    /// loopback.
    #[schemars(regex(pattern = HTTP_URL), extend("errorMessage" = HTTP_URL_MESSAGE))]
    pub external_url: String,
    /// The `Directory` whose users sign in: the claim named by `oidc.principalClaim` must
    /// name one of its users.
    #[schemars(regex(pattern = DNS1123_LABEL))]
    pub directory: String,
    /// The OpenID Connect provider (Microsoft Entra ID, Keycloak, Okta, Dex, ...).
    pub oidc: OidcSettings,
    /// Users (ids or user principal names) who administer the page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<String>,
    /// How long a sign-in lasts, in hours. Defaults to 8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 168))]
    pub session_hours: Option<u32>,
    /// Show reviews and decisions but take no decisions through the page: decisions are made
    /// in Git only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// The key that signs session cookies (at least 32 characters), by reference. Give the
    /// same key to every replica so that a sign-in holds across them; without it each start
    /// makes a key of its own, and restarting signs everybody out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<SecretRef>,
}

/// The OpenID Connect client the page is registered as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OidcSettings {
    /// The issuer, exactly as the provider's ID tokens spell it
    /// (`https://login.microsoftonline.com/TENANT_ID/v2.0` for Entra ID). Its
    /// `/.well-known/openid-configuration` is read at start. `http://` only on loopback.
    #[schemars(regex(pattern = HTTP_URL), extend("errorMessage" = HTTP_URL_MESSAGE))]
    pub issuer: String,
    /// The application (client) id.
    #[schemars(length(min = 1, max = 256))]
    pub client_id: String,
    /// The client secret, by reference.
    pub client_secret: SecretRef,
    /// Which claim of the ID token names the directory user: `oid` (Entra ID's object id, the
    /// user's id), or `preferred_username` or `email` (a user principal name). Defaults to
    /// `oid`.
    #[serde(default)]
    pub principal_claim: PrincipalClaim,
    /// The scopes asked for. Defaults to `openid profile email`; `openid` is always asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// The ID token claim that names the directory user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum PrincipalClaim {
    /// The user's id (Entra ID's object id).
    #[default]
    #[serde(rename = "oid")]
    Oid,
    /// A user principal name.
    #[serde(rename = "preferred_username")]
    PreferredUsername,
    /// A user principal name.
    #[serde(rename = "email")]
    Email,
}

impl PrincipalClaim {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalClaim::Oid => "oid",
            PrincipalClaim::PreferredUsername => "preferred_username",
            PrincipalClaim::Email => "email",
        }
    }
}
