//! The shipped examples: the working set validates cleanly, and every file in
//! `examples/invalid/` fails with exactly the finding its `# expect:` line names, rendered as
//! the snapshot shows.

use std::path::Path;

use serde_json::Value;

use crate::support::{recert, root};

#[test]
fn the_examples_validate_cleanly() {
    let out = recert(&root(), &["validate", "examples"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

/// The code named by the file's `# expect: CODE` comment.
fn expected_code(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read example");
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .find_map(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{} has no `# expect: CODE` line", path.display()))
        .trim()
        .to_owned()
}

#[test]
fn every_invalid_example_fails_with_its_one_expected_finding() {
    let dir = root().join("examples/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/invalid")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected one file per kind of mistake, found {}",
        files.len()
    );
    for file in files {
        let relative = file
            .strip_prefix(root())
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        // The invalid examples share the working set's data file, one folder up.
        let out = recert(
            &root(),
            &[
                "validate",
                "--data-dir",
                "examples",
                "--format",
                "json",
                &relative,
            ],
        );
        assert_eq!(out.code, 1, "{relative}: {}", out.stdout);
        let report: Value = serde_json::from_str(&out.stdout).expect("json");
        let codes: Vec<&str> = report["diagnostics"]
            .as_array()
            .expect("list")
            .iter()
            .filter(|d| d["severity"] == "error")
            .filter_map(|d| d["code"].as_str())
            .collect();
        assert_eq!(codes, [expected_code(&file).as_str()], "{relative}");
    }
}

#[test]
fn invalid_examples_render_as_snapshotted() {
    insta::glob!("../examples/invalid", "*.yaml", |path| {
        let relative = path
            .strip_prefix(root())
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let out = recert(&root(), &["validate", "--data-dir", "examples", &relative]);
        insta::assert_snapshot!(out.stdout);
    });
}

#[test]
fn machine_formats_are_snapshotted() {
    let file = "examples/invalid/unknown-field.yaml";
    for format in ["json", "github", "sarif"] {
        let out = recert(
            &root(),
            &[
                "validate",
                "--data-dir",
                "examples",
                "--format",
                format,
                file,
            ],
        );
        insta::assert_snapshot!(format!("unknown-field.{format}"), out.stdout);
    }
}

#[test]
fn the_codeowners_example_is_what_recert_codeowners_generates() {
    let out = recert(
        &root(),
        &[
            "codeowners",
            "examples",
            "--owners",
            "examples/codeowners/owners.yaml.example",
            "--root",
            "examples",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shipped = std::fs::read_to_string(root().join("examples/codeowners/CODEOWNERS.example"))
        .expect("the shipped example");
    assert_eq!(out.stdout, shipped);
    // Each decisions file goes to its reviewer's owners alone; directories to the admins.
    assert!(shipped.contains("\n/decisions/grace-global-admins.yaml @grace\n"));
    assert!(shipped.contains("\n/entra-directory.yaml @corp/iam-admins\n"));
}
