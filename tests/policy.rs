//! Where a manifest may send credentials and point Recert at files: plain http only to
//! loopback, Graph tokens only from Entra ID's authorities unless the operator allows another,
//! and a file directory's data only inside the manifests or a `--data-dir`.

use crate::support::{DATA, DIRECTORY, SELF_REVIEW, Tree};

const GRAPH: &str = "apiVersion: recert.dev/v1alpha1
kind: Directory
metadata:
  name: entra
spec:
  type: graph
  graph:
    tenantId: corp.example
    clientId: 3f2504e0-4f89-41d3-9a0c-0305e82c3301
    clientSecret: {env: GRAPH_SECRET}
    authorityUrl: AUTHORITY
    baseUrl: https://graph.microsoft.com/v1.0
";

const SCIM: &str = "apiVersion: recert.dev/v1alpha1
kind: Directory
metadata:
  name: hr
spec:
  type: scim
  scim:
    baseUrl: BASE
    bearerToken: {env: SCIM_TOKEN}
";

fn graph(authority: &str) -> String {
    GRAPH.replace("AUTHORITY", authority)
}

#[test]
fn plain_http_to_a_host_that_is_not_loopback_is_refused_at_the_field() {
    let tree = Tree::new();
    tree.write(
        "scim.yaml",
        SCIM.replace("BASE", "http://scim.example.com/v2"),
    )
    .write("graph.yaml", graph("http://login.microsoftonline.com"));
    let out = tree.recert(&["validate", "."]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "scim.yaml:8:14: error[plain-http]: `http://scim.example.com/v2` is plain http"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("graph.yaml:11:19: error[plain-http]"),
        "{}",
        out.stdout
    );
    // Loopback (test servers) stays allowed.
    let tree = Tree::new();
    tree.write(
        "scim.yaml",
        SCIM.replace("BASE", "http://127.0.0.1:8080/v2"),
    )
    .write("graph.yaml", graph("http://[::1]:4000"));
    let out = tree.recert(&["validate", "."]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn an_authority_that_is_not_entra_id_is_refused_unless_the_operator_allows_it() {
    let tree = Tree::new();
    tree.write("graph.yaml", graph("https://login.evil.example"));
    let out = tree.recert(&["validate", "."]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "graph.yaml:11:19: error[unknown-authority]: `login.evil.example` is not a Microsoft Entra ID authority"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("--allow-authority login.evil.example"),
        "{}",
        out.stdout
    );
    let out = tree.recert(&["validate", "--allow-authority", "login.evil.example", "."]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for national in [
        "https://login.microsoftonline.us",
        "https://login.partner.microsoftonline.cn",
    ] {
        tree.write("graph.yaml", graph(national));
        let out = tree.recert(&["validate", "."]);
        assert_eq!(out.code, 0, "{national}: {}{}", out.stdout, out.stderr);
    }
}

/// A tree whose directory points at `path`, with a data file outside the manifests.
fn outside_tree(path: &str) -> Tree {
    let tree = Tree::new();
    tree.write("m/directory.yaml", DIRECTORY.replace("data.yaml", path))
        .write("m/reviews/self.yaml", SELF_REVIEW)
        .write("outside/data.yaml", DATA);
    tree
}

#[test]
fn a_data_file_outside_the_manifests_is_refused_unless_its_folder_is_allowed() {
    for path in ["../../etc/passwd", "/etc/passwd", "../outside/data.yaml"] {
        let tree = outside_tree(path);
        let out = tree.recert(&["validate", "m"]);
        assert_eq!(out.code, 1, "{path}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains(&format!(
                "directory.yaml:8:11: error[path-outside-tree]: `{path}` resolves to"
            )),
            "{path}: {}",
            out.stdout
        );
    }
    // An absolute path into an allowed folder, and a relative one, both pass.
    let tree = outside_tree("../outside/data.yaml");
    let out = tree.recert(&["validate", "--data-dir", "outside", "m"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let absolute = tree.path().join("outside/data.yaml");
    tree.write(
        "m/directory.yaml",
        DIRECTORY.replace("data.yaml", &absolute.to_string_lossy()),
    );
    let out = tree.recert(&["validate", "--data-dir", "outside", "m"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // The allowed folder is that folder only.
    let tree = outside_tree("../outside/data.yaml");
    let out = tree.recert(&["validate", "--data-dir", "elsewhere", "m"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
}

#[test]
fn the_engine_does_not_open_a_directory_validation_refused() {
    let tree = outside_tree("../outside/data.yaml");
    let out = tree.recert(&["plan", "m", "--state-dir", "state", "--now", "2026-12-02"]);
    assert!(
        out.stderr
            .contains("directory `corp`: `spec.file.path` refused"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        !out.stdout.contains("start"),
        "nothing planned: {}",
        out.stdout
    );
    let out = tree.recert(&[
        "plan",
        "m",
        "--state-dir",
        "state",
        "--now",
        "2026-12-02",
        "--data-dir",
        "outside",
    ]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}
