//! Configuration: command-line flags over `WARREN_*` environment variables
//! over `etc/warren.toml` (or `--config FILE`) over built-in defaults.

use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

/// Flags; every one may also come from the environment or the config file.
#[derive(Debug, Default, Parser)]
#[command(name = "warren", version, about = "Warren: an AMQP 0-9-1 message broker")]
pub struct Cli {
    /// Address to listen on for AMQP.
    #[arg(long, env = "WARREN_BIND")]
    pub bind: Option<String>,
    /// AMQP port (0 picks a free one).
    #[arg(long, env = "WARREN_PORT")]
    pub port: Option<u16>,
    /// `false` turns the plain AMQP listener off, leaving AMQPS only
    /// (rabbitmq.conf's `listeners.tcp = none`).
    #[arg(long, env = "WARREN_TCP_LISTENER")]
    pub tcp_listener: Option<bool>,
    /// AMQPS port: 5671 once a certificate is configured; 0 turns it off.
    #[arg(long, env = "WARREN_AMQPS_PORT")]
    pub amqps_port: Option<u16>,
    /// The server's certificate chain, PEM, leaf first (`ssl_options.certfile`).
    #[arg(long, env = "WARREN_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// Its private key, PEM (`ssl_options.keyfile`).
    #[arg(long, env = "WARREN_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// CA certificates client certificates are checked against, PEM
    /// (`ssl_options.cacertfile`).
    #[arg(long, env = "WARREN_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// Ask AMQPS clients for a certificate and verify it
    /// (`ssl_options.verify = verify_peer`); enables SASL EXTERNAL.
    #[arg(long, env = "WARREN_TLS_VERIFY_PEER", num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify_peer: Option<bool>,
    /// With verification on, refuse clients without a certificate
    /// (`ssl_options.fail_if_no_peer_cert = true`).
    #[arg(long, env = "WARREN_TLS_FAIL_IF_NO_PEER_CERT", num_args = 0..=1, default_missing_value = "true")]
    pub tls_fail_if_no_peer_cert: Option<bool>,
    /// What SASL EXTERNAL takes as the user name: `distinguished_name`
    /// (default) or `common_name` (`ssl_cert_login_from`).
    #[arg(long, env = "WARREN_TLS_CERT_LOGIN_FROM")]
    pub tls_cert_login_from: Option<String>,
    /// Where durable data lives.
    #[arg(long, env = "WARREN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (TOML). Defaults to etc/warren.toml when present.
    #[arg(long, env = "WARREN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter: error, warn, info, debug, trace (or a tracing directive).
    #[arg(long, env = "WARREN_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// The user created at first start.
    #[arg(long, env = "WARREN_DEFAULT_USER")]
    pub default_user: Option<String>,
    /// That user's password.
    #[arg(long, env = "WARREN_DEFAULT_PASS")]
    pub default_pass: Option<String>,
    /// Users who may log in only from loopback addresses, comma-separated
    /// (default `guest`; `none` lets every user log in from anywhere).
    #[arg(long, env = "WARREN_LOOPBACK_USERS")]
    pub loopback_users: Option<String>,
    /// A definitions file (RabbitMQ's JSON export format) imported at start.
    #[arg(long, env = "WARREN_DEFINITIONS_FILE")]
    pub definitions_file: Option<PathBuf>,
    /// Heartbeat interval offered to clients, in seconds (0 disables).
    #[arg(long, env = "WARREN_HEARTBEAT")]
    pub heartbeat: Option<u16>,
    /// Largest frame offered to clients, in bytes.
    #[arg(long, env = "WARREN_FRAME_MAX")]
    pub frame_max: Option<u32>,
    /// Most channels per connection offered to clients.
    #[arg(long, env = "WARREN_CHANNEL_MAX")]
    pub channel_max: Option<u16>,
    /// Milliseconds a client has from connecting to `connection.open-ok`
    /// (RabbitMQ's `handshake_timeout`, default 10000).
    #[arg(long, env = "WARREN_HANDSHAKE_TIMEOUT")]
    pub handshake_timeout: Option<u64>,
    /// Largest message body accepted, in bytes (RabbitMQ's
    /// `max_message_size`; default 128 MiB, at most 512 MiB).
    #[arg(long, env = "WARREN_MAX_MESSAGE_SIZE")]
    pub max_message_size: Option<u64>,
    /// Most bytes one channel's open transaction may hold (message bodies
    /// and properties, acknowledgements) before `tx.commit`; default 256 MiB.
    #[arg(long, env = "WARREN_MAX_TRANSACTION_SIZE")]
    pub max_transaction_size: Option<u64>,
    /// Milliseconds a delivery may stay unacknowledged before its channel
    /// is closed (406) and its messages requeued; default 30 minutes, as
    /// RabbitMQ's `consumer_timeout`; 0 turns it off. Queues may set their
    /// own with `x-consumer-timeout` or a `consumer-timeout` policy.
    #[arg(long, env = "WARREN_CONSUMER_TIMEOUT")]
    pub consumer_timeout: Option<u64>,
    /// Most simultaneous client connections.
    #[arg(long, env = "WARREN_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Size of each message log segment file, in bytes.
    #[arg(long, env = "WARREN_SEGMENT_SIZE")]
    pub segment_size: Option<u32>,
    /// Messages a queue keeps in memory (per priority level); the rest of a
    /// backlog is paged out to disk.
    #[arg(long, env = "WARREN_QUEUE_WINDOW")]
    pub queue_window: Option<usize>,
    /// Memory limit: a fraction of RAM (`0.4`) or a size (`2GiB`). Above it,
    /// publishers are blocked until memory use falls again.
    #[arg(long, env = "WARREN_MEMORY_HIGH_WATERMARK")]
    pub memory_high_watermark: Option<String>,
    /// Free disk space below which publishers are blocked (`50MB`).
    #[arg(long, env = "WARREN_DISK_FREE_LIMIT")]
    pub disk_free_limit: Option<String>,
    /// Port of the management HTTP API (0 turns it off).
    #[arg(long, env = "WARREN_MANAGEMENT_PORT")]
    pub management_port: Option<u16>,
    /// Port of the Prometheus metrics endpoint (0 turns it off).
    #[arg(long, env = "WARREN_PROMETHEUS_PORT")]
    pub prometheus_port: Option<u16>,
    /// HTTPS port of the management API: 15671 once a certificate is
    /// configured; 0 turns it off (`management.ssl.port`).
    #[arg(long, env = "WARREN_MANAGEMENT_TLS_PORT")]
    pub management_tls_port: Option<u16>,
    /// A certificate chain for the management API alone (default: --tls-cert).
    #[arg(long, env = "WARREN_MANAGEMENT_TLS_CERT")]
    pub management_tls_cert: Option<PathBuf>,
    /// Its key (default: --tls-key).
    #[arg(long, env = "WARREN_MANAGEMENT_TLS_KEY")]
    pub management_tls_key: Option<PathBuf>,
    /// HTTPS port of the Prometheus endpoint, off unless set
    /// (`prometheus.ssl.port`); it uses the management certificate.
    #[arg(long, env = "WARREN_PROMETHEUS_TLS_PORT")]
    pub prometheus_tls_port: Option<u16>,
}

/// The same settings as read from the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<String>,
    pub port: Option<u16>,
    pub tcp_listener: Option<bool>,
    pub amqps_port: Option<u16>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_ca: Option<PathBuf>,
    pub tls_verify_peer: Option<bool>,
    pub tls_fail_if_no_peer_cert: Option<bool>,
    pub tls_cert_login_from: Option<String>,
    pub management_tls_port: Option<u16>,
    pub management_tls_cert: Option<PathBuf>,
    pub management_tls_key: Option<PathBuf>,
    pub prometheus_tls_port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub log_level: Option<String>,
    pub default_user: Option<String>,
    pub default_pass: Option<String>,
    pub loopback_users: Option<Vec<String>>,
    pub definitions_file: Option<PathBuf>,
    pub heartbeat: Option<u16>,
    pub frame_max: Option<u32>,
    pub channel_max: Option<u16>,
    pub max_message_size: Option<u64>,
    pub max_transaction_size: Option<u64>,
    pub consumer_timeout: Option<u64>,
    pub handshake_timeout: Option<u64>,
    pub max_connections: Option<usize>,
    pub segment_size: Option<u32>,
    pub queue_window: Option<usize>,
    pub memory_high_watermark: Option<String>,
    pub disk_free_limit: Option<String>,
    pub management_port: Option<u16>,
    pub prometheus_port: Option<u16>,
}

/// RabbitMQ 3.x's default `max_message_size`: 128 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 128 << 20;

/// The largest `max_message_size` accepted (RabbitMQ's limit too). The
/// message log's record length is a u32, so every accepted body fits.
pub const MAX_MESSAGE_SIZE_LIMIT: u64 = 512 << 20;

/// The default `max_transaction_size`: 256 MiB, two default-sized messages.
pub const DEFAULT_MAX_TRANSACTION_SIZE: u64 = 256 << 20;

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    /// The plain AMQP port; `None` turns the listener off.
    pub port: Option<u16>,
    /// The AMQPS port; set only with [`Config::tls`].
    pub amqps_port: Option<u16>,
    /// The AMQPS listener's certificate and client checks.
    pub tls: Option<crate::tls::TlsSettings>,
    /// Whose name SASL EXTERNAL logs in as.
    pub cert_login_from: crate::tls::CertLoginFrom,
    /// The HTTPS listeners' certificate (no client certificates: HTTP
    /// logins are basic auth), and their ports.
    pub management_tls: Option<crate::tls::TlsSettings>,
    pub management_tls_port: Option<u16>,
    pub prometheus_tls_port: Option<u16>,
    pub data_dir: PathBuf,
    pub log_level: String,
    pub default_user: String,
    pub default_pass: String,
    pub loopback_users: Vec<String>,
    pub definitions_file: Option<PathBuf>,
    pub heartbeat: u16,
    pub frame_max: u32,
    pub channel_max: u16,
    /// Bytes; a content header that declares more is refused before any of
    /// its body is read.
    pub max_message_size: u64,
    /// Bytes a channel's open transaction may hold; past it the channel is
    /// closed (406) and the transaction discarded.
    pub max_transaction_size: u64,
    /// Milliseconds a delivery may stay unacknowledged (0: no limit), for
    /// queues that set none of their own.
    pub consumer_timeout: u64,
    /// From accept to `connection.open-ok`; a client still handshaking
    /// after it is disconnected and its connection slot freed.
    pub handshake_timeout: std::time::Duration,
    pub max_connections: usize,
    pub segment_size: u32,
    pub queue_window: usize,
    pub memory_high_watermark: crate::alarms::Watermark,
    /// Bytes.
    pub disk_free_limit: u64,
    /// The management API's port; `None` turns it off, `Some(0)` picks a free one.
    pub management_port: Option<u16>,
    /// The Prometheus endpoint's port, the same way.
    pub prometheus_port: Option<u16>,
    /// Fault injection for tests only (no flag or file key sets it): a
    /// `queue.declare` of this name panics in its connection's task, to
    /// prove a panic is contained to that connection.
    pub panic_on_declare: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "0.0.0.0".into(),
            port: Some(5672),
            amqps_port: None,
            tls: None,
            cert_login_from: crate::tls::CertLoginFrom::DistinguishedName,
            management_tls: None,
            management_tls_port: None,
            prometheus_tls_port: None,
            data_dir: PathBuf::from("data"),
            log_level: "info".into(),
            default_user: "guest".into(),
            default_pass: "guest".into(),
            loopback_users: vec!["guest".into()],
            definitions_file: None,
            heartbeat: 60,
            frame_max: 131072,
            channel_max: 2047,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_transaction_size: DEFAULT_MAX_TRANSACTION_SIZE,
            consumer_timeout: 30 * 60 * 1000,
            panic_on_declare: None,
            handshake_timeout: std::time::Duration::from_secs(10),
            max_connections: 65536,
            segment_size: 8 << 20,
            queue_window: 8192,
            memory_high_watermark: crate::alarms::Watermark::Relative(0.4),
            disk_free_limit: 50_000_000,
            management_port: Some(15672),
            prometheus_port: Some(15692),
        }
    }
}

/// How test brokers' data directories start, followed by the process id.
const TEST_DIR_PREFIX: &str = "warren-test-";

/// Removes the test brokers' data directories under `tmp` whose process
/// has ended (Linux: no `/proc/<pid>`; elsewhere nothing is removed).
fn remove_dead_test_dirs(tmp: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEST_DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new("/proc").join(pid.to_string()).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

impl Config {
    /// A broker on 127.0.0.1 with a free port and a fresh data directory
    /// under the system's temporary directory, for tests.
    ///
    /// Test brokers run until their process ends, so nothing removes their
    /// directories when they stop: the first broker of a process removes
    /// those of earlier test processes that are gone.
    pub fn ephemeral() -> Config {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(|| remove_dead_test_dirs(&std::env::temp_dir()));
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Config {
            bind: "127.0.0.1".into(),
            port: Some(0),
            data_dir: std::env::temp_dir()
                .join(format!("{TEST_DIR_PREFIX}{}-{n}-{nanos}", std::process::id())),
            segment_size: 1 << 20,
            management_port: None,
            prometheus_port: None,
            ..Config::default()
        }
    }

    /// Merges flags/environment, the config file and the defaults.
    pub fn resolve(cli: Cli) -> anyhow::Result<Config> {
        let path = cli.config.clone().or_else(|| {
            let p = Path::new("etc/warren.toml");
            p.exists().then(|| p.to_path_buf())
        });
        let file: FileConfig = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", p.display()))?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let d = Config::default();
        let tls = tls_settings(&cli, &file)?;
        let management_tls = match (
            cli.management_tls_cert
                .clone()
                .or(file.management_tls_cert.clone()),
            cli.management_tls_key.clone().or(file.management_tls_key.clone()),
        ) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsSettings {
                cert,
                key,
                ca: None,
                verify_peer: false,
                fail_if_no_peer_cert: false,
            }),
            (None, None) => tls.as_ref().map(|t| crate::tls::TlsSettings {
                ca: None,
                verify_peer: false,
                fail_if_no_peer_cert: false,
                ..t.clone()
            }),
            _ => anyhow::bail!("management_tls_cert and management_tls_key go together"),
        };
        let with_cert = |given: Option<u16>, default: u16, has_cert: bool| -> anyhow::Result<Option<u16>> {
            match (port_setting(given, Some(default)), has_cert) {
                (Some(p), true) => Ok(Some(p)),
                (None, _) => Ok(None),
                (Some(_), false) if given.is_some() => {
                    anyhow::bail!("a TLS port needs tls_cert and tls_key (or management_tls_cert and management_tls_key)")
                }
                (Some(_), false) => Ok(None),
            }
        };
        let amqps_port = with_cert(cli.amqps_port.or(file.amqps_port), 5671, tls.is_some())?;
        let management_tls_port = with_cert(
            cli.management_tls_port.or(file.management_tls_port),
            15671,
            management_tls.is_some(),
        )?;
        // Off unless asked for, as RabbitMQ's prometheus.ssl.port.
        let prometheus_tls_port = match cli.prometheus_tls_port.or(file.prometheus_tls_port) {
            None | Some(0) => None,
            Some(p) if management_tls.is_some() => Some(p),
            Some(_) => anyhow::bail!("prometheus_tls_port needs tls_cert and tls_key"),
        };
        let cert_login_from = match cli
            .tls_cert_login_from
            .clone()
            .or(file.tls_cert_login_from.clone())
        {
            None => d.cert_login_from,
            Some(s) => crate::tls::CertLoginFrom::parse(&s).ok_or_else(|| {
                anyhow::anyhow!("invalid tls_cert_login_from '{s}': use distinguished_name or common_name")
            })?,
        };
        let plain = cli.tcp_listener.or(file.tcp_listener).unwrap_or(true);
        let c = Config {
            bind: cli.bind.or(file.bind).unwrap_or(d.bind),
            port: plain.then(|| cli.port.or(file.port).unwrap_or(5672)),
            amqps_port,
            tls,
            cert_login_from,
            management_tls,
            management_tls_port,
            prometheus_tls_port,
            data_dir: cli.data_dir.or(file.data_dir).unwrap_or(d.data_dir),
            log_level: cli.log_level.or(file.log_level).unwrap_or(d.log_level),
            default_user: cli.default_user.or(file.default_user).unwrap_or(d.default_user),
            default_pass: cli.default_pass.or(file.default_pass).unwrap_or(d.default_pass),
            loopback_users: match cli.loopback_users {
                Some(s) => s
                    .split(',')
                    .filter(|u| *u != "none")
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(String::from)
                    .collect(),
                None => file.loopback_users.unwrap_or(d.loopback_users),
            },
            definitions_file: cli.definitions_file.or(file.definitions_file),
            heartbeat: cli.heartbeat.or(file.heartbeat).unwrap_or(d.heartbeat),
            frame_max: cli.frame_max.or(file.frame_max).unwrap_or(d.frame_max),
            channel_max: cli.channel_max.or(file.channel_max).unwrap_or(d.channel_max),
            max_message_size: cli
                .max_message_size
                .or(file.max_message_size)
                .unwrap_or(d.max_message_size),
            max_transaction_size: cli
                .max_transaction_size
                .or(file.max_transaction_size)
                .unwrap_or(d.max_transaction_size),
            consumer_timeout: cli
                .consumer_timeout
                .or(file.consumer_timeout)
                .unwrap_or(d.consumer_timeout),
            handshake_timeout: cli
                .handshake_timeout
                .or(file.handshake_timeout)
                .map_or(d.handshake_timeout, std::time::Duration::from_millis),
            max_connections: cli
                .max_connections
                .or(file.max_connections)
                .unwrap_or(d.max_connections),
            segment_size: cli.segment_size.or(file.segment_size).unwrap_or(d.segment_size),
            queue_window: cli
                .queue_window
                .or(file.queue_window)
                .unwrap_or(d.queue_window)
                .max(1),
            memory_high_watermark: match cli.memory_high_watermark.or(file.memory_high_watermark) {
                None => d.memory_high_watermark,
                Some(s) => crate::alarms::Watermark::parse(&s)
                    .ok_or_else(|| anyhow::anyhow!("invalid memory_high_watermark '{s}': use 0.4 or 2GiB"))?,
            },
            disk_free_limit: match cli.disk_free_limit.or(file.disk_free_limit) {
                None => d.disk_free_limit,
                Some(s) => crate::alarms::parse_size(&s).ok_or_else(|| {
                    anyhow::anyhow!("invalid disk_free_limit '{s}': use a size such as 50MB")
                })?,
            },
            management_port: port_setting(cli.management_port.or(file.management_port), d.management_port),
            prometheus_port: port_setting(cli.prometheus_port.or(file.prometheus_port), d.prometheus_port),
            panic_on_declare: None,
        };
        if c.frame_max < warren_codec::FRAME_MIN_SIZE {
            anyhow::bail!("frame_max must be at least {}", warren_codec::FRAME_MIN_SIZE);
        }
        if c.max_message_size == 0 || c.max_message_size > MAX_MESSAGE_SIZE_LIMIT {
            anyhow::bail!("max_message_size must be between 1 and {MAX_MESSAGE_SIZE_LIMIT} bytes (512 MiB)");
        }
        if c.max_transaction_size == 0 {
            anyhow::bail!("max_transaction_size must be at least 1 byte");
        }
        Ok(c)
    }
}

/// The AMQPS listener's settings: none without a certificate; a key
/// without a certificate (or the other way round) is an error.
fn tls_settings(cli: &Cli, file: &FileConfig) -> anyhow::Result<Option<crate::tls::TlsSettings>> {
    let cert = cli.tls_cert.clone().or(file.tls_cert.clone());
    let key = cli.tls_key.clone().or(file.tls_key.clone());
    let ca = cli.tls_ca.clone().or(file.tls_ca.clone());
    let verify_peer = cli.tls_verify_peer.or(file.tls_verify_peer).unwrap_or(false);
    let fail_if_no_peer_cert = cli
        .tls_fail_if_no_peer_cert
        .or(file.tls_fail_if_no_peer_cert)
        .unwrap_or(false);
    match (cert, key) {
        (Some(cert), Some(key)) => {
            if verify_peer && ca.is_none() {
                anyhow::bail!("tls_verify_peer needs tls_ca: the CA certificates client certificates are checked against");
            }
            Ok(Some(crate::tls::TlsSettings {
                cert,
                key,
                ca,
                verify_peer,
                fail_if_no_peer_cert,
            }))
        }
        (None, None) => Ok(None),
        _ => anyhow::bail!("tls_cert and tls_key go together"),
    }
}

/// A listener port setting: unset keeps the default, 0 turns it off.
fn port_setting(given: Option<u16>, default: Option<u16>) -> Option<u16> {
    match given {
        None => default,
        Some(0) => None,
        Some(p) => Some(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("warren-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("warren.toml");
        std::fs::write(&path, "port = 5999\nheartbeat = 10\n").unwrap();
        let cli = Cli {
            config: Some(path),
            heartbeat: Some(20),
            ..Cli::default()
        };
        let c = Config::resolve(cli).unwrap();
        assert_eq!(c.port, Some(5999));
        assert_eq!(c.heartbeat, 20);
        assert_eq!(c.channel_max, 2047);
        assert_eq!(c.loopback_users, vec!["guest".to_string()]);
        let open = Cli {
            loopback_users: Some("none".into()),
            ..Cli::default()
        };
        assert!(Config::resolve(open).unwrap().loopback_users.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn max_message_size_defaults_to_rabbitmqs_and_is_capped_at_512_mib() {
        assert_eq!(
            Config::resolve(Cli::default()).unwrap().max_message_size,
            128 << 20
        );
        let at_cap = Cli {
            max_message_size: Some(512 << 20),
            ..Cli::default()
        };
        assert_eq!(Config::resolve(at_cap).unwrap().max_message_size, 512 << 20);
        for bad in [0, (512 << 20) + 1] {
            let cli = Cli {
                max_message_size: Some(bad),
                ..Cli::default()
            };
            let err = Config::resolve(cli).unwrap_err().to_string();
            assert!(err.contains("max_message_size"), "{err}");
        }
    }

    #[test]
    fn tls_ports_open_once_a_certificate_is_configured() {
        let plain = Config::resolve(Cli::default()).unwrap();
        assert_eq!((plain.amqps_port, plain.management_tls_port), (None, None));
        let cli = || Cli {
            tls_cert: Some("server.pem".into()),
            tls_key: Some("server.key".into()),
            ..Cli::default()
        };
        let c = Config::resolve(cli()).unwrap();
        assert_eq!(c.amqps_port, Some(5671));
        assert_eq!(c.management_tls_port, Some(15671));
        assert_eq!(c.prometheus_tls_port, None, "off unless asked for");
        assert_eq!(c.port, Some(5672), "plain AMQP stays on");
        assert_eq!(
            c.management_tls.unwrap().cert,
            std::path::PathBuf::from("server.pem")
        );
        let only_tls = Config::resolve(Cli {
            tcp_listener: Some(false),
            amqps_port: Some(0),
            ..cli()
        })
        .unwrap();
        assert_eq!((only_tls.port, only_tls.amqps_port), (None, None));
        for (bad, why) in [
            (
                Cli {
                    tls_key: None,
                    ..cli()
                },
                "go together",
            ),
            (
                Cli {
                    tls_verify_peer: Some(true),
                    ..cli()
                },
                "tls_ca",
            ),
            (
                Cli {
                    tls_cert_login_from: Some("email".into()),
                    ..cli()
                },
                "common_name",
            ),
            (
                Cli {
                    amqps_port: Some(5671),
                    ..Cli::default()
                },
                "needs tls_cert",
            ),
        ] {
            let err = Config::resolve(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn test_directories_of_ended_processes_are_removed() {
        let tmp = std::env::temp_dir().join(format!("warren-config-sweep-{}", std::process::id()));
        let alive = tmp.join(format!("{TEST_DIR_PREFIX}{}-0-1", std::process::id()));
        // Above the kernel's pid limit (4,194,304 at most): never running.
        let dead = tmp.join(format!("{TEST_DIR_PREFIX}4294967295-0-1"));
        let other = tmp.join("warren-other-1");
        for d in [&alive, &dead, &other] {
            std::fs::create_dir_all(d.join("store")).unwrap();
        }
        remove_dead_test_dirs(&tmp);
        assert!(alive.exists(), "this process's directory stays");
        assert!(other.exists(), "only test directories are touched");
        if Path::new("/proc/self").exists() {
            assert!(!dead.exists(), "an ended process's directory is removed");
        }
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = std::env::temp_dir().join(format!("warren-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("warren.toml");
        std::fs::write(&path, "prot = 1\n").unwrap();
        let err = Config::resolve(Cli {
            config: Some(path),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
