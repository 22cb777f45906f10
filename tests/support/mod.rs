//! Runs the real `recert` binary and captures what it did.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root (tests run with it as the working directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `recert ARGS` in `dir`. A run that has not ended after a minute is killed and fails
/// the test: that guards against hangs on hostile input, it does not measure speed.
pub fn recert(dir: &Path, args: &[&str]) -> Output {
    recert_with_env(dir, args, &[])
}

/// [`recert`] with extra environment variables for the child (secrets by `env` reference).
pub fn recert_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_recert"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the recert binary starts");
    // Read both pipes while the child runs: a child with more to say than a pipe holds
    // would otherwise block on its write and look hung.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait on recert") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("recert {args:?} did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = std::process::Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    let code = out
        .status
        .code()
        .expect("recert exited normally, not by a signal");
    assert_ne!(
        code,
        101,
        "recert panicked:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Output {
        code,
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// A temporary folder with files in it.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> &Tree {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write test file");
        self
    }

    pub fn recert(&self, args: &[&str]) -> Output {
        recert(self.path(), args)
    }
}

/// A valid file-directory set: a `Directory`, its `DirectoryData`, a self-review and a
/// named-reviewer review. Tests add one broken thing to it.
pub const DIRECTORY: &str = r#"apiVersion: recert.dev/v1alpha1
kind: Directory
metadata:
  name: corp
spec:
  type: file
  file:
    path: data.yaml
"#;

pub const DATA: &str = r#"apiVersion: recert.dev/v1alpha1
kind: DirectoryData
metadata:
  name: corp
spec:
  users:
    - {id: u-alice, userPrincipalName: alice@corp.example, manager: u-carol}
    - {id: u-bob, userPrincipalName: bob@corp.example, manager: u-carol}
    - {id: u-carol, userPrincipalName: carol@corp.example}
  groups:
    - {id: g-ops, displayName: Ops, members: [u-bob]}
  roles:
    - {id: r-ga, displayName: Global Administrator}
  assignments:
    - {id: a-1, principal: u-alice, role: r-ga}
    - {id: a-2, principal: u-bob, role: r-ga, type: eligible}
    - {id: a-3, principal: g-ops, role: r-ga}
"#;

pub const SELF_REVIEW: &str = r#"apiVersion: recert.dev/v1alpha1
kind: AccessReview
metadata:
  name: ga-self
spec:
  directory: corp
  displayName: Global Administrators
  scope:
    role: {name: Global Administrator}
  reviewers:
    type: self
  schedule:
    start: 2026-12-01
    durationDays: 14
  settings:
    requireJustification: true
"#;

pub const USERS_REVIEW: &str = r#"apiVersion: recert.dev/v1alpha1
kind: AccessReview
metadata:
  name: ga-named
spec:
  directory: corp
  displayName: Global Administrators by Carol
  scope:
    role: {id: r-ga}
  reviewers:
    type: users
    users: [carol@corp.example]
  schedule:
    start: 2026-12-01
    durationDays: 14
    recurrence: quarterly
    count: 4
"#;

/// A tree holding the valid set.
pub fn valid_tree() -> Tree {
    let tree = Tree::new();
    tree.write("directory.yaml", DIRECTORY)
        .write("data.yaml", DATA)
        .write("reviews/self.yaml", SELF_REVIEW)
        .write("reviews/named.yaml", USERS_REVIEW);
    tree
}

pub use recert_testkit::graph_server;
