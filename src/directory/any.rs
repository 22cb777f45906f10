//! One type for every kind of directory, so the executor holds them side by side.
//!
//! [`Directory`] returns `impl Future`, which keeps it free of boxing but not object-safe;
//! an enum dispatches instead of `dyn`.
//!
//! Every error and refusal reason leaves through the directory's redactor once more, whatever
//! made it: the last place a credential an HTTP directory knows can be caught before the text
//! reaches `status.yaml`, the logs or stderr.

use super::file::FileDirectory;
use super::graph::GraphDirectory;
use super::redact::Redactor;
use super::scim::ScimDirectory;
use super::{
    AssignmentInfo, Directory, Error, GroupInfo, Page, Principal, Removal, RemoveOutcome, RoleInfo,
};

/// A directory of any supported kind.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per directory, opened once per pass: its size does not matter"
)]
pub enum AnyDirectory {
    File(FileDirectory),
    Scim(ScimDirectory),
    Graph(GraphDirectory),
}

macro_rules! dispatch {
    ($self:ident, $d:ident => $call:expr) => {
        match $self {
            AnyDirectory::File($d) => $call,
            AnyDirectory::Scim($d) => $call,
            AnyDirectory::Graph($d) => $call,
        }
    };
}

impl AnyDirectory {
    /// Which kind of directory this is.
    pub fn kind(&self) -> crate::model::directory::DirectoryType {
        use crate::model::directory::DirectoryType;
        match self {
            AnyDirectory::File(_) => DirectoryType::File,
            AnyDirectory::Scim(_) => DirectoryType::Scim,
            AnyDirectory::Graph(_) => DirectoryType::Graph,
        }
    }

    /// The credentials this directory sends, to redact; a file directory sends none.
    pub fn redactor(&self) -> Option<&Redactor> {
        match self {
            AnyDirectory::File(_) => None,
            AnyDirectory::Scim(d) => Some(d.redactor()),
            AnyDirectory::Graph(d) => Some(d.redactor()),
        }
    }

    /// Makes the next answers reflect the directory as it is now: a file directory reads its
    /// file again if it changed; remote directories answer live anyway.
    pub fn refresh(&self) -> Result<(), Error> {
        match self {
            AnyDirectory::File(d) => d.reload_if_changed(),
            AnyDirectory::Scim(_) | AnyDirectory::Graph(_) => Ok(()),
        }
    }

    fn scrub<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        match (result, self.redactor()) {
            (Err(e), Some(r)) => Err(r.error(e)),
            (result, _) => result,
        }
    }
}

impl Directory for AnyDirectory {
    async fn roles(&self) -> Result<Vec<RoleInfo>, Error> {
        self.scrub(dispatch!(self, d => d.roles().await))
    }

    async fn find_role(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<Option<RoleInfo>, Error> {
        self.scrub(dispatch!(self, d => d.find_role(id, name).await))
    }

    async fn find_groups(&self, key: &str) -> Result<Vec<GroupInfo>, Error> {
        self.scrub(dispatch!(self, d => d.find_groups(key).await))
    }

    async fn list_assignments(
        &self,
        role: &str,
        page: Option<String>,
    ) -> Result<Page<AssignmentInfo>, Error> {
        self.scrub(dispatch!(self, d => d.list_assignments(role, page).await))
    }

    async fn list_members(&self, group: &str, page: Option<String>) -> Result<Page<String>, Error> {
        self.scrub(dispatch!(self, d => d.list_members(group, page).await))
    }

    fn lookup_batch_size(&self) -> usize {
        dispatch!(self, d => d.lookup_batch_size())
    }

    async fn lookup(&self, ids: &[String]) -> Result<Vec<Principal>, Error> {
        self.scrub(dispatch!(self, d => d.lookup(ids).await))
    }

    async fn remove(&self, target: &Removal) -> Result<RemoveOutcome, Error> {
        let outcome = self.scrub(dispatch!(self, d => d.remove(target).await))?;
        Ok(match self.redactor() {
            Some(r) => r.outcome(outcome),
            None => outcome,
        })
    }

    async fn remove_many(&self, targets: &[Removal]) -> Vec<Result<RemoveOutcome, Error>> {
        dispatch!(self, d => d.remove_many(targets).await)
    }
}
