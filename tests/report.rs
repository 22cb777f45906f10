//! The auditor's report: written by the engine when an instance ends and when an apply
//! finishes, printed by `recert report`, self-contained, escaped, and opened in a real browser.
//! The sample under `examples/reports/` is the report of the example Owners review; this test
//! regenerates it (`RECERT_BLESS=1`) and fails when the committed one is stale.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Output, recert, root};

const OWNERS: &str = "subscription-owners-quarterly";
const SELF_REVIEW: &str = "global-admins-self-review";
const SAMPLE: &str = "examples/reports/subscription-owners-quarterly-2026-12-01.html";

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    /// A copy of the examples without their decisions files, which arrive mid-review.
    fn new() -> Tree {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(
            &root().join("examples"),
            &dir.path().join("manifests"),
            &["invalid", "ci", "decisions", "reports"],
        );
        Tree { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn run(&self, args: &[&str]) -> Output {
        recert(self.dir.path(), args)
    }

    fn reconcile(&self, now: &str) {
        let out = self.run(&[
            "reconcile",
            "manifests",
            "--state-dir",
            "state",
            "--now",
            now,
        ]);
        assert_eq!(
            out.code, 0,
            "reconcile at {now}:\n{}{}",
            out.stdout, out.stderr
        );
    }

    /// The example reviews from their start to the Owners' apply, as the golden test runs them.
    fn lifecycle(&self) {
        self.reconcile("2026-12-01T10:00:00Z");
        copy_dir(
            &root().join("examples/decisions"),
            &self.path("manifests/decisions"),
            &[],
        );
        self.reconcile("2026-12-02T10:00:00Z");
        self.reconcile("2026-12-22T12:00:00Z");
        let rel = format!("manifests/reviews/{OWNERS}.yaml");
        let text = self.read(&rel);
        let requested = text
            .replace("  # requests:\n", "  requests:\n")
            .replace("  #   apply: CHG-20270105\n", "    apply: CHG-20270105\n")
            .replace("  #   remind: \"2026-12-10\"\n", "");
        assert_ne!(requested, text, "the example carries the apply request");
        std::fs::write(self.path(&rel), requested).expect("request the apply");
        self.reconcile("2026-12-23T10:00:00Z");
    }
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

/// What a self-contained, script-free page must not hold: every value is escaped, so the only
/// tags are the report's own, and none of them runs or fetches anything.
fn assert_self_contained(html: &str) {
    let tag = regex::Regex::new("<[^>]*>").expect("regex");
    let handler = regex::Regex::new(r"\son[a-z]+\s*=").expect("regex");
    for t in tag.find_iter(html) {
        let t = t.as_str().to_lowercase();
        for element in [
            "<script", "<iframe", "<object", "<embed", "<img", "<link", "<base", "<svg",
        ] {
            assert!(!t.starts_with(element), "the report holds {t}");
        }
        assert!(
            !handler.is_match(&t) && !t.contains("src=") && !t.contains("//"),
            "a tag that could run or fetch something: {t}"
        );
    }
    let lower = html.to_lowercase();
    for banned in ["@import", "url(", "javascript:"] {
        assert!(!lower.contains(banned), "the report holds `{banned}`");
    }
}

#[test]
fn the_engine_writes_each_instances_report_at_its_end_and_apply_and_the_sample_is_current() {
    let tree = Tree::new();
    tree.lifecycle();
    let report_rel = format!("state/reviews/{OWNERS}/reports/2026-12-01.html");
    let report = tree.read(&report_rel);
    assert_self_contained(&report);
    // The Owners' apply: both denied assignments removed, and proven gone.
    assert_eq!(
        report.matches("<span class=\"ok\">verified</span>").count(),
        2,
        "{report}"
    );
    assert!(
        report.contains("Remediation proof</dt><dd>verified: 2</dd>"),
        "{report}"
    );
    assert!(
        report.contains("<span class=\"ok\">intact</span>"),
        "{report}"
    );
    assert!(
        report.contains("<code>manifests/decisions/carol-subscription-owners.yaml</code>"),
        "each decision names its file"
    );

    // The sample committed under examples/ is this very report.
    let sample = root().join(SAMPLE);
    if std::env::var_os("RECERT_BLESS").is_some() {
        std::fs::create_dir_all(sample.parent().expect("a folder")).expect("mkdir");
        std::fs::write(&sample, &report).expect("write the sample");
    }
    let committed = std::fs::read_to_string(&sample).unwrap_or_default();
    assert!(
        committed == report,
        "{SAMPLE} is not the report the examples give now; regenerate it with `RECERT_BLESS=1 cargo test --test main report::`"
    );

    // The self-review ended without an apply: its report was written at the end, and labels
    // the decisions made on one's own access.
    let out = tree.run(&["report", SELF_REVIEW, "--state-dir", "state"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_self_contained(&out.stdout);
    assert!(
        tree.path(&format!(
            "state/reviews/{SELF_REVIEW}/reports/2026-12-01.html"
        ))
        .exists()
    );
    let hash = regex::Regex::new("[0-9a-f]{64}").expect("regex");
    insta::assert_snapshot!(
        "self-review-report",
        hash.replace_all(&out.stdout, "[hash]")
    );

    // The reports are digested with the other files: the trail verifies, and an edited
    // report is caught.
    let verify = tree.run(&["audit", "verify", "--state-dir", "state"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    std::fs::write(
        tree.path(&report_rel),
        report.replace(">verified<", ">stillPresent<"),
    )
    .expect("tamper");
    let verify = tree.run(&["audit", "verify", "--state-dir", "state"]);
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
    assert!(
        verify.stdout.contains("reports/2026-12-01.html"),
        "{}",
        verify.stdout
    );

    // A broken trail is reported as such, and `recert report` says so on exit.
    let log = tree.path(&format!("state/reviews/{OWNERS}/audit.jsonl"));
    let text = std::fs::read_to_string(&log).expect("audit");
    std::fs::write(
        &log,
        text.replacen("\"decision\":\"deny\"", "\"decision\":\"approve\"", 1),
    )
    .expect("tamper");
    let out = tree.run(&[
        "report",
        OWNERS,
        "--state-dir",
        "state",
        "-o",
        "owners.html",
    ]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let written = tree.read("owners.html");
    assert!(
        written.contains("<span class=\"bad\">broken</span>: audit.jsonl:"),
        "{written}"
    );
    assert!(
        !written.contains(&tree.dir.path().display().to_string()),
        "no machine path"
    );
    assert!(out.stderr.contains("does not verify"), "{}", out.stderr);
}

#[test]
fn a_hostile_display_name_is_escaped_everywhere_in_the_report() {
    let tree = Tree::new();
    let hostile =
        "Dave <script>alert(1)</script><img src=https://evil.example/x onerror=alert(2)> & 'co'";
    let data = tree.read("manifests/corp-directory.yaml").replace(
        "displayName: Dave Okafor",
        &format!("displayName: \"{}\"", hostile.replace('"', "\\\"")),
    );
    std::fs::write(tree.path("manifests/corp-directory.yaml"), data).expect("write");
    tree.reconcile("2026-12-01T10:00:00Z");
    let out = tree.run(&["report", OWNERS, "--state-dir", "state"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_self_contained(&out.stdout);
    assert!(
        out.stdout.contains(
            "Dave &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=https://evil.example/x onerror=alert(2)&gt; &amp; &#39;co&#39;"
        ),
        "{}",
        out.stdout
    );
}

/// Chromium, from `RECERT_TEST_CHROMIUM` or the path.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RECERT_TEST_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
}

#[test]
fn the_sample_report_renders_in_headless_chromium_and_its_screenshot_is_kept() {
    let Some(browser) = chromium() else {
        panic!(
            "Chromium is needed to render the report: install it (`apt-get install -y chromium`, which scripts/test-peers does) or name it in RECERT_TEST_CHROMIUM"
        );
    };
    let out_dir = root().join("target/test-artefacts");
    std::fs::create_dir_all(&out_dir).expect("artefact folder");
    let png = out_dir.join("report-sample.png");
    let _ = std::fs::remove_file(&png);
    let profile = tempfile::tempdir().expect("profile dir");
    let sample = root().join(SAMPLE);
    let run = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", sample.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", browser.display()));
    assert!(
        run.status.success(),
        "{} failed: {}",
        browser.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    // A page that rendered has more than one colour: a blank screenshot compresses to almost
    // nothing.
    assert!(
        bytes.len() > 20_000,
        "the screenshot looks blank: {} bytes",
        bytes.len()
    );
}
