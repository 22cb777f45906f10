//! Why a review's pass failed. Each failure has a kind, and the kind is what a status
//! condition's `reason` and the `reason` label of `recert_reconciles_total` say, as a
//! Kubernetes condition's reason does; the message says the rest.

use crate::directory;

/// A review's pass failed; the review keeps its last recorded state and is tried again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// The review's `Directory` is missing or its settings cannot be used (a secret that
    /// cannot be read, a type this build cannot reach).
    #[error("{0}")]
    DirectoryConfig(String),
    /// The directory could not be reached, or kept failing past the retry policy.
    #[error("{action} directory `{directory}`: {source}")]
    DirectoryUnreachable {
        directory: String,
        action: &'static str,
        source: directory::Error,
    },
    /// The directory answered, and refused: authentication, permission, a bad request, or data
    /// it cannot serve.
    #[error("{action} directory `{directory}`: {source}")]
    DirectoryRefused {
        directory: String,
        action: &'static str,
        source: directory::Error,
    },
    /// The review's recorded state cannot be read.
    #[error("{0}")]
    StateUnreadable(String),
    /// The review's state, or its folder, cannot be written.
    #[error("{0}")]
    StateWrite(String),
    /// The audit trail cannot be appended to (or an event cannot be encoded for it).
    #[error("cannot append to the audit trail: {0}")]
    AuditWrite(String),
    /// The apply journal cannot be read or written; no removal is sent without it.
    #[error("{0}")]
    Journal(String),
    /// The status or results cannot be rendered or written.
    #[error("{0}")]
    Output(String),
    /// A stop was asked for in the middle of an apply; the journal resumes it.
    #[error("interrupted by shutdown; the next start finishes this apply from its journal")]
    Interrupted,
    /// A bug: recording the review panicked. The log has the panic.
    #[error("internal error while recording this review; see the log")]
    Internal,
}

impl ReviewError {
    /// A directory's error, sorted into unreachable (worth retrying) or refused.
    pub fn directory(
        directory: &str,
        action: &'static str,
        source: directory::Error,
    ) -> ReviewError {
        let directory = directory.to_owned();
        if source.is_retryable() {
            ReviewError::DirectoryUnreachable {
                directory,
                action,
                source,
            }
        } else {
            ReviewError::DirectoryRefused {
                directory,
                action,
                source,
            }
        }
    }

    /// The machine-readable reason: a status condition's `reason`, a metric's label.
    pub fn reason(&self) -> &'static str {
        match self {
            ReviewError::DirectoryConfig(_) => "DirectoryMisconfigured",
            ReviewError::DirectoryUnreachable { .. } => "DirectoryUnreachable",
            ReviewError::DirectoryRefused { .. } => "DirectoryRefused",
            ReviewError::StateUnreadable(_) => "StateUnreadable",
            ReviewError::StateWrite(_) => "StateWriteFailed",
            ReviewError::AuditWrite(_) => "AuditWriteFailed",
            ReviewError::Journal(_) => "ApplyFailed",
            ReviewError::Output(_) => "OutputWriteFailed",
            ReviewError::Interrupted => "Interrupted",
            ReviewError::Internal => "InternalError",
        }
    }

    /// Whether the directory could not be read (the daemon's readiness reflects it).
    pub fn is_directory(&self) -> bool {
        matches!(
            self,
            ReviewError::DirectoryConfig(_)
                | ReviewError::DirectoryUnreachable { .. }
                | ReviewError::DirectoryRefused { .. }
        )
    }
}

/// Every reason [`ReviewError::reason`] gives, for metrics that list each label from the start.
pub const REASONS: [&str; 10] = [
    "DirectoryMisconfigured",
    "DirectoryUnreachable",
    "DirectoryRefused",
    "StateUnreadable",
    "StateWriteFailed",
    "AuditWriteFailed",
    "ApplyFailed",
    "OutputWriteFailed",
    "Interrupted",
    "InternalError",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_error_is_unreachable_when_retrying_may_help_and_refused_otherwise() {
        let unreachable = ReviewError::directory(
            "corp",
            "cannot read the scope from",
            directory::Error::Unavailable("connection refused".into()),
        );
        assert_eq!(unreachable.reason(), "DirectoryUnreachable");
        assert_eq!(
            unreachable.to_string(),
            "cannot read the scope from directory `corp`: cannot reach the directory: connection refused"
        );
        let refused = ReviewError::directory(
            "corp",
            "cannot look up reviewers in",
            directory::Error::Auth("invalid_client".into()),
        );
        assert_eq!(refused.reason(), "DirectoryRefused");
        assert!(REASONS.contains(&refused.reason()));
    }
}
