//! Where a manifest may send credentials, and which files it may point Recert at.
//!
//! A Directory manifest is reviewed like code but edited by many; without these rules one line
//! in a pull request (`authorityUrl: http://collector.example`) would send the client secret
//! wherever it named, in clear, and a `file.path` of `../../etc/…` would make Recert read, and
//! an apply rewrite, a file outside the repository. So:
//!
//! - `http://` endpoints only on loopback (127.0.0.0/8, ::1, `localhost`): test servers;
//! - a Graph `authorityUrl` only on Microsoft's Entra ID authorities (global and national
//!   clouds), or on a host the operator allows (`--allow-authority`), never the manifest;
//! - a file directory's `file.path` only inside the manifests tree (the folders given to the
//!   command; a file's own folder) or a data directory the operator allows (`--data-dir`).
//!
//! The same checks make validation findings (at the field) and refuse to open the directory.

use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};

use crate::diag::Code;
use crate::model::directory::{DirectorySpec, DirectoryType, GraphSettings};

use super::rules::resolve_relative;
use super::{Loaded, LoadedDoc};

/// The Microsoft Entra ID authorities: the global service, Azure Government, and Azure
/// operated by 21Vianet under both names Microsoft documents ("National clouds",
/// learn.microsoft.com/entra/identity-platform/authentication-national-cloud; MSAL's cloud
/// instances). Azure Germany (`login.microsoftonline.de`) closed in 2021.
pub const ENTRA_AUTHORITIES: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn",
];

/// What the operator trusts beyond the built-in rules: given on the command line or in the
/// environment, never in a manifest, since the manifests are what these rules guard against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// Folders a file directory's data file may be in besides the manifests tree.
    pub data_dirs: Vec<PathBuf>,
    /// Hosts a Graph `authorityUrl` may name besides [`ENTRA_AUTHORITIES`].
    pub authorities: Vec<String>,
}

/// Why a Directory's setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("`{url}` is not an http(s) URL")]
    NotAUrl { url: String },
    #[error(
        "`{url}` is plain http to `{host}`, which is not loopback: credentials would cross the network in clear"
    )]
    PlainHttp { url: String, host: String },
    #[error(
        "`{host}` is not a Microsoft Entra ID authority: the client credentials would be sent there"
    )]
    UnknownAuthority { host: String },
    #[error("`{written}` resolves to `{}`, outside the manifests and every allowed data directory", resolved.display())]
    OutsideTree { written: String, resolved: PathBuf },
}

impl Refusal {
    pub fn code(&self) -> Code {
        match self {
            Refusal::NotAUrl { .. } | Refusal::PlainHttp { .. } => Code::PlainHttp,
            Refusal::UnknownAuthority { .. } => Code::UnknownAuthority,
            Refusal::OutsideTree { .. } => Code::PathOutsideTree,
        }
    }

    /// What to do about it.
    pub fn note(&self) -> String {
        match self {
            Refusal::NotAUrl { .. } => "write an absolute https:// URL".to_owned(),
            Refusal::PlainHttp { .. } => {
                "use https://; plain http is allowed only to loopback (127.0.0.0/8, ::1, localhost)"
                    .to_owned()
            }
            Refusal::UnknownAuthority { host } => format!(
                "known authorities: {}; to trust another, run Recert with `--allow-authority {host}` (or RECERT_ALLOW_AUTHORITIES)",
                ENTRA_AUTHORITIES.join(", ")
            ),
            Refusal::OutsideTree { .. } => "keep the data file beside the manifests, or allow its folder with `--data-dir DIR` (or RECERT_DATA_DIRS)".to_owned(),
        }
    }
}

/// A refused setting and the field it is in (a JSON pointer into the document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub pointer: &'static str,
    pub refusal: Refusal,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` refused: {}",
            crate::diag::field_path(self.pointer),
            self.refusal
        )
    }
}

/// Refuses to open a Directory that validation refused, whatever else the pass does with the
/// manifests' findings: no credential leaves and no file outside is read.
pub fn check_open(loaded: &Loaded, doc: &LoadedDoc, spec: &DirectorySpec) -> Result<(), Finding> {
    match directory(spec, loaded.path_of(doc), &loaded.roots, &loaded.trust)
        .into_iter()
        .next()
    {
        Some(finding) => Err(finding),
        None => Ok(()),
    }
}

/// Every refused setting of a Directory. `manifest` is the file it was read from, `roots` the
/// manifests tree as [`manifest_roots`] gives it.
pub fn directory(
    spec: &DirectorySpec,
    manifest: &Path,
    roots: &[PathBuf],
    trust: &Trust,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |pointer, result: Result<(), Refusal>| {
        if let Err(refusal) = result {
            out.push(Finding { pointer, refusal });
        }
    };
    match spec.kind {
        DirectoryType::Graph => {
            if let Some(graph) = &spec.graph {
                push(
                    "/spec/graph/authorityUrl",
                    authority(&authority_of(graph), trust),
                );
                if let Some(base) = &graph.base_url {
                    push("/spec/graph/baseUrl", endpoint(base));
                }
            }
        }
        DirectoryType::Scim => {
            if let Some(scim) = &spec.scim {
                push("/spec/scim/baseUrl", endpoint(&scim.base_url));
            }
        }
        DirectoryType::File => {
            if let Some(file) = &spec.file {
                push(
                    "/spec/file/path",
                    data_path(manifest, &file.path, roots, trust).map(drop),
                );
            }
        }
    }
    out
}

/// The authority a Graph directory asks for tokens, the default when none is written.
fn authority_of(graph: &GraphSettings) -> String {
    graph
        .authority_url
        .clone()
        .unwrap_or_else(|| crate::directory::graph::DEFAULT_AUTHORITY.to_owned())
}

/// An endpoint credentials are sent to: https, or http to loopback.
pub fn endpoint(url: &str) -> Result<(), Refusal> {
    let parsed = parse(url)?;
    if parsed.scheme() == "http" && !is_loopback(&parsed) {
        return Err(Refusal::PlainHttp {
            url: url.to_owned(),
            host: parsed.host_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(())
}

/// A token authority: an [`endpoint`] on an Entra ID authority, a host the operator trusts,
/// or loopback (a test server).
pub fn authority(url: &str, trust: &Trust) -> Result<(), Refusal> {
    endpoint(url)?;
    let parsed = parse(url)?;
    let host = parsed.host_str().unwrap_or_default();
    let known = |h: &str| h.eq_ignore_ascii_case(host.trim_end_matches('.'));
    if is_loopback(&parsed)
        || ENTRA_AUTHORITIES.iter().any(|h| known(h))
        || trust.authorities.iter().any(|h| known(h.trim()))
    {
        Ok(())
    } else {
        Err(Refusal::UnknownAuthority {
            host: host.to_owned(),
        })
    }
}

fn parse(url: &str) -> Result<reqwest::Url, Refusal> {
    reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| Refusal::NotAUrl {
            url: url.to_owned(),
        })
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
    }
}

/// The folders that make up the manifests tree of a load of `paths`: each folder given, and
/// the folder of each file given, resolved.
pub fn manifest_roots(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .map(|p| {
            if p.is_dir() {
                resolve(p)
            } else {
                resolve(
                    p.parent()
                        .filter(|d| !d.as_os_str().is_empty())
                        .unwrap_or(Path::new(".")),
                )
            }
        })
        .collect()
}

/// Where a file directory's data file is, if it may be used: inside one of `roots` or of the
/// trusted data directories, links resolved (a link in the tree to a file outside it is
/// outside).
pub fn data_path(
    manifest: &Path,
    written: &str,
    roots: &[PathBuf],
    trust: &Trust,
) -> Result<PathBuf, Refusal> {
    let target = resolve_relative(manifest, written);
    let resolved = resolve(&target);
    let allowed = roots
        .iter()
        .cloned()
        .chain(trust.data_dirs.iter().map(|d| resolve(d)))
        .any(|dir| resolved.starts_with(&dir));
    if allowed {
        Ok(target)
    } else {
        Err(Refusal::OutsideTree {
            written: written.to_owned(),
            resolved,
        })
    }
}

/// `path` absolute, with links resolved as far as it exists and `..` taken lexically beyond.
fn resolve(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut lexical = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                lexical.pop();
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    // The part that exists may hold links: resolve it, and add what does not exist yet.
    let mut existing = lexical.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(name) => {
                rest.push(name.to_owned());
                existing.pop();
            }
            None => break,
        }
    }
    let mut out = std::fs::canonicalize(&existing).unwrap_or(existing);
    out.extend(rest.iter().rev());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        for ok in [
            "https://graph.microsoft.com/v1.0",
            "http://127.0.0.1:8080/v1.0",
            "http://127.3.4.5/",
            "http://[::1]:9000/scim",
            "http://localhost/scim/v2",
        ] {
            assert_eq!(endpoint(ok), Ok(()), "{ok}");
        }
        for refused in [
            "http://scim.example.com/v2",
            "http://10.0.0.1/",
            "http://[::2]/",
            "http://localhost.example.com/",
        ] {
            assert!(
                matches!(endpoint(refused), Err(Refusal::PlainHttp { .. })),
                "{refused}"
            );
        }
        assert!(matches!(
            endpoint("not a url"),
            Err(Refusal::NotAUrl { .. })
        ));
    }

    #[test]
    fn only_entra_authorities_unless_the_operator_trusts_another() {
        let none = Trust::default();
        for ok in [
            "https://login.microsoftonline.com",
            "https://LOGIN.microsoftonline.us/",
            "https://login.partner.microsoftonline.cn",
            "http://127.0.0.1:4000",
        ] {
            assert_eq!(authority(ok, &none), Ok(()), "{ok}");
        }
        let refused = authority("https://login.evil.example", &none);
        assert!(
            matches!(&refused, Err(Refusal::UnknownAuthority { host }) if host == "login.evil.example"),
            "{refused:?}"
        );
        let trusted = Trust {
            authorities: vec!["login.evil.example".to_owned()],
            ..Trust::default()
        };
        assert_eq!(authority("https://login.evil.example", &trusted), Ok(()));
        // Trust in a host does not make plain http to it acceptable.
        assert!(matches!(
            authority("http://login.evil.example", &trusted),
            Err(Refusal::PlainHttp { .. })
        ));
    }

    #[test]
    fn a_data_path_stays_in_the_tree_or_an_allowed_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tree = dir.path().join("m");
        std::fs::create_dir_all(tree.join("sub")).expect("tree");
        std::fs::create_dir_all(dir.path().join("data")).expect("data");
        let manifest = tree.join("sub/directory.yaml");
        let roots = manifest_roots(std::slice::from_ref(&tree));
        let none = Trust::default();
        assert!(data_path(&manifest, "data.yaml", &roots, &none).is_ok());
        assert!(data_path(&manifest, "../data.yaml", &roots, &none).is_ok());
        for outside in [
            "../../data/d.yaml",
            "../../../../../etc/passwd",
            "/etc/passwd",
        ] {
            assert!(
                matches!(
                    data_path(&manifest, outside, &roots, &none),
                    Err(Refusal::OutsideTree { .. })
                ),
                "{outside}"
            );
        }
        let trusted = Trust {
            data_dirs: vec![dir.path().join("data")],
            ..Trust::default()
        };
        assert!(data_path(&manifest, "../../data/d.yaml", &roots, &trusted).is_ok());
        assert!(data_path(&manifest, "/etc/passwd", &roots, &trusted).is_err());
    }

    #[test]
    fn a_link_out_of_the_tree_is_outside() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tree = dir.path().join("m");
        std::fs::create_dir_all(&tree).expect("tree");
        std::fs::write(dir.path().join("secret.yaml"), "x").expect("file");
        std::os::unix::fs::symlink(dir.path().join("secret.yaml"), tree.join("link.yaml"))
            .expect("link");
        let roots = manifest_roots(std::slice::from_ref(&tree));
        assert!(data_path(&tree.join("d.yaml"), "link.yaml", &roots, &Trust::default()).is_err());
    }
}
