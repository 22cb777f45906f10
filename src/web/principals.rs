//! Who a sign-in is in the directory: the claim the portal names, looked up in the directory
//! the portal names, ids and user principal names kept apart so that a user principal name
//! can never stand in for somebody's id, nor the reverse.

use std::sync::Arc;

use crate::directory::{AnyDirectory, Directory, Principal};
use crate::model::portal::PrincipalClaim;

/// A directory user who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub upn: String,
    pub name: String,
}

/// Why a claim could not be mapped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LookupError {
    #[error("the directory cannot be read: {0}")]
    Directory(#[from] crate::directory::Error),
}

/// Finds people by the claim that names them.
pub trait Principals: Send + Sync + 'static {
    fn find(
        &self,
        claim: PrincipalClaim,
        value: &str,
    ) -> impl std::future::Future<Output = Result<Option<Person>, LookupError>> + Send;
}

/// The daemon's: a directory opened at start and kept.
#[derive(Debug, Clone)]
pub struct DirectoryPrincipals {
    directory: Arc<AnyDirectory>,
}

impl DirectoryPrincipals {
    pub fn new(directory: AnyDirectory) -> DirectoryPrincipals {
        DirectoryPrincipals {
            directory: Arc::new(directory),
        }
    }
}

impl Principals for DirectoryPrincipals {
    async fn find(
        &self,
        claim: PrincipalClaim,
        value: &str,
    ) -> Result<Option<Person>, LookupError> {
        // A file directory edited since start is read again.
        self.directory.refresh()?;
        let found = self.directory.lookup(&[value.to_owned()]).await?;
        Ok(pick(&found, claim, value))
    }
}

/// The user `value` names among `found`, in the claim's namespace only.
pub fn pick(found: &[Principal], claim: PrincipalClaim, value: &str) -> Option<Person> {
    found.iter().find_map(|p| match p {
        Principal::User(u) => {
            let matches = match claim {
                PrincipalClaim::Oid => u.id == value,
                PrincipalClaim::PreferredUsername | PrincipalClaim::Email => {
                    u.user_principal_name.to_lowercase() == value.to_lowercase()
                }
            };
            (matches && u.enabled).then(|| Person {
                id: u.id.clone(),
                upn: u.user_principal_name.clone(),
                name: u
                    .display_name
                    .clone()
                    .unwrap_or_else(|| u.user_principal_name.clone()),
            })
        }
        Principal::Group(_) | Principal::ServicePrincipal(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::UserInfo;
    use crate::model::directory_data::{Source, UserType};

    fn user(id: &str, upn: &str, enabled: bool) -> Principal {
        Principal::User(UserInfo {
            id: id.to_owned(),
            user_principal_name: upn.to_owned(),
            display_name: None,
            manager: None,
            last_sign_in: None,
            mail: None,
            enabled,
            source: Source::default(),
            user_type: UserType::default(),
        })
    }

    #[test]
    fn ids_and_user_principal_names_never_stand_in_for_each_other() {
        // Eve's user principal name spells Alice's id.
        let found = [
            user("u-alice", "alice@corp.example", true),
            user("u-eve", "u-alice", true),
        ];
        let by_id = pick(&found, PrincipalClaim::Oid, "u-alice").map(|p| p.id);
        assert_eq!(by_id.as_deref(), Some("u-alice"));
        let by_name = pick(&found, PrincipalClaim::Email, "U-ALICE").map(|p| p.id);
        assert_eq!(by_name.as_deref(), Some("u-eve"));
        assert_eq!(
            pick(&found, PrincipalClaim::Oid, "alice@corp.example"),
            None
        );
    }

    #[test]
    fn a_disabled_user_does_not_sign_in() {
        let found = [user("u-ivan", "ivan@corp.example", false)];
        assert_eq!(
            pick(
                &found,
                PrincipalClaim::PreferredUsername,
                "ivan@corp.example"
            ),
            None
        );
    }
}
