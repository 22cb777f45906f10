//! Golden outputs: what a user reads at each point of the example reviews' lifecycle, as insta
//! snapshots, so that every change to `plan`, `reconcile`, `status.yaml`, the results CSV and
//! `pending` shows in review as a diff of what users get.
//!
//! The real binary runs over a copy of `examples/` at fixed `--now` times. The reviewers'
//! decisions files arrive mid-review, as pull requests do, so the start shows every item
//! undecided and the next point shows the decisions recorded. The subscription Owners are
//! applied by uncommenting the `requests.apply` token the example manifest carries, exactly as
//! its comment tells a user to.

use std::path::{Path, PathBuf};

use crate::support::{Output, recert, root};

/// Everyone the examples name as a reviewer: the decisions files' authors (Carol, Grace,
/// Peggy), the other named reviewer (Bob) and the group review's fallback reviewer (Alice).
/// Carol and Bob are also asked for by id, as the manifests name them both ways.
const REVIEWERS: [&str; 7] = [
    "carol@corp.example",
    "u-carol",
    "grace@corp.example",
    "peggy@corp.example",
    "bob@corp.example",
    "u-bob",
    "alice@corp.example",
];

const OWNERS: &str = "subscription-owners-quarterly";

struct Lifecycle {
    dir: tempfile::TempDir,
}

impl Lifecycle {
    fn new() -> Lifecycle {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(
            &root().join("examples"),
            &dir.path().join("manifests"),
            &["invalid", "ci", "decisions"],
        );
        Lifecycle { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `recert ARGS` in the temp dir and renders it as a terminal transcript.
    fn run(&self, args: &[&str]) -> (Output, String) {
        let out = recert(self.dir.path(), args);
        let mut text = format!("$ recert {}\n{}", args.join(" "), out.stdout);
        if !out.stderr.is_empty() {
            text.push_str("--- stderr\n");
            text.push_str(&out.stderr);
        }
        text.push_str(&format!("--- exit code {}\n", out.code));
        (out, self.redact(&text))
    }

    /// The only thing that varies between runs with a fixed `--now`: where the copy lives.
    fn redact(&self, text: &str) -> String {
        let dir = self.dir.path().to_string_lossy();
        text.replace(dir.as_ref(), "[TMP]")
    }

    /// Snapshots everything a user reads at time `now`, after `plan` and `reconcile`.
    fn point(&self, point: &str, now: &str) {
        let engine = ["manifests", "--state-dir", "state", "--now", now];
        let (_, plan) = self.run(&[&["plan"][..], &engine[..]].concat());
        insta::assert_snapshot!(format!("{point}-1-plan"), plan);
        let (out, reconcile) = self.run(&[&["reconcile"][..], &engine[..]].concat());
        assert_eq!(out.code, 0, "{reconcile}");
        insta::assert_snapshot!(format!("{point}-2-reconcile"), reconcile);

        for review in self.reviews() {
            let folder = self.path("state/reviews").join(&review);
            let status = self.redact(&read(&folder.join("status.yaml")));
            insta::assert_snapshot!(format!("{point}-3-status-{review}"), status);
            let results = sorted_entries(&folder.join("results"));
            for csv in &results {
                let name = csv.file_stem().expect("a file name").to_string_lossy();
                let results = self.redact(&read(csv));
                insta::assert_snapshot!(format!("{point}-4-results-{review}-{name}"), results);
            }
            // `export` prints the latest instance's results: the file just snapshotted, or,
            // before any instance, an error worth seeing too.
            let (out, export) = self.run(&["export", &review, "--state-dir", "state"]);
            match results.last() {
                Some(latest) => assert_eq!(
                    (out.code, out.stdout),
                    (0, read(latest)),
                    "`recert export {review}` prints its latest results file"
                ),
                None => insta::assert_snapshot!(format!("{point}-5-export-{review}"), export),
            }
        }

        let pending: String = REVIEWERS
            .iter()
            .map(|reviewer| {
                self.run(&["pending", "--reviewer", reviewer, "--state-dir", "state"])
                    .1
            })
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(format!("{point}-6-pending"), pending);
    }

    /// The reviews in the state directory, in name order.
    fn reviews(&self) -> Vec<String> {
        sorted_entries(&self.path("state/reviews"))
            .iter()
            .map(|p| {
                p.file_name()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The entries of a folder, sorted; none when it does not exist.
fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.expect("entry").path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    entries.sort();
    entries
}

fn copy_dir(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read examples") {
        let entry = entry.expect("entry");
        if skip.iter().any(|s| entry.file_name() == *s) {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target, &[]);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn the_example_reviews_read_as_snapshotted_from_start_to_apply() {
    let life = Lifecycle::new();

    // Adopted, waiting for their start dates.
    life.point("1-before", "2026-11-30T12:00:00Z");
    // Three reviews start (the group review starts on 2026-12-07).
    life.point("2-start", "2026-12-01T10:00:00Z");
    // Carol, Grace and Peggy's decisions files are merged.
    copy_dir(
        &root().join("examples/decisions"),
        &life.path("manifests/decisions"),
        &[],
    );
    life.point("3-mid-review", "2026-12-02T10:00:00Z");
    // Scheduled reminders are due in the three running reviews; the group review has started.
    life.point("4-reminders", "2026-12-08T10:00:00Z");
    // Every instance has ended: undecided items take their default decision, and the group
    // review applies itself.
    life.point("5-after-end", "2026-12-22T12:00:00Z");

    // The Owners' review is applied by the token its manifest carries commented out.
    let manifest = life.path(&format!("manifests/reviews/{OWNERS}.yaml"));
    let text = read(&manifest);
    let requested = text
        .replace("  # requests:\n", "  requests:\n")
        .replace("  #   apply: CHG-20270105\n", "    apply: CHG-20270105\n")
        .replace("  #   remind: \"2026-12-10\"\n", "");
    assert_ne!(requested, text, "the example carries the apply request");
    std::fs::write(&manifest, requested).expect("request the apply");
    let directory = life.path("manifests/corp-directory.yaml");
    let before = read(&directory);
    life.point("6-after-apply", "2026-12-23T10:00:00Z");
    let removed = removed_lines(&before, &read(&directory));
    insta::assert_snapshot!("6-after-apply-7-directory-removed-lines", removed);
}

/// The lines `after` lacks, for a file that apply only removes from: every other line, its
/// comments included, must be kept in order.
fn removed_lines(before: &str, after: &str) -> String {
    let mut kept = after.lines().peekable();
    let mut removed = String::new();
    for line in before.lines() {
        if kept.peek() == Some(&line) {
            kept.next();
        } else {
            removed.push_str(line);
            removed.push('\n');
        }
    }
    assert_eq!(
        kept.next(),
        None,
        "apply only removes lines from the data file"
    );
    removed
}
