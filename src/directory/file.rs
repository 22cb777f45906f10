//! The embedded directory: a `DirectoryData` YAML file, usually in the same repository.
//!
//! Reads answer from memory. Removals come in batches ([`Directory::remove_many`]): the
//! batch's entries are cut out of the file's text in place, in one pass — their lines (or, in
//! a flow list, their characters) go, so comments, order and formatting elsewhere stay as the
//! team wrote them — then the edited text is read again and must equal the old data minus
//! exactly those entries before it is written, atomically, once. An edit that cannot be
//! verified is refused, never written. A batch costs one parse of the text, one re-read and
//! one write, whatever its size.

use foldhash::HashMapExt;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::fsutil::write_atomic;
use crate::load::{self, SchemaSet};
use crate::model::Resource;
use crate::model::directory_data::{DirectoryDataSpec, Group, Membership, Source};
use crate::yaml;

use super::{
    AssignmentInfo, Directory, Error, GroupInfo, Page, Principal, Removal, RemoveOutcome, RoleInfo,
    UserInfo,
};

/// Items per page: small enough that the paging code runs on every review of a real file.
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// A directory kept in a `DirectoryData` file.
#[derive(Debug)]
pub struct FileDirectory {
    path: PathBuf,
    page_size: usize,
    /// Why this file may not be edited (the daemon never writes into the tree it watches).
    read_only: Option<String>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    text: String,
    /// Index of the `DirectoryData` document among the file's documents.
    document: usize,
    data: DirectoryDataSpec,
    index: Index,
}

/// Lookups by key, rebuilt whenever the data changes: a review of one role among a thousand,
/// over 100,000 assignments, must not scan them all. Keys come from a file we read ourselves,
/// so a fast hasher costs no safety.
#[derive(Debug, Default)]
struct Index {
    /// Users by id, and apart by lower-cased user principal name: two namespaces, ids first.
    users: FastMap<String, usize>,
    upns: FastMap<String, usize>,
    groups: FastMap<String, usize>,
    assignments_by_role: FastMap<String, Vec<usize>>,
}

type FastMap<K, V> = foldhash::HashMap<K, V>;

impl Index {
    fn new(data: &DirectoryDataSpec) -> Index {
        let mut index = Index {
            users: FastMap::with_capacity(data.users.len()),
            upns: FastMap::with_capacity(data.users.len()),
            groups: FastMap::with_capacity(data.groups.len()),
            assignments_by_role: FastMap::new(),
        };
        for (i, user) in data.users.iter().enumerate() {
            index.users.insert(user.id.clone(), i);
            index
                .upns
                .insert(user.user_principal_name.to_lowercase(), i);
        }
        for (i, group) in data.groups.iter().enumerate() {
            index.groups.insert(group.id.clone(), i);
        }
        for (i, assignment) in data.assignments.iter().enumerate() {
            // Most assignments name a role already seen: no key to copy for them.
            match index.assignments_by_role.get_mut(assignment.role.as_str()) {
                Some(list) => list.push(i),
                None => {
                    index
                        .assignments_by_role
                        .insert(assignment.role.clone(), vec![i]);
                }
            }
        }
        index
    }
}

impl FileDirectory {
    /// Reads and validates the file; any finding in it is an error naming file, line and field.
    pub fn open(path: &Path) -> Result<FileDirectory, Error> {
        if let Some(problem) = crate::load::rules::data_file_problem(path) {
            return Err(Error::Invalid(problem));
        }
        let state = read_state(path)?;
        Ok(FileDirectory {
            path: path.to_path_buf(),
            page_size: DEFAULT_PAGE_SIZE,
            read_only: None,
            state: Mutex::new(state),
        })
    }

    /// A directory over a file the loader has already read and validated (the daemon and
    /// `recert reconcile` load the data file with the manifests: no second parse).
    pub fn from_loaded(
        path: &Path,
        text: &str,
        document: usize,
        data: &DirectoryDataSpec,
    ) -> FileDirectory {
        // The copy and the index of a hundred thousand entries, each on a core of its own.
        let ((data, text), index) =
            rayon::join(|| (data.clone(), text.to_owned()), || Index::new(data));
        let state = State {
            text,
            document,
            index,
            data,
        };
        FileDirectory {
            path: path.to_path_buf(),
            page_size: DEFAULT_PAGE_SIZE,
            read_only: None,
            state: Mutex::new(state),
        }
    }

    /// Refuses every removal with this reason: what apply then reports as "not supported".
    #[must_use]
    pub fn read_only(mut self, reason: impl Into<String>) -> FileDirectory {
        self.read_only = Some(reason.into());
        self
    }

    #[must_use]
    pub fn with_page_size(mut self, page_size: usize) -> FileDirectory {
        self.page_size = page_size.max(1);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file again when it no longer holds the text this directory last read or
    /// wrote: what another writer (or a sync that put entries back) left there is what the
    /// next answers are about. The remediation proof reads through this.
    pub fn reload_if_changed(&self) -> Result<(), Error> {
        let on_disk = std::fs::read(&self.path)
            .map_err(|e| Error::Unavailable(format!("cannot read {}: {e}", self.path.display())))?;
        if on_disk == self.lock().text.as_bytes() {
            return Ok(());
        }
        let fresh = read_state(&self.path)?;
        *self.lock() = fresh;
        Ok(())
    }

    /// The current contents.
    pub fn data(&self) -> DirectoryDataSpec {
        self.lock().data.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the in-memory copy as it was before the edit
        // (edits are written to disk before memory is updated), so it is safe to go on.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn page<T: Clone>(&self, all: &[T], page: Option<String>) -> Result<Page<T>, Error> {
        let start = match page {
            None => 0,
            Some(token) => token
                .parse::<usize>()
                .map_err(|_| Error::Invalid(format!("bad page token `{token}`")))?,
        };
        let end = all.len().min(start.saturating_add(self.page_size));
        Ok(Page {
            items: all.get(start..end).map(<[T]>::to_vec).unwrap_or_default(),
            next: (end < all.len()).then(|| end.to_string()),
        })
    }

    /// Resolves every target against the data, then cuts all that are found in one edit.
    fn remove_batch(&self, targets: &[Removal]) -> Vec<Result<RemoveOutcome, Error>> {
        if let Some(reason) = &self.read_only {
            let outcome = RemoveOutcome::NotSupported {
                reason: reason.clone(),
            };
            return targets.iter().map(|_| Ok(outcome.clone())).collect();
        }
        let mut state = self.lock();
        let mut batch = Batch::new(&state.data, &state.index);
        let mut outcomes: Vec<Result<RemoveOutcome, Error>> =
            targets.iter().map(|t| Ok(batch.resolve(t))).collect();
        if batch.is_empty() {
            return outcomes;
        }
        let cuts = batch.into_cuts();
        if let Err(error) = self.cut(&mut state, &cuts) {
            // Nothing was written: what would have been removed is not, and says why.
            for outcome in &mut outcomes {
                if matches!(outcome, Ok(RemoveOutcome::Removed)) {
                    *outcome = Err(error.clone());
                }
            }
        }
        outcomes
    }

    /// Cuts the entries out of the text in one pass, checks the result reads as the old data
    /// minus exactly those entries, writes it and takes it as the new state.
    fn cut(&self, state: &mut State, cuts: &Cuts) -> Result<(), Error> {
        let file = self.path.display();
        // The usual apply (assignments cut from a plain block list) reads the lines, and the
        // result is checked as any edit is; the parsed cut below is for everything else, and
        // for a guess that does not check out.
        let guessed = (cuts.members.is_empty() && state.document == 0)
            .then(|| {
                yaml::edit::guess_block_cuts(&state.text, "spec", "assignments", &cuts.assignments)
            })
            .flatten()
            .and_then(|edited| {
                let data = parse_data(&edited, state.document)
                    .filter(|data| cuts.is_old_minus_cuts(&state.data, data))?;
                Some((edited, data))
            });
        if let Some((edited, data)) = guessed {
            return self.take(state, edited, data);
        }
        let pointers = cuts.pointers();
        let edited = {
            let parsed = yaml::parse(&state.text);
            let root = parsed
                .documents
                .iter()
                .find(|d| d.index == state.document)
                .map(|d| &d.root)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "{file}: the DirectoryData document cannot be read again"
                    ))
                })?;
            let edited =
                yaml::edit::cut_sequence_items(&state.text, root, &pointers).map_err(|e| {
                    Error::Invalid(format!(
                        "{file}:{}:{}: cannot edit `{}`: {}; the file is left as it was",
                        e.line, e.column, e.field, e.why
                    ))
                })?;
            // A hundred thousand spanned nodes take a while to free: not on this thread.
            rayon::spawn(move || drop(parsed));
            edited
        };
        let data = parse_data(&edited, state.document)
            .filter(|data| cuts.is_old_minus_cuts(&state.data, data))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{file}: removing {} would change other data too; the file is left as it was",
                    cuts.describe()
                ))
            })?;
        self.take(state, edited, data)
    }

    /// Writes checked text and takes it, and the data it reads as, as the new state.
    fn take(
        &self,
        state: &mut State,
        edited: String,
        data: DirectoryDataSpec,
    ) -> Result<(), Error> {
        write_atomic(&self.path, edited.as_bytes()).map_err(|e| {
            Error::Unavailable(format!("cannot write {}: {e}", self.path.display()))
        })?;
        state.text = edited;
        state.index = Index::new(&data);
        let old = std::mem::replace(&mut state.data, data);
        rayon::spawn(move || drop(old));
        Ok(())
    }
}

/// A batch of removals resolved against the data: which entries go, and what every target
/// answers. Lookups by id are built once per batch, and only for the lists it touches, so a
/// batch is linear in the size of the data and of the batch.
struct Batch<'d> {
    data: &'d DirectoryDataSpec,
    index: &'d Index,
    /// Assignment id to its position (the first, as a scan finds it), built on first use.
    assignment_at: Option<FastMap<&'d str, usize>>,
    assignments: Vec<usize>,
    assignment_cut: Vec<bool>,
    /// Per group position: its members' positions and the members cut.
    groups: FastMap<usize, MemberCuts<'d>>,
}

struct MemberCuts<'d> {
    at: FastMap<&'d str, usize>,
    cut: Vec<usize>,
}

impl<'d> Batch<'d> {
    fn new(data: &'d DirectoryDataSpec, index: &'d Index) -> Batch<'d> {
        Batch {
            data,
            index,
            assignment_at: None,
            assignments: Vec::new(),
            assignment_cut: Vec::new(),
            groups: FastMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.assignments.is_empty() && self.groups.values().all(|g| g.cut.is_empty())
    }

    /// What removing `target` answers; a target found is marked to be cut. A target already
    /// marked (listed twice) is not there any more by the time its second mention is reached.
    fn resolve(&mut self, target: &Removal) -> RemoveOutcome {
        match target {
            Removal::Assignment { id, .. } => {
                let data = self.data;
                let at = self.assignment_at.get_or_insert_with(|| {
                    let mut at = FastMap::with_capacity(data.assignments.len());
                    for (i, a) in data.assignments.iter().enumerate() {
                        at.entry(a.id.as_str()).or_insert(i);
                    }
                    self.assignment_cut = vec![false; data.assignments.len()];
                    at
                });
                match at.get(id.as_str()) {
                    Some(&i) if !self.assignment_cut[i] => {
                        self.assignment_cut[i] = true;
                        self.assignments.push(i);
                        RemoveOutcome::Removed
                    }
                    _ => RemoveOutcome::NotFound,
                }
            }
            Removal::GroupMember { group, member } => {
                let Some(&g) = self.index.groups.get(group.as_str()) else {
                    return RemoveOutcome::NotFound;
                };
                let info = &self.data.groups[g];
                if info.membership == Membership::Dynamic {
                    return RemoveOutcome::NotSupported {
                        reason: format!("group `{}` is dynamic", info.display_name),
                    };
                }
                if info.source == Source::OnPremises {
                    return RemoveOutcome::NotSupported {
                        reason: format!("group `{}` is synced from on-premises", info.display_name),
                    };
                }
                let cuts = self.groups.entry(g).or_insert_with(|| {
                    let mut at = FastMap::with_capacity(info.members.len());
                    for (i, m) in info.members.iter().enumerate() {
                        at.entry(m.as_str()).or_insert(i);
                    }
                    MemberCuts {
                        at,
                        cut: Vec::new(),
                    }
                });
                // Taken out of the map once cut, so a second mention finds nothing.
                match cuts.at.remove(member.as_str()) {
                    Some(i) => {
                        cuts.cut.push(i);
                        RemoveOutcome::Removed
                    }
                    None => RemoveOutcome::NotFound,
                }
            }
        }
    }

    fn into_cuts(self) -> Cuts {
        let mut assignments = self.assignments;
        assignments.sort_unstable();
        let mut members: Vec<(usize, Vec<usize>)> = self
            .groups
            .into_iter()
            .filter(|(_, g)| !g.cut.is_empty())
            .map(|(g, cuts)| {
                let mut cut = cuts.cut;
                cut.sort_unstable();
                (g, cut)
            })
            .collect();
        members.sort_unstable_by_key(|(g, _)| *g);
        Cuts {
            assignments,
            members,
        }
    }
}

/// The positions cut, ascending: assignments, and members per group.
#[derive(Debug)]
struct Cuts {
    assignments: Vec<usize>,
    members: Vec<(usize, Vec<usize>)>,
}

impl Cuts {
    /// The lists to cut from, as JSON pointers into the document, with the positions.
    fn pointers(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::with_capacity(1 + self.members.len());
        if !self.assignments.is_empty() {
            out.push(("/spec/assignments".to_owned(), self.assignments.clone()));
        }
        for (g, cut) in &self.members {
            out.push((format!("/spec/groups/{g}/members"), cut.clone()));
        }
        out
    }

    fn describe(&self) -> String {
        let members: usize = self.members.iter().map(|(_, m)| m.len()).sum();
        match (self.assignments.len(), members) {
            (1, 0) => "an assignment".to_owned(),
            (0, 1) => "a group membership".to_owned(),
            (a, 0) => format!("{a} assignments"),
            (0, m) => format!("{m} group memberships"),
            (a, m) => format!("{a} assignments and {m} group memberships"),
        }
    }

    /// Whether `new` is `old` less exactly the cut entries, compared entry by entry without a
    /// copy of `old`.
    fn is_old_minus_cuts(&self, old: &DirectoryDataSpec, new: &DirectoryDataSpec) -> bool {
        let DirectoryDataSpec {
            users,
            groups,
            roles,
            assignments,
        } = old;
        let mut member_cuts = self.members.iter().peekable();
        *users == new.users
            && *roles == new.roles
            && without(assignments, &self.assignments).eq(new.assignments.iter())
            && groups.len() == new.groups.len()
            && groups
                .iter()
                .zip(&new.groups)
                .enumerate()
                .all(
                    |(g, (old, new))| match member_cuts.next_if(|(at, _)| *at == g) {
                        None => old == new,
                        Some((_, cut)) => {
                            same_but_members(old, new)
                                && without(&old.members, cut).eq(new.members.iter())
                        }
                    },
                )
    }
}

/// The items of `list` but those at `cut` (ascending positions).
fn without<'a, T>(list: &'a [T], cut: &'a [usize]) -> impl Iterator<Item = &'a T> {
    let mut cut = cut.iter().peekable();
    list.iter()
        .enumerate()
        .filter(move |(i, _)| cut.next_if(|&&c| c == *i).is_none())
        .map(|(_, item)| item)
}

fn same_but_members(old: &Group, new: &Group) -> bool {
    // Spelled out so that a field added to `Group` cannot be forgotten here.
    let Group {
        id,
        display_name,
        members: _,
        membership,
        source,
    } = old;
    *id == new.id
        && *display_name == new.display_name
        && *membership == new.membership
        && *source == new.source
}

fn read_state(path: &Path) -> Result<State, Error> {
    let loaded = load::load(
        &[path.to_path_buf()],
        &load::Options::default(),
        &SchemaSet::new(),
    );
    refuse_findings(&loaded, path)?;
    let doc = loaded
        .docs
        .iter()
        .find(|d| matches!(d.resource, Resource::DirectoryData(_)))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{} holds no DirectoryData document",
                path.display()
            ))
        })?;
    let Resource::DirectoryData(data) = &doc.resource else {
        unreachable!("filtered on the kind above");
    };
    let text = loaded.sources[doc.file].text.clone().unwrap_or_default();
    Ok(State {
        text,
        document: doc.index,
        index: Index::new(&data.spec),
        data: data.spec.clone(),
    })
}

/// The first error `validate` finds in the data file at `path` (as loaded in `loaded`), as the
/// reason the file directory refuses it: the engine never runs on data `validate` rejects
/// (a duplicate or ambiguous user principal name, a dangling manager). Call it before
/// [`FileDirectory::from_loaded`] too.
pub fn refuse_findings(loaded: &load::Loaded, path: &Path) -> Result<(), Error> {
    let canonical = std::fs::canonicalize(path).ok();
    let same = |file: &Path| {
        file == path || (canonical.is_some() && std::fs::canonicalize(file).ok() == canonical)
    };
    let Some(d) = loaded
        .diagnostics
        .iter()
        .find(|d| d.severity == crate::diag::Severity::Error && same(&d.file))
    else {
        return Ok(());
    };
    let at = d
        .span
        .map(|s| format!(":{}:{}", s.line, s.col))
        .unwrap_or_default();
    Err(Error::Invalid(format!(
        "{}{at}: {}",
        d.file.display(),
        d.message
    )))
}

/// The `spec` of document `document` of `text`, when it reads without any error.
fn parse_data(text: &str, document: usize) -> Option<DirectoryDataSpec> {
    let parsed = yaml::parse_values(text);
    if !parsed.errors.is_empty() {
        return None;
    }
    let root = parsed
        .documents
        .into_iter()
        .find(|d| d.index == document && !d.damaged)?
        .root;
    // Decoded on every core when large, as the loader does.
    let spec = match load::parallel_decode::directory_data(&root) {
        Some(Resource::DirectoryData(data)) => Some(data.spec),
        _ => root
            .get("spec")
            .and_then(|spec| DirectoryDataSpec::deserialize(spec).ok()),
    };
    load::parallel_decode::drop_in_parallel(root);
    spec
}

impl Directory for FileDirectory {
    async fn roles(&self) -> Result<Vec<RoleInfo>, Error> {
        Ok(self
            .lock()
            .data
            .roles
            .iter()
            .map(|r| RoleInfo {
                id: r.id.clone(),
                display_name: r.display_name.clone(),
            })
            .collect())
    }

    async fn find_role(
        &self,
        id: Option<&str>,
        name: Option<&str>,
    ) -> Result<Option<RoleInfo>, Error> {
        Ok(self
            .lock()
            .data
            .roles
            .iter()
            .find(|r| Some(r.id.as_str()) == id || Some(r.display_name.as_str()) == name)
            .map(|r| RoleInfo {
                id: r.id.clone(),
                display_name: r.display_name.clone(),
            }))
    }

    async fn find_groups(&self, key: &str) -> Result<Vec<GroupInfo>, Error> {
        Ok(self
            .lock()
            .data
            .groups
            .iter()
            .filter(|g| g.id == key || g.display_name == key)
            .map(group_info)
            .collect())
    }

    async fn list_assignments(
        &self,
        role: &str,
        page: Option<String>,
    ) -> Result<Page<AssignmentInfo>, Error> {
        let state = self.lock();
        let positions = state
            .index
            .assignments_by_role
            .get(role)
            .map_or(&[][..], Vec::as_slice);
        // Only this page's entries are copied: listing a role of a hundred thousand
        // assignments page by page (a review's start, the remediation proof after an apply)
        // stays linear.
        let page = self.page(positions, page)?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(|&i| &state.data.assignments[i])
                .map(|a| AssignmentInfo {
                    id: a.id.clone(),
                    principal: a.principal.clone(),
                    role: a.role.clone(),
                    kind: a.kind,
                    scope: a.scope.clone(),
                })
                .collect(),
            next: page.next,
        })
    }

    async fn list_members(&self, group: &str, page: Option<String>) -> Result<Page<String>, Error> {
        let state = self.lock();
        let members = state
            .index
            .groups
            .get(group)
            .map(|&i| state.data.groups[i].members.clone())
            .ok_or_else(|| Error::NotFound(format!("group {group}")))?;
        self.page(&members, page)
    }

    fn lookup_batch_size(&self) -> usize {
        self.page_size
    }

    async fn lookup(&self, ids: &[String]) -> Result<Vec<Principal>, Error> {
        let state = self.lock();
        let data = &state.data;
        Ok(ids
            .iter()
            .filter_map(|id| {
                // A name is an id when some principal has it as id; only otherwise a user
                // principal name, so a user whose user principal name is another's id never
                // hides that one.
                let by_id = state.index.users.get(id.as_str()).or_else(|| {
                    (!state.index.groups.contains_key(id.as_str()))
                        .then(|| state.index.upns.get(&id.to_lowercase()))
                        .flatten()
                });
                if let Some(u) = by_id.map(|&i| &data.users[i]) {
                    return Some(Principal::User(UserInfo {
                        id: u.id.clone(),
                        user_principal_name: u.user_principal_name.clone(),
                        display_name: u.display_name.clone(),
                        manager: u.manager.clone(),
                        last_sign_in: u.last_sign_in,
                        enabled: u.enabled,
                        source: u.source,
                        mail: u.mail.clone(),
                        user_type: u.user_type,
                    }));
                }
                state
                    .index
                    .groups
                    .get(id.as_str())
                    .map(|&i| Principal::Group(group_info(&data.groups[i])))
            })
            .collect())
    }

    async fn remove(&self, target: &Removal) -> Result<RemoveOutcome, Error> {
        self.remove_batch(std::slice::from_ref(target))
            .pop()
            .unwrap_or(Ok(RemoveOutcome::NotFound))
    }

    async fn remove_many(&self, targets: &[Removal]) -> Vec<Result<RemoveOutcome, Error>> {
        self.remove_batch(targets)
    }
}

fn group_info(g: &crate::model::directory_data::Group) -> GroupInfo {
    GroupInfo {
        id: g.id.clone(),
        display_name: g.display_name.clone(),
        membership: g.membership,
        source: g.source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = "# Our directory.
apiVersion: recert.dev/v1alpha1
kind: DirectoryData
metadata: {name: corp}
spec:
  users:
    - {id: u-a, userPrincipalName: a@x}
    - id: u-b   # Bob
      userPrincipalName: b@x

    # Carol runs the team.
    - {id: u-c, userPrincipalName: c@x}
  groups:
    - {id: g-1, displayName: Ops, members: [u-a, u-b, u-c]}
  roles:
    - {id: r-1, displayName: Admin}
  assignments:
    - {id: a-1, principal: u-a, role: r-1}
    # The second one.
    - id: a-2
      principal: u-b
      role: r-1
    - {id: a-3, principal: g-1, role: r-1}   # the group
";

    fn fixture(text: &str) -> (tempfile::TempDir, FileDirectory) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data.yaml");
        std::fs::write(&path, text).expect("write");
        let directory = FileDirectory::open(&path).expect("valid data");
        (dir, directory)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn a_file_put_back_after_a_removal_is_read_again_and_a_broken_one_refused() {
        let (_dir, directory) = fixture(DATA);
        let removal = Removal::Assignment {
            id: "a-2".to_owned(),
            kind: crate::model::directory_data::AssignmentType::Active,
            principal: "u-b".to_owned(),
            role: "r-1".to_owned(),
            scope: String::new(),
        };
        let member = Removal::GroupMember {
            group: "g-1".to_owned(),
            member: "u-c".to_owned(),
        };
        let removed = block_on(directory.remove_many(&[removal.clone(), member.clone()]));
        assert_eq!(
            removed,
            [Ok(RemoveOutcome::Removed), Ok(RemoveOutcome::Removed)]
        );
        let check = || {
            block_on(crate::execute::remediation::check(
                &directory,
                &[&removal, &member],
            ))
        };
        use crate::execute::remediation::Check;
        assert_eq!(check(), [Check::Gone, Check::Gone]);
        // Unchanged on disk: nothing is parsed again.
        directory.reload_if_changed().expect("same text");
        // Someone puts the file back: what the directory answers is the file again.
        std::fs::write(directory.path(), DATA).expect("restore");
        directory.reload_if_changed().expect("valid data");
        assert_eq!(check(), [Check::Present, Check::Present]);
        // A file that no longer reads is an error, and the last good data stays.
        std::fs::write(directory.path(), "spec: [").expect("break");
        assert!(matches!(
            directory.reload_if_changed(),
            Err(Error::Invalid(_))
        ));
        assert_eq!(directory.data().assignments.len(), 3);
    }

    #[test]
    fn a_role_is_found_by_id_or_name_first_in_file_order_as_roles_lists_them() {
        let text = "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata: {name: corp}\nspec:\n  roles:\n    - {id: r-1, displayName: Admin}\n    - {id: r-2, displayName: r-3}\n    - {id: r-3, displayName: Reader}\n";
        let (_dir, directory) = fixture(text);
        let found = |id: Option<&str>, name: Option<&str>| {
            block_on(directory.find_role(id, name))
                .expect("in memory")
                .map(|r| (r.id, r.display_name))
        };
        let role = |id: &str, name: &str| Some((id.to_owned(), name.to_owned()));
        assert_eq!(found(Some("r-1"), None), role("r-1", "Admin"));
        assert_eq!(found(None, Some("Reader")), role("r-3", "Reader"));
        // Either matches; the earlier role in the file wins, as a scan of `roles()` finds it.
        assert_eq!(found(Some("r-3"), Some("r-3")), role("r-2", "r-3"));
        assert_eq!(found(Some("r-3"), None), role("r-3", "Reader"));
        assert_eq!(found(Some("nope"), Some("Admin")), role("r-1", "Admin"));
        assert_eq!(found(Some("nope"), Some("None")), None);
        assert_eq!(found(None, None), None);
        let listed = block_on(directory.roles()).expect("in memory");
        assert_eq!(listed.len(), 3);
    }

    #[test]
    fn removing_the_only_block_assignment_leaves_an_empty_list_not_null() {
        let text = "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata:\n  name: corp\nspec:\n  users:\n    - {id: u-1, userPrincipalName: one@corp.example}\n  roles:\n    - {id: r-1, displayName: Role}\n  assignments:\n    # the only one\n    - {id: a-1, principal: u-1, role: r-1}\n";
        let (_dir, directory) = fixture(text);
        let outcome = block_on(directory.remove(&Removal::assignment("a-1", Default::default())));
        assert_eq!(outcome, Ok(RemoveOutcome::Removed));
        let edited = std::fs::read_to_string(directory.path()).expect("read");
        assert!(
            edited.ends_with("  assignments:\n    # the only one\n      []\n"),
            "{edited}"
        );
        assert!(directory.data().assignments.is_empty());
    }

    #[test]
    fn removing_a_block_assignment_cuts_its_lines_and_keeps_every_comment() {
        let (_dir, directory) = fixture(DATA);
        let outcome = block_on(directory.remove(&Removal::assignment("a-2", Default::default())));
        assert_eq!(outcome, Ok(RemoveOutcome::Removed));
        let text = std::fs::read_to_string(directory.path()).expect("read");
        assert_eq!(
            text,
            DATA.replace("    - id: a-2\n      principal: u-b\n      role: r-1\n", "")
        );
        assert!(text.contains("# The second one."));
        assert_eq!(directory.data().assignments.len(), 2);
    }

    #[test]
    fn removing_the_last_flow_member_keeps_the_rest_of_the_list() {
        let (_dir, directory) = fixture(DATA);
        let outcome = block_on(directory.remove(&Removal::GroupMember {
            group: "g-1".into(),
            member: "u-c".into(),
        }));
        assert_eq!(outcome, Ok(RemoveOutcome::Removed));
        let text = std::fs::read_to_string(directory.path()).expect("read");
        assert!(text.contains("members: [u-a, u-b]}"), "{text}");
        let outcome = block_on(directory.remove(&Removal::GroupMember {
            group: "g-1".into(),
            member: "u-a".into(),
        }));
        assert_eq!(outcome, Ok(RemoveOutcome::Removed));
        let text = std::fs::read_to_string(directory.path()).expect("read");
        assert!(text.contains("members: [u-b]}"), "{text}");
    }

    #[test]
    fn removing_an_assignment_that_is_gone_reports_not_found_and_writes_nothing() {
        let (_dir, directory) = fixture(DATA);
        let outcome = block_on(directory.remove(&Removal::assignment("a-9", Default::default())));
        assert_eq!(outcome, Ok(RemoveOutcome::NotFound));
        assert_eq!(
            std::fs::read_to_string(directory.path()).expect("read"),
            DATA
        );
    }

    #[test]
    fn the_last_assignment_with_a_trailing_comment_is_cut_cleanly() {
        let (_dir, directory) = fixture(DATA);
        let outcome = block_on(directory.remove(&Removal::assignment("a-3", Default::default())));
        assert_eq!(outcome, Ok(RemoveOutcome::Removed));
        let text = std::fs::read_to_string(directory.path()).expect("read");
        assert!(
            !text.contains("a-3") && !text.contains("# the group"),
            "{text}"
        );
        assert!(text.ends_with("      role: r-1\n"), "{text}");
    }

    /// A data file of `n` assignments in mixed styles, with comments, and a group whose `n / 10`
    /// members are a block list; the assignments and members `gone` names are left out (the
    /// comments before them stay), as a removal must leave the text.
    fn large(n: usize, gone: &dyn Fn(&str) -> bool) -> String {
        let mut text = String::from(
            "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata: {name: corp}\nspec:\n  users:\n",
        );
        for u in 0..n / 10 {
            text.push_str(&format!("    - {{id: u-{u}, userPrincipalName: u{u}@x}}\n"));
        }
        text.push_str("  groups:\n    - id: g-1\n      displayName: Ops\n      members:\n");
        for u in (0..n / 10).filter(|u| !gone(&format!("u-{u}"))) {
            text.push_str(&format!("        - u-{u}\n"));
        }
        text.push_str("  roles:\n    - {id: r-1, displayName: Admin}\n  assignments:\n");
        for i in 0..n {
            let u = i % (n / 10);
            let id = format!("a-{i}");
            let entry = match i % 4 {
                0 => format!("    - {{id: a-{i}, principal: u-{u}, role: r-1}}\n"),
                1 => {
                    format!("    - id: a-{i}   # block\n      principal: u-{u}\n      role: r-1\n")
                }
                2 => {
                    text.push_str(&format!("    # about a-{i}\n"));
                    format!("    - {{id: \"a-{i}\", principal: u-{u}, role: r-1}}\n")
                }
                _ => {
                    text.push('\n');
                    format!("    - {{id: a-{i}, principal: u-{u}, role: r-1}}  # flow\n")
                }
            };
            if !gone(&id) {
                text.push_str(&entry);
            }
        }
        text
    }

    fn removals(ids: impl IntoIterator<Item = usize>) -> Vec<Removal> {
        ids.into_iter()
            .map(|i| Removal::assignment(&format!("a-{i}"), Default::default()))
            .collect()
    }

    fn members(ids: impl IntoIterator<Item = usize>) -> Vec<Removal> {
        ids.into_iter()
            .map(|u| Removal::GroupMember {
                group: "g-1".into(),
                member: format!("u-{u}"),
            })
            .collect()
    }

    #[test]
    fn a_batch_of_a_thousand_cuts_exactly_their_entries_in_one_write() {
        let text = large(10_000, &|_| false);
        let (_dir, directory) = fixture(&text);
        // Not in file order, and group members among the assignments.
        let mut targets = removals((0..10_000).rev().step_by(10));
        targets.extend(members((0..1_000).step_by(10)));
        targets.rotate_left(950);
        let outcomes = block_on(directory.remove_many(&targets));
        assert!(outcomes.iter().all(|o| *o == Ok(RemoveOutcome::Removed)));
        let gone = |id: &str| {
            let number = |prefix| {
                id.strip_prefix(prefix)
                    .and_then(|n| n.parse::<usize>().ok())
            };
            number("a-").is_some_and(|i| i % 10 == 9) || number("u-").is_some_and(|u| u % 10 == 0)
        };
        let edited = std::fs::read_to_string(directory.path()).expect("read");
        assert_eq!(edited, large(10_000, &gone));
        assert_eq!(directory.data().assignments.len(), 9_000);
        assert_eq!(directory.data().groups[0].members.len(), 900);
        // The index is rebuilt: what is gone is not listed, what stays is.
        let listed = block_on(directory.list_assignments("r-1", None)).expect("listed");
        assert_eq!(listed.items[9].id, "a-10");
        assert_eq!(
            FileDirectory::open(directory.path()).expect("valid").data(),
            directory.data()
        );
    }

    #[test]
    fn a_batch_writes_the_same_text_as_removing_its_targets_one_at_a_time() {
        let text = large(1_000, &|_| false);
        let (_dir, batch) = fixture(&text);
        let (_other, single) = fixture(&text);
        let mut targets = removals((0..1_000).step_by(7));
        targets.extend(members((0..100).step_by(9)));
        let outcomes = block_on(batch.remove_many(&targets));
        assert!(outcomes.iter().all(|o| *o == Ok(RemoveOutcome::Removed)));
        for target in &targets {
            assert_eq!(block_on(single.remove(target)), Ok(RemoveOutcome::Removed));
        }
        assert_eq!(
            std::fs::read_to_string(batch.path()).expect("read"),
            std::fs::read_to_string(single.path()).expect("read")
        );
        assert_eq!(batch.data(), single.data());
    }

    #[test]
    fn a_target_named_twice_or_unknown_is_not_found_and_the_rest_are_removed() {
        let (_dir, directory) = fixture(DATA);
        let member = |m: &str| Removal::GroupMember {
            group: "g-1".into(),
            member: m.into(),
        };
        let targets = vec![
            Removal::assignment("a-2", Default::default()),
            member("u-b"),
            Removal::assignment("a-9", Default::default()),
            Removal::assignment("a-2", Default::default()),
            member("u-b"),
            member("u-z"),
            Removal::GroupMember {
                group: "g-9".into(),
                member: "u-a".into(),
            },
            Removal::assignment("a-3", Default::default()),
        ];
        let outcomes = block_on(directory.remove_many(&targets));
        use RemoveOutcome::{NotFound, Removed};
        assert_eq!(
            outcomes,
            [
                Removed, Removed, NotFound, NotFound, NotFound, NotFound, NotFound, Removed
            ]
            .map(Ok)
            .to_vec()
        );
        let text = std::fs::read_to_string(directory.path()).expect("read");
        let expected = DATA
            .replace("    - id: a-2\n      principal: u-b\n      role: r-1\n", "")
            .replace(
                "    - {id: a-3, principal: g-1, role: r-1}   # the group\n",
                "",
            )
            .replace("members: [u-a, u-b, u-c]", "members: [u-a, u-c]");
        assert_eq!(text, expected);
        assert_eq!(directory.data().assignments.len(), 1);
        assert_eq!(directory.data().groups[0].members, ["u-a", "u-c"]);
    }

    #[test]
    fn a_read_only_directory_refuses_every_target_and_writes_nothing() {
        let (_dir, directory) = fixture(DATA);
        let directory = directory.read_only("the daemon does not write into its tree");
        let outcomes = block_on(directory.remove_many(&removals([1, 2, 9])));
        let refused = Ok(RemoveOutcome::NotSupported {
            reason: "the daemon does not write into its tree".into(),
        });
        assert_eq!(outcomes, vec![refused; 3]);
        assert_eq!(
            std::fs::read_to_string(directory.path()).expect("read"),
            DATA
        );
    }

    #[test]
    fn a_dynamic_groups_members_are_not_supported_beside_removals_that_go_ahead() {
        let text = DATA.replace(
            "    - {id: g-1, displayName: Ops, members: [u-a, u-b, u-c]}\n",
            "    - {id: g-1, displayName: Ops, members: [u-a, u-b, u-c]}\n    - {id: g-2, displayName: Auto, membership: dynamic, members: [u-a]}\n",
        );
        let (_dir, directory) = fixture(&text);
        let targets = [
            Removal::GroupMember {
                group: "g-2".into(),
                member: "u-a".into(),
            },
            Removal::assignment("a-1", Default::default()),
        ];
        let outcomes = block_on(directory.remove_many(&targets));
        assert_eq!(
            outcomes,
            vec![
                Ok(RemoveOutcome::NotSupported {
                    reason: "group `Auto` is dynamic".into()
                }),
                Ok(RemoveOutcome::Removed)
            ]
        );
        assert_eq!(directory.data().groups[1].members, ["u-a"]);
    }

    #[test]
    fn a_batch_whose_edit_does_not_verify_is_refused_whole_and_the_file_is_untouched() {
        // Cutting a-1 takes the anchor a-2's alias refers to: the edited text no longer reads.
        let text = DATA
            .replace(
                "{id: a-1, principal: u-a, role: r-1}",
                "{id: a-1, principal: u-a, role: &admin r-1}",
            )
            .replace(
                "      role: r-1\n    - {id: a-3",
                "      role: *admin\n    - {id: a-3",
            );
        let (_dir, directory) = fixture(&text);
        let before = directory.data();
        let outcomes = block_on(directory.remove_many(&removals([3, 1, 7])));
        let Err(Error::Invalid(message)) = &outcomes[0] else {
            panic!("{outcomes:?}");
        };
        assert!(
            message.contains("data.yaml: removing 2 assignments would change other data too; the file is left as it was"),
            "{message}"
        );
        assert_eq!(outcomes[1], outcomes[0]);
        assert_eq!(outcomes[2], Ok(RemoveOutcome::NotFound));
        assert_eq!(
            std::fs::read_to_string(directory.path()).expect("read"),
            text
        );
        assert_eq!(directory.data(), before);
        // What does not touch the anchor still goes.
        let outcome = block_on(directory.remove(&Removal::assignment("a-3", Default::default())));
        assert_eq!(outcome, Ok(RemoveOutcome::Removed));
    }

    #[test]
    fn the_read_back_must_be_the_old_data_less_exactly_the_cut_entries() {
        let (_dir, directory) = fixture(DATA);
        let old = directory.data();
        let cuts = Cuts {
            assignments: vec![1],
            members: vec![(0, vec![0])],
        };
        let mut new = old.clone();
        new.assignments.remove(1);
        new.groups[0].members.remove(0);
        assert!(cuts.is_old_minus_cuts(&old, &new));
        let mut wrong_entry = old.clone();
        wrong_entry.assignments.remove(0);
        wrong_entry.groups[0].members.remove(0);
        assert!(!cuts.is_old_minus_cuts(&old, &wrong_entry));
        let mut renamed = new.clone();
        renamed.groups[0].display_name = "Other".into();
        assert!(!cuts.is_old_minus_cuts(&old, &renamed));
        let mut one_more = new.clone();
        one_more.users.pop();
        assert!(!cuts.is_old_minus_cuts(&old, &one_more));
        assert!(!cuts.is_old_minus_cuts(&old, &old));
    }

    #[test]
    fn lists_come_in_pages() {
        let (_dir, directory) = fixture(DATA);
        let directory = directory.with_page_size(2);
        let first = block_on(directory.list_assignments("r-1", None)).expect("page 1");
        assert_eq!(first.items.len(), 2);
        let second = block_on(directory.list_assignments("r-1", first.next)).expect("page 2");
        assert_eq!(second.items.len(), 1);
        assert_eq!(second.next, None);
    }

    #[test]
    fn an_invalid_data_file_is_refused_with_its_position() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data.yaml");
        std::fs::write(
            &path,
            DATA.replace("role: r-1\n    - {id: a-3", "rol: r-1\n    - {id: a-3"),
        )
        .expect("write");
        let error = FileDirectory::open(&path).expect_err("invalid");
        assert!(
            matches!(&error, Error::Invalid(m) if m.contains("data.yaml:22:7: unknown field `rol`")),
            "{error}"
        );
    }

    #[test]
    fn an_id_is_never_hidden_by_a_user_principal_name_that_spells_it() {
        // Sue's id is `u-sue`; Mallory's user principal name is `u-sue` too.
        let text = "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata: {name: corp}\nspec:\n  users:\n    - {id: u-sue, userPrincipalName: sue@x}\n    - {id: u-mallory, userPrincipalName: u-sue}\n  roles:\n    - {id: r-1, displayName: Admin}\n  assignments:\n    - {id: a-1, principal: u-sue, role: r-1}\n    - {id: a-2, principal: u-mallory, role: r-1}\n";
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data.yaml");
        std::fs::write(&path, text).expect("write");
        // Validation refuses the ambiguous file: opening it names the line.
        let refused = FileDirectory::open(&path).expect_err("ambiguous");
        assert!(
            refused.to_string().contains("data.yaml:7:") && refused.to_string().contains("u-sue"),
            "{refused}"
        );
        // Loaded anyway (as the daemon does with a file it loaded with the manifests), the
        // names still resolve ids first and both assignments are reviewed.
        let data: DirectoryDataSpec = parse_data(text, 0).expect("parses");
        let directory = FileDirectory::from_loaded(&path, text, 0, &data);
        let found = block_on(directory.lookup(&["u-sue".to_owned()])).expect("in memory");
        assert_eq!(
            found.iter().map(Principal::id).collect::<Vec<_>>(),
            ["u-sue"]
        );
        let scope: crate::model::review::Scope = serde_json::from_value(serde_json::json!({
            "role": {"id": "r-1"}
        }))
        .expect("scope");
        let observed = block_on(crate::directory::observe(&directory, &scope)).expect("observe");
        assert_eq!(
            observed.items.keys().collect::<Vec<_>>(),
            ["u-mallory", "u-sue"]
        );
    }
}
