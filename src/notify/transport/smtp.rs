//! E-mail through one SMTP server: the message built with lettre (multipart text and HTML,
//! encoded words for non-ASCII names and subjects), sent over a small pool of open connections.
//!
//! The pool is ours, over lettre's public connection type, rather than lettre's own
//! `AsyncSmtpTransport` pool: that one caps only the connections it keeps idle, not those open
//! at once (each concurrent send opens another, and a connection is handed back on a spawned
//! task, so the next send may not find it), and it cannot say how many it opened. Here at most
//! `maxConnections` are open, each is reused as soon as its message is sent, and each one
//! opened is counted. The sockets are ours too, to turn Nagle's algorithm off (see
//! `connect`).

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::{Response, Severity};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::sync::Semaphore;

use super::{Delivery, read_secret};
use crate::model::notifier::{SmtpSettings, SmtpTls};
use crate::notify::config;
use crate::notify::message::Message;
use crate::notify::render;

const DEFAULT_MAX_CONNECTIONS: u32 = 4;

/// Opening the connection, and the TLS handshake of implicit TLS.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// For STARTTLS.
    tls_parameters: Option<TlsParameters>,
    /// For implicit TLS: the connector and the name the certificate must carry.
    implicit: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
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
        let (tls_parameters, implicit) = match settings.tls {
            SmtpTls::None => (None, None),
            SmtpTls::Starttls => (Some(tls_parameters(settings, base)?), None),
            SmtpTls::Implicit => (None, Some(implicit_tls(settings, base)?)),
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
            implicit,
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
            if let Some(conn) = self.reuse().await {
                match self.transact(conn, &envelope, &bytes).await {
                    // `421`: the server closed the session without taking the message (servers
                    // that cap messages per session answer so), so a fresh session may.
                    Err(e) if e.status().is_some_and(|code| code.to_string() == "421") => {}
                    done => return done.map_err(Failure::Smtp),
                }
            }
            let conn = self.connect().await?;
            self.transact(conn, &envelope, &bytes)
                .await
                .map_err(Failure::Smtp)
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

    /// Sends one message on `conn`, and parks it again if it is still sound.
    async fn transact(
        &self,
        mut conn: AsyncSmtpConnection,
        envelope: &lettre::address::Envelope,
        bytes: &[u8],
    ) -> Result<Response, lettre::transport::smtp::Error> {
        match conn.send(envelope, bytes).await {
            Ok(response) => {
                self.park(conn);
                Ok(response)
            }
            Err(e) => {
                // Closes it unless lettre already has (an SMTP error breaks it).
                conn.abort().await;
                Err(e)
            }
        }
    }

    /// Closes every idle connection with QUIT; sends after this are told the transport is
    /// shutting down.
    pub(super) async fn shutdown(&self) {
        self.slots.close();
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
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| Failure::Connect(std::io::ErrorKind::TimedOut.into()))?
        .map_err(Failure::Connect)?;
        // lettre writes a message's end (`.`) apart from its body: with Nagle's algorithm on,
        // that last segment waits for the server's delayed ACK, some 40 ms per message. Its
        // own connect leaves Nagle on, hence our socket, and our TLS for `implicit`.
        tcp.set_nodelay(true).map_err(Failure::Connect)?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        let mut conn = match &self.implicit {
            None => AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?,
            Some((connector, name)) => {
                let tls =
                    tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name.clone(), tcp))
                        .await
                        .map_err(|_| Failure::Connect(std::io::ErrorKind::TimedOut.into()))?
                        .map_err(Failure::Connect)?;
                AsyncSmtpConnection::connect_with_transport(Box::new(ImplicitTls(tls)), &self.hello)
                    .await?
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
            Failure::Connect(e) => {
                return Delivery::temporary(format!(
                    "cannot connect to {}:{}: {e}",
                    self.host, self.port
                ));
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

/// Why a send failed: lettre's error, the connection ours, or the server's missing STARTTLS
/// (which lettre only reports in words).
#[derive(Debug)]
enum Failure {
    Smtp(lettre::transport::smtp::Error),
    Connect(std::io::Error),
    /// Without STARTTLS the password and the mail would go in clear text.
    NoStarttls,
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
    let mut builder = TlsParameters::builder(bare_host(&settings.host).to_owned());
    if let Some(pem) = ca_file(settings, base)? {
        let certificate = Certificate::from_pem(&pem)
            .map_err(|e| Delivery::permanent(format!("`caFile`: no PEM certificate: {e}")))?;
        builder = builder
            .certificate_store(CertificateStore::None)
            .add_root_certificate(certificate);
    }
    builder
        .build()
        .map_err(|e| Delivery::permanent(format!("cannot set up TLS for `{}`: {e}", settings.host)))
}

/// The same trust as [`tls_parameters`], for TLS from the first byte.
fn implicit_tls(
    settings: &SmtpSettings,
    base: &Path,
) -> Result<(tokio_rustls::TlsConnector, ServerName<'static>), Delivery> {
    let refuse = |e: &dyn std::fmt::Display| {
        Delivery::permanent(format!("cannot set up TLS for `{}`: {e}", settings.host))
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| refuse(&e))?;
    let config = match ca_file(settings, base)? {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(&pem) {
                let certificate = certificate.map_err(|e| {
                    Delivery::permanent(format!("`caFile`: no PEM certificate: {e}"))
                })?;
                roots.add(certificate).map_err(|e| refuse(&e))?;
            }
            builder.with_root_certificates(roots)
        }
        None => {
            let verifier =
                rustls_platform_verifier::Verifier::new(provider).map_err(|e| refuse(&e))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        }
    }
    .with_no_client_auth();
    let name =
        ServerName::try_from(bare_host(&settings.host).to_owned()).map_err(|e| refuse(&e))?;
    Ok((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
}

/// The PEM of `caFile`, if set.
fn ca_file(settings: &SmtpSettings, base: &Path) -> Result<Option<Vec<u8>>, Delivery> {
    let Some(file) = &settings.ca_file else {
        return Ok(None);
    };
    // Only ring is compiled in; lettre uses the process's provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let path = base.join(file);
    std::fs::read(&path)
        .map(Some)
        .map_err(|e| Delivery::permanent(format!("cannot read `caFile` {}: {e}", path.display())))
}

/// A TLS stream as lettre takes a connection it did not open.
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
