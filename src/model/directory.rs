//! `Directory`: where role assignments live and how to reach them.
//!
//! Credentials are references only ([`SecretRef`]): a secret written into a manifest would be
//! committed to Git, so the schema has no field that can hold one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::resource;

resource!(
    /// A directory that holds role assignments: Microsoft Entra ID through Microsoft Graph, a
    /// SCIM 2.0 service, or a `DirectoryData` file kept in the repository.
    Directory,
    DirectorySpec,
    Directory
);

/// Which directory, and how to reach it. Set `type` and the block of the same name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("allOf" = [
    { "if": { "properties": { "type": { "const": "graph" } }, "required": ["type"] }, "then": { "required": ["graph"] } },
    { "if": { "properties": { "type": { "const": "scim" } }, "required": ["type"] }, "then": { "required": ["scim"] } },
    { "if": { "properties": { "type": { "const": "file" } }, "required": ["type"] }, "then": { "required": ["file"] } }
]))]
pub struct DirectorySpec {
    /// The kind of directory: `graph` (Microsoft Entra ID through Microsoft Graph v1.0),
    /// `scim` (any SCIM 2.0 service provider) or `file` (a `DirectoryData` YAML file).
    #[serde(rename = "type")]
    pub kind: DirectoryType,
    /// Settings for `type: graph`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphSettings>,
    /// Settings for `type: scim`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim: Option<ScimSettings>,
    /// Settings for `type: file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileSettings>,
}

/// The kind of directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DirectoryType {
    /// Microsoft Entra ID through Microsoft Graph v1.0.
    Graph,
    /// A SCIM 2.0 service provider (RFC 7643/7644): groups are the roles under review.
    Scim,
    /// A `DirectoryData` YAML file, usually kept in the same repository.
    File,
}

impl DirectoryType {
    pub fn as_str(self) -> &'static str {
        match self {
            DirectoryType::Graph => "graph",
            DirectoryType::Scim => "scim",
            DirectoryType::File => "file",
        }
    }
}

/// Microsoft Graph (Entra ID) connection settings. The application needs the Graph application
/// permissions RoleManagement.ReadWrite.Directory, User.Read.All, AuditLog.Read.All,
/// GroupMember.Read.All and, for service principals holding roles, Application.Read.All.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GraphSettings {
    /// The Entra ID tenant: its id (a GUID) or a verified domain name.
    #[schemars(length(min = 1))]
    pub tenant_id: String,
    /// The application (client) id of the app registration Recert signs in as.
    #[schemars(length(min = 1))]
    pub client_id: String,
    /// The client secret, by reference. Set this or `clientCertificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretRef>,
    /// A PEM file holding the client certificate and its private key, by reference. Set this
    /// or `clientSecret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<SecretRef>,
    /// The OAuth 2.0 authority that issues tokens. Defaults to
    /// `https://login.microsoftonline.com`; set it for national clouds
    /// (`https://login.microsoftonline.us`, `https://login.partner.microsoftonline.cn`). Only
    /// Microsoft Entra ID's authorities, loopback, or a host the operator allows with
    /// `--allow-authority` are accepted; `http://` only to loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = HTTP_URL), extend("errorMessage" = HTTP_URL_MESSAGE))]
    pub authority_url: Option<String>,
    /// The Graph endpoint. Defaults to `https://graph.microsoft.com/v1.0`. `http://` only to
    /// loopback (127.0.0.0/8, ::1, localhost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = HTTP_URL), extend("errorMessage" = HTTP_URL_MESSAGE))]
    pub base_url: Option<String>,
    /// How many requests may be in flight at once. Defaults to 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub max_concurrent_requests: Option<u32>,
    /// How long one request may take, in seconds. Defaults to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub request_timeout_seconds: Option<u32>,
}

/// SCIM 2.0 connection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScimSettings {
    /// The service provider's base URL, the one that `/Users` and `/Groups` hang off
    /// (for example `https://scim.example.com/v2`). `http://` only to loopback (127.0.0.0/8,
    /// ::1, localhost): the bearer token travels with every request.
    #[schemars(regex(pattern = HTTP_URL), extend("errorMessage" = HTTP_URL_MESSAGE))]
    pub base_url: String,
    /// The bearer token, by reference. The service needs it to read users and groups and to
    /// patch groups.
    pub bearer_token: SecretRef,
    /// How many resources to ask for per page when listing. Defaults to 100. A service may
    /// answer with fewer (its own maximum); Recert pages on from what it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub page_size: Option<u32>,
    /// How many requests may be in flight at once. Defaults to 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub max_concurrent_requests: Option<u32>,
    /// How long one request may take, in seconds. Defaults to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub request_timeout_seconds: Option<u32>,
}

/// Settings of the embedded file directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileSettings {
    /// The YAML file holding a `DirectoryData` document, relative to this manifest's file.
    /// Applying a review's results edits that file. It must be inside the manifests tree or a
    /// data directory the operator allows with `--data-dir`.
    #[schemars(length(min = 1))]
    pub path: String,
}

/// A secret by reference: the name of an environment variable, or a file (a mounted
/// Kubernetes Secret, say). Exactly one of `env` and `file`. Secrets are never written inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend(
    "minProperties" = 1,
    "maxProperties" = 1,
    "errorMessage" = "a secret reference takes exactly one of `env` and `file`"
))]
pub struct SecretRef {
    /// The environment variable that holds the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ENV_NAME), extend("errorMessage" = ENV_NAME_MESSAGE))]
    pub env: Option<String>,
    /// The file that holds the secret; surrounding white space is trimmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub file: Option<String>,
}

pub(crate) const HTTP_URL: &str = "^https?://[^\\s/$.?#][^\\s]*$";
pub(crate) const HTTP_URL_MESSAGE: &str = "must be an http:// or https:// URL";
const ENV_NAME: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
const ENV_NAME_MESSAGE: &str =
    "must be an environment variable name: letters, digits and '_', not starting with a digit";
