//! The `warren` binary: configuration, logging, signals.

use clap::Parser;
use tracing_subscriber::EnvFilter;
use warren_server::config::{Cli, Config};

fn main() -> anyhow::Result<()> {
    let config = Config::resolve(Cli::parse())?;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let server = warren_server::start(config).await?;
        wait_for_signal(&server).await;
        tracing::info!("shutting down: closing connections");
        server.shutdown().await;
        Ok(())
    })
}

/// Waits for SIGINT or SIGTERM; SIGHUP re-reads the TLS certificates.
async fn wait_for_signal(server: &warren_server::Server) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hup.recv() => {
                if let Err(e) = server.reload_tls() {
                    tracing::error!("SIGHUP: TLS certificates not re-read, the old ones stay: {e}");
                }
            }
        }
    }
}
