//! The generated `ReviewDecisions`: a reviewer the review allows, deciding principals in its
//! scope, each at most once a file.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::API_VERSION;
use super::directory::{Directory, Principal};
use super::review::{Review, ReviewerKind, quoted};
use super::rng::Rng;
use super::vocabulary::{APPROVE_REASONS, DENY_REASONS, DONT_KNOW_REASONS};

/// One reviewer's decisions on one review: who, and on whom.
pub(super) struct Decided {
    pub(super) reviewer: usize,
    pub(super) principals: Vec<Principal>,
}

/// Picks a reviewer the review allows (`reviewer` if given, when allowed) and the principals
/// they decide, none of them already in `used` (the file's principals so far).
pub(super) fn decide(
    review: &Review,
    reviewer: Option<usize>,
    dir: &Directory,
    used: &HashSet<Principal>,
    rng: &mut Rng,
) -> Option<Decided> {
    let take_free = |candidates: &[Principal], k: usize, rng: &mut Rng| -> Vec<Principal> {
        let mut free: Vec<Principal> = candidates
            .iter()
            .copied()
            .filter(|p| !used.contains(p))
            .collect();
        rng.shuffle(&mut free);
        free.truncate(k);
        free
    };
    match review.kind {
        ReviewerKind::SelfReview => {
            let reviewer = match reviewer {
                Some(u) => u,
                None => {
                    let users: Vec<usize> = review
                        .in_scope
                        .iter()
                        .filter_map(|p| match p {
                            Principal::User(u) => Some(*u),
                            Principal::Group(_) => None,
                        })
                        .collect();
                    if users.is_empty() {
                        rng.below(dir.people)
                    } else {
                        *rng.pick(&users)
                    }
                }
            };
            let me = Principal::User(reviewer);
            (!used.contains(&me)).then(|| Decided {
                reviewer,
                principals: vec![me],
            })
        }
        ReviewerKind::Users => {
            let reviewer = match reviewer {
                Some(u) if review.users.contains(&u) => u,
                Some(_) => return None,
                None => *rng.pick(&review.users),
            };
            let k = rng.between(1, 30);
            let mut principals = take_free(&review.in_scope, k, rng);
            // Small scopes: the reviewer also decides on people found in the directory.
            let mut tries = 0;
            while principals.len() < k && tries < 4 * k {
                let p = Principal::User(rng.below(dir.people));
                if !used.contains(&p) && !principals.contains(&p) {
                    principals.push(p);
                }
                tries += 1;
            }
            (!principals.is_empty()).then_some(Decided {
                reviewer,
                principals,
            })
        }
        ReviewerKind::Manager => {
            let as_fallback = match reviewer {
                Some(u) => review.fallback.contains(&u) && dir.reports[u].is_empty(),
                None => !review.fallback.is_empty() && rng.percent(15),
            };
            if as_fallback {
                let reviewer = reviewer.unwrap_or_else(|| *rng.pick(&review.fallback));
                let unmanaged: Vec<Principal> =
                    dir.unmanaged.iter().map(|&u| Principal::User(u)).collect();
                let k = rng.between(1, unmanaged.len());
                let principals = take_free(&unmanaged, k, rng);
                return (!principals.is_empty()).then_some(Decided {
                    reviewer,
                    principals,
                });
            }
            let reviewer = match reviewer {
                Some(u) if !dir.reports[u].is_empty() => u,
                Some(_) => return None,
                None => *rng.pick(&dir.managers),
            };
            let reports: Vec<Principal> = dir.reports[reviewer]
                .iter()
                .map(|&u| Principal::User(u))
                .collect();
            let k = rng.between(1, reports.len().min(30));
            let principals = take_free(&reports, k, rng);
            (!principals.is_empty()).then_some(Decided {
                reviewer,
                principals,
            })
        }
    }
}

/// One `ReviewDecisions` document (no leading `---`).
pub(super) fn render_decisions(
    name: &str,
    review: &Review,
    decided: &Decided,
    dir: &Directory,
    rng: &mut Rng,
) -> String {
    let mut doc = String::with_capacity(1024 + 160 * decided.principals.len());
    let reviewer = &dir.users[decided.reviewer];
    let _ = writeln!(
        doc,
        "# Decisions of {} on review {}.",
        reviewer.display, review.name
    );
    let _ = writeln!(doc, "apiVersion: {API_VERSION}");
    doc.push_str("kind: ReviewDecisions\nmetadata:\n");
    let _ = writeln!(doc, "  name: {name}");
    if rng.percent(30) {
        let _ = writeln!(doc, "  labels:\n    team: {}", review.team);
    }
    doc.push_str("spec:\n");
    let _ = writeln!(doc, "  review: {}", review.name);
    if rng.percent(40) {
        let _ = writeln!(doc, "  instance: \"{}\"", review.first_instance);
    }
    let _ = writeln!(
        doc,
        "  reviewer: {}",
        dir.user_ref(decided.reviewer, rng, 75)
    );
    doc.push_str("  decisions:\n");
    let mut i = 0;
    while i < decided.principals.len() {
        let decision = match rng.below(10) {
            0..7 => "approve",
            7..9 => "deny",
            _ => "dontKnow",
        };
        let reasons = match decision {
            "approve" => APPROVE_REASONS,
            "deny" => DENY_REASONS,
            _ => DONT_KNOW_REASONS,
        };
        let remaining = decided.principals.len() - i;
        let group = if remaining >= 2 && rng.percent(15) {
            rng.between(2, remaining.min(5))
        } else {
            1
        };
        let write = |p: Principal, rng: &mut Rng| -> String {
            match p {
                Principal::User(u) => dir.user_ref(u, rng, 40).to_owned(),
                Principal::Group(g) => dir.groups[g].id.clone(),
            }
        };
        if rng.percent(5) {
            doc.push_str("    # Checked against the on-call calendar.\n");
        }
        if group == 1 {
            let p = write(decided.principals[i], rng);
            let _ = writeln!(doc, "    - principal: {p}");
        } else {
            doc.push_str("    - principals:\n");
            for &p in &decided.principals[i..i + group] {
                let p = write(p, rng);
                let _ = writeln!(doc, "        - {p}");
            }
        }
        let _ = writeln!(doc, "      decision: {decision}");
        let reason = *rng.pick(reasons);
        if rng.percent(15) {
            let _ = writeln!(
                doc,
                "      reason: >-\n        {reason}\n        Ticket SEC-{}.",
                rng.between(1000, 9999)
            );
        } else if rng.percent(20) {
            let _ = writeln!(doc, "      reason: {}", quoted(reason));
        } else {
            let _ = writeln!(doc, "      reason: {reason}");
        }
        i += group;
    }
    doc
}
