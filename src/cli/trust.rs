//! `--data-dir` and `--allow-authority`: what the operator trusts beyond the built-in rules of
//! [`crate::load::policy`]. They are flags and environment variables, never manifest fields,
//! because the manifests are what those rules guard against.

use std::path::PathBuf;

use crate::load::policy::Trust;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrustArgs {
    /// A folder a `type: file` Directory's data file may be in besides the manifests (the
    /// daemon keeps it outside the watched tree). Repeat for more; the environment variable
    /// takes a `:`-separated list.
    #[arg(
        long = "data-dir",
        env = "RECERT_DATA_DIRS",
        value_name = "DIR",
        value_delimiter = ':'
    )]
    pub data_dirs: Vec<PathBuf>,
    /// A host a Graph Directory's `authorityUrl` may name besides Microsoft Entra ID's
    /// authorities (login.microsoftonline.com, .us, login.partner.microsoftonline.cn,
    /// login.chinacloudapi.cn). Repeat for more; the environment variable takes a `,`-separated
    /// list.
    #[arg(
        long = "allow-authority",
        env = "RECERT_ALLOW_AUTHORITIES",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub authorities: Vec<String>,
}

impl TrustArgs {
    /// The trust these flags give.
    pub fn trust(&self) -> Trust {
        Trust {
            data_dirs: self
                .data_dirs
                .iter()
                .filter(|d| !d.as_os_str().is_empty())
                .cloned()
                .collect(),
            authorities: self
                .authorities
                .iter()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }
}
