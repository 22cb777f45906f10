//! The test kit's generated manifests, which the benchmarks measure, are what they claim:
//! valid to the last cross-document rule, and the same files for the same seed.

use std::path::Path;

use recert_testkit::corpus;

use crate::support::recert;

fn options(seed: u64) -> corpus::Options {
    corpus::Options {
        files: 300,
        seed,
        single_doc: false,
    }
}

#[test]
fn the_generated_corpus_validates_without_a_finding() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stats = corpus::generate(dir.path(), &options(7)).expect("generate");
    assert_eq!(stats.files, 300);
    assert!(stats.multi_doc_files > 0, "some files hold two documents");
    let out = recert(dir.path(), &["validate", "--format", "json", "."]);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("a JSON report");
    assert_eq!(
        (out.code, &report["errors"], &report["warnings"]),
        (0, &0.into(), &0.into()),
        "{}",
        out.stdout
    );
    assert_eq!(report["files"], stats.files);
    assert_eq!(report["documents"], stats.documents);
}

#[test]
fn the_same_seed_generates_the_same_files() {
    let read_all = |dir: &Path| {
        let mut files: Vec<(String, String)> = ignore::WalkBuilder::new(dir)
            .build()
            .map(|e| e.expect("entry"))
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .map(|e| {
                let rel = e
                    .path()
                    .strip_prefix(dir)
                    .expect("inside")
                    .display()
                    .to_string();
                (rel, std::fs::read_to_string(e.path()).expect("read"))
            })
            .collect();
        files.sort();
        files
    };
    let generated = |seed| {
        let dir = tempfile::tempdir().expect("temp dir");
        corpus::generate(dir.path(), &options(seed)).expect("generate");
        read_all(dir.path())
    };
    let first = generated(7);
    assert_eq!(first.len(), 300);
    assert_eq!(first, generated(7));
    assert_ne!(first, generated(8));
}
