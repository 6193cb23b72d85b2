//! A TCP listener whose connections a request handler can abort, so the
//! `Reset` fault looks to the client exactly like a connection reset by the
//! peer (a TCP RST, no response bytes at all).
//!
//! axum gives handlers no access to the socket, so each accepted stream is
//! wrapped together with a shared [`KillSwitch`]; the switch reaches the
//! handler as `ConnectInfo<Connection>`. Once the switch is thrown every read
//! and write on the stream fails, hyper gives up on the connection and drops
//! the stream, and the drop closes the socket with `SO_LINGER` zero, which
//! makes the kernel send RST and discard anything still buffered.
//!
//! With HTTPS on, each stream is served as plain HTTP or TLS, as its first byte
//! says ([`crate::tls`]).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::tls::ServedStream;

/// Shared between a connection's stream and the handlers serving it.
#[derive(Debug, Default)]
pub struct KillSwitch {
    killed: AtomicBool,
    // hyper may be parked in a read (watching for the client hanging up)
    // while the handler runs; it must be woken to notice the kill.
    read_waker: Mutex<Option<Waker>>,
}

impl KillSwitch {
    /// Aborts the connection: the response being produced is never sent.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        let waker = self.read_waker.lock().map(|mut w| w.take()).unwrap_or(None);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// True once [`kill`](Self::kill) was called.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    fn park_reader(&self, waker: &Waker) {
        if let Ok(mut slot) = self.read_waker.lock() {
            *slot = Some(waker.clone());
        }
    }
}

/// What a handler learns about the connection it serves.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Aborts this connection.
    pub switch: Arc<KillSwitch>,
}

impl Connected<IncomingStream<'_, KillableListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A [`TcpListener`] handing out [`KillableStream`]s, each served plain or, with
/// an acceptor, as TLS when it opens with a handshake.
pub struct KillableListener {
    inner: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl KillableListener {
    /// Wraps a bound listener; `tls` also serves HTTPS on it.
    pub fn new(inner: TcpListener, tls: Option<TlsAcceptor>) -> Self {
        Self { inner, tls }
    }
}

impl Listener for KillableListener {
    type Io = ServedStream;
    type Addr = Connection;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _peer)) => {
                    // Small request/response exchanges; Nagle would only add latency.
                    let _ = stream.set_nodelay(true);
                    let switch = Arc::new(KillSwitch::default());
                    let io = KillableStream {
                        inner: stream,
                        switch: Arc::clone(&switch),
                    };
                    let io = ServedStream::new(io, self.tls.clone());
                    return (io, Connection { switch });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        // Connections are identified by their kill switch; the listener's own
        // "address" only needs to prove the socket is still bound.
        self.inner.local_addr()?;
        Ok(Connection {
            switch: Arc::new(KillSwitch::default()),
        })
    }
}

/// A TCP stream that fails all I/O once its [`KillSwitch`] is thrown and then
/// closes with a reset.
#[derive(Debug)]
pub struct KillableStream {
    inner: TcpStream,
    switch: Arc<KillSwitch>,
}

impl KillableStream {
    /// Reads the connection's next bytes without taking them off it.
    pub fn poll_peek(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(reset_error()));
        }
        self.inner.poll_peek(cx, buf)
    }
}

fn reset_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "reset injected by the stand-in",
    )
}

impl Drop for KillableStream {
    fn drop(&mut self) {
        if self.switch.is_killed() {
            // Zero linger turns the close into an RST; it never blocks.
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(reset_error()));
        }
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => {
                this.switch.park_reader(cx.waker());
                // The kill may have landed between the check above and parking.
                if this.switch.is_killed() {
                    Poll::Ready(Err(reset_error()))
                } else {
                    Poll::Pending
                }
            }
            ready => ready,
        }
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Extracts the [`Connection`] a request arrived on; `None` only when the
/// router is driven without the stand-in's listener.
#[derive(Debug, Clone)]
pub struct MaybeConnection(pub Option<Connection>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MaybeConnection {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<Connection>>()
                .map(|c| c.0.clone()),
        ))
    }
}
