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
    match raise_fd_limit() {
        Some(limit) if limit < config.max_connections as u64 + 100 => tracing::warn!(
            "open file limit is {limit}: fewer clients than max_connections ({}) can connect; raise it with `ulimit -n`",
            config.max_connections
        ),
        Some(limit) => tracing::info!("open file limit: {limit}"),
        None => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let server = warren_server::start(config).await?;
        wait_for_signal(&server).await;
        tracing::info!("shutting down: closing connections");
        server.shutdown().await;
        Ok(())
    })
}

/// Raises the open-file limit to its hard maximum, as operators would with
/// `ulimit -n`: each client is a file descriptor, and the usual soft limit
/// (1,024) refuses clients long before `max_connections`. `None` when
/// unlimited.
fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
    getrlimit(Resource::Nofile).current
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
