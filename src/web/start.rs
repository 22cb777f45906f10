//! Starting the page from the manifests: the one `ReviewerPortal` among them, its secrets, and
//! the directory it names, opened once and kept. A change to the portal document takes effect
//! at the next start.

use std::net::SocketAddr;
use std::path::Path;

use crate::daemon::server::{Limits, ListenError};
use crate::diag::Severity;
use crate::load::{self, Loaded, SchemaSet};
use crate::model::Resource;

use super::config::{ConfigError, Settings};
use super::oidc::ProviderError;
use super::{DirectoryPrincipals, Portal};

/// Why the page cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("--web-listen needs a ReviewerPortal among the manifests{0}")]
    NoPortal(String),
    #[error("--web-listen serves one ReviewerPortal; the manifests hold {0}: {1}")]
    SeveralPortals(usize, String),
    #[error("ReviewerPortal `{name}` ({path}): {message}")]
    Invalid {
        name: String,
        path: String,
        message: String,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("ReviewerPortal `{name}`: directory `{directory}`: {message}")]
    Directory {
        name: String,
        directory: String,
        message: String,
    },
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Listen(#[from] ListenError),
}

/// Loads the manifests under `root`, finds the portal and serves it on `addr`.
pub async fn start(
    addr: SocketAddr,
    root: &Path,
    state_dir: &Path,
    options: &load::Options,
    limits: Limits,
    sink: Option<super::decide::Sink>,
) -> Result<SocketAddr, StartError> {
    let load = || load::load(&[root.to_owned()], options, &SchemaSet::new());
    // Loading is CPU work; on the binary's workers it must not stall the probes' listener.
    let loaded = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(load),
        _ => load(),
    };
    let portals: Vec<_> = loaded
        .docs
        .iter()
        .filter_map(|doc| match &doc.resource {
            Resource::ReviewerPortal(p) => Some((doc, p)),
            _ => None,
        })
        .collect();
    let (doc, portal) = match portals.as_slice() {
        [] => {
            let hint = if loaded.has_errors() {
                " (the manifests have errors; `recert validate` shows them)"
            } else {
                ""
            };
            return Err(StartError::NoPortal(hint.to_owned()));
        }
        [one] => *one,
        many => {
            let names: Vec<_> = many.iter().map(|(_, p)| p.metadata.name.as_str()).collect();
            return Err(StartError::SeveralPortals(many.len(), names.join(", ")));
        }
    };
    let name = portal.metadata.name.clone();
    let path = loaded.path_of(doc).to_owned();
    refuse_findings(&loaded, &path, &name)?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let settings = Settings::resolve(&name, &portal.spec, base)?;
    let directory =
        crate::directory::registry::open_one(&loaded, &settings.directory).map_err(|e| {
            StartError::Directory {
                name: name.clone(),
                directory: settings.directory.clone(),
                message: e.to_string(),
            }
        })?;
    let mut portal = Portal::new(
        settings,
        DirectoryPrincipals::new(directory),
        state_dir.to_owned(),
    )?;
    portal.sink = sink;
    Ok(super::serve(addr, portal, limits).await?)
}

/// The first error `validate` reports in the portal's file.
fn refuse_findings(loaded: &Loaded, path: &Path, name: &str) -> Result<(), StartError> {
    match loaded
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error && d.file == path)
    {
        Some(d) => Err(StartError::Invalid {
            name: name.to_owned(),
            path: path.display().to_string(),
            message: format!(
                "{}{}",
                d.field
                    .as_deref()
                    .map(|f| format!("{f}: "))
                    .unwrap_or_default(),
                d.message
            ),
        }),
        None => Ok(()),
    }
}
