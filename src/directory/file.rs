//! The embedded directory: a `DirectoryData` YAML file, usually in the same repository.
//!
//! Reads answer from memory. A removal edits the file's text in place — the entry's lines (or,
//! in a flow list, its characters) are cut, so comments, order and formatting elsewhere stay
//! as the team wrote them — then re-reads the edited text and checks it equals the old data
//! minus exactly that entry before writing it atomically. An edit that cannot be verified is
//! refused, never written.

use foldhash::HashMapExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::fsutil::write_atomic;
use crate::load::yaml::{self, Node, NodeValue};
use crate::load::{self, SchemaSet};
use crate::model::Resource;
use crate::model::directory_data::{DirectoryDataSpec, Membership, Source};

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

    fn remove_entry(
        &self,
        state: &mut State,
        pointer: &str,
        expected: DirectoryDataSpec,
    ) -> Result<(), Error> {
        let edited = cut_sequence_item(&state.text, state.document, pointer).ok_or_else(|| {
            Error::Invalid(format!(
                "{}: cannot locate `{pointer}` to edit it",
                self.path.display()
            ))
        })?;
        let data = parse_data(&edited, state.document)
            .filter(|data| *data == expected)
            .ok_or_else(|| Error::Invalid(format!("{}: editing `{pointer}` would change more than that entry; the file is left as it was", self.path.display())))?;
        write_atomic(&self.path, edited.as_bytes()).map_err(|e| {
            Error::Unavailable(format!("cannot write {}: {e}", self.path.display()))
        })?;
        state.text = edited;
        state.index = Index::new(&data);
        state.data = data;
        Ok(())
    }
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

fn parse_data(text: &str, document: usize) -> Option<DirectoryDataSpec> {
    let parsed = yaml::parse(text);
    if !parsed.errors.is_empty() {
        return None;
    }
    let root = parsed
        .documents
        .into_iter()
        .find(|d| d.index == document)?
        .root;
    let spec = root.to_value().get("spec").cloned()?;
    serde_json::from_value(spec).ok()
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
        let all: Vec<AssignmentInfo> = positions
            .iter()
            .map(|&i| &state.data.assignments[i])
            .map(|a| AssignmentInfo {
                id: a.id.clone(),
                principal: a.principal.clone(),
                role: a.role.clone(),
                kind: a.kind,
                scope: a.scope.clone(),
            })
            .collect();
        self.page(&all, page)
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
        if let Some(reason) = &self.read_only {
            return Ok(RemoveOutcome::NotSupported {
                reason: reason.clone(),
            });
        }
        let mut state = self.lock();
        match target {
            Removal::Assignment { id, .. } => {
                let Some(index) = state.data.assignments.iter().position(|a| &a.id == id) else {
                    return Ok(RemoveOutcome::NotFound);
                };
                let mut expected = state.data.clone();
                expected.assignments.remove(index);
                self.remove_entry(&mut state, &format!("/spec/assignments/{index}"), expected)?;
                Ok(RemoveOutcome::Removed)
            }
            Removal::GroupMember { group, member } => {
                let Some(g) = state.data.groups.iter().position(|x| &x.id == group) else {
                    return Ok(RemoveOutcome::NotFound);
                };
                let info = &state.data.groups[g];
                if info.membership == Membership::Dynamic {
                    return Ok(RemoveOutcome::NotSupported {
                        reason: format!("group `{}` is dynamic", info.display_name),
                    });
                }
                if info.source == Source::OnPremises {
                    return Ok(RemoveOutcome::NotSupported {
                        reason: format!("group `{}` is synced from on-premises", info.display_name),
                    });
                }
                let Some(m) = info.members.iter().position(|x| x == member) else {
                    return Ok(RemoveOutcome::NotFound);
                };
                let mut expected = state.data.clone();
                expected.groups[g].members.remove(m);
                self.remove_entry(
                    &mut state,
                    &format!("/spec/groups/{g}/members/{m}"),
                    expected,
                )?;
                Ok(RemoveOutcome::Removed)
            }
        }
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

/// The text with the sequence item at `pointer` (in document `document`) cut out, or `None`
/// when it cannot be located.
fn cut_sequence_item(text: &str, document: usize, pointer: &str) -> Option<String> {
    let parsed = yaml::parse(text);
    let root = &parsed.documents.iter().find(|d| d.index == document)?.root;
    let (parent_pointer, index) = pointer.rsplit_once('/')?;
    let index: usize = index.parse().ok()?;
    let (parent, _) = root.locate(parent_pointer)?;
    let NodeValue::Seq(items) = &parent.value else {
        return None;
    };
    let item = items.get(index)?;
    let lines = LineIndex::new(text);
    let start = lines.offset(item.span.line, item.span.col)?;
    let flow = text[lines.offset(parent.span.line, parent.span.col)?..].starts_with('[');
    let (from, to) = if flow {
        // `[a, b, c]`: cut "b, " (up to the next item) or, for the last, ", c".
        match (
            items.get(index + 1),
            index.checked_sub(1).and_then(|i| items.get(i)),
        ) {
            (Some(next), _) => (start, lines.offset(next.span.line, next.span.col)?),
            (None, Some(previous)) => (
                end_offset(text, &lines, previous)?,
                end_offset(text, &lines, item)?,
            ),
            (None, None) => (start, end_offset(text, &lines, item)?),
        }
    } else {
        // A block item: whole lines, from its `- ` to its last line of content (comments and
        // blank lines after it belong to whatever follows).
        let first = lines.offset(item.span.line, 1)?;
        let last = last_content_line(text, &lines, item);
        (first, lines.offset(last + 1, 1).unwrap_or(text.len()))
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..from]);
    if !flow && items.len() == 1 {
        // The key would be left with no value, which YAML reads as null, not as an empty
        // list: write `[]` on the item's line, indented deeper than any key it belongs to.
        let dash = text[from..].len() - text[from..].trim_start_matches(' ').len();
        let indent = dash + 2;
        out.push_str(&" ".repeat(indent));
        out.push_str("[]\n");
    }
    out.push_str(&text[to..]);
    Some(out)
}

fn end_offset(text: &str, lines: &LineIndex, node: &Node) -> Option<usize> {
    let end = lines.offset(node.span.end_line, node.span.end_col)?;
    Some(end.min(text.len()))
}

/// The last line holding any of the node's own text.
fn last_content_line(text: &str, lines: &LineIndex, node: &Node) -> u32 {
    let is_flow = lines
        .offset(node.span.line, node.span.col)
        .is_some_and(|o| text[o..].starts_with(['[', '{']));
    match &node.value {
        _ if is_flow => node.span.end_line,
        NodeValue::Scalar(_) => node.span.end_line,
        NodeValue::Seq(items) => items
            .iter()
            .map(|i| last_content_line(text, lines, i))
            .max()
            .unwrap_or(node.span.line),
        NodeValue::Map(entries) => entries
            .iter()
            .map(|e| last_content_line(text, lines, &e.value).max(e.key_span.line))
            .max()
            .unwrap_or(node.span.line),
    }
}

/// Byte offsets of line starts, to turn (line, character column) into a byte offset.
struct LineIndex {
    starts: Vec<usize>,
    text_len: usize,
    text: String,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            starts,
            text_len: text.len(),
            text: text.to_owned(),
        }
    }

    fn offset(&self, line: u32, col: u32) -> Option<usize> {
        let start = *self.starts.get(line.checked_sub(1)? as usize)?;
        if start >= self.text_len {
            return (col <= 1).then_some(self.text_len);
        }
        let rest = &self.text[start..];
        let chars = col.checked_sub(1)? as usize;
        Some(
            start
                + rest
                    .char_indices()
                    .nth(chars)
                    .map_or(rest.len(), |(i, _)| i),
        )
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
