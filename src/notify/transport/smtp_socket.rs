//! The SMTP server's socket: opened here with Nagle's algorithm off, then handed to lettre
//! (with lettre's TLS started on it first for `tls: implicit`).

use std::pin::Pin;
use std::task::{Context, Poll};

use lettre::transport::smtp::client::{AsyncTokioStream, TlsParameters};

use super::smtp::COMMAND_TIMEOUT;

/// lettre's TLS from the first byte (`tls: implicit`) over a socket opened by [`tcp`], so that
/// it too has Nagle's algorithm off: lettre's own connector opens a socket it gives no access
/// to. Handed to lettre as the "plain" stream it then speaks SMTP over.
#[derive(Debug)]
#[allow(
    deprecated,
    reason = "lettre 0.11's only way to start TLS on a socket it did not open; still public"
)]
pub(super) struct TlsFromTheStart(lettre::transport::smtp::client::AsyncNetworkStream);

#[allow(deprecated, reason = "see `TlsFromTheStart`")]
impl TlsFromTheStart {
    pub(super) async fn over(
        stream: tokio::net::TcpStream,
        parameters: TlsParameters,
    ) -> Result<TlsFromTheStart, lettre::transport::smtp::Error> {
        let mut stream = lettre::transport::smtp::client::AsyncNetworkStream::use_existing_tokio1(
            Box::new(stream),
        );
        stream.upgrade_tls(parameters).await?;
        Ok(TlsFromTheStart(stream))
    }
}

// lettre's stream speaks the `futures` I/O traits; its connection takes tokio's.
impl tokio::io::AsyncRead for TlsFromTheStart {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        match futures_io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, unfilled) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncWrite for TlsFromTheStart {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        futures_io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        futures_io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        futures_io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

impl AsyncTokioStream for TlsFromTheStart {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.peer_addr()
    }
}

/// A TCP connection to the server with Nagle's algorithm off. lettre writes a message and the
/// `.` line that ends it in two writes; with Nagle on, the second (5 bytes) waits for the
/// server to acknowledge the first, and the server delays that acknowledgement (40 ms or
/// more on Linux) because it has nothing to answer before the `.`: every message on the
/// connection waited that long (46 e-mails a second over 4 connections where one `smtplib`
/// connection sent 117; benches/notify.rs). Every mode connects through here.
pub(super) async fn tcp(host: &str, port: u16) -> std::io::Result<tokio::net::TcpStream> {
    let stream = tokio::time::timeout(
        COMMAND_TIMEOUT,
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_are_opened_with_nagle_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback listener");
        let port = listener.local_addr().expect("its address").port();
        let stream = tcp("127.0.0.1", port).await.expect("a connection");
        assert!(stream.nodelay().expect("the socket option"));
    }
}
