//! Secrets, read from where a `SecretRef` points, and kept out of every `Debug` and log line.

use std::fmt;
use std::path::Path;

use crate::model::directory::SecretRef;

/// A secret's value. `Debug` shows only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reads a secret. A relative `file` is taken from `base` (the manifest's folder); a mounted
/// Kubernetes Secret is usually absolute. Errors name where the secret was looked for, never
/// what it holds.
pub fn resolve(reference: &SecretRef, base: &Path) -> Result<Secret, SecretError> {
    match (&reference.env, &reference.file) {
        (Some(name), None) => match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(Secret(value.trim().to_owned())),
            Ok(_) => Err(SecretError::EmptyVariable(name.clone())),
            Err(_) => Err(SecretError::UnsetVariable(name.clone())),
        },
        (None, Some(file)) => {
            let path = base.join(file);
            match std::fs::read_to_string(&path) {
                Ok(value) if !value.trim().is_empty() => Ok(Secret(value.trim().to_owned())),
                Ok(_) => Err(SecretError::EmptyFile(path.display().to_string())),
                Err(source) => Err(SecretError::Unreadable {
                    path: path.display().to_string(),
                    source: std::sync::Arc::new(source),
                }),
            }
        }
        _ => Err(SecretError::Ambiguous),
    }
}

/// Why a secret cannot be read: where it was looked for, never what it holds.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable `{0}` is empty")]
    EmptyVariable(String),
    #[error("environment variable `{0}` is not set")]
    UnsetVariable(String),
    #[error("secret file `{0}` is empty")]
    EmptyFile(String),
    #[error("cannot read secret file `{path}`: {source}")]
    Unreadable {
        path: String,
        source: std::sync::Arc<std::io::Error>,
    },
    #[error("a secret reference takes exactly one of `env` and `file`")]
    Ambiguous,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }

    #[test]
    fn a_file_secret_is_trimmed_and_relative_to_the_manifest() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("token"), "  abc\n").expect("write");
        let reference = SecretRef {
            env: None,
            file: Some("token".to_owned()),
        };
        assert_eq!(
            resolve(&reference, dir.path()).expect("resolves").expose(),
            "abc"
        );
    }

    #[test]
    fn a_missing_secret_names_where_it_was_looked_for() {
        let reference = SecretRef {
            env: Some("RECERT_TEST_SURELY_UNSET_VARIABLE".to_owned()),
            file: None,
        };
        let e = resolve(&reference, Path::new(".")).expect_err("unset");
        assert!(
            e.to_string().contains("RECERT_TEST_SURELY_UNSET_VARIABLE"),
            "{e}"
        );
    }
}
