//! Benchmark of `recert validate` on a generated repository of review manifests.
//!
//! Generates N (default 10,000) valid manifest files — one file-type `Directory`, the
//! `DirectoryData` it points to, ~35% `AccessReview` files and ~65% `ReviewDecisions` files —
//! then runs the `recert` binary on them (one warm-up, then several measured runs) and prints
//! wall time, files per second and the child's peak memory.
//!
//! ```text
//! cargo bench --bench validate -- [--files N] [--runs R] [--seed S] [--keep DIR] [--single-doc]
//! cargo bench --bench validate -- --generate-only DIR [--files N] [--seed S] [--single-doc]
//! cargo bench --bench validate -- --findings N [--runs R]
//! ```
//!
//! `--findings N` times instead one file of N reviews whose directory does not exist and N
//! reviews sharing one name: every one a finding across documents (these once took time
//! quadratic in N).
//!
//! Everything generated must be valid, across documents too (references resolve, reviewers are
//! allowed, names are unique, no principal twice in a decisions file): this holds by
//! construction, and the run fails if the validator reports anything. Generation is
//! deterministic for a given seed (xorshift64*, no `rand`).

// A bench binary reports on the terminal: that is its whole point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: cargo bench --bench validate -- [OPTIONS]

Generates a repository of valid Recert manifests and times `recert validate --format json` on it.

options:
  --files N              files to generate (default 10000, at least 4)
  --runs R               measured runs after one warm-up (default 5)
  --seed S               generator seed (default 1)
  --keep DIR             generate into DIR (new or empty) and keep it, instead of a temp dir
  --generate-only DIR    only write the files into DIR (new or empty); do not run recert
  --single-doc           one document per file (for tools that read only single-document YAML)
  --findings N           instead: one file of N unresolved references and N duplicate names
  -h, --help             this text";

const SCHEMA_URL: &str = "https://recert.dev/schemas/v1alpha1/recert.schema.json";
const API_VERSION: &str = "recert.dev/v1alpha1";
const DIRECTORY_NAME: &str = "corp";
const DOMAIN: &str = "corp.example";
const GNU_TIME: &str = "/usr/bin/time";

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let Some(options) = Options::parse(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    };

    if let Some(n) = options.findings {
        return bench_findings(n, options.runs);
    }

    if let Some(dir) = &options.generate_only {
        prepare_dir(dir)?;
        let stats = generate(dir, &options)?;
        stats.print(dir);
        return Ok(ExitCode::SUCCESS);
    }

    let temp;
    let dir: PathBuf = match &options.keep {
        Some(dir) => {
            prepare_dir(dir)?;
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("recert-bench-")
                .tempdir()
                .map_err(|e| format!("cannot create a temp dir: {e}"))?;
            temp.path().to_path_buf()
        }
    };
    let stats = generate(&dir, &options)?;
    stats.print(&dir);
    println!();
    bench(&dir, &stats, &options)
}

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Debug)]
struct Options {
    files: usize,
    runs: usize,
    seed: u64,
    keep: Option<PathBuf>,
    generate_only: Option<PathBuf>,
    single_doc: bool,
    findings: Option<usize>,
}

impl Options {
    /// The options, or `None` for `--help`.
    fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>> {
        let mut options = Options {
            files: 10_000,
            runs: 5,
            seed: 1,
            keep: None,
            generate_only: None,
            single_doc: false,
            findings: None,
        };
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    (flag.to_owned(), Some(value.to_owned()))
                }
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| -> Result<String> {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
            };
            let number = |name: &str, text: String| -> Result<u64> {
                text.parse()
                    .map_err(|_| format!("{name}: `{text}` is not a number"))
            };
            match flag.as_str() {
                // `cargo bench` passes `--bench` to every bench binary.
                "--bench" => {}
                "--files" => options.files = number("--files", value("--files")?)? as usize,
                "--runs" => options.runs = number("--runs", value("--runs")?)? as usize,
                "--seed" => options.seed = number("--seed", value("--seed")?)?,
                "--keep" => options.keep = Some(value("--keep")?.into()),
                "--generate-only" => options.generate_only = Some(value("--generate-only")?.into()),
                "--single-doc" => options.single_doc = true,
                "--findings" => {
                    options.findings = Some(number("--findings", value("--findings")?)? as usize)
                }
                "-h" | "--help" => return Ok(None),
                other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
            }
        }
        if options.files < 4 {
            return Err(
                "--files must be at least 4 (directory, its data, a review, a decision)".into(),
            );
        }
        if options.runs == 0 {
            return Err("--runs must be at least 1".into());
        }
        Ok(Some(options))
    }
}

/// Creates `dir`, or checks that it is empty: generation never overwrites someone's files.
fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if entries.next().is_some() {
            return Err(format!(
                "{} is not empty; give a new or empty directory",
                dir.display()
            ));
        }
        Ok(())
    } else {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/// xorshift64*: small, fast, and the same sequence on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for _ in 0..8 {
            rng.next_u64();
        }
        rng
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`; `n` > 0.
    fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `k` distinct indices of `0..n`, in random order.
    fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// A version-4-shaped GUID, as Entra ID object ids look.
    fn guid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    fn date(&mut self, year: usize) -> String {
        format!(
            "{year}-{:02}-{:02}",
            self.between(1, 12),
            self.between(1, 28)
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

const FIRST_NAMES: &[&str] = &[
    "Aisha", "Alice", "Amara", "Ana", "Ben", "Carlos", "Chen", "Chloe", "Daniel", "David", "Elena",
    "Emma", "Fatima", "Felix", "Grace", "Hannah", "Hiro", "Ines", "Ivan", "Jack", "Jana", "Jin",
    "Jonas", "Kofi", "Lara", "Leo", "Lina", "Lucas", "Maya", "Mei", "Mia", "Noah", "Nora", "Olga",
    "Omar", "Priya", "Rafael", "Ravi", "Sara", "Sofia", "Tariq", "Tom", "Yuki", "Zoe",
];

const LAST_NAMES: &[&str] = &[
    "Adeyemi", "Bauer", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
    "Hansen", "Ito", "Jansen", "Kim", "Kowalski", "Laurent", "Lee", "Lopez", "Moreau", "Muller",
    "Nakamura", "Novak", "Okafor", "Olsen", "Patel", "Petrov", "Rossi", "Schmidt", "Silva",
    "Singh", "Smith", "Tanaka", "Torres", "Wagner", "Wang", "Weber", "Williams", "Yilmaz", "Zhang",
];

const TEAMS: &[&str] = &[
    "payments",
    "identity",
    "platform",
    "data",
    "security",
    "finance",
    "hr",
    "sales",
    "support",
    "mobile",
    "web",
    "infra",
    "network",
    "legal",
    "marketing",
    "research",
    "ops",
    "billing",
    "risk",
    "devtools",
];

const GROUP_SUFFIXES: &[&str] = &[
    "Admins",
    "Operators",
    "Owners",
    "Oncall",
    "Auditors",
    "Breakglass",
    "Contractors",
];

const ROLES: &[&str] = &[
    "Global Administrator",
    "Privileged Role Administrator",
    "Privileged Authentication Administrator",
    "Security Administrator",
    "Security Operator",
    "Security Reader",
    "User Administrator",
    "Groups Administrator",
    "Helpdesk Administrator",
    "Password Administrator",
    "Authentication Administrator",
    "Application Administrator",
    "Cloud Application Administrator",
    "Conditional Access Administrator",
    "Exchange Administrator",
    "SharePoint Administrator",
    "Teams Administrator",
    "Intune Administrator",
    "Billing Administrator",
    "Compliance Administrator",
    "Compliance Data Administrator",
    "Global Reader",
    "Reports Reader",
    "License Administrator",
    "Directory Writers",
    "Directory Readers",
    "Hybrid Identity Administrator",
    "Identity Governance Administrator",
    "Azure DevOps Administrator",
    "Power Platform Administrator",
    "Dynamics 365 Administrator",
    "Fabric Administrator",
    "Knowledge Administrator",
    "Attack Simulation Administrator",
    "Cloud Device Administrator",
    "Windows 365 Administrator",
    "Search Administrator",
    "Message Center Reader",
    "Service Support Administrator",
    "External Identity Provider Administrator",
];

const DESCRIPTIONS: &[&str] = &[
    "Holders of this role can change tenant-wide settings; keep only people who need it today.",
    "Deny anyone who has moved team or has not used the access in the last quarter.",
    "Eligible assignments are activated through PIM; approve them only for the on-call rota.",
    "Required by the SOX control AC-7 and reviewed by internal audit every year.",
    "Service accounts are out of scope and listed as protected principals below.",
    "When in doubt, choose dontKnow and explain why in the reason so the owner can follow up.",
    "Contractors must have an end date recorded in the HR system to be approved.",
    "The results are applied by the identity team after the review closes.",
];

const NOTICES: &[&str] = &[
    "Questions about this review go to the #iam-help channel.",
    "The identity team owns this review; reply to this e-mail to reach them.",
    "Please finish your decisions before the review closes; undecided items are escalated.",
    "See the access review runbook in the security wiki for what to look for.",
];

const APPROVE_REASONS: &[&str] = &[
    "Still on the on-call rota for this service.",
    "Needs the role for the quarterly close.",
    "Owns the tenant configuration for the team.",
    "Used the access last week for an incident.",
    "Approved by the service owner in the team sync.",
    "Break-fix duty until the end of the quarter.",
    "Current member of the platform operations team.",
    "Required for the ongoing migration project.",
];

const DENY_REASONS: &[&str] = &[
    "Moved to another team; access no longer needed.",
    "No sign-in for more than ninety days.",
    "Contract ended last month.",
    "Duplicate of an eligible assignment that is enough.",
    "Project finished; the role was temporary.",
    "Left the company, offboarding ticket still open.",
];

const DONT_KNOW_REASONS: &[&str] = &[
    "Not in my reporting line, asked the owner to confirm.",
    "Could not reach them this week, will follow up.",
    "Unsure whether the automation still relies on this.",
];

const EVENTS: &[&str] = &["instanceStarted", "reminder", "instanceEnded", "applied"];

// ---------------------------------------------------------------------------------------------
// The directory

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Principal {
    User(usize),
    Group(usize),
}

struct User {
    id: String,
    upn: String,
    display: String,
    /// A DNS-1123-safe short name, for file and document names.
    handle: String,
    manager: Option<usize>,
    last_sign_in: Option<String>,
    enabled: bool,
    on_premises: bool,
}

struct Group {
    id: String,
    name: String,
    users: Vec<usize>,
    groups: Vec<usize>,
    dynamic: bool,
    on_premises: bool,
}

struct Role {
    id: String,
    name: &'static str,
}

struct Assignment {
    id: String,
    principal: Principal,
    role: usize,
    eligible: bool,
    scope: String,
}

struct Directory {
    users: Vec<User>,
    groups: Vec<Group>,
    roles: Vec<Role>,
    assignments: Vec<Assignment>,
    /// Direct reports of each user.
    reports: Vec<Vec<usize>>,
    /// Users with at least one direct report.
    managers: Vec<usize>,
    /// Users without a manager (decided by a fallback reviewer in manager reviews).
    unmanaged: Vec<usize>,
    /// The break-glass accounts, protected in every review's guards.
    break_glass: Vec<usize>,
    /// People who are neither service nor break-glass accounts.
    people: usize,
    /// Who holds each role.
    holders: Vec<Vec<Principal>>,
}

const USERS: usize = 400;
const GROUPS: usize = 30;
const MANAGERS: usize = 30;
const SPECIAL_ACCOUNTS: &[(&str, &str)] = &[
    ("breakglass01", "Break-glass account 01"),
    ("breakglass02", "Break-glass account 02"),
    ("svc-backup", "Backup service"),
    ("svc-deploy", "Deployment pipeline"),
    ("svc-monitoring", "Monitoring agent"),
    ("svc-ci", "CI runner"),
];

impl Directory {
    fn generate(rng: &mut Rng) -> Directory {
        let people = USERS - SPECIAL_ACCOUNTS.len();
        let mut users = Vec::with_capacity(USERS);
        let mut upns = HashSet::new();
        let mut handles = HashSet::new();
        for i in 0..people {
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let base = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
            let mut local = base.clone();
            let mut n = 2;
            while !upns.insert(local.clone()) {
                local = format!("{base}{n}");
                n += 1;
            }
            let handle_base = format!("{}{}", first[..1].to_lowercase(), last.to_lowercase());
            let mut handle = handle_base.clone();
            let mut n = 2;
            while !handles.insert(handle.clone()) {
                handle = format!("{handle_base}{n}");
                n += 1;
            }
            // User 0 leads; 1..=MANAGERS report to them; the rest to a manager, skewed so
            // that team sizes vary.
            let manager = match i {
                0 => None,
                i if i <= MANAGERS => Some(0),
                _ => Some(1 + rng.below(MANAGERS).min(rng.below(MANAGERS))),
            };
            let last_sign_in = rng.percent(85).then(|| {
                let date = rng.date(2025);
                if rng.percent(80) {
                    format!(
                        "{date}T{:02}:{:02}:{:02}Z",
                        rng.below(24),
                        rng.below(60),
                        rng.below(60)
                    )
                } else {
                    date
                }
            });
            users.push(User {
                id: rng.guid(),
                upn: format!("{local}@{DOMAIN}"),
                display: format!("{first} {last}"),
                handle,
                manager,
                last_sign_in,
                enabled: !rng.percent(3),
                on_premises: rng.percent(20),
            });
        }
        for (local, display) in SPECIAL_ACCOUNTS {
            users.push(User {
                id: rng.guid(),
                upn: format!("{local}@{DOMAIN}"),
                display: (*display).to_owned(),
                handle: (*local).to_owned(),
                manager: None,
                last_sign_in: None,
                enabled: true,
                on_premises: false,
            });
        }
        let mut reports = vec![Vec::new(); users.len()];
        for (i, user) in users.iter().enumerate() {
            if let Some(m) = user.manager {
                reports[m].push(i);
            }
        }
        let managers = (0..users.len())
            .filter(|&i| !reports[i].is_empty())
            .collect();
        let unmanaged = (0..users.len())
            .filter(|&i| users[i].manager.is_none())
            .collect();
        let break_glass = vec![people, people + 1];

        let mut groups = Vec::with_capacity(GROUPS);
        let combos = rng.sample(TEAMS.len() * GROUP_SUFFIXES.len(), GROUPS);
        for (g, combo) in combos.into_iter().enumerate() {
            let team = TEAMS[combo / GROUP_SUFFIXES.len()];
            let suffix = GROUP_SUFFIXES[combo % GROUP_SUFFIXES.len()];
            let members = rng.between(3, 25);
            let mut nested = Vec::new();
            // Only later groups may be nested, so membership has no cycle.
            if g + 1 < GROUPS && rng.percent(15) {
                nested.push(rng.between(g + 1, GROUPS - 1));
            }
            groups.push(Group {
                id: rng.guid(),
                name: format!("SG-{}{}-{suffix}", team[..1].to_uppercase(), &team[1..]),
                users: rng.sample(people, members),
                groups: nested,
                dynamic: rng.percent(10),
                on_premises: rng.percent(15),
            });
        }

        let roles: Vec<Role> = ROLES
            .iter()
            .map(|name| Role {
                id: rng.guid(),
                name,
            })
            .collect();
        let units: Vec<String> = (0..5).map(|_| rng.guid()).collect();
        let mut assignments = Vec::new();
        let mut holders = vec![Vec::new(); roles.len()];
        for (r, role_holders) in holders.iter_mut().enumerate() {
            let count = rng.between(2, 30);
            let mut seen = HashSet::new();
            while role_holders.len() < count {
                let principal = if rng.percent(15) {
                    Principal::Group(rng.below(GROUPS))
                } else {
                    Principal::User(rng.below(people))
                };
                if seen.insert(principal) {
                    role_holders.push(principal);
                    assignments.push(Assignment {
                        id: rng.guid(),
                        principal,
                        role: r,
                        eligible: rng.percent(40),
                        scope: if rng.percent(85) {
                            "/".to_owned()
                        } else {
                            format!("/administrativeUnits/{}", rng.pick(&units))
                        },
                    });
                }
            }
        }
        Directory {
            users,
            groups,
            roles,
            assignments,
            reports,
            managers,
            unmanaged,
            break_glass,
            people,
            holders,
        }
    }

    fn principal_id(&self, p: Principal) -> &str {
        match p {
            Principal::User(u) => &self.users[u].id,
            Principal::Group(g) => &self.groups[g].id,
        }
    }

    /// How a manifest names a user: by user principal name or by id.
    fn user_ref(&self, u: usize, rng: &mut Rng, upn_percent: usize) -> &str {
        if rng.percent(upn_percent) {
            &self.users[u].upn
        } else {
            &self.users[u].id
        }
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(256 * 1024);
        let _ = writeln!(out, "# yaml-language-server: $schema={SCHEMA_URL}");
        out.push_str(
            "# Snapshot of the corp directory, exported from the HR system every night.\n\
             # `recert apply` edits this file: denied assignments are removed from it.\n",
        );
        let _ = writeln!(out, "apiVersion: {API_VERSION}");
        out.push_str("kind: DirectoryData\nmetadata:\n");
        let _ = writeln!(out, "  name: {DIRECTORY_NAME}-data");
        out.push_str("  labels:\n    source: hr-export\nspec:\n  users:\n");
        for (i, user) in self.users.iter().enumerate() {
            if i == self.people {
                out.push_str("    # Service and break-glass accounts: no manager.\n");
            }
            let _ = writeln!(out, "    - id: {}", user.id);
            let _ = writeln!(out, "      userPrincipalName: {}", user.upn);
            let _ = writeln!(out, "      displayName: {}", user.display);
            if let Some(m) = user.manager {
                let _ = writeln!(out, "      manager: {}", self.users[m].id);
            }
            if let Some(at) = &user.last_sign_in {
                let _ = writeln!(out, "      lastSignIn: {at}");
            }
            if !user.enabled {
                out.push_str("      enabled: false\n");
            }
            if user.on_premises {
                out.push_str("      source: onPremises\n");
            }
        }
        out.push_str("  groups:\n");
        for group in &self.groups {
            let _ = writeln!(out, "    - id: {}", group.id);
            let _ = writeln!(out, "      displayName: {}", group.name);
            out.push_str("      members:\n");
            for &u in &group.users {
                let _ = writeln!(out, "        - {}", self.users[u].id);
            }
            for &g in &group.groups {
                let _ = writeln!(
                    out,
                    "        - {} # {}",
                    self.groups[g].id, self.groups[g].name
                );
            }
            if group.dynamic {
                out.push_str("      membership: dynamic\n");
            }
            if group.on_premises {
                out.push_str("      source: onPremises\n");
            }
        }
        out.push_str("  roles:\n");
        for role in &self.roles {
            let _ = writeln!(out, "    - id: {}", role.id);
            let _ = writeln!(out, "      displayName: {}", role.name);
        }
        out.push_str("  assignments:\n");
        for a in &self.assignments {
            let _ = writeln!(out, "    - id: {}", a.id);
            let _ = writeln!(out, "      principal: {}", self.principal_id(a.principal));
            let _ = writeln!(
                out,
                "      role: {} # {}",
                self.roles[a.role].id, self.roles[a.role].name
            );
            if a.eligible {
                out.push_str("      type: eligible\n");
            }
            if a.scope != "/" || a.id.ends_with(['0', '1', '2']) {
                let _ = writeln!(out, "      scope: {}", a.scope);
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Reviews

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReviewerKind {
    SelfReview,
    Users,
    Manager,
}

#[derive(Debug, Clone, Copy)]
enum Scope {
    Role(usize),
    Group(usize),
}

struct Review {
    name: String,
    team: &'static str,
    kind: ReviewerKind,
    scope: Scope,
    /// With `type: users`: the reviewers.
    users: Vec<usize>,
    fallback: Vec<usize>,
    /// The first instance's id: the start date.
    first_instance: String,
    /// The principals in scope (groups expanded to their direct user members for roles).
    in_scope: Vec<Principal>,
}

impl Review {
    fn plan(seq: usize, dir: &Directory, rng: &mut Rng) -> Review {
        let team = *rng.pick(TEAMS);
        let scope = if rng.percent(75) {
            Scope::Role(rng.below(dir.roles.len()))
        } else {
            Scope::Group(rng.below(dir.groups.len()))
        };
        let kind = match rng.below(100) {
            0..25 => ReviewerKind::SelfReview,
            25..75 => ReviewerKind::Users,
            _ => ReviewerKind::Manager,
        };
        let users = if kind == ReviewerKind::Users {
            {
                let k = rng.between(1, 4);
                rng.sample(dir.people, k)
            }
        } else {
            Vec::new()
        };
        let fallback_chance = if kind == ReviewerKind::Manager {
            70
        } else {
            10
        };
        let fallback = if rng.percent(fallback_chance) {
            {
                let k = rng.between(1, 2);
                rng.sample(dir.people, k)
            }
        } else {
            Vec::new()
        };
        let mut in_scope = Vec::new();
        let slug = match scope {
            Scope::Role(r) => {
                for &p in &dir.holders[r] {
                    match p {
                        Principal::Group(g) => {
                            in_scope
                                .extend(dir.groups[g].users.iter().map(|&u| Principal::User(u)));
                        }
                        user => in_scope.push(user),
                    }
                }
                slug(dir.roles[r].name, 30)
            }
            Scope::Group(g) => {
                let group = &dir.groups[g];
                in_scope.extend(group.users.iter().map(|&u| Principal::User(u)));
                in_scope.extend(group.groups.iter().map(|&n| Principal::Group(n)));
                slug(&group.name, 30)
            }
        };
        let mut seen = HashSet::new();
        in_scope.retain(|p| seen.insert(*p));
        Review {
            name: format!("{team}-{slug}-{seq:04}"),
            team,
            kind,
            scope,
            users,
            fallback,
            first_instance: String::new(),
            in_scope,
        }
    }

    /// One `AccessReview` document (no leading `---`), 40–90 lines.
    fn render(&mut self, dir: &Directory, rng: &mut Rng) -> String {
        let mut doc = String::with_capacity(3 * 1024);
        let (scope_name, what) = match self.scope {
            Scope::Role(r) => (dir.roles[r].name.to_owned(), "role"),
            Scope::Group(g) => (dir.groups[g].name.clone(), "group"),
        };
        let team_title = title(self.team);
        let owner = rng.below(dir.people);
        let ticket = format!("SEC-{}", rng.between(1000, 9999));

        // Schedule first: the title names the recurrence.
        let recurrences: [(&str, usize); 6] = [
            ("once", 0),
            ("weekly", 7),
            ("monthly", 28),
            ("quarterly", 89),
            ("semiannually", 181),
            ("annually", 365),
        ];
        let (recurrence, period) = recurrences[match rng.below(100) {
            0..10 => 0,
            10..15 => 1,
            15..35 => 2,
            35..75 => 3,
            75..88 => 4,
            _ => 5,
        }];
        let once = period == 0;
        let interval = if !once && rng.percent(20) {
            rng.between(2, 3)
        } else {
            1
        };
        let max_days = if once {
            30
        } else {
            (period * interval).min(60)
        };
        let durations: Vec<usize> = [3, 5, 7, 10, 14, 21, 28, 30, 45, 60]
            .into_iter()
            .filter(|&d| d <= max_days)
            .collect();
        let duration = *rng.pick(&durations);
        let start_year = rng.between(2025, 2027);
        let start_date = rng.date(start_year);
        let start = match rng.below(10) {
            0..6 => start_date.clone(),
            6..8 => format!("{start_date}T09:00:00Z"),
            8 => format!("\"{start_date}T08:30:00+01:00\""),
            _ => format!("{start_date}t14:00:00-05:00"),
        };
        self.first_instance = start_date;

        let _ = writeln!(
            doc,
            "# {} review of the {scope_name} {what} for the {} team.",
            title(recurrence),
            self.team
        );
        let _ = writeln!(
            doc,
            "# Owner: {}. Tracked in {ticket}.",
            dir.users[owner].display
        );
        let _ = writeln!(doc, "apiVersion: {API_VERSION}");
        doc.push_str("kind: AccessReview\nmetadata:\n");
        let _ = writeln!(doc, "  name: {}", self.name);
        doc.push_str("  labels:\n");
        let _ = writeln!(doc, "    team: {}", self.team);
        let _ = writeln!(doc, "    tier: \"{}\"", rng.below(3));
        if rng.percent(70) {
            let _ = writeln!(
                doc,
                "    compliance: {}",
                rng.pick(&["sox", "iso27001", "pci-dss", "soc2"])
            );
        }
        if rng.percent(60) {
            doc.push_str("  annotations:\n");
            let _ = writeln!(doc, "    recert.dev/owner: {}", dir.users[owner].upn);
            let _ = writeln!(doc, "    recert.dev/ticket: {ticket}");
        }
        doc.push_str("spec:\n");
        let _ = writeln!(doc, "  directory: {DIRECTORY_NAME}");
        let _ = writeln!(
            doc,
            "  displayName: {}",
            quoted(&format!(
                "{} review: {scope_name} ({team_title})",
                title(recurrence)
            ))
        );
        if rng.percent(80) {
            doc.push_str("  description: >-\n");
            let k = rng.between(1, 3);
            for i in rng.sample(DESCRIPTIONS.len(), k) {
                let _ = writeln!(doc, "    {}", DESCRIPTIONS[i]);
            }
        }

        doc.push_str("  scope:\n");
        match self.scope {
            Scope::Role(r) => {
                if rng.percent(40) {
                    doc.push_str(
                        "    # Every assignment of this role, direct or through a group.\n",
                    );
                }
                doc.push_str("    role:\n");
                if rng.percent(70) {
                    let _ = writeln!(doc, "      name: {}", dir.roles[r].name);
                } else {
                    let _ = writeln!(doc, "      id: {} # {}", dir.roles[r].id, dir.roles[r].name);
                }
                if rng.percent(70) {
                    let _ = writeln!(
                        doc,
                        "    assignments: {}",
                        rng.pick(&["active", "eligible", "all"])
                    );
                }
                if rng.percent(30) {
                    doc.push_str("    resourceScope: /\n");
                }
                if rng.percent(30) {
                    let _ = writeln!(doc, "    expandGroups: {}", rng.percent(50));
                }
            }
            Scope::Group(g) => {
                doc.push_str("    group:\n");
                if rng.percent(70) {
                    let _ = writeln!(doc, "      name: {}", dir.groups[g].name);
                } else {
                    let _ = writeln!(
                        doc,
                        "      id: {} # {}",
                        dir.groups[g].id, dir.groups[g].name
                    );
                }
            }
        }

        doc.push_str("  reviewers:\n");
        match self.kind {
            ReviewerKind::SelfReview => {
                doc.push_str(
                    "    # Everyone in scope attests to their own access.\n    type: self\n",
                );
            }
            ReviewerKind::Manager => doc.push_str("    type: manager\n"),
            ReviewerKind::Users => {
                doc.push_str("    type: users\n    users:\n");
                for &u in &self.users {
                    let _ = writeln!(doc, "      - {}", dir.user_ref(u, rng, 80));
                }
            }
        }
        if !self.fallback.is_empty() {
            if self.kind == ReviewerKind::Manager {
                doc.push_str("  # Decides for principals without a manager (service accounts).\n");
            }
            doc.push_str("  fallbackReviewers:\n");
            for &u in &self.fallback {
                let _ = writeln!(doc, "    - {}", dir.user_ref(u, rng, 80));
            }
        }

        doc.push_str("  schedule:\n");
        let _ = writeln!(doc, "    start: {start}");
        let _ = writeln!(doc, "    durationDays: {duration}");
        if !once || rng.percent(50) {
            let _ = writeln!(doc, "    recurrence: {recurrence}");
        }
        if interval != 1 || (!once && rng.percent(15)) {
            let _ = writeln!(doc, "    interval: {interval}");
        }
        if !once {
            match rng.below(10) {
                0..3 => {
                    let year = start_year + rng.between(1, 3);
                    let until = rng.date(year);
                    let _ = writeln!(doc, "    until: {until}");
                }
                3..7 => {
                    let _ = writeln!(doc, "    count: {}", rng.between(2, 24));
                }
                _ => {}
            }
        }

        if rng.percent(90) {
            doc.push_str("  settings:\n");
            let _ = writeln!(doc, "    requireJustification: {}", rng.percent(60));
            let _ = writeln!(
                doc,
                "    defaultDecision: {}",
                rng.pick(&["none", "approve", "deny", "recommendation"])
            );
            if rng.percent(70) {
                let _ = writeln!(doc, "    autoApply: {}", rng.percent(30));
            }
            if rng.percent(60) {
                doc.push_str("    recommendations:\n");
                let _ = writeln!(doc, "      enabled: {}", rng.percent(85));
                let _ = writeln!(
                    doc,
                    "      inactiveDays: {}",
                    rng.pick(&[14, 30, 45, 60, 90, 180])
                );
            }
            if rng.percent(60) {
                doc.push_str("    reminders:\n");
                let _ = writeln!(doc, "      enabled: {}", rng.percent(80));
                let _ = writeln!(doc, "      intervalDays: {}", rng.between(1, 7));
            }
            if rng.percent(75) {
                doc.push_str("    notifications:\n");
                let _ = writeln!(doc, "      email: {}", rng.percent(90));
                if rng.percent(50) {
                    doc.push_str("      additionalContent: |\n");
                    let k = rng.between(1, 2);
                    for i in rng.sample(NOTICES.len(), k) {
                        let _ = writeln!(doc, "        {}", NOTICES[i]);
                    }
                }
                let hooks = rng.below(3);
                if hooks > 0 {
                    doc.push_str("      webhooks:\n");
                }
                for h in 0..hooks {
                    if h == 0 {
                        let _ = writeln!(
                            doc,
                            "        - url: https://hooks.{DOMAIN}/recert/{}",
                            self.team
                        );
                    } else {
                        doc.push_str("        # The SIEM gets every event.\n");
                        let _ = writeln!(
                            doc,
                            "        - url: https://siem.{DOMAIN}:8443/ingest/recert"
                        );
                    }
                    if rng.percent(60) {
                        doc.push_str("          events:\n");
                        let k = rng.between(1, 4);
                        let mut events = rng.sample(EVENTS.len(), k);
                        events.sort_unstable();
                        for e in events {
                            let _ = writeln!(doc, "            - {}", EVENTS[e]);
                        }
                    }
                    if rng.percent(70) {
                        doc.push_str("          signingSecret:\n");
                        if rng.percent(60) {
                            let _ = writeln!(
                                doc,
                                "            env: RECERT_WEBHOOK_{}",
                                self.team.to_uppercase()
                            );
                        } else {
                            let _ = writeln!(
                                doc,
                                "            file: /var/run/secrets/recert/{}-webhook",
                                self.team
                            );
                        }
                    }
                }
            }
        }

        if rng.percent(70) {
            doc.push_str("  guards:\n");
            doc.push_str("    # Break-glass accounts are never removed, whatever the decision.\n");
            doc.push_str("    protectedPrincipals:\n");
            for &u in &dir.break_glass {
                let _ = writeln!(doc, "      - {}", dir.users[u].upn);
            }
            let _ = writeln!(doc, "    minRemainingAssignments: {}", rng.between(1, 3));
            let _ = writeln!(
                doc,
                "    maxRemovalPercent: {}",
                rng.pick(&[10, 20, 25, 30, 50])
            );
        }
        if rng.percent(20) {
            doc.push_str("  requests:\n");
            let _ = writeln!(doc, "    remind: \"{}\"", rng.date(start_year));
            if rng.percent(30) {
                let _ = writeln!(doc, "    apply: CHG{:07}", rng.below(10_000_000));
            }
        }

        // Keep every review at 40 lines or more, as real ones with their comments are.
        let mut lines = doc.lines().count();
        let padding = [
            "# Change history: see the Git log of this file.",
            "# Reviewers: decide in decisions/<review>/<you>.yaml, one file each.",
            "# Reminder: denied assignments are removed by `recert apply`.",
            "# Escalation: the security team decides anything left open.",
        ];
        let mut p = 0;
        while lines < 40 {
            let _ = writeln!(doc, "{}", padding[p % padding.len()]);
            p += 1;
            lines += 1;
        }
        doc
    }
}

/// A DNS-1123-safe slug of `text`, at most `max` characters.
fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    out.trim_matches('-').to_owned()
}

fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A YAML double-quoted scalar (JSON's string syntax is valid YAML).
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// A unique DNS-1123 name from `base`: at most 63 characters, suffixed on collision.
fn unique_name(base: &str, taken: &mut HashSet<String>) -> String {
    let mut base = base.to_owned();
    base.truncate(56);
    let base = base.trim_end_matches('-').to_owned();
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

// ---------------------------------------------------------------------------------------------
// Decisions

/// One reviewer's decisions on one review: who, and on whom.
struct Decided {
    reviewer: usize,
    principals: Vec<Principal>,
}

/// Picks a reviewer the review allows (`reviewer` if given, when allowed) and the principals
/// they decide, none of them already in `used` (the file's principals so far).
fn decide(
    review: &Review,
    reviewer: Option<usize>,
    dir: &Directory,
    used: &HashSet<Principal>,
    rng: &mut Rng,
) -> Option<Decided> {
    let take_free = |candidates: &[Principal], k: usize, rng: &mut Rng| -> Vec<Principal> {
        let mut free: Vec<Principal> = candidates
            .iter()
            .copied()
            .filter(|p| !used.contains(p))
            .collect();
        rng.shuffle(&mut free);
        free.truncate(k);
        free
    };
    match review.kind {
        ReviewerKind::SelfReview => {
            let reviewer = match reviewer {
                Some(u) => u,
                None => {
                    let users: Vec<usize> = review
                        .in_scope
                        .iter()
                        .filter_map(|p| match p {
                            Principal::User(u) => Some(*u),
                            Principal::Group(_) => None,
                        })
                        .collect();
                    if users.is_empty() {
                        rng.below(dir.people)
                    } else {
                        *rng.pick(&users)
                    }
                }
            };
            let me = Principal::User(reviewer);
            (!used.contains(&me)).then(|| Decided {
                reviewer,
                principals: vec![me],
            })
        }
        ReviewerKind::Users => {
            let reviewer = match reviewer {
                Some(u) if review.users.contains(&u) => u,
                Some(_) => return None,
                None => *rng.pick(&review.users),
            };
            let k = rng.between(1, 30);
            let mut principals = take_free(&review.in_scope, k, rng);
            // Small scopes: the reviewer also decides on people found in the directory.
            let mut tries = 0;
            while principals.len() < k && tries < 4 * k {
                let p = Principal::User(rng.below(dir.people));
                if !used.contains(&p) && !principals.contains(&p) {
                    principals.push(p);
                }
                tries += 1;
            }
            (!principals.is_empty()).then_some(Decided {
                reviewer,
                principals,
            })
        }
        ReviewerKind::Manager => {
            let as_fallback = match reviewer {
                Some(u) => review.fallback.contains(&u) && dir.reports[u].is_empty(),
                None => !review.fallback.is_empty() && rng.percent(15),
            };
            if as_fallback {
                let reviewer = reviewer.unwrap_or_else(|| *rng.pick(&review.fallback));
                let unmanaged: Vec<Principal> =
                    dir.unmanaged.iter().map(|&u| Principal::User(u)).collect();
                let k = rng.between(1, unmanaged.len());
                let principals = take_free(&unmanaged, k, rng);
                return (!principals.is_empty()).then_some(Decided {
                    reviewer,
                    principals,
                });
            }
            let reviewer = match reviewer {
                Some(u) if !dir.reports[u].is_empty() => u,
                Some(_) => return None,
                None => *rng.pick(&dir.managers),
            };
            let reports: Vec<Principal> = dir.reports[reviewer]
                .iter()
                .map(|&u| Principal::User(u))
                .collect();
            let k = rng.between(1, reports.len().min(30));
            let principals = take_free(&reports, k, rng);
            (!principals.is_empty()).then_some(Decided {
                reviewer,
                principals,
            })
        }
    }
}

/// One `ReviewDecisions` document (no leading `---`).
fn render_decisions(
    name: &str,
    review: &Review,
    decided: &Decided,
    dir: &Directory,
    rng: &mut Rng,
) -> String {
    let mut doc = String::with_capacity(1024 + 160 * decided.principals.len());
    let reviewer = &dir.users[decided.reviewer];
    let _ = writeln!(
        doc,
        "# Decisions of {} on review {}.",
        reviewer.display, review.name
    );
    let _ = writeln!(doc, "apiVersion: {API_VERSION}");
    doc.push_str("kind: ReviewDecisions\nmetadata:\n");
    let _ = writeln!(doc, "  name: {name}");
    if rng.percent(30) {
        let _ = writeln!(doc, "  labels:\n    team: {}", review.team);
    }
    doc.push_str("spec:\n");
    let _ = writeln!(doc, "  review: {}", review.name);
    if rng.percent(40) {
        let _ = writeln!(doc, "  instance: \"{}\"", review.first_instance);
    }
    let _ = writeln!(
        doc,
        "  reviewer: {}",
        dir.user_ref(decided.reviewer, rng, 75)
    );
    doc.push_str("  decisions:\n");
    let mut i = 0;
    while i < decided.principals.len() {
        let decision = match rng.below(10) {
            0..7 => "approve",
            7..9 => "deny",
            _ => "dontKnow",
        };
        let reasons = match decision {
            "approve" => APPROVE_REASONS,
            "deny" => DENY_REASONS,
            _ => DONT_KNOW_REASONS,
        };
        let remaining = decided.principals.len() - i;
        let group = if remaining >= 2 && rng.percent(15) {
            rng.between(2, remaining.min(5))
        } else {
            1
        };
        let write = |p: Principal, rng: &mut Rng| -> String {
            match p {
                Principal::User(u) => dir.user_ref(u, rng, 40).to_owned(),
                Principal::Group(g) => dir.groups[g].id.clone(),
            }
        };
        if rng.percent(5) {
            doc.push_str("    # Checked against the on-call calendar.\n");
        }
        if group == 1 {
            let p = write(decided.principals[i], rng);
            let _ = writeln!(doc, "    - principal: {p}");
        } else {
            doc.push_str("    - principals:\n");
            for &p in &decided.principals[i..i + group] {
                let p = write(p, rng);
                let _ = writeln!(doc, "        - {p}");
            }
        }
        let _ = writeln!(doc, "      decision: {decision}");
        let reason = *rng.pick(reasons);
        if rng.percent(15) {
            let _ = writeln!(
                doc,
                "      reason: >-\n        {reason}\n        Ticket SEC-{}.",
                rng.between(1000, 9999)
            );
        } else if rng.percent(20) {
            let _ = writeln!(doc, "      reason: {}", quoted(reason));
        } else {
            let _ = writeln!(doc, "      reason: {reason}");
        }
        i += group;
    }
    doc
}

// ---------------------------------------------------------------------------------------------
// Generation

#[derive(Debug, Default)]
struct Stats {
    files: usize,
    documents: usize,
    bytes: usize,
    review_files: usize,
    review_docs: usize,
    decision_files: usize,
    decision_docs: usize,
    decision_entries: usize,
    multi_doc_files: usize,
    review_lines: Vec<usize>,
    users: usize,
    groups: usize,
    roles: usize,
    assignments: usize,
    elapsed: Duration,
}

impl Stats {
    fn print(&self, dir: &Path) {
        let mut lines = self.review_lines.clone();
        lines.sort_unstable();
        let median = lines.get(lines.len() / 2).copied().unwrap_or(0);
        println!("generated {} in {:.2?}", dir.display(), self.elapsed);
        println!(
            "  files      {:>7}  ({} multi-document), {:.1} MiB",
            self.files,
            self.multi_doc_files,
            self.bytes as f64 / (1024.0 * 1024.0)
        );
        println!("  documents  {:>7}", self.documents);
        println!(
            "  directory        2  (Directory + DirectoryData: {} users, {} groups, {} roles, {} assignments)",
            self.users, self.groups, self.roles, self.assignments
        );
        println!(
            "  reviews    {:>7}  files, {} documents, {}–{} lines (median {median})",
            self.review_files,
            self.review_docs,
            lines.first().copied().unwrap_or(0),
            lines.last().copied().unwrap_or(0),
        );
        println!(
            "  decisions  {:>7}  files, {} documents, {} decided principals",
            self.decision_files, self.decision_docs, self.decision_entries
        );
    }
}

fn write_file(root: &Path, relative: &str, text: &str, stats: &mut Stats) -> Result<()> {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    stats.files += 1;
    stats.bytes += text.len();
    Ok(())
}

fn modeline() -> String {
    format!("# yaml-language-server: $schema={SCHEMA_URL}\n")
}

/// Writes `options.files` valid manifests into `root`.
fn generate(root: &Path, options: &Options) -> Result<Stats> {
    let started = Instant::now();
    let mut rng = Rng::new(options.seed);
    let mut stats = Stats::default();
    let multi_percent = if options.single_doc { 0 } else { 10 };

    // The directory: a file-type Directory and the DirectoryData it points at.
    let dir = Directory::generate(&mut rng);
    stats.users = dir.users.len();
    stats.groups = dir.groups.len();
    stats.roles = dir.roles.len();
    stats.assignments = dir.assignments.len();
    let directory = format!(
        "{}# The corp directory, kept in this repository and edited by `recert apply`.\n\
         apiVersion: {API_VERSION}\nkind: Directory\nmetadata:\n  name: {DIRECTORY_NAME}\n\
         spec:\n  type: file\n  file:\n    path: {DIRECTORY_NAME}-data.yaml\n",
        modeline()
    );
    write_file(
        root,
        &format!("directory/{DIRECTORY_NAME}.yaml"),
        &directory,
        &mut stats,
    )?;
    write_file(
        root,
        &format!("directory/{DIRECTORY_NAME}-data.yaml"),
        &dir.render(),
        &mut stats,
    )?;
    stats.documents += 2;

    let rest = options.files - 2;
    let review_files = ((rest * 35 + 50) / 100).clamp(1, rest - 1);
    let decision_files = rest - review_files;

    // Reviews, one or two to a file.
    let mut reviews: Vec<Review> = Vec::new();
    for _ in 0..review_files {
        let docs = if rng.percent(multi_percent) { 2 } else { 1 };
        let mut text = modeline();
        let mut path = String::new();
        for d in 0..docs {
            let mut review = Review::plan(reviews.len(), &dir, &mut rng);
            let body = review.render(&dir, &mut rng);
            stats.review_lines.push(body.lines().count());
            if d == 0 {
                let ext = if rng.percent(5) { "yml" } else { "yaml" };
                path = format!("reviews/{}/{}.{ext}", review.team, review.name);
            } else {
                text.push_str("---\n");
            }
            text.push_str(&body);
            reviews.push(review);
        }
        write_file(root, &path, &text, &mut stats)?;
        stats.review_files += 1;
        stats.review_docs += docs;
        stats.documents += docs;
        stats.multi_doc_files += usize::from(docs > 1);
    }

    // Decisions: each file one reviewer's; sometimes a second document for another review
    // the same reviewer may decide, on other principals.
    let mut names = HashSet::new();
    for _ in 0..decision_files {
        let mut used: HashSet<Principal> = HashSet::new();
        let (r, decided) = loop {
            let r = rng.below(reviews.len());
            if let Some(decided) = decide(&reviews[r], None, &dir, &used, &mut rng) {
                break (r, decided);
            }
        };
        used.extend(decided.principals.iter().copied());
        let mut docs = vec![(r, decided)];
        if rng.percent(multi_percent) {
            let reviewer = docs[0].1.reviewer;
            for _ in 0..50 {
                let other = rng.below(reviews.len());
                if other == r {
                    continue;
                }
                if let Some(decided) =
                    decide(&reviews[other], Some(reviewer), &dir, &used, &mut rng)
                {
                    docs.push((other, decided));
                    break;
                }
            }
        }
        let mut text = modeline();
        let mut path = String::new();
        for (d, (r, decided)) in docs.iter().enumerate() {
            let review = &reviews[*r];
            let handle = &dir.users[decided.reviewer].handle;
            let name = unique_name(&format!("{}-{handle}", review.name), &mut names);
            if d == 0 {
                path = format!("decisions/{}/{name}.yaml", review.team);
            } else {
                text.push_str("---\n");
            }
            text.push_str(&render_decisions(&name, review, decided, &dir, &mut rng));
            stats.decision_entries += decided.principals.len();
        }
        write_file(root, &path, &text, &mut stats)?;
        stats.decision_files += 1;
        stats.decision_docs += docs.len();
        stats.documents += docs.len();
        stats.multi_doc_files += usize::from(docs.len() > 1);
    }
    stats.elapsed = started.elapsed();
    Ok(stats)
}

// ---------------------------------------------------------------------------------------------
// Measuring

struct Run {
    wall: Duration,
    /// Peak resident set of the child, in KiB, when GNU time is there to tell.
    max_rss_kib: Option<u64>,
    files: u64,
    documents: u64,
}

fn run_recert(bin: &Path, dir: &Path, time_out: Option<&Path>) -> Result<Run> {
    let mut command = match time_out {
        Some(out) => {
            let mut c = Command::new(GNU_TIME);
            c.arg("-f").arg("%M").arg("-o").arg(out).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    command
        .args(["validate", "--format", "json"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "recert exited with {} and printed no JSON report ({e}):\n{stderr}",
            output.status
        )
    })?;
    let count = |field: &str| report.get(field).and_then(serde_json::Value::as_u64);
    let (errors, warnings) = (count("errors").unwrap_or(0), count("warnings").unwrap_or(0));
    if !output.status.success() || errors > 0 || warnings > 0 {
        let mut message = format!(
            "recert exited with {}: {errors} errors, {warnings} warnings on generated files that \
             should all be valid",
            output.status
        );
        let diagnostics = report.get("diagnostics").and_then(|d| d.as_array());
        for d in diagnostics.into_iter().flatten().take(20) {
            let text = |f: &str| d.get(f).and_then(|v| v.as_str()).unwrap_or("");
            let line = d
                .pointer("/span/line")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let _ = write!(
                message,
                "\n  {}:{line}: {} [{}] {}",
                text("file"),
                text("severity"),
                text("code"),
                text("message")
            );
        }
        if !stderr.trim().is_empty() {
            let _ = write!(message, "\n{stderr}");
        }
        return Err(message);
    }
    let max_rss_kib = time_out.and_then(|out| {
        let text = std::fs::read_to_string(out).ok()?;
        text.lines().last()?.trim().parse().ok()
    });
    Ok(Run {
        wall,
        max_rss_kib,
        files: count("files").unwrap_or(0),
        documents: count("documents").unwrap_or(0),
    })
}

fn bench(dir: &Path, stats: &Stats, options: &Options) -> Result<ExitCode> {
    let bin = Path::new(env!("CARGO_BIN_EXE_recert"));
    let scratch = tempfile::Builder::new()
        .prefix("recert-bench-time-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let time_out = scratch.path().join("time.txt");
    let time_out = Path::new(GNU_TIME).is_file().then_some(time_out.as_path());
    if time_out.is_none() {
        println!(
            "note: {GNU_TIME} not found (Debian: apt-get install -y time); peak memory is n/a"
        );
    }
    println!(
        "running {} validate --format json {} (1 warm-up + {} measured)",
        bin.display(),
        dir.display(),
        options.runs
    );

    let warm_up = run_recert(bin, dir, time_out)?;
    if warm_up.files != stats.files as u64 || warm_up.documents != stats.documents as u64 {
        return Err(format!(
            "recert read {} files and {} documents; {} and {} were generated",
            warm_up.files, warm_up.documents, stats.files, stats.documents
        ));
    }
    let mut runs = Vec::with_capacity(options.runs);
    for i in 0..options.runs {
        let run = run_recert(bin, dir, time_out)?;
        println!(
            "  run {}: {:>8.1} ms, peak RSS {}",
            i + 1,
            ms(run.wall),
            run.max_rss_kib.map_or("n/a".to_owned(), mib)
        );
        runs.push(run);
    }

    let mut walls: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
    walls.sort_unstable();
    let min = walls[0];
    let median = if walls.len() % 2 == 1 {
        walls[walls.len() / 2]
    } else {
        (walls[walls.len() / 2 - 1] + walls[walls.len() / 2]) / 2
    };
    let peak = runs.iter().filter_map(|r| r.max_rss_kib).max();
    let per_second = |d: Duration| stats.files as f64 / d.as_secs_f64();

    println!();
    println!(
        "recert validate: {} files, {} documents, 0 findings",
        stats.files, stats.documents
    );
    println!("  +--------------------+---------------+");
    println!("  | metric             |         value |");
    println!("  +--------------------+---------------+");
    println!("  | files              | {:>13} |", stats.files);
    println!("  | documents          | {:>13} |", stats.documents);
    println!(
        "  | MiB of YAML        | {:>13.1} |",
        stats.bytes as f64 / (1024.0 * 1024.0)
    );
    println!("  | runs               | {:>13} |", runs.len());
    println!("  | wall time, min     | {:>10.1} ms |", ms(min));
    println!("  | wall time, median  | {:>10.1} ms |", ms(median));
    println!("  | files/s (median)   | {:>13.0} |", per_second(median));
    println!("  | files/s (best)     | {:>13.0} |", per_second(min));
    println!(
        "  | peak memory (RSS)  | {:>13} |",
        peak.map_or("n/a".to_owned(), mib)
    );
    println!("  +--------------------+---------------+");
    Ok(ExitCode::SUCCESS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// Many findings in one file

const FINDINGS_DIRECTORY: &str = "apiVersion: recert.dev/v1alpha1
kind: Directory
metadata: {name: corp}
spec:
  type: file
  file: {path: data.yaml}
---
apiVersion: recert.dev/v1alpha1
kind: DirectoryData
metadata: {name: corp}
spec:
  users: [{id: u-a, userPrincipalName: a@corp.example}]
  roles: [{id: r-ga, displayName: Global Administrator}]
";

fn findings_review(name: &str, directory: &str) -> String {
    format!(
        "apiVersion: recert.dev/v1alpha1
kind: AccessReview
metadata: {{name: {name}}}
spec:
  directory: {directory}
  displayName: Global Administrators
  scope: {{role: {{name: Global Administrator}}}}
  reviewers: {{type: self}}
  schedule: {{start: 2026-12-01, durationDays: 14}}
---
"
    )
}

/// Times `recert validate` on one file of `n` unresolved references and `n` duplicate names.
fn bench_findings(n: usize, runs: usize) -> Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("recert-bench-findings-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).map_err(|e| format!("cannot write: {e}"))
    };
    write("data.yaml", FINDINGS_DIRECTORY)?;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&findings_review(
            &format!("lost-{i}"),
            &format!("nowhere-{i}"),
        ));
    }
    for _ in 0..n {
        text.push_str(&findings_review("twin", "corp"));
    }
    write("many.yaml", &text)?;
    let bin = Path::new(env!("CARGO_BIN_EXE_recert"));
    let expected = (2 * n).saturating_sub(1);
    println!(
        "running {} validate --format json on {} documents ({n} unresolved references, {n} with one name; 1 warm-up + {runs} measured)",
        bin.display(),
        2 * n + 2
    );
    let mut walls = Vec::with_capacity(runs);
    for i in 0..=runs {
        let started = Instant::now();
        let output = Command::new(bin)
            .args(["validate", "--format", "json"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let wall = started.elapsed();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("recert printed no JSON report ({e})"))?;
        let found = report["diagnostics"].as_array().map_or(0, Vec::len);
        if found != expected {
            return Err(format!("recert reported {found} findings, not {expected}"));
        }
        if i > 0 {
            println!("  run {i}: {:>8.1} ms", ms(wall));
            walls.push(wall);
        }
    }
    walls.sort_unstable();
    println!(
        "recert validate, {expected} findings in one file: min {:.1} ms, median {:.1} ms",
        ms(walls[0]),
        ms(walls[walls.len() / 2])
    );
    Ok(ExitCode::SUCCESS)
}
