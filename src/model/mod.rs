//! The resource model: the Rust types behind every Recert document.
//!
//! These types are the contract. The published JSON Schema (`schemas/recert.schema.json`) is
//! generated from them, and the loader decodes a document into them only after it has passed
//! that schema, so code past `load` never sees an unchecked value. Doc comments here become the
//! descriptions editors show, so they are written for the person typing the YAML.
//!
//! Cross-document rules (references resolve, reviewers may decide an item) are not here: they
//! live in `load::rules`, because they need more than one document.

pub mod decisions;
pub mod directory;
pub mod directory_data;
pub mod envelope;
pub mod notifier;
pub mod portal;
pub mod review;

pub use decisions::{Decision, DecisionEntry, ReviewDecisions, ReviewDecisionsSpec};
pub use directory::{Directory, DirectorySpec, DirectoryType, SecretRef};
pub use directory_data::{DirectoryData, DirectoryDataSpec};
pub use envelope::{API_VERSION, ApiVersion, Kind, Metadata};
pub use notifier::{Notifier, NotifierSpec};
pub use portal::{ReviewerPortal, ReviewerPortalSpec};
pub use review::{AccessReview, AccessReviewSpec};

/// A document decoded into its typed form.
#[derive(Debug, Clone)]
pub enum Resource {
    Directory(Box<Directory>),
    DirectoryData(DirectoryData),
    // Directories and reviews are boxed: they are the largest kinds, and decision files,
    // far more numerous, should not pay for their size.
    AccessReview(Box<AccessReview>),
    ReviewDecisions(ReviewDecisions),
    Notifier(Box<Notifier>),
    ReviewerPortal(Box<ReviewerPortal>),
}

impl Resource {
    pub fn kind(&self) -> Kind {
        match self {
            Resource::Directory(_) => Kind::Directory,
            Resource::DirectoryData(_) => Kind::DirectoryData,
            Resource::AccessReview(_) => Kind::AccessReview,
            Resource::ReviewDecisions(_) => Kind::ReviewDecisions,
            Resource::Notifier(_) => Kind::Notifier,
            Resource::ReviewerPortal(_) => Kind::ReviewerPortal,
        }
    }

    pub fn metadata(&self) -> &Metadata {
        match self {
            Resource::Directory(d) => &d.metadata,
            Resource::DirectoryData(d) => &d.metadata,
            Resource::AccessReview(r) => &r.metadata,
            Resource::ReviewDecisions(d) => &d.metadata,
            Resource::Notifier(n) => &n.metadata,
            Resource::ReviewerPortal(p) => &p.metadata,
        }
    }

    pub fn name(&self) -> &str {
        &self.metadata().name
    }
}

/// Declares a top-level resource: the Kubernetes-style envelope around a spec type.
macro_rules! resource {
    ($(#[$doc:meta])* $name:ident, $spec:ty, $kind:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        pub struct $name {
            /// The API version of this document. Always `recert.dev/v1alpha1`.
            pub api_version: $crate::model::ApiVersion,
            /// The kind of this document.
            pub kind: $crate::model::envelope::KindTag<{ $crate::model::Kind::$kind as u8 }>,
            /// The document's identity.
            pub metadata: $crate::model::Metadata,
            /// What the document asks for.
            pub spec: $spec,
        }

        impl $name {
            /// The kind this type decodes.
            pub const KIND: $crate::model::Kind = $crate::model::Kind::$kind;
        }
    };
}
pub(crate) use resource;
