//! The envelope every document shares: `apiVersion`, `kind`, `metadata`.
//!
//! The kind is checked twice on purpose: the loader dispatches on it before schema validation
//! (so a document gets the errors of its own kind's schema, not a union of every kind's), and
//! the typed decode checks it again through [`KindTag`].

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only API version this build understands.
pub const API_VERSION: &str = "recert.dev/v1alpha1";

/// The API version of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    /// The first, alpha version of Recert's resources.
    #[serde(rename = "recert.dev/v1alpha1")]
    V1Alpha1,
}

/// The kinds of document Recert reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Kind {
    Directory = 0,
    DirectoryData = 1,
    AccessReview = 2,
    ReviewDecisions = 3,
    Notifier = 4,
    ReviewerPortal = 5,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Directory,
        Kind::DirectoryData,
        Kind::AccessReview,
        Kind::ReviewDecisions,
        Kind::Notifier,
        Kind::ReviewerPortal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Directory => "Directory",
            Kind::DirectoryData => "DirectoryData",
            Kind::AccessReview => "AccessReview",
            Kind::ReviewDecisions => "ReviewDecisions",
            Kind::Notifier => "Notifier",
            Kind::ReviewerPortal => "ReviewerPortal",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    const fn from_u8(n: u8) -> Kind {
        match n {
            0 => Kind::Directory,
            1 => Kind::DirectoryData,
            2 => Kind::AccessReview,
            3 => Kind::ReviewDecisions,
            4 => Kind::Notifier,
            _ => Kind::ReviewerPortal,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `kind` field of one resource type: it decodes only its own kind's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KindTag<const K: u8>;

impl<const K: u8> KindTag<K> {
    pub const KIND: Kind = Kind::from_u8(K);
}

impl<const K: u8> JsonSchema for KindTag<K> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        Self::KIND.as_str().into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "enum": [Self::KIND.as_str()] })
    }
}

impl<const K: u8> Serialize for KindTag<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(Self::KIND.as_str())
    }
}

impl<'de, const K: u8> Deserialize<'de> for KindTag<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == Self::KIND.as_str() {
            Ok(KindTag)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "expected kind `{}`, found `{s}`",
                Self::KIND
            )))
        }
    }
}

/// A DNS-1123 label: lower-case letters, digits and `-`, at most 63 characters. Names become
/// file names in the state directory, so they are held to the strictest common rule.
pub const DNS1123_LABEL: &str = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

/// The message for a name that is not a DNS-1123 label; also published in the schema as
/// `errorMessage`, which the YAML language server shows in editors.
pub const DNS1123_MESSAGE: &str = "must be a DNS-1123 label: at most 63 lower-case letters, digits \
     and '-', starting and ending with a letter or digit";

/// Identity of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    /// The document's name, unique among documents of its kind. A DNS-1123 label (lower-case
    /// letters, digits and `-`, at most 63 characters): it becomes a file name in the state
    /// directory.
    #[schemars(regex(pattern = DNS1123_LABEL), extend("errorMessage" = DNS1123_MESSAGE))]
    pub name: String,
    /// Free-form labels for selecting and grouping documents.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Free-form annotations for tools and people; Recert ignores them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}
