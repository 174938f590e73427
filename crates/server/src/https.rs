//! HTTPS for the management API and Prometheus: a listener that hands
//! axum only streams whose TLS handshake is done. Handshakes run in their
//! own tasks, bounded in number and time, so a slow or silent client never
//! holds up the others' accepts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use warren_broker::stats::GlobalStats;
use warren_broker::Broker;

use crate::tls::Tls;

/// Handshakes in progress at most; further accepts wait.
const HANDSHAKES: usize = 256;
/// A client has this long to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(
        listener: TcpListener,
        tls: Arc<Tls>,
        broker: Arc<Broker>,
        shutdown: CancellationToken,
    ) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(HANDSHAKES);
        tokio::spawn(async move {
            let limit = Arc::new(Semaphore::new(HANDSHAKES));
            while let Some((permit, stream, peer)) = crate::accept(&listener, &limit, &shutdown).await {
                let (acceptor, tx, broker) = (tls.acceptor(), tx.clone(), broker.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => {
                            drop(permit);
                            let _ = tx.send((s, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "HTTPS handshake failed: {e}");
                            GlobalStats::count(&broker.stats.tls_handshake_failures);
                        }
                        Err(_) => GlobalStats::count(&broker.stats.tls_handshake_failures),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(s) => s,
            // The accept task ends only at shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
