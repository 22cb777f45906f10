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
pub fn resolve(reference: &SecretRef, base: &Path) -> Result<Secret, String> {
    match (&reference.env, &reference.file) {
        (Some(name), None) => match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(Secret(value.trim().to_owned())),
            Ok(_) => Err(format!("environment variable `{name}` is empty")),
            Err(_) => Err(format!("environment variable `{name}` is not set")),
        },
        (None, Some(file)) => {
            let path = base.join(file);
            match std::fs::read_to_string(&path) {
                Ok(value) if !value.trim().is_empty() => Ok(Secret(value.trim().to_owned())),
                Ok(_) => Err(format!("secret file `{}` is empty", path.display())),
                Err(e) => Err(format!("cannot read secret file `{}`: {e}", path.display())),
            }
        }
        _ => Err("a secret reference takes exactly one of `env` and `file`".to_owned()),
    }
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
        assert!(e.contains("RECERT_TEST_SURELY_UNSET_VARIABLE"), "{e}");
    }
}
