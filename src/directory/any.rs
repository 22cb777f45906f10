//! One type for every kind of directory, so the executor holds them side by side.
//!
//! [`Directory`] returns `impl Future`, which keeps it free of boxing but not object-safe;
//! an enum dispatches instead of `dyn`.

use super::file::FileDirectory;
use super::graph::GraphDirectory;
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

impl Directory for AnyDirectory {
    async fn roles(&self) -> Result<Vec<RoleInfo>, Error> {
        dispatch!(self, d => d.roles().await)
    }

    async fn find_role(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<Option<RoleInfo>, Error> {
        dispatch!(self, d => d.find_role(id, name).await)
    }

    async fn find_groups(&self, key: &str) -> Result<Vec<GroupInfo>, Error> {
        dispatch!(self, d => d.find_groups(key).await)
    }

    async fn list_assignments(
        &self,
        role: &str,
        page: Option<String>,
    ) -> Result<Page<AssignmentInfo>, Error> {
        dispatch!(self, d => d.list_assignments(role, page).await)
    }

    async fn list_members(&self, group: &str, page: Option<String>) -> Result<Page<String>, Error> {
        dispatch!(self, d => d.list_members(group, page).await)
    }

    fn lookup_batch_size(&self) -> usize {
        dispatch!(self, d => d.lookup_batch_size())
    }

    async fn lookup(&self, ids: &[String]) -> Result<Vec<Principal>, Error> {
        dispatch!(self, d => d.lookup(ids).await)
    }

    async fn remove(&self, target: &Removal) -> Result<RemoveOutcome, Error> {
        dispatch!(self, d => d.remove(target).await)
    }

    async fn remove_many(&self, targets: &[Removal]) -> Vec<Result<RemoveOutcome, Error>> {
        dispatch!(self, d => d.remove_many(targets).await)
    }
}
