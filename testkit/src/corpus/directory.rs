//! The generated directory: users with a manager hierarchy, groups (some nested), roles and
//! their assignments, and the `DirectoryData` that holds them.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::rng::Rng;
use super::vocabulary::{FIRST_NAMES, GROUP_SUFFIXES, LAST_NAMES, ROLES, TEAMS};
use super::{API_VERSION, DIRECTORY_NAME, DOMAIN, SCHEMA_URL};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Principal {
    User(usize),
    Group(usize),
}

pub(super) struct User {
    pub(super) id: String,
    pub(super) upn: String,
    pub(super) display: String,
    /// A DNS-1123-safe short name, for file and document names.
    pub(super) handle: String,
    pub(super) manager: Option<usize>,
    pub(super) last_sign_in: Option<String>,
    pub(super) enabled: bool,
    pub(super) on_premises: bool,
}

pub(super) struct Group {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) users: Vec<usize>,
    pub(super) groups: Vec<usize>,
    pub(super) dynamic: bool,
    pub(super) on_premises: bool,
}

pub(super) struct Role {
    pub(super) id: String,
    pub(super) name: &'static str,
}

pub(super) struct Assignment {
    pub(super) id: String,
    pub(super) principal: Principal,
    pub(super) role: usize,
    pub(super) eligible: bool,
    pub(super) scope: String,
}

pub(super) struct Directory {
    pub(super) users: Vec<User>,
    pub(super) groups: Vec<Group>,
    pub(super) roles: Vec<Role>,
    pub(super) assignments: Vec<Assignment>,
    /// Direct reports of each user.
    pub(super) reports: Vec<Vec<usize>>,
    /// Users with at least one direct report.
    pub(super) managers: Vec<usize>,
    /// Users without a manager (decided by a fallback reviewer in manager reviews).
    pub(super) unmanaged: Vec<usize>,
    /// The break-glass accounts, protected in every review's guards.
    pub(super) break_glass: Vec<usize>,
    /// People who are neither service nor break-glass accounts.
    pub(super) people: usize,
    /// Who holds each role.
    pub(super) holders: Vec<Vec<Principal>>,
}

pub(super) const USERS: usize = 400;
pub(super) const GROUPS: usize = 30;
pub(super) const MANAGERS: usize = 30;
pub(super) const SPECIAL_ACCOUNTS: &[(&str, &str)] = &[
    ("breakglass01", "Break-glass account 01"),
    ("breakglass02", "Break-glass account 02"),
    ("svc-backup", "Backup service"),
    ("svc-deploy", "Deployment pipeline"),
    ("svc-monitoring", "Monitoring agent"),
    ("svc-ci", "CI runner"),
];

impl Directory {
    pub(super) fn generate(rng: &mut Rng) -> Directory {
        let people = USERS - SPECIAL_ACCOUNTS.len();
        let mut users = Vec::with_capacity(USERS);
        let mut upns = HashSet::new();
        let mut handles = HashSet::new();
        for i in 0..people {
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let base = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
            let mut local = base.clone();
            let mut n = 2;
            while !upns.insert(local.clone()) {
                local = format!("{base}{n}");
                n += 1;
            }
            let handle_base = format!("{}{}", first[..1].to_lowercase(), last.to_lowercase());
            let mut handle = handle_base.clone();
            let mut n = 2;
            while !handles.insert(handle.clone()) {
                handle = format!("{handle_base}{n}");
                n += 1;
            }
            // User 0 leads; 1..=MANAGERS report to them; the rest to a manager, skewed so
            // that team sizes vary.
            let manager = match i {
                0 => None,
                i if i <= MANAGERS => Some(0),
                _ => Some(1 + rng.below(MANAGERS).min(rng.below(MANAGERS))),
            };
            let last_sign_in = rng.percent(85).then(|| {
                let date = rng.date(2025);
                if rng.percent(80) {
                    format!(
                        "{date}T{:02}:{:02}:{:02}Z",
                        rng.below(24),
                        rng.below(60),
                        rng.below(60)
                    )
                } else {
                    date
                }
            });
            users.push(User {
                id: rng.guid(),
                upn: format!("{local}@{DOMAIN}"),
                display: format!("{first} {last}"),
                handle,
                manager,
                last_sign_in,
                enabled: !rng.percent(3),
                on_premises: rng.percent(20),
            });
        }
        for (local, display) in SPECIAL_ACCOUNTS {
            users.push(User {
                id: rng.guid(),
                upn: format!("{local}@{DOMAIN}"),
                display: (*display).to_owned(),
                handle: (*local).to_owned(),
                manager: None,
                last_sign_in: None,
                enabled: true,
                on_premises: false,
            });
        }
        let mut reports = vec![Vec::new(); users.len()];
        for (i, user) in users.iter().enumerate() {
            if let Some(m) = user.manager {
                reports[m].push(i);
            }
        }
        let managers = (0..users.len())
            .filter(|&i| !reports[i].is_empty())
            .collect();
        let unmanaged = (0..users.len())
            .filter(|&i| users[i].manager.is_none())
            .collect();
        let break_glass = vec![people, people + 1];

        let mut groups = Vec::with_capacity(GROUPS);
        let combos = rng.sample(TEAMS.len() * GROUP_SUFFIXES.len(), GROUPS);
        for (g, combo) in combos.into_iter().enumerate() {
            let team = TEAMS[combo / GROUP_SUFFIXES.len()];
            let suffix = GROUP_SUFFIXES[combo % GROUP_SUFFIXES.len()];
            let members = rng.between(3, 25);
            let mut nested = Vec::new();
            // Only later groups may be nested, so membership has no cycle.
            if g + 1 < GROUPS && rng.percent(15) {
                nested.push(rng.between(g + 1, GROUPS - 1));
            }
            groups.push(Group {
                id: rng.guid(),
                name: format!("SG-{}{}-{suffix}", team[..1].to_uppercase(), &team[1..]),
                users: rng.sample(people, members),
                groups: nested,
                dynamic: rng.percent(10),
                on_premises: rng.percent(15),
            });
        }

        let roles: Vec<Role> = ROLES
            .iter()
            .map(|name| Role {
                id: rng.guid(),
                name,
            })
            .collect();
        let units: Vec<String> = (0..5).map(|_| rng.guid()).collect();
        let mut assignments = Vec::new();
        let mut holders = vec![Vec::new(); roles.len()];
        for (r, role_holders) in holders.iter_mut().enumerate() {
            let count = rng.between(2, 30);
            let mut seen = HashSet::new();
            while role_holders.len() < count {
                let principal = if rng.percent(15) {
                    Principal::Group(rng.below(GROUPS))
                } else {
                    Principal::User(rng.below(people))
                };
                if seen.insert(principal) {
                    role_holders.push(principal);
                    assignments.push(Assignment {
                        id: rng.guid(),
                        principal,
                        role: r,
                        eligible: rng.percent(40),
                        scope: if rng.percent(85) {
                            "/".to_owned()
                        } else {
                            format!("/administrativeUnits/{}", rng.pick(&units))
                        },
                    });
                }
            }
        }
        Directory {
            users,
            groups,
            roles,
            assignments,
            reports,
            managers,
            unmanaged,
            break_glass,
            people,
            holders,
        }
    }

    pub(super) fn principal_id(&self, p: Principal) -> &str {
        match p {
            Principal::User(u) => &self.users[u].id,
            Principal::Group(g) => &self.groups[g].id,
        }
    }

    /// How a manifest names a user: by user principal name or by id.
    pub(super) fn user_ref(&self, u: usize, rng: &mut Rng, upn_percent: usize) -> &str {
        if rng.percent(upn_percent) {
            &self.users[u].upn
        } else {
            &self.users[u].id
        }
    }

    pub(super) fn render(&self) -> String {
        let mut out = String::with_capacity(256 * 1024);
        let _ = writeln!(out, "# yaml-language-server: $schema={SCHEMA_URL}");
        out.push_str(
            "# Snapshot of the corp directory, exported from the HR system every night.\n\
             # `recert apply` edits this file: denied assignments are removed from it.\n",
        );
        let _ = writeln!(out, "apiVersion: {API_VERSION}");
        out.push_str("kind: DirectoryData\nmetadata:\n");
        let _ = writeln!(out, "  name: {DIRECTORY_NAME}-data");
        out.push_str("  labels:\n    source: hr-export\nspec:\n  users:\n");
        for (i, user) in self.users.iter().enumerate() {
            if i == self.people {
                out.push_str("    # Service and break-glass accounts: no manager.\n");
            }
            let _ = writeln!(out, "    - id: {}", user.id);
            let _ = writeln!(out, "      userPrincipalName: {}", user.upn);
            let _ = writeln!(out, "      displayName: {}", user.display);
            if let Some(m) = user.manager {
                let _ = writeln!(out, "      manager: {}", self.users[m].id);
            }
            if let Some(at) = &user.last_sign_in {
                let _ = writeln!(out, "      lastSignIn: {at}");
            }
            if !user.enabled {
                out.push_str("      enabled: false\n");
            }
            if user.on_premises {
                out.push_str("      source: onPremises\n");
            }
        }
        out.push_str("  groups:\n");
        for group in &self.groups {
            let _ = writeln!(out, "    - id: {}", group.id);
            let _ = writeln!(out, "      displayName: {}", group.name);
            out.push_str("      members:\n");
            for &u in &group.users {
                let _ = writeln!(out, "        - {}", self.users[u].id);
            }
            for &g in &group.groups {
                let _ = writeln!(
                    out,
                    "        - {} # {}",
                    self.groups[g].id, self.groups[g].name
                );
            }
            if group.dynamic {
                out.push_str("      membership: dynamic\n");
            }
            if group.on_premises {
                out.push_str("      source: onPremises\n");
            }
        }
        out.push_str("  roles:\n");
        for role in &self.roles {
            let _ = writeln!(out, "    - id: {}", role.id);
            let _ = writeln!(out, "      displayName: {}", role.name);
        }
        out.push_str("  assignments:\n");
        for a in &self.assignments {
            let _ = writeln!(out, "    - id: {}", a.id);
            let _ = writeln!(out, "      principal: {}", self.principal_id(a.principal));
            let _ = writeln!(
                out,
                "      role: {} # {}",
                self.roles[a.role].id, self.roles[a.role].name
            );
            if a.eligible {
                out.push_str("      type: eligible\n");
            }
            if a.scope != "/" || a.id.ends_with(['0', '1', '2']) {
                let _ = writeln!(out, "      scope: {}", a.scope);
            }
        }
        out
    }
}
