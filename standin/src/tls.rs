//! HTTPS beside plain HTTP on the stand-in's one port (`cfn-standin serve --tls`).
//!
//! Why: a deployed function only ever speaks TLS to EKS and S3, and some clients
//! cannot speak anything else. crhelper, the Python helper most custom resources
//! are written with, PUTs its response over HTTPS whatever the ResponseURL's
//! scheme, so it cannot answer a plain-HTTP stand-in at all.
//!
//! How: a connection's first byte says what it is. A TLS connection opens with a
//! handshake record (content type 22); an HTTP request opens with its method's
//! first letter. So every route is served both ways on the same port, and the
//! Lambda Runtime API stays plain HTTP, as Lambda's own is.
//!
//! The certificate is the repository's self-signed test certificate for
//! `localhost` and `127.0.0.1` (`tests/fixtures`), which a client trusts through
//! [`CERTIFICATE_FILE`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;
use tokio_rustls::{Accept, TlsAcceptor};

use crate::conn::KillableStream;

/// The PEM file of the certificate the stand-in serves HTTPS with, for a
/// client's trust store (`SSL_CERT_FILE`, `AWS_CA_BUNDLE`). It is the file the
/// certificate is compiled in from, so it exists wherever this was built.
pub const CERTIFICATE_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/localhost.crt"
);

const CERTIFICATE_PEM: &[u8] = include_bytes!("../../tests/fixtures/localhost.crt");
const KEY_PEM: &[u8] = include_bytes!("../../tests/fixtures/localhost.key");

/// The first byte of a TLS connection: a handshake record.
const HANDSHAKE: u8 = 22;

/// The TLS server side, with the stand-in's certificate.
pub fn acceptor() -> io::Result<TlsAcceptor> {
    let invalid =
        |e: &dyn std::fmt::Display| io::Error::new(io::ErrorKind::InvalidData, e.to_string());
    let certificate = CertificateDer::from_pem_slice(CERTIFICATE_PEM).map_err(|e| invalid(&e))?;
    let key = PrivateKeyDer::from_pem_slice(KEY_PEM).map_err(|e| invalid(&e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .map_err(|e| invalid(&e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// An accepted connection, plain or TLS as its first byte says. It is decided at
/// its first read or write, not at accept, so that a client slow to send its
/// first byte holds up only its own connection.
pub struct ServedStream {
    state: State,
}

enum State {
    /// Waiting for the first byte, to be served as TLS or plain.
    Undecided(KillableStream, TlsAcceptor),
    // Boxed, as the TLS stream is: both are over a kilobyte, which every connection,
    // plain ones too, would otherwise carry.
    Handshaking(Box<Accept<KillableStream>>),
    Tls(Box<TlsStream<KillableStream>>),
    Plain(KillableStream),
    /// The handshake failed; nothing more can be read or written.
    Failed,
}

impl ServedStream {
    /// A connection that is plain HTTP, or, with an `acceptor`, either.
    pub fn new(stream: KillableStream, acceptor: Option<TlsAcceptor>) -> Self {
        // Without TLS there is nothing to decide, and hyper asks at once whether
        // the stream takes vectored writes, which an undecided one cannot say.
        let state = match acceptor {
            Some(acceptor) => State::Undecided(stream, acceptor),
            None => State::Plain(stream),
        };
        Self { state }
    }

    /// Decides what the connection is and completes its handshake, if it has one.
    fn poll_decided(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.state {
                State::Undecided(stream, _) => {
                    let mut first = [0u8; 1];
                    let mut buf = ReadBuf::new(&mut first);
                    ready!(stream.poll_peek(cx, &mut buf))?;
                    let tls = buf.filled() == [HANDSHAKE];
                    self.state = match std::mem::replace(&mut self.state, State::Failed) {
                        State::Undecided(stream, acceptor) if tls => {
                            State::Handshaking(Box::new(acceptor.accept(stream)))
                        }
                        State::Undecided(stream, _) => State::Plain(stream),
                        other => other,
                    };
                }
                State::Handshaking(accept) => match ready!(Pin::new(accept.as_mut()).poll(cx)) {
                    Ok(stream) => self.state = State::Tls(Box::new(stream)),
                    Err(error) => {
                        self.state = State::Failed;
                        return Poll::Ready(Err(error));
                    }
                },
                State::Failed => return Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
                State::Tls(_) | State::Plain(_) => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// The decided connection, as one stream whichever it is.
fn decided<'a>(
    stream: Pin<&'a mut ServedStream>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Pin<&'a mut (dyn Io + Unpin)>>> {
    let this = stream.get_mut();
    ready!(this.poll_decided(cx))?;
    match &mut this.state {
        State::Tls(stream) => Poll::Ready(Ok(Pin::new(stream.as_mut()))),
        State::Plain(stream) => Poll::Ready(Ok(Pin::new(stream))),
        _ => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
    }
}

/// What both kinds of connection are.
trait Io: AsyncRead + AsyncWrite {}
impl<T: AsyncRead + AsyncWrite> Io for T {}

impl AsyncRead for ServedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(decided(self, cx))?.poll_read(cx, buf)
    }
}

impl AsyncWrite for ServedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(decided(self, cx))?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(decided(self, cx))?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        match &self.state {
            State::Tls(stream) => stream.is_write_vectored(),
            State::Plain(stream) => stream.is_write_vectored(),
            _ => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(decided(self, cx))?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(decided(self, cx))?.poll_shutdown(cx)
    }
}
