//! Input that once stalled, exhausted or spoofed the output: many findings in one file, FIFOs
//! and devices where a data file belongs, control characters in values. Each run is bounded
//! by the harness's one-minute guard; none measures speed (benches/validate.rs does).

use std::fmt::Write as _;

use serde_json::Value;

use crate::support::{DATA, DIRECTORY, SELF_REVIEW, Tree};

fn diagnostics(json_stdout: &str) -> Vec<Value> {
    let report: Value = serde_json::from_str(json_stdout).expect("--format json prints JSON");
    report["diagnostics"]
        .as_array()
        .expect("diagnostics is a list")
        .clone()
}

/// One file of `n` reviews whose directory does not exist, then `n` reviews sharing one name.
fn many_findings(n: usize) -> String {
    let mut text = String::new();
    for i in 0..n {
        let review = SELF_REVIEW
            .replace("name: ga-self", &format!("name: lost-{i}"))
            .replace("directory: corp", &format!("directory: nowhere-{i}"));
        let _ = writeln!(text, "{review}---");
    }
    for _ in 0..n {
        let _ = writeln!(text, "{}---", SELF_REVIEW.replace("ga-self", "twin"));
    }
    text
}

#[test]
fn a_thousand_unresolved_references_and_duplicate_names_in_one_file_are_all_reported() {
    let tree = Tree::new();
    tree.write("directory.yaml", DIRECTORY)
        .write("data.yaml", DATA)
        .write("many.yaml", many_findings(1000));
    let out = tree.recert(&["validate", "--format", "json", "."]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let found = diagnostics(&out.stdout);
    let lines = |code: &str| -> Vec<u64> {
        found
            .iter()
            .filter(|d| d["code"] == code)
            .map(|d| d["span"]["line"].as_u64().expect("placed on a line"))
            .collect()
    };
    let per_doc = SELF_REVIEW.lines().count() as u64 + 1;
    let directory_line = 6;
    let name_line = 4;
    // Every finding is placed on its own document's line, not the first document's.
    assert_eq!(
        lines("unresolved-reference"),
        (0..1000)
            .map(|i| i * per_doc + directory_line)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        lines("duplicate-name"),
        (1001..2000)
            .map(|i| i * per_doc + name_line)
            .collect::<Vec<_>>()
    );
    assert_eq!(found.len(), 1999, "{}", out.stdout);
}

fn mkfifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
}

/// A valid set whose directory's data file is `data_path` (written in the manifest as is).
fn tree_with_data_at(data_path: &str) -> Tree {
    let tree = Tree::new();
    tree.write(
        "m/directory.yaml",
        DIRECTORY.replace("path: data.yaml", &format!("path: {data_path}")),
    )
    .write("m/reviews/self.yaml", SELF_REVIEW);
    tree
}

/// What `validate` and `reconcile` both say about a data file they cannot use.
/// The data file may be outside the manifests: `/dev` is then an allowed data directory.
fn assert_same_message_from_validate_and_reconcile(tree: &Tree, expected: &str) {
    let validate = tree.recert(&["validate", "m", "--data-dir", "/dev"]);
    assert_eq!(validate.code, 1, "{}{}", validate.stdout, validate.stderr);
    assert!(
        validate.stdout.contains(expected),
        "validate said:\n{}",
        validate.stdout
    );
    // After the review's start: starting it needs the directory.
    let reconcile = tree.recert(&[
        "reconcile",
        "m",
        "--data-dir",
        "/dev",
        "--state-dir",
        "state",
        "--now",
        "2026-12-02T00:00:00Z",
    ]);
    assert_ne!(reconcile.code, 0);
    // The finding on the Directory, and the review's error when it tries the directory.
    let review_error = reconcile
        .stderr
        .lines()
        .find(|l| l.starts_with("error: review ga-self: "));
    assert!(
        review_error.is_some_and(|l| l.contains(expected))
            && reconcile.stderr.matches(expected).count() == 2,
        "reconcile said:\n{}",
        reconcile.stderr
    );
}

#[test]
fn a_fifo_as_data_file_is_refused_by_validate_and_reconcile_in_the_same_words() {
    let tree = tree_with_data_at("data.yaml");
    let fifo = tree.path().join("m/data.yaml");
    mkfifo(&fifo);
    let expected = format!(
        "directory file `{}` cannot be read: it is a FIFO (named pipe), not a regular file",
        std::path::Path::new("m").join("data.yaml").display()
    );
    assert_same_message_from_validate_and_reconcile(&tree, &expected);
}

#[test]
fn dev_zero_as_data_file_is_refused_without_reading_it() {
    let tree = tree_with_data_at("/dev/zero");
    assert_same_message_from_validate_and_reconcile(
        &tree,
        "directory file `/dev/zero` cannot be read: it is a character device, not a regular file",
    );
}

#[test]
fn a_fifo_or_device_named_on_the_command_line_is_an_error_not_a_hang() {
    let tree = Tree::new();
    mkfifo(&tree.path().join("pipe.yaml"));
    let out = tree.recert(&["validate", "pipe.yaml", "/dev/zero"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "pipe.yaml: error[io-error]: cannot read: it is a FIFO (named pipe), not a regular file"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "/dev/zero: error[io-error]: cannot read: it is a character device, not a regular file"
        ),
        "{}",
        out.stdout
    );
}

/// A review whose kind hides a workflow command, whose name holds an ANSI escape, and a file
/// with a raw escape character in its text.
fn spoofing_tree() -> Tree {
    let tree = Tree::new();
    tree.write(
        "kind.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: \"Foo\\n::error file=evil.yaml::x\"\nmetadata: {name: a}\nspec: {}\n",
    )
    .write(
        "name.yaml",
        SELF_REVIEW.replace("name: ga-self", "name: \"\\e[31mred\\e[0m\""),
    )
    .write("raw.yaml", "a: [\u{1b}[2J\n");
    tree
}

#[test]
fn control_characters_in_values_reach_human_output_escaped() {
    let tree = spoofing_tree();
    let out = tree.recert(&["validate", "."]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(!all.contains('\u{1b}'), "a raw ESC byte:\n{all:?}");
    assert!(
        !all.lines().any(|l| l.starts_with("::")),
        "a line that is a workflow command:\n{all}"
    );
    assert!(
        out.stdout
            .contains("unknown kind `Foo\\n::error file=evil.yaml::x`"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\\x1b[31mred"), "{}", out.stdout);
}

#[test]
fn control_characters_in_values_cannot_add_github_workflow_commands() {
    let tree = spoofing_tree();
    let out = tree.recert(&["validate", "--format", "github", "."]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains('\u{1b}'), "{:?}", out.stdout);
    // One annotation per finding, each on one line, none in a file the findings are not in.
    let json = tree.recert(&["validate", "--format", "json", "."]);
    let count = diagnostics(&json.stdout).len();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), count, "{}", out.stdout);
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("::error file=./") || l.starts_with("::warning file=./")),
        "{}",
        out.stdout
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("::error file=evil.yaml")),
        "{}",
        out.stdout
    );
}
