//! `recert validate` and `recert schema` as a user runs them: exit codes, formats, and hostile
//! input that must neither panic nor hang nor hide other files' findings.

use serde_json::Value;

use crate::support::{Tree, valid_tree};

fn codes(json_stdout: &str) -> Vec<(String, String)> {
    let report: Value = serde_json::from_str(json_stdout).expect("--format json prints JSON");
    report["diagnostics"]
        .as_array()
        .expect("diagnostics is a list")
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap_or_default().to_owned(),
                d["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_valid_set_exits_zero_and_says_what_it_checked() {
    let out = valid_tree().recert(&["validate", "."]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "checked 4 files, 4 documents: 0 errors, 0 warnings\n"
    );
}

#[test]
fn decisions_by_an_allowed_reviewer_are_accepted() {
    let tree = valid_tree();
    tree.write(
        "decisions/alice.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: alice}\nspec:\n  review: ga-self\n  reviewer: alice@corp.example\n  decisions:\n    - {principal: u-alice, decision: approve, reason: still on call}\n",
    )
    .write(
        "decisions/carol.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: carol}\nspec:\n  review: ga-named\n  reviewer: u-carol\n  decisions:\n    - {principals: [u-alice, bob@corp.example], decision: deny}\n    - {principal: g-ops, decision: dontKnow}\n",
    );
    let out = tree.recert(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn one_broken_file_does_not_hide_the_findings_of_the_others() {
    let tree = valid_tree();
    tree.write("broken.yaml", "a: [1, 2\n")
        .write("also-broken.yaml", b"x: \"\xff\"\n".as_slice())
        .write(
            "reviews/typo.yaml",
            crate::support::SELF_REVIEW
                .replace("ga-self", "ga-typo")
                .replace("durationDays", "durationDay"),
        );
    let out = tree.recert(&["validate", "--format", "json", "."]);
    assert_eq!(out.code, 1);
    assert_eq!(
        codes(&out.stdout),
        [
            ("./also-broken.yaml".to_owned(), "not-utf8".to_owned()),
            ("./broken.yaml".to_owned(), "yaml-syntax".to_owned()),
            ("./reviews/typo.yaml".to_owned(), "unknown-field".to_owned()),
        ]
    );
}

#[test]
fn every_document_of_a_multi_document_file_is_checked() {
    let tree = Tree::new();
    let text = format!(
        "{}---\n{}---\n{}",
        crate::support::DIRECTORY,
        crate::support::SELF_REVIEW.replace("durationDays: 14", "durationDays: -1"),
        crate::support::USERS_REVIEW.replace("recurrence: quarterly", "recurrence: fortnightly")
    );
    tree.write("all.yaml", text)
        .write("data.yaml", crate::support::DATA);
    let out = tree.recert(&["validate", "--format", "json"]);
    let report: Value = serde_json::from_str(&out.stdout).expect("json");
    let lines: Vec<u64> = report["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .map(|d| d["span"]["line"].as_u64().unwrap_or(0))
        .collect();
    // durationDays in the second document, recurrence in the third: lines of the whole file.
    assert_eq!(lines, [23, 42], "{}", out.stdout);
    assert_eq!(report["documents"], 4);
}

#[test]
fn a_missing_path_is_an_io_error_with_exit_2_and_the_other_paths_are_still_checked() {
    let tree = valid_tree();
    tree.write(
        "bad/typo.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: Nope\n",
    );
    let out = tree.recert(&["validate", "--format", "json", "does-not-exist", "bad"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        codes(&out.stdout),
        [
            ("bad/typo.yaml".to_owned(), "unknown-kind".to_owned()),
            ("does-not-exist".to_owned(), "io-error".to_owned())
        ]
    );
}

#[test]
fn hostile_yaml_is_reported_without_panicking_or_hanging() {
    let tree = Tree::new();
    let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    tree.write("bomb.yaml", bomb)
        .write(
            "deep.yaml",
            format!("spec: {}{}\n", "[".repeat(1_000), "]".repeat(1_000)),
        )
        .write(
            "dup.yaml",
            "apiVersion: recert.dev/v1alpha1\napiVersion: recert.dev/v1alpha1\n",
        )
        .write("tag.yaml", "apiVersion: !Secret foo\n")
        .write("big.yaml", format!("description: {}\n", "x".repeat(10_000)))
        .write("scalar.yaml", "just a string\n");
    let out = tree.recert(&[
        "validate",
        "--format",
        "json",
        "--max-file-size",
        "8192",
        ".",
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(
        codes(&out.stdout),
        [
            ("./big.yaml".to_owned(), "file-too-large".to_owned()),
            ("./bomb.yaml".to_owned(), "alias-limit".to_owned()),
            ("./deep.yaml".to_owned(), "too-deep".to_owned()),
            ("./dup.yaml".to_owned(), "missing-field".to_owned()),
            ("./dup.yaml".to_owned(), "duplicate-key".to_owned()),
            ("./scalar.yaml".to_owned(), "not-a-document".to_owned()),
            ("./tag.yaml".to_owned(), "yaml-unsupported".to_owned()),
        ]
    );
}

#[test]
fn hidden_folders_non_yaml_files_and_recertignore_patterns_are_skipped() {
    let tree = valid_tree();
    tree.write(".git/config.yaml", "not: a manifest\n")
        .write(".hidden/x.yml", "not: a manifest\n")
        .write("notes.txt", "not yaml at all: [\n")
        .write("fixtures/broken.yaml", "a: [\n")
        .write(".recertignore", "fixtures/\n");
    let out = tree.recert(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    // A file named on the command line is read even if ignored or oddly named.
    let named = tree.recert(&["validate", "fixtures/broken.yaml"]);
    assert_eq!(named.code, 1);
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let tree = valid_tree();
    tree.write(
        "reviews/self.yaml",
        crate::support::SELF_REVIEW
            .replace("    type: self\n", "    type: self\n    users: [u-carol]\n"),
    );
    let out = tree.recert(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("warning[invalid-value]: `users` is ignored with `type: self`"),
        "{}",
        out.stdout
    );
    assert_eq!(tree.recert(&["validate", "--deny-warnings"]).code, 1);
}

#[test]
fn github_format_prints_one_annotation_per_finding() {
    let tree = valid_tree();
    tree.write(
        "reviews/self.yaml",
        crate::support::SELF_REVIEW.replace("type: self", "type: everyone"),
    );
    let out = tree.recert(&["validate", "--format", "github"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stdout,
        "::error file=./reviews/self.yaml,line=11,col=11,endLine=11,endColumn=19,title=recert invalid-value::the string `everyone` is not an allowed value%0Afield: spec.reviewers.type%0Aexpected one of: `self`, `users`, `manager`\n"
    );
}

#[test]
fn sarif_output_names_a_rule_for_every_result_and_locates_it() {
    let tree = valid_tree();
    tree.write(
        "reviews/self.yaml",
        crate::support::SELF_REVIEW.replace("name: ga-self", "name: GA_Self"),
    );
    let out = tree.recert(&["validate", "--format", "sarif"]);
    assert_eq!(out.code, 1);
    let sarif: Value = serde_json::from_str(&out.stdout).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 1);
    let result = &results[0];
    let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    assert_eq!(rules[index]["id"], result["ruleId"]);
    assert_eq!(result["ruleId"], "invalid-name");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "reviews/self.yaml");
    assert_eq!(location["region"]["startLine"], 4);
    assert_eq!(location["region"]["startColumn"], 9);
}

#[test]
fn cross_document_rules_report_against_the_offending_node() {
    let tree = valid_tree();
    tree.write(
        "decisions/bob.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: bob}\nspec:\n  review: ga-self\n  reviewer: bob@corp.example\n  decisions:\n    - {principal: u-bob, decision: approve, reason: needed}\n    - {principal: u-alice, decision: deny, reason: left}\n    - {principal: u-bob, decision: deny}\n",
    )
    .write(
        "decisions/mallory.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: mallory}\nspec:\n  review: ga-named\n  reviewer: u-alice\n  decisions: [{principal: u-bob, decision: deny}]\n",
    )
    .write(
        "decisions/lost.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: lost}\nspec:\n  review: ga-slef\n  reviewer: u-alice\n",
    );
    let out = tree.recert(&["validate", "--format", "json"]);
    let report: Value = serde_json::from_str(&out.stdout).expect("json");
    let found: Vec<(String, u64, String)> = report["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_owned(),
                d["span"]["line"].as_u64().unwrap_or(0),
                d["field"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "reviewer-not-allowed".to_owned(),
                9,
                "spec.decisions[1].principal".to_owned()
            ),
            (
                "missing-reason".to_owned(),
                10,
                "spec.decisions[2]".to_owned()
            ),
            (
                "duplicate-decision".to_owned(),
                10,
                "spec.decisions[2].principal".to_owned()
            ),
            (
                "unresolved-reference".to_owned(),
                5,
                "spec.review".to_owned()
            ),
            (
                "reviewer-not-allowed".to_owned(),
                6,
                "spec.reviewer".to_owned()
            ),
        ],
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("did you mean `ga-self`?"));
}

#[test]
fn schema_check_passes_on_the_committed_schema_and_fails_on_a_stale_one() {
    let root = crate::support::root();
    let out = crate::support::recert(&root, &["schema", "--check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let tree = Tree::new();
    let stale = std::fs::read_to_string(root.join("schemas/recert.schema.json"))
        .expect("committed schema")
        .replace("DNS-1123", "DNS-1035");
    tree.write("stale.json", stale);
    let out = tree.recert(&["schema", "--check", "stale.json"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("stale.json is out of date"),
        "{}",
        out.stderr
    );

    let out = tree.recert(&["schema", "--output", "fresh.json"]);
    assert_eq!(out.code, 0);
    assert_eq!(tree.recert(&["schema", "--check", "fresh.json"]).code, 0);
}

#[test]
fn usage_errors_exit_2() {
    let out = Tree::new().recert(&["validate", "--format", "xml"]);
    assert_eq!(out.code, 2);
    let out = Tree::new().recert(&["schema", "--check", "missing.json"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("cannot read missing.json"));
}

#[test]
fn a_secret_in_a_free_form_field_the_schema_accepts_is_still_reported() {
    let tree = valid_tree();
    tree.write(
        "reviews/self.yaml",
        crate::support::SELF_REVIEW.replace(
            "  name: ga-self\n",
            "  name: ga-self\n  annotations:\n    apiKey: sk-live-123\n",
        ),
    );
    let out = tree.recert(&["validate"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("./reviews/self.yaml:6:13: error[inline-secret]: `metadata.annotations.apiKey` holds a secret written inline"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("sk-live-123"),
        "the secret is masked: {}",
        out.stdout
    );
}

#[test]
fn codeowners_leaves_an_unmapped_or_shared_decisions_file_with_the_admins_and_says_so() {
    let tree = valid_tree();
    tree.write(
        "decisions/shared.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: alice}\nspec:\n  review: ga-self\n  reviewer: alice@corp.example\n  decisions: []\n---\napiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: carol}\nspec:\n  review: ga-named\n  reviewer: u-carol\n  decisions: []\n",
    )
    .write(
        "decisions/carol.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: carol-2}\nspec:\n  review: ga-named\n  reviewer: u-carol\n  decisions: []\n",
    )
    .write(
        "owners.yaml.txt",
        "admins: \"@sec\"\nreviewers:\n  u-carol: \"@carol\"\n",
    );
    let out = tree.recert(&["codeowners", ".", "--owners", "owners.yaml.txt"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("\n* @sec\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains("\n/decisions/carol.yaml @carol\n"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("/decisions/shared.yaml"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("reviewer `alice@corp.example` has no Git owner")
            && out
                .stderr
                .contains("holds the decisions of several reviewers"),
        "{}",
        out.stderr
    );
}

#[test]
fn no_secret_written_in_a_manifest_is_shown_in_any_format() {
    let tree = Tree::new();
    let head = "apiVersion: recert.dev/v1alpha1\nkind: Directory\nmetadata:\n  name: NAME\nspec:\n";
    // Two secrets on one line, one of them under a misspelt key; one under `value:`; one in
    // a list.
    tree.write(
        "a.yaml",
        format!(
            "{}  type: graph\n  graph: {{tenantId: corp.example, clientId: app, clientSecret: \"first-s3cret\", clientSecrett: second-s3cret}}\n",
            head.replace("NAME", "a")
        ),
    )
    .write(
        "b.yaml",
        format!(
            "{}  type: scim\n  scim:\n    baseUrl: https://scim.example/v2\n    bearerToken: {{value: third-s3cret}}\n",
            head.replace("NAME", "b")
        ),
    )
    .write(
        "c.yaml",
        format!(
            "{}  type: scim\n  scim:\n    baseUrl: https://scim.example/v2\n    bearerToken: [fourth-s3cret, other]\n",
            head.replace("NAME", "c")
        ),
    );
    for format in ["human", "github", "json", "sarif"] {
        let out = tree.recert(&["validate", "--format", format, "."]);
        assert_eq!(out.code, 1, "{format}: {}{}", out.stdout, out.stderr);
        for secret in ["first", "second", "third", "fourth"] {
            assert!(
                !out.stdout.contains(&format!("{secret}-s3cret")),
                "{format}: the {secret} secret is shown:\n{}",
                out.stdout
            );
        }
    }
    // The lines are shown, masked.
    let out = tree.recert(&["validate", "."]);
    for shown in [
        "clientSecret: **************, clientSecrett: *************}",
        "bearerToken: {value: ************}",
        "bearerToken: [*************, *****]",
    ] {
        assert!(
            out.stdout.contains(shown),
            "`{shown}` not in:\n{}",
            out.stdout
        );
    }
}

#[test]
fn validate_checks_decisions_against_a_data_file_outside_the_walked_tree() {
    let tree = crate::support::Tree::new();
    // The daemon layout: the data file lives next to, not inside, the manifests.
    let data = crate::support::DATA.replace(
        "    - {id: u-carol, userPrincipalName: carol@corp.example}\n",
        "    - {id: u-carol, userPrincipalName: carol@corp.example}\n    - {id: u-mallory, userPrincipalName: u-bob}\n",
    );
    tree.write("data/corp.yaml", data)
        .write(
            "manifests/directory.yaml",
            "apiVersion: recert.dev/v1alpha1\nkind: Directory\nmetadata: {name: corp}\nspec:\n  type: file\n  file: {path: ../data/corp.yaml}\n",
        )
        .write("manifests/reviews/named.yaml", crate::support::USERS_REVIEW)
        .write(
            "manifests/decisions/carol.yaml",
            "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: carol}\nspec:\n  review: ga-named\n  reviewer: u-carol\n  decisions: [{principal: u-bob, decision: deny}]\n",
        )
        .write(
            "manifests/decisions/alice.yaml",
            "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: alice}\nspec:\n  review: ga-named\n  reviewer: alice@corp.example\n  decisions: [{principal: u-bob, decision: deny}]\n",
        );
    let out = tree.recert(&[
        "validate",
        "manifests",
        "--data-dir",
        "data",
        "--format",
        "json",
    ]);
    let mut found: Vec<(String, String)> = codes(&out.stdout)
        .into_iter()
        .map(|(file, code)| (file.replace('\\', "/"), code))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (
                "manifests/../data/corp.yaml".to_owned(),
                "ambiguous-principal".to_owned()
            ),
            (
                "manifests/decisions/alice.yaml".to_owned(),
                "reviewer-not-allowed".to_owned()
            ),
        ],
        "{}",
        out.stdout
    );
    assert_eq!(out.code, 1);
}

#[test]
fn one_reviewer_deciding_a_principal_differently_in_two_files_is_a_finding() {
    let tree = valid_tree();
    let file = |name: &str, reviewer: &str, principal: &str, decision: &str| {
        format!(
            "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {{name: {name}}}\nspec:\n  review: ga-named\n  reviewer: {reviewer}\n  decisions: [{{principal: {principal}, decision: {decision}}}]\n"
        )
    };
    tree.write(
        "decisions/a.yaml",
        file("a", "carol@corp.example", "u-alice", "approve"),
    )
    .write(
        "decisions/b.yaml",
        file("b", "CAROL@CORP.EXAMPLE", "alice@corp.example", "deny"),
    )
    .write(
        "decisions/c.yaml",
        file("c", "u-carol", "u-alice", "approve"),
    );
    let out = tree.recert(&["validate", "--format", "json"]);
    assert_eq!(
        codes(&out.stdout),
        [(
            "./decisions/b.yaml".to_owned(),
            "conflicting-decisions".to_owned()
        )],
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("also decided at ./decisions/a.yaml:7:"));
}

#[test]
fn a_principal_decided_under_its_id_and_its_user_principal_name_is_decided_twice() {
    let tree = valid_tree();
    tree.write(
        "decisions/carol.yaml",
        "apiVersion: recert.dev/v1alpha1\nkind: ReviewDecisions\nmetadata: {name: carol}\nspec:\n  review: ga-named\n  reviewer: carol@corp.example\n  decisions:\n    - {principal: u-alice, decision: deny}\n    - {principal: Alice@Corp.Example, decision: approve}\n",
    );
    let out = tree.recert(&["validate", "--format", "json"]);
    assert_eq!(
        codes(&out.stdout),
        [(
            "./decisions/carol.yaml".to_owned(),
            "duplicate-decision".to_owned()
        )],
        "{}",
        out.stdout
    );
}
