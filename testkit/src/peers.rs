//! The notification tests' peers: a real SMTP server (aiosmtpd) and a webhook receiver that
//! checks signatures with the `standardwebhooks` package, both Python scripts in
//! `scripts/peers/` run from the venv `scripts/test-peers` installs; and the reviewer page's
//! OpenID provider (node-oidc-provider), run with Node from the folder it installs from npm.
//!
//! Each test starts its own peer, on a free loopback port, so it can stop it and start it
//! again; the process is killed by PID when the peer is dropped. What a peer received is read
//! from the files it writes, one per message or request, each renamed into place whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a peer may take to listen before the test fails with its log.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// An environment variable `scripts/test-peers` sets. A missing one fails the test: a peer
/// test that passes without its peer would prove nothing.
fn var(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not set: this test needs the peers (SMTP, webhook, OpenID provider) \
                 that `scripts/test-peers` installs. Run the tests through `.ci/run` (or \
                 `scripts/test-peers cargo test --workspace --locked`)."
            )
        })
}

/// One running peer script.
#[derive(Debug)]
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Runs `script ARGS --ready FILE` from the peers' venv and waits until it has written
    /// FILE; returns the port it wrote there.
    fn start(script: &str, args: &[String], env: &[(&str, &str)], dir: &Path) -> (Process, u16) {
        let python = var("RECERT_TEST_PEERS_PYTHON");
        let scripts = PathBuf::from(var("RECERT_TEST_PEERS_SCRIPTS"));
        let mut command = Command::new(python);
        command.arg(scripts.join(script));
        Process::run(command, script, args, env, dir)
    }

    /// Runs `command ARGS --ready FILE` and waits as [`Process::start`] does.
    fn run(
        mut command: Command,
        script: &str,
        args: &[String],
        env: &[(&str, &str)],
        dir: &Path,
    ) -> (Process, u16) {
        let ready = dir.join("ready.json");
        let _ = std::fs::remove_file(&ready);
        let log = dir.join(format!("{script}.log"));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("the peer's log file");
        let child = command
            .args(args)
            .arg("--ready")
            .arg(&ready)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {script}: {e}"));
        let mut process = Process { child, log };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready)
                && let Ok(value) = serde_json::from_str::<Value>(&text)
                && let Some(port) = value["port"].as_u64()
            {
                return (process, u16::try_from(port).expect("a port"));
            }
            let exited = process.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(&process.log).unwrap_or_default();
                panic!("{script} did not start ({exited:?}); its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON files a peer wrote into `dir`, oldest first (their names start with the time).
fn records(dir: &Path, skip: &[&str]) -> Vec<Value> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    name.ends_with(".json") && !name.starts_with('.') && !skip.contains(&name)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("a record the peer wrote");
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

fn string(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn strings(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), string(v))).collect())
        .unwrap_or_default()
}

/// How the SMTP peer behaves.
#[derive(Debug, Clone, Default)]
pub struct SmtpOptions {
    /// STARTTLS, required, with a certificate for 127.0.0.1 from a CA made at start
    /// ([`SmtpPeer::ca_pem_path`]).
    pub tls: bool,
    /// TLS from the first byte instead (port 465 style), with such a certificate.
    pub implicit_tls: bool,
    /// AUTH required (only over TLS) with this user name and password.
    pub auth: Option<(String, String)>,
    /// The first N messages are answered `451` at DATA.
    pub tempfail: u32,
    /// Recipients containing this are refused with `550` at RCPT.
    pub permfail_rcpt: Option<String>,
    /// Each DATA is answered after this many milliseconds (a slow server, so that a test can
    /// stop a sender in the middle of its work).
    pub delay_ms: u32,
    /// After N messages on one connection, MAIL is answered `421` and the connection closed.
    pub max_per_connection: u32,
}

/// A message the SMTP peer accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The message as it came over the wire.
    pub raw: String,
    /// `Message-ID`, `Subject`, `From`, `To`, `Reply-To`, `Auto-Submitted`, `Content-Type`,
    /// `Date`, as Python's `email` package decodes them (encoded words decoded).
    pub headers: BTreeMap<String, String>,
    /// The leaf parts: (content type, decoded content).
    pub parts: Vec<(String, String)>,
    /// Whether the session was encrypted (STARTTLS or implicit TLS) and authenticated.
    pub tls: bool,
    pub authenticated: bool,
}

impl ReceivedMail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// aiosmtpd on 127.0.0.1, for one test.
#[derive(Debug)]
pub struct SmtpPeer {
    pub port: u16,
    /// The CA that signed the server's certificate (with `tls` or `implicit_tls`), for
    /// `smtp.caFile`.
    pub ca_pem_path: Option<PathBuf>,
    options: SmtpOptions,
    dir: tempfile::TempDir,
    process: Option<Process>,
}

impl SmtpPeer {
    pub fn start(options: SmtpOptions) -> SmtpPeer {
        let dir = tempfile::tempdir().expect("a folder for the SMTP peer");
        let mut peer = SmtpPeer {
            port: 0,
            ca_pem_path: None,
            options,
            dir,
            process: None,
        };
        peer.restart();
        peer
    }

    /// Stops the server (kills it); messages received so far stay readable.
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// Starts the server again, on the same port, with the same certificate.
    pub fn restart(&mut self) {
        self.stop();
        let dir = self.dir.path();
        let mut args = vec![
            "--port".to_owned(),
            self.port.to_string(),
            "--out".to_owned(),
            dir.join("mail").display().to_string(),
        ];
        if self.options.tls || self.options.implicit_tls {
            let certs = dir.join("certs");
            let flag = if self.options.tls {
                "--tls"
            } else {
                "--implicit-tls"
            };
            args.extend([flag.to_owned(), certs.display().to_string()]);
            self.ca_pem_path = Some(certs.join("ca.pem"));
        }
        if let Some((user, password)) = &self.options.auth {
            args.extend(["--auth".to_owned(), format!("{user}:{password}")]);
        }
        if self.options.tempfail > 0 {
            args.extend(["--tempfail".to_owned(), self.options.tempfail.to_string()]);
        }
        if self.options.delay_ms > 0 {
            args.extend(["--delay-ms".to_owned(), self.options.delay_ms.to_string()]);
        }
        if let Some(substring) = &self.options.permfail_rcpt {
            args.extend(["--permfail-rcpt".to_owned(), substring.clone()]);
        }
        if self.options.max_per_connection > 0 {
            args.extend([
                "--max-per-connection".to_owned(),
                self.options.max_per_connection.to_string(),
            ]);
        }
        let (process, port) = Process::start("smtp_sink.py", &args, &[], dir);
        self.port = port;
        self.process = Some(process);
    }

    /// Every message accepted so far, in the order they arrived.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        records(&self.dir.path().join("mail"), &["connections.json"])
            .into_iter()
            .map(|v| ReceivedMail {
                mail_from: string(&v["mailFrom"]),
                rcpt_tos: v["rcptTos"]
                    .as_array()
                    .map(|a| a.iter().map(string).collect())
                    .unwrap_or_default(),
                raw: string(&v["raw"]),
                headers: strings(&v["headers"]),
                parts: v["parts"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|p| (string(&p["contentType"]), string(&p["content"])))
                            .collect()
                    })
                    .unwrap_or_default(),
                tls: v["tls"].as_bool().unwrap_or(false),
                authenticated: v["authenticated"].as_bool().unwrap_or(false),
            })
            .collect()
    }

    /// Writes every message received so far into `dir` as `NNNNNN.eml`, as they came over the
    /// wire, for [`SmtpPeer::smtplib_ceiling`]; returns how many.
    pub fn save_eml(&self, dir: &Path) -> usize {
        std::fs::create_dir_all(dir).expect("a folder for the messages");
        let messages = self.messages();
        for (i, mail) in messages.iter().enumerate() {
            std::fs::write(dir.join(format!("{i:06}.eml")), mail.raw.as_bytes())
                .expect("write a message");
        }
        messages.len()
    }

    /// The server's own throughput ceiling: `scripts/peers/smtplib_ceiling.py` sends every
    /// `.eml` in `dir` over one smtplib connection (STARTTLS and AUTH as this peer requires).
    pub fn smtplib_ceiling(&self, dir: &Path) -> Ceiling {
        let python = var("RECERT_TEST_PEERS_PYTHON");
        let scripts = PathBuf::from(var("RECERT_TEST_PEERS_SCRIPTS"));
        let mut command = Command::new(python);
        command
            .arg(scripts.join("smtplib_ceiling.py"))
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(dir);
        if self.options.tls
            && let Some(ca) = &self.ca_pem_path
        {
            command.arg("--starttls").arg(ca);
        }
        assert!(
            !self.options.implicit_tls,
            "smtplib_ceiling.py speaks STARTTLS or plain SMTP"
        );
        if let Some((user, password)) = &self.options.auth {
            command.args(["--auth", &format!("{user}:{password}")]);
        }
        let out = command.output().expect("smtplib_ceiling.py runs");
        assert!(
            out.status.success(),
            "smtplib_ceiling.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value: Value = serde_json::from_slice(&out.stdout).expect("its JSON line");
        Ceiling {
            messages: value["messages"].as_u64().unwrap_or(0),
            seconds: value["seconds"].as_f64().unwrap_or(0.0),
        }
    }

    /// When each message accepted so far arrived, in nanoseconds since the Unix epoch, in
    /// order: the sink's clock, read from its file names, so that a benchmark can time a
    /// delivery from the server's side the same way whoever the client is.
    pub fn arrivals(&self) -> Vec<u64> {
        let mut times: Vec<u64> = std::fs::read_dir(self.dir.path().join("mail"))
            .map(|entries| {
                entries
                    .filter_map(|e| {
                        let name = e.ok()?.file_name().into_string().ok()?;
                        name.strip_suffix(".json")?.split_once('-')?.0.parse().ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        times.sort_unstable();
        times
    }

    /// Connections clients opened to the server since it last started.
    pub fn connections(&self) -> u64 {
        std::fs::read_to_string(self.dir.path().join("mail/connections.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|v| v["connections"].as_u64())
            .unwrap_or(0)
    }
}

/// What smtplib managed over one connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ceiling {
    pub messages: u64,
    pub seconds: f64,
}

impl Ceiling {
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.messages as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// How the webhook receiver answers.
#[derive(Debug, Clone, Default)]
pub struct WebhookFaults {
    /// `500` to the first N requests.
    pub fail_first: u32,
    /// Then `429` with `Retry-After: retry_after` to the next N.
    pub throttle: u32,
    pub retry_after: Option<String>,
    /// `410` to every request.
    pub gone: bool,
    /// `400` to every request.
    pub reject: bool,
}

/// A request the webhook receiver got.
#[derive(Debug, Clone)]
pub struct ReceivedHook {
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// What `standardwebhooks` said of the signature; `None` without a secret (Slack, Teams).
    pub verified: Option<bool>,
    /// The verifier's complaint, when it had one.
    pub error: Option<String>,
    /// The status the receiver answered.
    pub status: u16,
}

/// A webhook receiver on 127.0.0.1, for one test.
#[derive(Debug)]
pub struct WebhookPeer {
    pub port: u16,
    dir: tempfile::TempDir,
    _process: Process,
}

impl WebhookPeer {
    /// With a secret (`whsec_…`) every request is checked by the `standardwebhooks`
    /// verifier; without one (a Slack or Teams stand-in), none is.
    pub fn start(secret: Option<&str>, faults: WebhookFaults) -> WebhookPeer {
        let dir = tempfile::tempdir().expect("a folder for the webhook peer");
        let mut args = vec![
            "--out".to_owned(),
            dir.path().join("requests").display().to_string(),
        ];
        // The secret goes by environment, not on a command line others can read.
        const SECRET_VAR: &str = "RECERT_TEST_WEBHOOK_SECRET";
        let mut env = Vec::new();
        match secret {
            Some(secret) => {
                args.extend(["--secret-env".to_owned(), SECRET_VAR.to_owned()]);
                env.push((SECRET_VAR, secret));
            }
            None => args.push("--no-verify".to_owned()),
        }
        if faults.fail_first > 0 {
            args.extend(["--fail-first".to_owned(), faults.fail_first.to_string()]);
        }
        if faults.throttle > 0 {
            args.extend(["--throttle".to_owned(), faults.throttle.to_string()]);
        }
        if let Some(retry_after) = &faults.retry_after {
            args.extend(["--retry-after".to_owned(), retry_after.clone()]);
        }
        if faults.gone {
            args.push("--gone".to_owned());
        }
        if faults.reject {
            args.push("--reject".to_owned());
        }
        let (process, port) = Process::start("webhook_receiver.py", &args, &env, dir.path());
        WebhookPeer {
            port,
            dir,
            _process: process,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<ReceivedHook> {
        records(&self.dir.path().join("requests"), &[])
            .into_iter()
            .map(|v| ReceivedHook {
                path: string(&v["path"]),
                headers: strings(&v["headers"]),
                body: string(&v["body"]),
                verified: v["verified"].as_bool(),
                error: v["error"].as_str().map(str::to_owned),
                status: v["status"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(0),
            })
            .collect()
    }
}

/// How the OpenID provider's one client is registered.
#[derive(Debug, Clone)]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

/// node-oidc-provider on 127.0.0.1, for one test (`scripts/peers/oidc_provider.mjs`): its
/// development login form signs in any name, with claims that match the example directory.
#[derive(Debug)]
pub struct OidcPeer {
    pub port: u16,
    dir: tempfile::TempDir,
    _process: Process,
}

impl OidcPeer {
    pub fn start(client: &OidcClient) -> OidcPeer {
        let folder = PathBuf::from(var("RECERT_TEST_PEERS_OIDC"));
        let dir = tempfile::tempdir().expect("a folder for the OpenID provider");
        let args = vec![
            "--client-id".to_owned(),
            client.client_id.clone(),
            "--redirect-uri".to_owned(),
            client.redirect_uri.clone(),
        ];
        let mut command = Command::new("node");
        command
            .current_dir(&folder)
            .arg(folder.join("oidc_provider.mjs"));
        // The secret goes by environment, not on a command line others can read.
        let env = [("OIDC_CLIENT_SECRET", client.client_secret.as_str())];
        let (process, port) = Process::run(command, "oidc_provider.mjs", &args, &env, dir.path());
        OidcPeer {
            port,
            dir,
            _process: process,
        }
    }

    /// The issuer: `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the provider logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("oidc_provider.mjs.log")).unwrap_or_default()
    }

    /// Runs `scripts/peers/signin_browser.mjs` with Node: Playwright drives the installed
    /// Chromium through the sign-in at `start_url` as `login`, and saves a screenshot of the
    /// page it lands on to `screenshot`. Returns the script's JSON line.
    pub fn browser_sign_in(&self, start_url: &str, login: &str, screenshot: &Path) -> Value {
        let folder = PathBuf::from(var("RECERT_TEST_PEERS_OIDC"));
        let out = Command::new("node")
            .current_dir(&folder)
            .arg(folder.join("signin_browser.mjs"))
            .args(["--url", start_url, "--login", login, "--screenshot"])
            .arg(screenshot)
            .stdin(Stdio::null())
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "signin_browser.mjs failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).expect("its JSON line")
    }

    /// Runs `scripts/peers/review_browser.mjs`: Playwright signs in at `start_url` (a review
    /// page) as `login`, screenshots the items to `{screenshots}-items.png`, then runs
    /// `steps` (extra arguments: `--deny ID --reason TEXT`, `--accept yes`) through the page's
    /// forms and screenshots `{screenshots}-decided.png` and `{screenshots}-phone.png`.
    /// Returns the script's JSON line.
    pub fn browser_review(
        &self,
        start_url: &str,
        login: &str,
        screenshots: &Path,
        steps: &[&str],
    ) -> Value {
        let folder = PathBuf::from(var("RECERT_TEST_PEERS_OIDC"));
        let out = Command::new("node")
            .current_dir(&folder)
            .arg(folder.join("review_browser.mjs"))
            .args(["--url", start_url, "--login", login, "--screenshots"])
            .arg(screenshots)
            .args(steps)
            .stdin(Stdio::null())
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "review_browser.mjs failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).expect("its JSON line")
    }
}
