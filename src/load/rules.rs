//! Rules that need more than one document, or more than the schema can say.
//!
//! Each rule reports against the node it is about. Rules that need the directory's contents
//! (does this reviewer exist, is this their own item) run only when the review's directory is
//! an embedded `DirectoryData` that was loaded; for Graph and SCIM the engine checks them
//! against the live directory instead.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use foldhash::HashMapExt;

use crate::diag::{Code, Diagnostic, field_path};
use crate::model::decisions::Decision;
use crate::model::directory::DirectoryType;
use crate::model::directory_data::DirectoryDataSpec;
use crate::model::review::{Recurrence, ReviewerType};
use crate::model::{AccessReview, Directory, Kind, Resource, ReviewDecisions};
use crate::reconcile::authority::{self, DataNames, Names, Subject, Verdict};
use crate::reconcile::decisions::agree;

use super::validate::did_you_mean;
use super::{Loaded, LoadedDoc};

/// Every cross-document finding in `loaded`.
pub fn check(loaded: &Loaded) -> Vec<Diagnostic> {
    check_reusing(loaded, &HashMap::new()).0
}

/// [`check`], taking the findings of a file's `DirectoryData` documents from `cached` (by file
/// index) when there: those rules look only inside the document, and a large directory takes
/// most of the time of all the rules. Returns the findings, and those of every `DirectoryData`
/// file, for the next call.
pub fn check_reusing(
    loaded: &Loaded,
    cached: &HashMap<usize, Vec<Diagnostic>>,
) -> (Vec<Diagnostic>, HashMap<usize, Vec<Diagnostic>>) {
    // A large DirectoryData's own rules take as long as all the others together: they run
    // on another core, each side with its context.
    let (data_findings, rest) = rayon::join(
        || {
            let mut ctx = Ctx::new(loaded);
            let mut findings: HashMap<usize, Vec<Diagnostic>> = HashMap::new();
            for doc in &loaded.docs {
                if let Resource::DirectoryData(d) = &doc.resource {
                    let found = match cached.get(&doc.file) {
                        Some(found) => found.clone(),
                        None => {
                            let before = ctx.out.len();
                            ctx.directory_data(doc, &d.spec);
                            ctx.out.drain(before..).collect()
                        }
                    };
                    findings.entry(doc.file).or_default().extend(found);
                }
            }
            findings
        },
        || {
            let mut ctx = Ctx::new(loaded);
            ctx.unique_names();
            let index = Index::new(loaded);
            for doc in &loaded.docs {
                match &doc.resource {
                    Resource::Directory(d) => ctx.directory(doc, d, &index),
                    Resource::DirectoryData(_) => {}
                    Resource::AccessReview(r) => ctx.review(doc, r, &index),
                    Resource::ReviewDecisions(d) => ctx.decisions(doc, d, &index),
                    Resource::Notifier(n) => ctx.notifier(doc, n),
                    Resource::ReviewerPortal(p) => ctx.portal(doc, p, &index),
                }
            }
            ctx.conflicts(&index);
            ctx.out
        },
    );
    let mut out = rest;
    out.extend(data_findings.values().flatten().cloned());
    (out, data_findings)
}

struct Ctx<'a> {
    loaded: &'a Loaded,
    out: Vec<Diagnostic>,
    /// Names still to compare for "did you mean" notes: each suggestion compares the name with
    /// every candidate, so a thousand unresolved references among a thousand names would be a
    /// million comparisons. The first findings get suggestions, the rest none.
    suggestions_left: usize,
    /// Spanned trees of the documents of files loaded without positions, by file and then by
    /// document index: a file is read again once, on its first finding, not once per document
    /// with a finding (a file of a thousand such documents would be read a thousand times).
    spanned: std::cell::RefCell<HashMap<usize, HashMap<usize, crate::yaml::Node>>>,
}

impl<'a> Ctx<'a> {
    fn new(loaded: &'a Loaded) -> Ctx<'a> {
        Ctx {
            loaded,
            out: Vec::new(),
            suggestions_left: SUGGESTION_BUDGET,
            spanned: Default::default(),
        }
    }
}

/// Lookups across the loaded documents, built once: every path is canonicalised once, not per
/// lookup (a tree of 10,000 files with hundreds of directories must stay linear).
struct Index<'a> {
    by_name: HashMap<(Kind, &'a str), &'a LoadedDoc>,
    names: HashMap<Kind, Vec<&'a str>>,
    /// Loaded files by canonical path.
    files: HashMap<PathBuf, usize>,
    /// `DirectoryData` contents by the index of their file.
    data_by_file: HashMap<usize, People<'a>>,
    /// For each file-type `Directory`, the canonical path of its data file.
    data_path: HashMap<&'a str, PathBuf>,
    /// Files with at least one valid document.
    files_with_docs: HashSet<usize>,
}

impl<'a> Index<'a> {
    fn new(loaded: &'a Loaded) -> Index<'a> {
        let mut by_name = HashMap::new();
        let mut names: HashMap<Kind, Vec<&str>> = HashMap::new();
        let mut data_by_file = HashMap::new();
        let mut data_path = HashMap::new();
        // Folders are resolved once each, not every file: the walk yields regular files only
        // (links are not followed), so a file's canonical path is its folder's plus its name.
        let mut folders: HashMap<&Path, PathBuf> = HashMap::new();
        let files = loaded
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let path = match (s.path.parent(), s.path.file_name()) {
                    (Some(parent), Some(name))
                        if !std::fs::symlink_metadata(&s.path)
                            .is_ok_and(|m| m.file_type().is_symlink()) =>
                    {
                        folders
                            .entry(parent)
                            .or_insert_with(|| canonical(parent))
                            .join(name)
                    }
                    _ => canonical(&s.path),
                };
                (path, i)
            })
            .collect();
        let files_with_docs = loaded.docs.iter().map(|d| d.file).collect();
        for doc in &loaded.docs {
            let kind = doc.resource.kind();
            by_name.entry((kind, doc.resource.name())).or_insert(doc);
            names.entry(kind).or_default().push(doc.resource.name());
            match &doc.resource {
                Resource::DirectoryData(data) => {
                    data_by_file
                        .entry(doc.file)
                        .or_insert_with(|| People::new(&data.spec));
                }
                Resource::Directory(directory) if directory.spec.kind == DirectoryType::File => {
                    if let Some(file) = &directory.spec.file {
                        let path = canonical(&resolve_relative(loaded.path_of(doc), &file.path));
                        data_path.entry(doc.resource.name()).or_insert(path);
                    }
                }
                _ => {}
            }
        }
        Index {
            by_name,
            names,
            files,
            data_by_file,
            data_path,
            files_with_docs,
        }
    }

    fn get(&self, kind: Kind, name: &str) -> Option<&'a LoadedDoc> {
        self.by_name.get(&(kind, name)).copied()
    }

    fn names(&self, kind: Kind) -> &[&'a str] {
        self.names.get(&kind).map_or(&[], Vec::as_slice)
    }

    /// The directory contents behind a review, when its directory is an embedded file that
    /// was loaded.
    fn people_for(&self, review: &AccessReview) -> Option<&People<'a>> {
        let path = self.data_path.get(review.spec.directory.as_str())?;
        self.data_by_file.get(self.files.get(path)?)
    }
}

/// How many name comparisons "did you mean" notes may take in one check (a few milliseconds).
const SUGGESTION_BUDGET: usize = 20_000;

type FastMap<K, V> = foldhash::HashMap<K, V>;
type FastSet<T> = foldhash::HashSet<T>;

/// A field of an entry of a `DirectoryData` list (`/spec/{list}/{index}/{field}`): where a
/// name was first seen, spelled as a pointer only when it is seen twice.
#[derive(Clone, Copy)]
struct Place(&'static str, usize, &'static str);

impl Place {
    fn pointer(self) -> String {
        format!("/spec/{}/{}/{}", self.0, self.1, self.2)
    }
}

/// The principals of a `DirectoryData`, by every name a manifest may use for them.
struct People<'a> {
    /// Ids first, then user principal names: the engine's own resolution.
    names: DataNames<'a>,
    roles: Vec<(&'a str, &'a str)>,
    groups: Vec<(&'a str, &'a str)>,
}

impl<'a> People<'a> {
    fn new(data: &'a DirectoryDataSpec) -> People<'a> {
        People {
            names: DataNames::new(data),
            roles: data
                .roles
                .iter()
                .map(|r| (r.id.as_str(), r.display_name.as_str()))
                .collect(),
            groups: data
                .groups
                .iter()
                .map(|g| (g.id.as_str(), g.display_name.as_str()))
                .collect(),
        }
    }

    /// The canonical id of a principal named by id or user principal name.
    fn resolve(&self, name: &str) -> Option<&'a str> {
        self.names.resolve(name)
    }

    fn resolve_user(&self, name: &str) -> Option<&'a str> {
        self.resolve(name).filter(|id| self.names.is_user(id))
    }

    fn subject(&self, id: &'a str) -> Subject<'a> {
        self.names.subject(id)
    }
}

impl Names for People<'_> {
    fn id(&self, name: &str) -> Option<String> {
        self.resolve(name).map(str::to_owned)
    }
}

/// Names when the directory's data is not at hand: nothing resolves.
struct NoNames;

impl Names for NoNames {
    fn id(&self, _: &str) -> Option<String> {
        None
    }
}

impl Ctx<'_> {
    /// The closest of `candidates` to `word`, while the suggestion budget lasts.
    fn suggest<'c>(&mut self, word: &str, candidates: &[&'c str]) -> Option<&'c str> {
        self.suggestions_left = self.suggestions_left.checked_sub(candidates.len())?;
        did_you_mean(word, candidates.iter().copied())
    }

    fn path(&self, doc: &LoadedDoc) -> &Path {
        self.loaded.path_of(doc)
    }

    /// Where `pointer` is in `doc`, reading the file again with positions if it was loaded
    /// without them.
    fn span_of(&self, doc: &LoadedDoc, pointer: &str) -> Option<crate::source::Span> {
        if let Some(root) = &doc.root {
            return Some(root.span_of(pointer));
        }
        let mut cache = self.spanned.borrow_mut();
        let roots = cache.entry(doc.file).or_insert_with(|| {
            let Some(text) = self.loaded.sources[doc.file].text.as_deref() else {
                return HashMap::new();
            };
            crate::yaml::parse(text)
                .documents
                .into_iter()
                .map(|d| (d.index, d.root))
                .collect()
        });
        roots.get(&doc.index).map(|r| r.span_of(pointer))
    }

    fn error(&self, doc: &LoadedDoc, code: Code, pointer: &str, message: String) -> Diagnostic {
        Diagnostic::error(code, self.path(doc), message)
            .at_opt(self.span_of(doc, pointer))
            .field(field_path(pointer))
    }

    fn warning(&self, doc: &LoadedDoc, code: Code, pointer: &str, message: String) -> Diagnostic {
        Diagnostic::warning(code, self.path(doc), message)
            .at_opt(self.span_of(doc, pointer))
            .field(field_path(pointer))
    }

    fn first_at(&self, doc: &LoadedDoc, pointer: &str) -> String {
        match self.span_of(doc, pointer) {
            Some(span) => format!(
                "first defined at {}:{}:{}",
                self.path(doc).display(),
                span.line,
                span.col
            ),
            None => format!("first defined in {}", self.path(doc).display()),
        }
    }

    fn unique_names(&mut self) {
        let mut seen: HashMap<(Kind, &str), &LoadedDoc> = HashMap::new();
        for doc in &self.loaded.docs {
            let key = (doc.resource.kind(), doc.resource.name());
            match seen.get(&key) {
                None => {
                    seen.insert(key, doc);
                }
                Some(first) => {
                    let d = self
                        .error(
                            doc,
                            Code::DuplicateName,
                            "/metadata/name",
                            format!("another {} is named `{}`", key.0, key.1),
                        )
                        .note(self.first_at(first, "/metadata/name"));
                    self.out.push(d);
                }
            }
        }
    }

    fn directory(&mut self, doc: &LoadedDoc, directory: &Directory, index: &Index<'_>) {
        let spec = &directory.spec;
        let blocks = [
            ("graph", spec.graph.is_some(), DirectoryType::Graph),
            ("scim", spec.scim.is_some(), DirectoryType::Scim),
            ("file", spec.file.is_some(), DirectoryType::File),
        ];
        for (name, present, kind) in blocks {
            if present && kind != spec.kind {
                let d = self.error(
                    doc,
                    Code::DirectorySettings,
                    &format!("/spec/{name}"),
                    format!(
                        "`{name}` settings given for a directory of type `{}`",
                        spec.kind.as_str()
                    ),
                );
                self.out
                    .push(d.note(format!("remove `{name}`, or set `type: {name}`")));
            }
        }
        let refused =
            super::policy::directory(spec, self.path(doc), &self.loaded.roots, &self.loaded.trust);
        // A data file outside the tree is not even looked for: whether it exists is not the
        // manifest's business.
        let outside = refused.iter().any(|f| f.pointer == "/spec/file/path");
        for f in refused {
            let d = self.error(doc, f.refusal.code(), f.pointer, f.refusal.to_string());
            self.out.push(d.note(f.refusal.note()));
        }
        if outside {
            return;
        }
        if let (DirectoryType::File, Some(file)) = (spec.kind, &spec.file) {
            let target = resolve_relative(self.path(doc), &file.path);
            let pointer = "/spec/file/path";
            if let Some(problem) = data_file_problem(&target) {
                let d = self.error(doc, Code::UnresolvedReference, pointer, problem);
                self.out
                    .push(d.note("the path is relative to this manifest's folder"));
                return;
            }
            if let Some(&file_index) = index.files.get(&canonical(&target)) {
                // A data file whose documents all failed has its own findings already.
                let holds_data = index.data_by_file.contains_key(&file_index);
                if !holds_data && index.files_with_docs.contains(&file_index) {
                    let d = self.error(
                        doc,
                        Code::UnresolvedReference,
                        pointer,
                        format!("`{}` holds no `DirectoryData` document", target.display()),
                    );
                    self.out.push(d);
                }
            }
        }
    }

    fn notifier(&mut self, doc: &LoadedDoc, notifier: &crate::model::Notifier) {
        for problem in crate::notify::config::problems(&notifier.spec) {
            let d = self.error(
                doc,
                Code::NotifierSettings,
                problem.pointer,
                problem.message,
            );
            self.out.push(match problem.note {
                Some(note) => d.note(note),
                None => d,
            });
        }
    }

    fn portal(&mut self, doc: &LoadedDoc, portal: &crate::model::ReviewerPortal, index: &Index) {
        for problem in crate::web::config::problems(&portal.spec) {
            let d = self.error(doc, Code::PortalSettings, problem.pointer, problem.message);
            self.out.push(d.note(problem.note));
        }
        let directory = &portal.spec.directory;
        if index.get(Kind::Directory, directory).is_none() {
            let mut d = self.error(
                doc,
                Code::UnresolvedReference,
                "/spec/directory",
                format!("no Directory named `{directory}`"),
            );
            if let Some(best) = self.suggest(directory, index.names(Kind::Directory)) {
                d = d.note(format!("did you mean `{best}`?"));
            }
            self.out.push(d);
        }
    }

    fn directory_data(&mut self, doc: &LoadedDoc, data: &DirectoryDataSpec) {
        // A large directory has a hundred thousand entries and almost never a finding: the
        // maps hold indices, and a pointer is spelled only for a finding.
        let mut principals = FastMap::with_capacity(data.users.len() + data.groups.len());
        let mut upns: FastMap<String, usize> = FastMap::with_capacity(data.users.len());
        for (i, user) in data.users.iter().enumerate() {
            self.unique(
                doc,
                &mut principals,
                &user.id,
                Place("users", i, "id"),
                "user or group id",
            );
            // Lower-cased only when it has to be, which user principal names rarely need.
            let upn = &user.user_principal_name;
            let upn = if upn.chars().any(char::is_uppercase) {
                upn.to_lowercase()
            } else {
                upn.clone()
            };
            match upns.get(&upn) {
                Some(&first) => {
                    let d = self.error(
                        doc,
                        Code::DuplicateObject,
                        &format!("/spec/users/{i}/userPrincipalName"),
                        format!(
                            "user principal name `{}` is used twice",
                            user.user_principal_name
                        ),
                    );
                    let note =
                        self.first_at(doc, &format!("/spec/users/{first}/userPrincipalName"));
                    self.out.push(d.note(note));
                }
                None => {
                    upns.insert(upn, i);
                }
            }
        }
        for (i, group) in data.groups.iter().enumerate() {
            self.unique(
                doc,
                &mut principals,
                &group.id,
                Place("groups", i, "id"),
                "user or group id",
            );
        }
        // Ids and user principal names are two namespaces; a user principal name that spells
        // another principal's id makes every reference to that id ambiguous to a reader.
        for (i, user) in data.users.iter().enumerate() {
            let upn = &user.user_principal_name;
            let lower = upn
                .chars()
                .any(char::is_uppercase)
                .then(|| upn.to_lowercase());
            let Some(place) = principals
                .get(upn.as_str())
                .or_else(|| principals.get(lower.as_deref()?))
                .copied()
            else {
                continue;
            };
            if place.0 == "users" && place.1 == i {
                continue;
            }
            let note = self.first_at(doc, &place.pointer());
            let d = self.error(
                doc,
                Code::AmbiguousPrincipal,
                &format!("/spec/users/{i}/userPrincipalName"),
                format!("user principal name `{upn}` is another principal's id"),
            );
            self.out.push(d.note(note).note(
                "a name is read as an id first, so this user could be named only by id; give them their real user principal name",
            ));
        }
        let mut group_names = FastMap::with_capacity(data.groups.len());
        for (i, group) in data.groups.iter().enumerate() {
            self.unique(
                doc,
                &mut group_names,
                &group.display_name,
                Place("groups", i, "displayName"),
                "group name",
            );
        }
        let mut role_ids = FastMap::with_capacity(data.roles.len());
        let mut role_names = FastMap::with_capacity(data.roles.len());
        for (i, role) in data.roles.iter().enumerate() {
            self.unique(
                doc,
                &mut role_ids,
                &role.id,
                Place("roles", i, "id"),
                "role id",
            );
            self.unique(
                doc,
                &mut role_names,
                &role.display_name,
                Place("roles", i, "displayName"),
                "role name",
            );
        }
        let mut assignment_ids = FastMap::with_capacity(data.assignments.len());
        for (i, assignment) in data.assignments.iter().enumerate() {
            self.unique(
                doc,
                &mut assignment_ids,
                &assignment.id,
                Place("assignments", i, "id"),
                "assignment id",
            );
        }

        let users: FastSet<&str> = data.users.iter().map(|u| u.id.as_str()).collect();
        let groups: HashMap<&str, &[String]> = data
            .groups
            .iter()
            .map(|g| (g.id.as_str(), g.members.as_slice()))
            .collect();
        let roles: FastSet<&str> = data.roles.iter().map(|r| r.id.as_str()).collect();
        let is_principal = |id: &str| users.contains(id) || groups.contains_key(id);
        for (i, user) in data.users.iter().enumerate() {
            if let Some(manager) = &user.manager
                && !users.contains(manager.as_str())
            {
                let d = self.error(
                    doc,
                    Code::UnresolvedReference,
                    &format!("/spec/users/{i}/manager"),
                    format!("manager `{manager}` is not a user of this directory"),
                );
                self.out.push(d);
            }
        }
        for (i, group) in data.groups.iter().enumerate() {
            for (j, member) in group.members.iter().enumerate() {
                if !is_principal(member) {
                    let d = self.error(
                        doc,
                        Code::UnresolvedReference,
                        &format!("/spec/groups/{i}/members/{j}"),
                        format!("member `{member}` is not a user or group of this directory"),
                    );
                    self.out.push(d);
                }
            }
            if in_cycle(&group.id, &groups) {
                let d = self.error(
                    doc,
                    Code::InvalidValue,
                    &format!("/spec/groups/{i}/members"),
                    format!("group `{}` contains itself through nested groups", group.id),
                );
                self.out.push(d);
            }
        }
        for (i, assignment) in data.assignments.iter().enumerate() {
            if !is_principal(&assignment.principal) {
                let d = self.error(
                    doc,
                    Code::UnresolvedReference,
                    &format!("/spec/assignments/{i}/principal"),
                    format!(
                        "principal `{}` is not a user or group of this directory",
                        assignment.principal
                    ),
                );
                self.out.push(d);
            }
            if !roles.contains(assignment.role.as_str()) {
                let d = self.error(
                    doc,
                    Code::UnresolvedReference,
                    &format!("/spec/assignments/{i}/role"),
                    format!("role `{}` is not a role of this directory", assignment.role),
                );
                self.out.push(d);
            }
        }
    }

    /// Reports `key` if `seen` has it already (noting where it was first), else records where
    /// it is.
    fn unique<'k>(
        &mut self,
        doc: &LoadedDoc,
        seen: &mut FastMap<&'k str, Place>,
        key: &'k str,
        place: Place,
        what: &str,
    ) {
        if let Some(first) = seen.get(key) {
            let note = self.first_at(doc, &first.pointer());
            let d = self.error(
                doc,
                Code::DuplicateObject,
                &place.pointer(),
                format!("{what} `{key}` is used twice"),
            );
            self.out.push(d.note(note));
        } else {
            seen.insert(key, place);
        }
    }

    fn review(&mut self, doc: &LoadedDoc, review: &AccessReview, index: &Index<'_>) {
        let spec = &review.spec;
        if index.get(Kind::Directory, &spec.directory).is_none() {
            let mut d = self.error(
                doc,
                Code::UnresolvedReference,
                "/spec/directory",
                format!("no Directory named `{}`", spec.directory),
            );
            if let Some(best) = self.suggest(&spec.directory, index.names(Kind::Directory)) {
                d = d.note(format!("did you mean `{best}`?"));
            }
            self.out.push(d);
        }
        self.schedule(doc, review);
        self.notifications(doc, review, index);

        if spec.reviewers.kind != ReviewerType::Users && !spec.reviewers.users.is_empty() {
            let d = self.warning(
                doc,
                Code::InvalidValue,
                "/spec/reviewers/users",
                format!(
                    "`users` is ignored with `type: {}`",
                    reviewer_type(spec.reviewers.kind)
                ),
            );
            self.out
                .push(d.note("set `type: users` to have these users review every item"));
        }

        for (i, stage) in spec.stages.iter().enumerate() {
            if stage.reviewers.kind != ReviewerType::Users && !stage.reviewers.users.is_empty() {
                let d = self.warning(
                    doc,
                    Code::InvalidValue,
                    &format!("/spec/stages/{i}/reviewers/users"),
                    format!(
                        "`users` is ignored with `type: {}`",
                        reviewer_type(stage.reviewers.kind)
                    ),
                );
                self.out
                    .push(d.note("set `type: users` to have these users review every item"));
            }
        }

        let Some(people) = index.people_for(review) else {
            return;
        };
        if let Some(role) = &spec.scope.role
            && !people.roles.iter().any(|(id, name)| {
                role.id.as_deref() == Some(*id) || role.name.as_deref() == Some(*name)
            })
        {
            let names: Vec<&str> = people.roles.iter().map(|(_, n)| *n).collect();
            let mut d = self.error(
                doc,
                Code::UnresolvedReference,
                "/spec/scope/role",
                format!("the directory has no role with {role}"),
            );
            if let Some(best) = role.name.as_deref().and_then(|n| self.suggest(n, &names)) {
                d = d.note(format!("did you mean `{best}`?"));
            }
            self.out.push(d);
        }
        if let Some(group) = &spec.scope.group
            && !people.groups.iter().any(|(id, name)| {
                group.id.as_deref() == Some(*id) || group.name.as_deref() == Some(*name)
            })
        {
            let mut d = self.error(
                doc,
                Code::UnresolvedReference,
                "/spec/scope/group",
                format!("the directory has no group with {group}"),
            );
            let names: Vec<&str> = people.groups.iter().map(|(_, n)| *n).collect();
            if let Some(best) = group.name.as_deref().and_then(|n| self.suggest(n, &names)) {
                d = d.note(format!("did you mean `{best}`?"));
            }
            self.out.push(d);
        }
        if let Some(group) = spec.scope.member_of.as_ref().map(|m| &m.group)
            && !people.groups.iter().any(|(id, name)| {
                group.id.as_deref() == Some(*id) || group.name.as_deref() == Some(*name)
            })
        {
            let mut d = self.error(
                doc,
                Code::UnresolvedReference,
                "/spec/scope/memberOf/group",
                format!("the directory has no group with {group}"),
            );
            let names: Vec<&str> = people.groups.iter().map(|(_, n)| *n).collect();
            if let Some(best) = group.name.as_deref().and_then(|n| self.suggest(n, &names)) {
                d = d.note(format!("did you mean `{best}`?"));
            }
            self.out.push(d);
        }
        // A name that matches nobody excludes nobody: worth a warning (a typo would put
        // someone back in the review), not an error (they may have left the directory).
        for (i, principal) in spec.scope.exclude.iter().enumerate() {
            if people.resolve(principal).is_none() {
                let d = self.warning(
                    doc,
                    Code::UnresolvedReference,
                    &format!("/spec/scope/exclude/{i}"),
                    format!("excluded principal `{principal}` is not in the directory"),
                );
                self.out.push(d);
            }
        }
        for (list, pointer, what) in [
            (&spec.reviewers.users, "/spec/reviewers/users", "reviewer"),
            (
                &spec.fallback_reviewers,
                "/spec/fallbackReviewers",
                "reviewer",
            ),
            (&spec.owners, "/spec/owners", "owner"),
        ]
        .into_iter()
        .map(|(list, pointer, what)| (list, pointer.to_owned(), what))
        .chain(spec.stages.iter().enumerate().flat_map(|(s, stage)| {
            [
                (
                    &stage.reviewers.users,
                    format!("/spec/stages/{s}/reviewers/users"),
                    "reviewer",
                ),
                (
                    &stage.fallback_reviewers,
                    format!("/spec/stages/{s}/fallbackReviewers"),
                    "reviewer",
                ),
            ]
        })) {
            for (i, user) in list.iter().enumerate() {
                if people.resolve_user(user).is_none() {
                    let d = self.error(
                        doc,
                        Code::UnresolvedReference,
                        &format!("{pointer}/{i}"),
                        format!("{what} `{user}` is not a user of the directory"),
                    );
                    self.out.push(d);
                }
            }
        }
        for (i, principal) in spec.guards.protected_principals.iter().enumerate() {
            if people.resolve(principal).is_none() {
                let d = self.warning(
                    doc,
                    Code::UnresolvedReference,
                    &format!("/spec/guards/protectedPrincipals/{i}"),
                    format!("protected principal `{principal}` is not in the directory"),
                );
                self.out.push(d);
            }
        }
    }

    /// The notifiers a review names exist; additional recipients are addresses; inline
    /// webhooks moved to `Notifier` documents.
    fn notifications(&mut self, doc: &LoadedDoc, review: &AccessReview, index: &Index<'_>) {
        let notifications = &review.spec.settings.notifications;
        for (i, used) in notifications.notifiers.iter().enumerate() {
            if index.get(Kind::Notifier, &used.name).is_none() {
                let mut d = self.error(
                    doc,
                    Code::UnresolvedReference,
                    &format!("/spec/settings/notifications/notifiers/{i}/name"),
                    format!("no Notifier named `{}`", used.name),
                );
                if let Some(best) = self.suggest(&used.name, index.names(Kind::Notifier)) {
                    d = d.note(format!("did you mean `{best}`?"));
                }
                self.out.push(d);
            }
        }
        for (i, address) in notifications.additional_recipients.iter().enumerate() {
            if let Err(e) = crate::notify::config::address(address) {
                let d = self.error(
                    doc,
                    Code::InvalidAddress,
                    &format!("/spec/settings/notifications/additionalRecipients/{i}"),
                    format!("`{address}` is not an e-mail address: {e}"),
                );
                self.out.push(d);
            }
        }
        if !notifications.webhooks.is_empty() {
            let d = self.error(
                doc,
                Code::MovedField,
                "/spec/settings/notifications/webhooks",
                "webhooks are now `Notifier` documents: inline `webhooks` are no longer read"
                    .to_owned(),
            );
            self.out.push(d.note(
                "declare `kind: Notifier` with `spec.type: webhook` (url, and the signing `secret` by reference), then list it under `settings.notifications.notifiers` with its `events`",
            ));
        }
    }

    fn schedule(&mut self, doc: &LoadedDoc, review: &AccessReview) {
        let schedule = &review.spec.schedule;
        let once = schedule.recurrence == Recurrence::Once;
        if let Some(until) = schedule.until {
            if until <= schedule.start {
                let d = self.error(
                    doc,
                    Code::ScheduleOrder,
                    "/spec/schedule/until",
                    format!(
                        "`until` ({until}) is not after `start` ({})",
                        schedule.start
                    ),
                );
                self.out.push(d);
            }
            if schedule.count.is_some() {
                let d = self.error(
                    doc,
                    Code::ScheduleOrder,
                    "/spec/schedule/count",
                    "set at most one of `until` and `count`".to_owned(),
                );
                self.out.push(d);
            }
        }
        if once {
            for (field, set) in [
                ("until", schedule.until.is_some()),
                ("count", schedule.count.is_some()),
                ("interval", schedule.interval != 1),
            ] {
                if set {
                    let d = self.error(
                        doc,
                        Code::ScheduleOrder,
                        &format!("/spec/schedule/{field}"),
                        format!("`{field}` needs a recurrence, but `recurrence` is `once`"),
                    );
                    self.out.push(d.note(
                        "set `recurrence` to weekly, monthly, quarterly, semiannually or annually",
                    ));
                }
            }
        }
        if let Some(period) = schedule.recurrence.min_period_days() {
            let period = period.saturating_mul(schedule.interval);
            // An instance runs all its stages.
            let days = review.spec.instance_schedule().duration_days;
            if days > period {
                let d = self.error(
                    doc,
                    Code::ScheduleOrder,
                    "/spec/schedule/durationDays",
                    format!(
                        "instances last {} days{} but a new one can start every {period} days ({}, interval {})",
                        days,
                        if review.spec.stages.is_empty() { "" } else { " (all stages)" },
                        schedule.recurrence.as_str(),
                        schedule.interval
                    ),
                );
                self.out.push(d.note(format!(
                    "an instance must end before the next starts: use at most {period} days"
                )));
            }
        }
    }

    fn decisions(&mut self, doc: &LoadedDoc, decisions: &ReviewDecisions, index: &Index<'_>) {
        let spec = &decisions.spec;
        // A principal is the same one however it is named (`u-sue`, `sue@x`, `SUE@X`).
        let data = match index
            .get(Kind::AccessReview, &spec.review)
            .map(|r| &r.resource)
        {
            Some(Resource::AccessReview(review)) => index.people_for(review),
            _ => None,
        };
        let same_principal = |name: &str| {
            data.and_then(|p| p.resolve(name))
                .map_or_else(|| name.to_lowercase(), str::to_owned)
        };
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut items = Vec::new();
        for (i, entry) in spec.decisions.iter().enumerate() {
            let pointers: Vec<String> = if entry.principal.is_some() {
                vec![format!("/spec/decisions/{i}/principal")]
            } else {
                (0..entry.principals.len())
                    .map(|j| format!("/spec/decisions/{i}/principals/{j}"))
                    .collect()
            };
            for (principal, pointer) in entry.principals().zip(pointers) {
                if let Some(first) = seen.get(&same_principal(principal)) {
                    let note = self.first_at(doc, first);
                    let d = self.error(
                        doc,
                        Code::DuplicateDecision,
                        &pointer,
                        format!("`{principal}` is decided twice in this file"),
                    );
                    self.out.push(d.note(note));
                } else {
                    seen.insert(same_principal(principal), pointer.clone());
                }
                items.push((principal, pointer, i));
            }
        }

        let Some(review_doc) = index.get(Kind::AccessReview, &spec.review) else {
            let mut d = self.error(
                doc,
                Code::UnresolvedReference,
                "/spec/review",
                format!("no AccessReview named `{}`", spec.review),
            );
            if let Some(best) = self.suggest(&spec.review, index.names(Kind::AccessReview)) {
                d = d.note(format!("did you mean `{best}`?"));
            }
            self.out.push(d);
            return;
        };
        let Resource::AccessReview(review) = &review_doc.resource else {
            return;
        };

        if review.spec.settings.require_justification {
            for (i, entry) in spec.decisions.iter().enumerate() {
                if entry.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                    let d = self.error(
                        doc,
                        Code::MissingReason,
                        &format!("/spec/decisions/{i}"),
                        format!(
                            "review `{}` requires a reason for every decision",
                            spec.review
                        ),
                    );
                    self.out.push(d.note("add `reason: ...` to this decision"));
                }
            }
        }

        let people = index.people_for(review);
        if let Some(people) = people {
            if people.resolve_user(&spec.reviewer).is_none() {
                let d = self.error(
                    doc,
                    Code::UnresolvedReference,
                    "/spec/reviewer",
                    format!(
                        "reviewer `{}` is not a user of the directory",
                        spec.reviewer
                    ),
                );
                self.out.push(d);
                return;
            }
            for (principal, pointer, _) in &items {
                if people.resolve(principal).is_none() {
                    let d = self.error(
                        doc,
                        Code::UnresolvedReference,
                        pointer,
                        format!("`{principal}` is not a user or group of the directory"),
                    );
                    self.out.push(d);
                }
            }
        }
        // The engine's own rule (`reconcile::authority`), on what this load can see of the
        // directory: without its data an entry is flagged only when the rule can tell.
        let names: &dyn Names = match people {
            Some(people) => people,
            None => &NoNames,
        };
        let count = review.spec.stage_count();
        if let Some(stage) = spec.stage.filter(|s| *s as usize > count) {
            let d = self.error(
                doc,
                Code::InvalidValue,
                "/spec/stage",
                format!(
                    "review `{}` has no stage {stage} (it has {count})",
                    spec.review
                ),
            );
            self.out.push(d);
        }
        for (i, entry) in spec.decisions.iter().enumerate() {
            if let Some(stage) = entry.stage.filter(|s| *s as usize > count) {
                let d = self.error(
                    doc,
                    Code::InvalidValue,
                    &format!("/spec/decisions/{i}/stage"),
                    format!(
                        "review `{}` has no stage {stage} (it has {count})",
                        spec.review
                    ),
                );
                self.out.push(d);
            }
        }
        let kind = review.spec.reviewers.kind;
        for (principal, pointer, entry) in &items {
            let subject = people.and_then(|p| Some(p.subject(p.resolve(principal)?)));
            // The engine's rule for the stage the entry names, or for any stage.
            let stage = spec.decisions[*entry].stage.or(spec.stage);
            let verdict = authority::may_decide_in_stages(
                &review.spec,
                names,
                &spec.reviewer,
                principal,
                subject.as_ref(),
                stage.map(|s| (s as usize).saturating_sub(1)),
            );
            if verdict == Verdict::Allowed || verdict == Verdict::Unknown {
                continue;
            }
            let (pointer, message) = if verdict == Verdict::NotAllowed(authority::NOT_INDEPENDENT) {
                (
                    pointer.as_str(),
                    format!(
                        "`{}` may not decide their own access (`{principal}`) in review `{}`",
                        spec.reviewer, spec.review
                    ),
                )
            } else if kind == ReviewerType::Users {
                (
                    "/spec/reviewer",
                    format!("`{}` is not a reviewer of `{}`", spec.reviewer, spec.review),
                )
            } else {
                let message = if kind == ReviewerType::SelfReview {
                    format!(
                        "`{}` may not decide on `{principal}`: review `{}` is a self-review",
                        spec.reviewer, spec.review
                    )
                } else {
                    format!(
                        "`{}` may not decide on `{principal}` in manager review `{}`",
                        spec.reviewer, spec.review
                    )
                };
                (pointer.as_str(), message)
            };
            let mut d = self
                .error(doc, Code::ReviewerNotAllowed, pointer, message)
                .note(verdict.reason(kind));
            if kind == ReviewerType::Users {
                d = d.note(format!(
                    "its reviewers are: {}",
                    review
                        .spec
                        .reviewers
                        .users
                        .iter()
                        .chain(&review.spec.fallback_reviewers)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                self.out.push(d);
                // Named reviewers review every item alike: one finding says it.
                break;
            }
            if let Some(m) = subject.as_ref().and_then(|s| match s {
                Subject::User { manager, .. } => *manager,
                Subject::Other { .. } => None,
            }) && kind == ReviewerType::Manager
            {
                d = d.note(format!("only their manager `{m}` may"));
            }
            self.out.push(d);
        }
    }
}

impl<'a> Ctx<'a> {
    /// One reviewer deciding one principal differently in several files: the engine counts
    /// none of those entries (`reconcile::decisions::agree`), so CI says so first.
    fn conflicts(&mut self, index: &Index<'a>) {
        type Key = (String, String, String, String);
        let loaded = self.loaded;
        let mut first: HashMap<Key, (&'a LoadedDoc, String, Decision, Option<&'a str>)> =
            HashMap::new();
        for doc in &loaded.docs {
            let Resource::ReviewDecisions(d) = &doc.resource else {
                continue;
            };
            let spec = &d.spec;
            let people = match index
                .get(Kind::AccessReview, &spec.review)
                .map(|r| &r.resource)
            {
                Some(Resource::AccessReview(review)) => index.people_for(review),
                _ => None,
            };
            let id = |name: &str| {
                people
                    .and_then(|p| p.resolve(name))
                    .map_or_else(|| name.to_lowercase(), str::to_owned)
            };
            let reviewer = id(&spec.reviewer);
            let instance = spec.instance.clone().unwrap_or_default();
            for (i, entry) in spec.decisions.iter().enumerate() {
                let listed = entry.principal.is_none();
                for (j, principal) in entry.principals().enumerate() {
                    let pointer = if listed {
                        format!("/spec/decisions/{i}/principals/{j}")
                    } else {
                        format!("/spec/decisions/{i}/principal")
                    };
                    let key = (
                        spec.review.clone(),
                        instance.clone(),
                        reviewer.clone(),
                        id(principal),
                    );
                    let said = (entry.decision, entry.reason.as_deref());
                    match first.get(&key) {
                        None => {
                            first.insert(key, (doc, pointer, said.0, said.1));
                        }
                        Some((other, at, decision, reason)) => {
                            let same_doc = other.file == doc.file && other.index == doc.index;
                            if same_doc || agree((*decision, *reason), said) {
                                continue;
                            }
                            let note = self.first_at(other, at);
                            let d = self.error(
                                doc,
                                Code::ConflictingDecisions,
                                &pointer,
                                format!(
                                    "`{}` decides `{principal}` differently in another file; none of these entries counts until they agree",
                                    spec.reviewer
                                ),
                            );
                            self.out
                                .push(d.note(note.replace("first defined", "also decided")));
                        }
                    }
                }
            }
        }
    }
}

fn reviewer_type(kind: ReviewerType) -> &'static str {
    match kind {
        ReviewerType::SelfReview => "self",
        ReviewerType::Users => "users",
        ReviewerType::Manager => "manager",
    }
}

/// Whether `start` reaches itself through nested group membership. Iterative, so a long chain
/// of groups cannot overflow the stack.
fn in_cycle(start: &str, groups: &HashMap<&str, &[String]>) -> bool {
    let mut stack: Vec<&str> = groups
        .get(start)
        .into_iter()
        .flat_map(|m| m.iter().map(String::as_str))
        .collect();
    let mut visited = HashSet::new();
    while let Some(id) = stack.pop() {
        if id == start {
            return true;
        }
        if visited.insert(id)
            && let Some(members) = groups.get(id)
        {
            stack.extend(members.iter().map(String::as_str));
        }
    }
    false
}

/// What keeps a file directory's data file from being read, in the words `validate`,
/// `reconcile` and `run` all use. The file is opened (without blocking, and without reading)
/// rather than looked up, so that a FIFO or a device is named for what it is.
pub fn data_file_problem(path: &Path) -> Option<String> {
    match crate::regular_file::open(path) {
        Ok(_) => None,
        Err(crate::regular_file::ReadError::NotFound) => Some(format!(
            "directory file `{}` does not exist",
            path.display()
        )),
        Err(e) => Some(format!(
            "directory file `{}` cannot be read: {e}",
            path.display()
        )),
    }
}

/// The data files of file-type directories that exist but were not loaded, and that the
/// operator allows (inside `roots` or a trusted data directory): a manifest cannot make
/// `validate` read, and print, a file the policy refuses (`/etc/passwd`).
pub fn data_files_outside(
    loaded: &Loaded,
    roots: &[PathBuf],
    trust: &crate::load::policy::Trust,
) -> Vec<PathBuf> {
    // Compared canonically, named as the manifest resolves them (a path the reader can open).
    let mut wanted: Vec<(PathBuf, PathBuf)> = loaded
        .docs
        .iter()
        .filter_map(|doc| match &doc.resource {
            Resource::Directory(d) if d.spec.kind == DirectoryType::File => {
                let file = d.spec.file.as_ref()?;
                crate::load::policy::data_path(loaded.path_of(doc), &file.path, roots, trust).ok()
            }
            _ => None,
        })
        .filter(|path| path.is_file())
        .map(|path| (canonical(&path), path))
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let sources: HashSet<PathBuf> = loaded.sources.iter().map(|s| canonical(&s.path)).collect();
    wanted.retain(|(key, _)| !sources.contains(key));
    wanted.sort();
    wanted.dedup_by(|a, b| a.0 == b.0);
    wanted.into_iter().map(|(_, path)| path).collect()
}

/// A path written in a manifest, relative to that manifest's folder.
pub fn resolve_relative(manifest: &Path, written: &str) -> PathBuf {
    let written = Path::new(written);
    if written.is_absolute() {
        return written.to_path_buf();
    }
    manifest.parent().unwrap_or(Path::new("")).join(written)
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
