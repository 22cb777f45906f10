//! `recert run`: the daemon's flags, logging set-up and runtime.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::context::Context;
use crate::daemon::{self, watch};

use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifests: a folder, or a path through git-sync's link (its target's name is
    /// recorded as the revision).
    #[arg(env = "RECERT_PATH", value_name = "PATH")]
    pub path: PathBuf,
    /// Where status, results, audit trail and state are kept; outside the watched tree.
    #[arg(long, env = "RECERT_STATE_DIR", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Serve /healthz, /readyz and /metrics on this address (e.g. 0.0.0.0:9090).
    #[arg(long, env = "RECERT_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Serve the reviewer page on this address (e.g. 0.0.0.0:8080): the `ReviewerPortal`
    /// among the manifests says how people sign in.
    #[arg(long, env = "RECERT_WEB_LISTEN", value_name = "ADDR")]
    pub web_listen: Option<SocketAddr>,
    /// The time an HTTP client has to send its request headers (and the longest a kept-alive
    /// connection may idle) before it is closed.
    #[arg(long, env = "RECERT_HTTP_HEADER_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub http_header_timeout: Duration,
    /// The most HTTP connections open at once; more are closed as soon as accepted.
    #[arg(long, env = "RECERT_HTTP_MAX_CONNECTIONS", value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    pub http_max_connections: u16,
    /// A full reconcile of every review at least this often.
    #[arg(long, env = "RECERT_RESYNC", value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub resync: Duration,
    /// Quiet time after a file event before reconciling.
    #[arg(long, env = "RECERT_DEBOUNCE", value_name = "DURATION", default_value = "50ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// The longest wait after the first file event of a burst: files that keep changing
    /// still get a pass this often.
    #[arg(long, env = "RECERT_DEBOUNCE_MAX_WAIT", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub debounce_max_wait: Duration,
    /// How to notice changes: file events with a polling fallback, or polling only.
    #[arg(long, env = "RECERT_WATCH", value_enum, default_value = "auto")]
    pub watch: watch::Mode,
    /// How often to poll when polling.
    #[arg(long, env = "RECERT_POLL_INTERVAL", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// How long a stop may take to finish the work in flight.
    #[arg(long, env = "RECERT_SHUTDOWN_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// The longest wait before retrying a failing review.
    #[arg(long, env = "RECERT_MAX_BACKOFF", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub max_backoff: Duration,
    /// Sign a checkpoint of every audit chain's head with this Ed25519 key (PEM, outside the
    /// state directory) after each pass that moved one.
    #[arg(long, env = "RECERT_SIGNING_KEY_FILE", value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Log lines as human-readable text or as JSON objects.
    #[arg(long, env = "RECERT_LOG_FORMAT", value_enum, default_value = "human")]
    pub log_format: LogFormat,
    /// Which log lines to write (a tracing filter: `info`, `debug`, `recert=debug`).
    #[arg(
        long,
        env = "RECERT_LOG",
        value_name = "FILTER",
        default_value = "info"
    )]
    pub log: String,
    #[command(flatten)]
    pub trust: super::trust::TrustArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration = s
        .parse()
        .map_err(|e| format!("not a duration (try `30s`, `5m`, `1h`): {e}"))?;
    Duration::try_from(d).map_err(|_| "a duration must not be negative".to_owned())
}

pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    init_logging(args)?;
    // Read now, so that a missing key, or one inside the state directory, stops the start.
    let signing_key = super::audit::signing_key(args.signing_key.as_deref(), &args.state_dir)?;
    let config = daemon::Config {
        path: args.path.clone(),
        state_dir: args.state_dir.clone(),
        listen: args.listen,
        web_listen: args.web_listen,
        http_limits: daemon::server::Limits {
            header_timeout: args.http_header_timeout.max(Duration::from_millis(10)),
            max_connections: usize::from(args.http_max_connections),
        },
        resync: args.resync.max(Duration::from_secs(1)),
        debounce: args.debounce,
        debounce_max_wait: args.debounce_max_wait,
        watch: args.watch,
        poll_interval: args.poll_interval.max(Duration::from_millis(100)),
        shutdown_timeout: args.shutdown_timeout,
        max_backoff: args.max_backoff.max(Duration::from_secs(1)),
        signing_key: signing_key.map(std::sync::Arc::new),
        load: crate::load::Options::trusting(args.trust.trust()),
    };
    raise_open_file_limit();
    // Two workers: the control loop's pass never stalls the probes.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let ctx = Context::system();
    let result = runtime.block_on(async {
        listen_for_signals(&ctx)?;
        daemon::run(config, ctx.clone())
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => Ok(Outcome::Clean),
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            super::err(&format!("error: {e}\n"))?;
            Ok(Outcome::Error)
        }
    }
}

/// SIGTERM and SIGINT: the first cancels the context (the pass stops at its next safe point
/// and the daemon exits within its shutdown timeout); a second exits at once.
fn listen_for_signals(ctx: &Context) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let cancel = ctx.cancel.clone();
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            tokio::select! {
                Some(()) = term.recv() => {}
                Some(()) = int.recv() => {}
                else => return,
            }
            seen += 1;
            if seen >= 2 {
                tracing::warn!("second signal: exiting at once");
                std::process::exit(130);
            }
            cancel.cancel();
        }
    });
    Ok(())
}

/// Raises the soft limit on open files to the hard one, so that the work has room beside the
/// HTTP connections (the soft limit is often 1024, the hard one far more). Failing to is no
/// reason not to start.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // No hard limit: Linux still refuses more than `fs.nr_open`, by default 2^20.
    let target = limit.maximum.unwrap_or(1 << 20);
    if limit.current.is_some_and(|current| current < target) {
        let raised = rustix::process::Rlimit {
            current: Some(target),
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "cannot raise the limit on open files");
        }
    }
}

fn init_logging(args: &Args) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .map_err(|e| anyhow::anyhow!("--log `{}`: {e}", args.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let result = match args.log_format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
