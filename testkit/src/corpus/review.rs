//! The generated `AccessReview`s: varied reviewers, scopes, schedules, settings and guards.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::directory::{Directory, Principal};
use super::rng::Rng;
use super::vocabulary::{DESCRIPTIONS, EVENTS, NOTICES, TEAMS};
use super::{API_VERSION, DIRECTORY_NAME};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReviewerKind {
    SelfReview,
    Users,
    Manager,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Scope {
    Role(usize),
    Group(usize),
}

pub(super) struct Review {
    pub(super) name: String,
    pub(super) team: &'static str,
    pub(super) kind: ReviewerKind,
    pub(super) scope: Scope,
    /// With `type: users`: the reviewers.
    pub(super) users: Vec<usize>,
    pub(super) fallback: Vec<usize>,
    /// The first instance's id: the start date.
    pub(super) first_instance: String,
    /// The principals in scope (groups expanded to their direct user members for roles).
    pub(super) in_scope: Vec<Principal>,
}

impl Review {
    pub(super) fn plan(seq: usize, dir: &Directory, rng: &mut Rng) -> Review {
        let team = *rng.pick(TEAMS);
        let scope = if rng.percent(75) {
            Scope::Role(rng.below(dir.roles.len()))
        } else {
            Scope::Group(rng.below(dir.groups.len()))
        };
        let kind = match rng.below(100) {
            0..25 => ReviewerKind::SelfReview,
            25..75 => ReviewerKind::Users,
            _ => ReviewerKind::Manager,
        };
        let users = if kind == ReviewerKind::Users {
            {
                let k = rng.between(1, 4);
                rng.sample(dir.people, k)
            }
        } else {
            Vec::new()
        };
        let fallback_chance = if kind == ReviewerKind::Manager {
            70
        } else {
            10
        };
        let fallback = if rng.percent(fallback_chance) {
            {
                let k = rng.between(1, 2);
                rng.sample(dir.people, k)
            }
        } else {
            Vec::new()
        };
        let mut in_scope = Vec::new();
        let slug = match scope {
            Scope::Role(r) => {
                for &p in &dir.holders[r] {
                    match p {
                        Principal::Group(g) => {
                            in_scope
                                .extend(dir.groups[g].users.iter().map(|&u| Principal::User(u)));
                        }
                        user => in_scope.push(user),
                    }
                }
                slug(dir.roles[r].name, 30)
            }
            Scope::Group(g) => {
                let group = &dir.groups[g];
                in_scope.extend(group.users.iter().map(|&u| Principal::User(u)));
                in_scope.extend(group.groups.iter().map(|&n| Principal::Group(n)));
                slug(&group.name, 30)
            }
        };
        let mut seen = HashSet::new();
        in_scope.retain(|p| seen.insert(*p));
        Review {
            name: format!("{team}-{slug}-{seq:04}"),
            team,
            kind,
            scope,
            users,
            fallback,
            first_instance: String::new(),
            in_scope,
        }
    }

    /// One `AccessReview` document (no leading `---`), 40–90 lines.
    pub(super) fn render(&mut self, dir: &Directory, rng: &mut Rng) -> String {
        let mut doc = String::with_capacity(3 * 1024);
        let (scope_name, what) = match self.scope {
            Scope::Role(r) => (dir.roles[r].name.to_owned(), "role"),
            Scope::Group(g) => (dir.groups[g].name.clone(), "group"),
        };
        let team_title = title(self.team);
        let owner = rng.below(dir.people);
        let ticket = format!("SEC-{}", rng.between(1000, 9999));

        // Schedule first: the title names the recurrence.
        let recurrences: [(&str, usize); 6] = [
            ("once", 0),
            ("weekly", 7),
            ("monthly", 28),
            ("quarterly", 89),
            ("semiannually", 181),
            ("annually", 365),
        ];
        let (recurrence, period) = recurrences[match rng.below(100) {
            0..10 => 0,
            10..15 => 1,
            15..35 => 2,
            35..75 => 3,
            75..88 => 4,
            _ => 5,
        }];
        let once = period == 0;
        let interval = if !once && rng.percent(20) {
            rng.between(2, 3)
        } else {
            1
        };
        let max_days = if once {
            30
        } else {
            (period * interval).min(60)
        };
        let durations: Vec<usize> = [3, 5, 7, 10, 14, 21, 28, 30, 45, 60]
            .into_iter()
            .filter(|&d| d <= max_days)
            .collect();
        let duration = *rng.pick(&durations);
        let start_year = rng.between(2025, 2027);
        let start_date = rng.date(start_year);
        let start = match rng.below(10) {
            0..6 => start_date.clone(),
            6..8 => format!("{start_date}T09:00:00Z"),
            8 => format!("\"{start_date}T08:30:00+01:00\""),
            _ => format!("{start_date}t14:00:00-05:00"),
        };
        self.first_instance = start_date;

        let _ = writeln!(
            doc,
            "# {} review of the {scope_name} {what} for the {} team.",
            title(recurrence),
            self.team
        );
        let _ = writeln!(
            doc,
            "# Owner: {}. Tracked in {ticket}.",
            dir.users[owner].display
        );
        let _ = writeln!(doc, "apiVersion: {API_VERSION}");
        doc.push_str("kind: AccessReview\nmetadata:\n");
        let _ = writeln!(doc, "  name: {}", self.name);
        doc.push_str("  labels:\n");
        let _ = writeln!(doc, "    team: {}", self.team);
        let _ = writeln!(doc, "    tier: \"{}\"", rng.below(3));
        if rng.percent(70) {
            let _ = writeln!(
                doc,
                "    compliance: {}",
                rng.pick(&["sox", "iso27001", "pci-dss", "soc2"])
            );
        }
        if rng.percent(60) {
            doc.push_str("  annotations:\n");
            let _ = writeln!(doc, "    recert.dev/owner: {}", dir.users[owner].upn);
            let _ = writeln!(doc, "    recert.dev/ticket: {ticket}");
        }
        doc.push_str("spec:\n");
        let _ = writeln!(doc, "  directory: {DIRECTORY_NAME}");
        let _ = writeln!(
            doc,
            "  displayName: {}",
            quoted(&format!(
                "{} review: {scope_name} ({team_title})",
                title(recurrence)
            ))
        );
        if rng.percent(80) {
            doc.push_str("  description: >-\n");
            let k = rng.between(1, 3);
            for i in rng.sample(DESCRIPTIONS.len(), k) {
                let _ = writeln!(doc, "    {}", DESCRIPTIONS[i]);
            }
        }

        doc.push_str("  scope:\n");
        match self.scope {
            Scope::Role(r) => {
                if rng.percent(40) {
                    doc.push_str(
                        "    # Every assignment of this role, direct or through a group.\n",
                    );
                }
                doc.push_str("    role:\n");
                if rng.percent(70) {
                    let _ = writeln!(doc, "      name: {}", dir.roles[r].name);
                } else {
                    let _ = writeln!(doc, "      id: {} # {}", dir.roles[r].id, dir.roles[r].name);
                }
                if rng.percent(70) {
                    let _ = writeln!(
                        doc,
                        "    assignments: {}",
                        rng.pick(&["active", "eligible", "all"])
                    );
                }
                if rng.percent(30) {
                    doc.push_str("    resourceScope: /\n");
                }
                if rng.percent(30) {
                    let _ = writeln!(doc, "    expandGroups: {}", rng.percent(50));
                }
            }
            Scope::Group(g) => {
                doc.push_str("    group:\n");
                if rng.percent(70) {
                    let _ = writeln!(doc, "      name: {}", dir.groups[g].name);
                } else {
                    let _ = writeln!(
                        doc,
                        "      id: {} # {}",
                        dir.groups[g].id, dir.groups[g].name
                    );
                }
            }
        }

        doc.push_str("  reviewers:\n");
        match self.kind {
            ReviewerKind::SelfReview => {
                doc.push_str(
                    "    # Everyone in scope attests to their own access.\n    type: self\n",
                );
            }
            ReviewerKind::Manager => doc.push_str("    type: manager\n"),
            ReviewerKind::Users => {
                doc.push_str("    type: users\n    users:\n");
                for &u in &self.users {
                    let _ = writeln!(doc, "      - {}", dir.user_ref(u, rng, 80));
                }
            }
        }
        if !self.fallback.is_empty() {
            if self.kind == ReviewerKind::Manager {
                doc.push_str("  # Decides for principals without a manager (service accounts).\n");
            }
            doc.push_str("  fallbackReviewers:\n");
            for &u in &self.fallback {
                let _ = writeln!(doc, "    - {}", dir.user_ref(u, rng, 80));
            }
        }

        doc.push_str("  schedule:\n");
        let _ = writeln!(doc, "    start: {start}");
        let _ = writeln!(doc, "    durationDays: {duration}");
        if !once || rng.percent(50) {
            let _ = writeln!(doc, "    recurrence: {recurrence}");
        }
        if interval != 1 || (!once && rng.percent(15)) {
            let _ = writeln!(doc, "    interval: {interval}");
        }
        if !once {
            match rng.below(10) {
                0..3 => {
                    let year = start_year + rng.between(1, 3);
                    let until = rng.date(year);
                    let _ = writeln!(doc, "    until: {until}");
                }
                3..7 => {
                    let _ = writeln!(doc, "    count: {}", rng.between(2, 24));
                }
                _ => {}
            }
        }

        if rng.percent(90) {
            doc.push_str("  settings:\n");
            let _ = writeln!(doc, "    requireJustification: {}", rng.percent(60));
            let _ = writeln!(
                doc,
                "    defaultDecision: {}",
                rng.pick(&["none", "approve", "deny", "recommendation"])
            );
            if rng.percent(70) {
                let _ = writeln!(doc, "    autoApply: {}", rng.percent(30));
            }
            if rng.percent(60) {
                doc.push_str("    recommendations:\n");
                let _ = writeln!(doc, "      enabled: {}", rng.percent(85));
                let _ = writeln!(
                    doc,
                    "      inactiveDays: {}",
                    rng.pick(&[14, 30, 45, 60, 90, 180])
                );
            }
            if rng.percent(60) {
                doc.push_str("    reminders:\n");
                let _ = writeln!(doc, "      enabled: {}", rng.percent(80));
                let _ = writeln!(doc, "      intervalDays: {}", rng.between(1, 7));
            }
            if rng.percent(75) {
                doc.push_str("    notifications:\n");
                let _ = writeln!(doc, "      email: {}", rng.percent(90));
                if rng.percent(50) {
                    doc.push_str("      additionalContent: |\n");
                    let k = rng.between(1, 2);
                    for i in rng.sample(NOTICES.len(), k) {
                        let _ = writeln!(doc, "        {}", NOTICES[i]);
                    }
                }
                let hooks = rng.below(3);
                if hooks > 0 || rng.percent(60) {
                    doc.push_str("      notifiers:\n");
                    // E-mail to reviewers and owners through the one relay.
                    doc.push_str("        - name: mail\n");
                }
                for h in 0..hooks {
                    if h == 0 {
                        let _ = writeln!(doc, "        - name: hook-{}", self.team);
                    } else {
                        doc.push_str("        # The SIEM gets every event.\n");
                        doc.push_str("        - name: siem\n");
                    }
                    if rng.percent(60) {
                        doc.push_str("          events:\n");
                        let k = rng.between(1, 4);
                        let mut events = rng.sample(EVENTS.len(), k);
                        events.sort_unstable();
                        for e in events {
                            let _ = writeln!(doc, "            - {}", EVENTS[e]);
                        }
                    }
                }
            }
        }

        if rng.percent(70) {
            doc.push_str("  guards:\n");
            doc.push_str("    # Break-glass accounts are never removed, whatever the decision.\n");
            doc.push_str("    protectedPrincipals:\n");
            for &u in &dir.break_glass {
                let _ = writeln!(doc, "      - {}", dir.users[u].upn);
            }
            let _ = writeln!(doc, "    minRemainingAssignments: {}", rng.between(1, 3));
            let _ = writeln!(
                doc,
                "    maxRemovalPercent: {}",
                rng.pick(&[10, 20, 25, 30, 50])
            );
        }
        if rng.percent(20) {
            doc.push_str("  requests:\n");
            let _ = writeln!(doc, "    remind: \"{}\"", rng.date(start_year));
            if rng.percent(30) {
                let _ = writeln!(doc, "    apply: CHG{:07}", rng.below(10_000_000));
            }
        }

        // Keep every review at 40 lines or more, as real ones with their comments are.
        let mut lines = doc.lines().count();
        let padding = [
            "# Change history: see the Git log of this file.",
            "# Reviewers: decide in decisions/<review>/<you>.yaml, one file each.",
            "# Reminder: denied assignments are removed by `recert apply`.",
            "# Escalation: the security team decides anything left open.",
        ];
        let mut p = 0;
        while lines < 40 {
            let _ = writeln!(doc, "{}", padding[p % padding.len()]);
            p += 1;
            lines += 1;
        }
        doc
    }
}

/// A DNS-1123-safe slug of `text`, at most `max` characters.
pub(super) fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    out.trim_matches('-').to_owned()
}

pub(super) fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A YAML double-quoted scalar (JSON's string syntax is valid YAML).
pub(super) fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// A unique DNS-1123 name from `base`: at most 63 characters, suffixed on collision.
pub(super) fn unique_name(base: &str, taken: &mut HashSet<String>) -> String {
    let mut base = base.to_owned();
    base.truncate(56);
    let base = base.trim_end_matches('-').to_owned();
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}
