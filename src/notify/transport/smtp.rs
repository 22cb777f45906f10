//! E-mail through one SMTP server: the message built with lettre (multipart text and HTML,
//! encoded words for non-ASCII names and subjects), sent over a small pool of open connections.
//!
//! The pool is ours, over lettre's public connection type, rather than lettre's own
//! `AsyncSmtpTransport` pool: that one caps only the connections it keeps idle, not those open
//! at once (each concurrent send opens another, and a connection is handed back on a spawned
//! task, so the next send may not find it), and it cannot say how many it opened. Here at most
//! `maxConnections` are open, each is reused as soon as its message is sent, and each one
//! opened is counted.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::{Response, Severity};
use tokio::sync::Semaphore;

use super::smtp_socket as socket;
use super::{Delivery, read_secret};
use crate::model::notifier::{SmtpSettings, SmtpTls};
use crate::notify::config;
use crate::notify::message::Message;
use crate::notify::render;

const DEFAULT_MAX_CONNECTIONS: u32 = 4;

/// Each SMTP command and the connection itself (lettre's per-operation timeout).
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A whole send (connect, TLS, AUTH, envelope, data) may not take longer than this: a server
/// that trickles its answers must not hold a connection slot forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(300);

/// A connection idle for longer is checked with NOOP before it is reused (servers drop idle
/// clients after a few minutes); one used just now is not, which keeps a burst at one round
/// trip per message fewer.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(5);

/// A connection idle for longer is closed rather than reused.
const MAX_IDLE: Duration = Duration::from_secs(60);

pub(super) struct Smtp {
    host: String,
    port: u16,
    tls: SmtpTls,
    tls_parameters: Option<TlsParameters>,
    credentials: Option<Credentials>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    hello: ClientId,
    /// One permit per connection that may be open.
    slots: Semaphore,
    idle: std::sync::Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    opened: Arc<AtomicU64>,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("authenticates", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl Smtp {
    pub(super) fn new(
        settings: &SmtpSettings,
        base: &Path,
        opened: Arc<AtomicU64>,
    ) -> Result<Smtp, Delivery> {
        if settings.tls == SmtpTls::None && !config::is_loopback_host(&settings.host) {
            return Err(Delivery::permanent(format!(
                "`tls: none` sends mail (and any password) in clear text to `{}`: allowed only to a loopback host",
                settings.host
            )));
        }
        let port = settings.port.unwrap_or(match settings.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        });
        let tls_parameters = match settings.tls {
            SmtpTls::None => None,
            SmtpTls::Starttls | SmtpTls::Implicit => Some(tls_parameters(settings, base)?),
        };
        let credentials = match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                let password = read_secret("SMTP password", password, base)?;
                Some(Credentials::new(user.clone(), password.expose().to_owned()))
            }
            _ => None,
        };
        let from = settings.from.parse::<Mailbox>().map_err(|e| {
            Delivery::permanent(format!(
                "`from`: `{}` is not an e-mail address: {e}",
                settings.from
            ))
        })?;
        let reply_to = match &settings.reply_to {
            Some(text) => Some(text.parse::<Mailbox>().map_err(|e| {
                Delivery::permanent(format!("`replyTo`: `{text}` is not an e-mail address: {e}"))
            })?),
            None => None,
        };
        let max = settings
            .max_connections
            .unwrap_or(DEFAULT_MAX_CONNECTIONS)
            .max(1);
        Ok(Smtp {
            host: bare_host(&settings.host).to_owned(),
            port,
            tls: settings.tls,
            tls_parameters,
            credentials,
            from,
            reply_to,
            hello: ClientId::default(),
            slots: Semaphore::new(max as usize),
            idle: std::sync::Mutex::new(Vec::new()),
            opened,
        })
    }

    pub(super) async fn send(&self, msg: &Message) -> Delivery {
        let Some(address) = &msg.to.address else {
            return Delivery::permanent("no e-mail address");
        };
        let email = match self.email(msg, address) {
            Ok(email) => email,
            Err(refusal) => return refusal,
        };
        let envelope = email.envelope().clone();
        let bytes = email.formatted();
        let Ok(_slot) = self.slots.acquire().await else {
            return Delivery::temporary("the SMTP transport is shutting down");
        };
        let attempt = async {
            let mut conn = match self.reuse().await {
                Some(conn) => conn,
                None => self.connect().await?,
            };
            match conn.send(&envelope, &bytes).await {
                Ok(response) => {
                    self.park(conn);
                    Ok(response)
                }
                Err(e) => {
                    // Closes it unless lettre already has (an SMTP error breaks it).
                    conn.abort().await;
                    Err(Failure::Smtp(e))
                }
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, attempt).await {
            Ok(Ok(response)) => Delivery::Delivered {
                answer: reply(&response),
            },
            Ok(Err(e)) => self.classify(&e),
            Err(_) => Delivery::temporary(format!(
                "{}:{} did not finish the exchange within {} s",
                self.host,
                self.port,
                SEND_TIMEOUT.as_secs()
            )),
        }
    }

    /// Closes every idle connection with QUIT.
    pub(super) async fn shutdown(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for (mut conn, _) in idle {
            let _ = conn.quit().await;
        }
    }

    fn email(&self, msg: &Message, address: &str) -> Result<lettre::Message, Delivery> {
        let address = address.parse::<lettre::Address>().map_err(|e| {
            Delivery::permanent(format!("`{address}` is not an e-mail address: {e}"))
        })?;
        let content = render::email(msg);
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(msg.to.name.clone(), address))
            .subject(content.subject)
            .message_id(Some(format!("<{}@recert>", msg.id)))
            .header(AutoSubmitted);
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                content.text,
                content.html,
            ))
            .map_err(|e| Delivery::permanent(format!("cannot build the e-mail: {e}")))
    }

    /// An idle connection, checked if it has waited long enough for the server to drop it.
    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut conn, since) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            let idle = since.elapsed();
            if idle > MAX_IDLE {
                conn.abort().await;
                continue;
            }
            if idle > CHECK_AFTER_IDLE && !conn.test_connected().await {
                conn.abort().await;
                continue;
            }
            return Some(conn);
        }
    }

    fn park(&self, conn: AsyncSmtpConnection) {
        if !conn.has_broken() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((conn, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let mut conn = match self.tls {
            SmtpTls::Implicit => {
                let stream = socket::tcp(&self.host, self.port)
                    .await
                    .map_err(Failure::Connect)?;
                self.opened.fetch_add(1, Ordering::Relaxed);
                let Some(parameters) = &self.tls_parameters else {
                    return Err(Failure::NoTlsParameters);
                };
                let stream = socket::TlsFromTheStart::over(stream, parameters.clone()).await?;
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?
            }
            SmtpTls::Starttls | SmtpTls::None => {
                let stream = socket::tcp(&self.host, self.port)
                    .await
                    .map_err(Failure::Connect)?;
                self.opened.fetch_add(1, Ordering::Relaxed);
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?
            }
        };
        if self.tls == SmtpTls::Starttls
            && let Some(parameters) = &self.tls_parameters
        {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(Failure::NoStarttls);
            }
            if let Err(e) = conn.starttls(parameters.clone(), &self.hello).await {
                conn.abort().await;
                return Err(e.into());
            }
        }
        if let Some(credentials) = &self.credentials
            && let Err(e) = conn
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
        {
            conn.abort().await;
            return Err(e.into());
        }
        Ok(conn)
    }

    fn classify(&self, failure: &Failure) -> Delivery {
        let e = match failure {
            Failure::Smtp(e) => e,
            // As lettre words its own connection errors.
            Failure::Connect(e) => {
                return Delivery::temporary(format!(
                    "{}:{}: Connection error: {e}",
                    self.host, self.port
                ));
            }
            Failure::NoTlsParameters => {
                return Delivery::permanent("`tls: implicit` without TLS settings");
            }
            // Temporary: a server that stops offering STARTTLS (or an attacker stripping it
            // from its answer) may offer it again.
            Failure::NoStarttls => {
                return Delivery::temporary(format!(
                    "{}:{} does not offer STARTTLS (`tls: starttls`)",
                    self.host, self.port
                ));
            }
        };
        if let Some(code) = e.status() {
            // lettre keeps the server's words as the error's source.
            let words = std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_default();
            let answer = format!("{code} {words}").trim_end().to_owned();
            return match code.severity {
                Severity::TransientNegativeCompletion => Delivery::temporary(answer),
                _ => Delivery::permanent(answer),
            };
        }
        let answer = format!("{}:{}: {e}", self.host, self.port);
        if e.is_client() {
            // What lettre refuses before sending (no AUTH mechanism in common, an address the
            // server cannot take) would be refused again.
            Delivery::permanent(answer)
        } else {
            // Refused or dropped connections, timeouts, TLS handshakes, garbled replies.
            Delivery::temporary(answer)
        }
    }
}

/// Why a send failed: lettre's error, the server's missing STARTTLS (which lettre only
/// reports in words), or the TCP connection, which is opened here (`smtp_socket`).
#[derive(Debug)]
enum Failure {
    Smtp(lettre::transport::smtp::Error),
    /// Without STARTTLS the password and the mail would go in clear text.
    NoStarttls,
    /// The TCP connection (refused, unreachable, timed out).
    Connect(std::io::Error),
    /// Cannot happen: `Smtp::new` builds TLS settings for `tls: implicit`.
    NoTlsParameters,
}

impl From<lettre::transport::smtp::Error> for Failure {
    fn from(e: lettre::transport::smtp::Error) -> Failure {
        Failure::Smtp(e)
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): out-of-office replies and other automatic
/// answers must not be sent back to it.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// An IPv6 address without the brackets a URL would put around it (`[::1]`), as sockets and
/// certificate names take it.
fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The server's reply as one line: `250 2.0.0 Ok: queued as …`.
fn reply(response: &Response) -> String {
    let words: Vec<&str> = response.message().collect();
    format!("{} {}", response.code(), words.join(" "))
        .trim_end()
        .to_owned()
}

/// TLS settings: the server's name checked against its certificate, and the roots to trust:
/// the system's, or only those of `caFile`.
fn tls_parameters(settings: &SmtpSettings, base: &Path) -> Result<TlsParameters, Delivery> {
    // Only ring is compiled in; lettre uses the process's provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = TlsParameters::builder(bare_host(&settings.host).to_owned());
    if let Some(file) = &settings.ca_file {
        let path = base.join(file);
        let pem = std::fs::read(&path).map_err(|e| {
            Delivery::permanent(format!("cannot read `caFile` {}: {e}", path.display()))
        })?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| {
            Delivery::permanent(format!(
                "`caFile` {}: no PEM certificate: {e}",
                path.display()
            ))
        })?;
        builder = builder
            .certificate_store(CertificateStore::None)
            .add_root_certificate(certificate);
    }
    builder
        .build()
        .map_err(|e| Delivery::permanent(format!("cannot set up TLS for `{}`: {e}", settings.host)))
}
