//! A uniform review set over a large embedded directory: what the engine, daemon and
//! notification benchmarks reconcile, and what the test of a pass over several batches runs.

use std::fmt::Write as _;
use std::path::Path;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// What [`generate_with`] writes.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Reviews, each over a role of its own.
    pub reviews: usize,
    /// Role assignments in all, spread evenly over the roles.
    pub assignments: usize,
    /// When every review starts (a date or an RFC 3339 time).
    pub start: &'a str,
    /// A `Notifier` to write beside the reviews, which every review then names in
    /// `settings.notifications.notifiers` (for every event).
    pub notifier: Option<Notifier<'a>>,
    /// 0: half the reviews are self-reviews, half have two named reviewers (shared between
    /// reviews). N: every review has N named reviewers (`type: users`, by user principal name)
    /// of its own, so that `reviews × N` distinct people review; the directory holds at least
    /// that many users.
    pub reviewers_per_review: usize,
    /// One decisions file per review; without, every item is undecided (an instance that has
    /// just started).
    pub decisions: bool,
}

impl<'a> Options<'a> {
    /// [`generate`]'s set: no notifier, the self and two-reviewer mix, decisions.
    pub fn new(reviews: usize, assignments: usize, start: &'a str) -> Options<'a> {
        Options {
            reviews,
            assignments,
            start,
            notifier: None,
            reviewers_per_review: 0,
            decisions: true,
        }
    }
}

/// A `Notifier` document and the name the reviews use it by.
#[derive(Debug, Clone, Copy)]
pub struct Notifier<'a> {
    /// Its `metadata.name`.
    pub name: &'a str,
    /// The whole document (YAML), written to `notifier.yaml`.
    pub yaml: &'a str,
}

/// Generates the manifests: a directory of `assignments / 5` users and one role per review,
/// each role held by `assignments / reviews` users; half the reviews are self-reviews, half
/// have two named reviewers; one decisions file per review. Every review starts at `start`.
pub fn generate(root: &Path, reviews: usize, assignments: usize, start: &str) {
    generate_with(root, &Options::new(reviews, assignments, start));
}

/// Generates the manifests as [`Options`] says: a directory of `assignments / 5` users (or
/// more, for the reviewers), one role per review held by `assignments / reviews` of them, and
/// the reviews, their decisions and their notifier.
pub fn generate_with(root: &Path, options: &Options<'_>) {
    let Options {
        reviews,
        assignments,
        start,
        notifier,
        reviewers_per_review: named,
        decisions: with_decisions,
    } = *options;
    let users = (assignments / 5)
        .max(assignments / reviews.max(1))
        .max(reviews * named)
        .max(1);
    let per_role = assignments / reviews.max(1);
    write(
        &root.join("directory.yaml"),
        "apiVersion: recert.dev/v1alpha1\nkind: Directory\nmetadata: {name: corp}\nspec:\n  type: file\n  file: {path: data.yaml}\n",
    );
    let mut data = String::from(
        "apiVersion: recert.dev/v1alpha1\nkind: DirectoryData\nmetadata: {name: corp}\nspec:\n  users:\n",
    );
    for u in 0..users {
        let day = 1 + (u * 7) % 28;
        let month = 1 + (u * 5) % 11;
        let _ = writeln!(
            data,
            "    - {{id: u-{u}, userPrincipalName: user{u}@corp.example, displayName: User {u}, lastSignIn: 2026-{month:02}-{day:02}}}"
        );
    }
    data.push_str("  roles:\n");
    for r in 0..reviews {
        let _ = writeln!(data, "    - {{id: r-{r}, displayName: Role {r}}}");
    }
    data.push_str("  assignments:\n");
    for r in 0..reviews {
        for k in 0..per_role {
            let u = (r * per_role + k) % users;
            let kind = if k % 4 == 0 { "eligible" } else { "active" };
            let _ = writeln!(
                data,
                "    - {{id: a-{r}-{k}, principal: u-{u}, role: r-{r}, type: {kind}}}"
            );
        }
    }
    write(&root.join("data.yaml"), &data);
    let mut notifications = String::new();
    if let Some(notifier) = notifier {
        write(&root.join("notifier.yaml"), notifier.yaml);
        let _ = write!(
            notifications,
            "    notifications:\n      notifiers:\n        - name: {}\n",
            notifier.name
        );
    }
    for r in 0..reviews {
        let first = (r * per_role) % users;
        let (reviewers, reviewer) = if named > 0 {
            let upns: Vec<String> = (r * named..(r + 1) * named)
                .map(|u| format!("user{u}@corp.example"))
                .collect();
            (
                format!("    type: users\n    users: [{}]\n", upns.join(", ")),
                upns[0].clone(),
            )
        } else if r % 2 == 0 {
            ("    type: self\n".to_owned(), format!("u-{first}"))
        } else {
            (
                format!(
                    "    type: users\n    users: [u-{}, user{}@corp.example]\n",
                    (r * 13) % users,
                    (r * 17) % users
                ),
                format!("u-{}", (r * 13) % users),
            )
        };
        let review = format!(
            "apiVersion: recert.dev/v1alpha1\nkind: AccessReview\nmetadata:\n  name: review-{r:04}\nspec:\n  directory: corp\n  displayName: Role {r} review\n  scope:\n    role: {{id: r-{r}}}\n  reviewers:\n{reviewers}  schedule:\n    start: \"{start}\"\n    durationDays: 14\n    recurrence: quarterly\n  settings:\n    requireJustification: true\n    defaultDecision: recommendation\n    recommendations: {{inactiveDays: 60}}\n{notifications}  guards:\n    maxRemovalPercent: 50\n"
        );
        write(&root.join(format!("reviews/review-{r:04}.yaml")), &review);
        if !with_decisions {
            continue;
        }
        let mut decisions = format!(
            "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata:\n  name: review-{r:04}-decisions\nspec:\n  review: review-{r:04}\n  reviewer: {reviewer}\n  decisions:\n"
        );
        let decided: Vec<usize> = if r % 2 == 0 && named == 0 {
            vec![first]
        } else {
            (0..per_role / 2)
                .map(|k| (r * per_role + k) % users)
                .collect()
        };
        for (i, u) in decided.iter().enumerate() {
            let decision = if i % 5 == 0 { "deny" } else { "approve" };
            let _ = writeln!(
                decisions,
                "    - {{principal: u-{u}, decision: {decision}, reason: Checked against the on-call rota}}"
            );
        }
        write(
            &root.join(format!("decisions/review-{r:04}.yaml")),
            &decisions,
        );
    }
}
