//! AMQPS and HTTPS with certificates made at test time: lapin over TLS
//! (server verification, client certificates, SASL EXTERNAL), refused
//! certificates, what management shows of a TLS connection, certificate
//! rotation without dropping connections, and `update-secret`.

use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_server::tls::CertLoginFrom;
use warren_tests::tls::{presented_certificate, Pki};
use warren_tests::*;

struct TlsBroker {
    server: Server,
    pki: Pki,
    _dir: tempfile::TempDir,
}

impl TlsBroker {
    async fn start(tune: impl FnOnce(&mut Config, &Pki)) -> TlsBroker {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::write(dir.path());
        let mut config = Config::ephemeral();
        config.tls = Some(pki.settings());
        config.amqps_port = Some(0);
        config.management_tls = Some(warren_server::tls::TlsSettings {
            ca: None,
            verify_peer: false,
            fail_if_no_peer_cert: false,
            ..pki.settings()
        });
        config.management_tls_port = Some(0);
        tune(&mut config, &pki);
        let server = warren_server::start(config).await.expect("broker starts");
        TlsBroker {
            server,
            pki,
            _dir: dir,
        }
    }

    fn url(&self, userinfo: &str, query: &str) -> String {
        let port = self.server.amqps_addr().unwrap().port();
        format!("amqps://{userinfo}127.0.0.1:{port}/%2f{query}")
    }

    async fn connect(&self, userinfo: &str, query: &str, client: Option<&str>) -> lapin::Result<Connection> {
        Connection::connect_with_config(
            &self.url(userinfo, query),
            ConnectionProperties::default(),
            self.pki.lapin(client),
            lapin::runtime::default_runtime().unwrap(),
        )
        .await
    }

    /// With a password, no client certificate.
    async fn connect_guest(&self) -> Connection {
        self.connect("guest:guest@", "", None).await.expect("TLS login")
    }

    /// SASL EXTERNAL with `client`'s certificate.
    async fn connect_external(&self, client: &str) -> lapin::Result<Connection> {
        self.connect("", "?auth_mechanism=external", Some(client)).await
    }
}

/// Publishes and consumes one message over `conn`.
async fn round_trip(conn: &Connection, queue: &str) {
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.basic_publish(
        "".into(),
        queue.into(),
        BasicPublishOptions::default(),
        b"over tls",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let mut consumer = consume(&ch, queue, true).await;
    assert_eq!(next(&mut consumer).await.data, b"over tls");
    ch.close(200, "done".into()).await.unwrap();
}

fn only_connection(s: &Server) -> std::sync::Arc<warren_broker::connections::ConnectionInfo> {
    let all = s.broker.connections.list();
    assert_eq!(all.len(), 1, "one connection");
    all[0].clone()
}

#[tokio::test]
async fn amqps_beside_plain_amqp_with_the_server_verified() {
    let b = TlsBroker::start(|_, _| {}).await;
    let conn = b.connect_guest().await;
    round_trip(&conn, "tls.q").await;
    let info = only_connection(&b.server);
    let tls = info.tls.clone().expect("a TLS connection");
    assert_eq!(tls.protocol, "tlsv1.3");
    assert_eq!(tls.key_exchange, "any");
    assert!(
        ["aes_128_gcm", "aes_256_gcm", "chacha20_poly1305"].contains(&tls.cipher.as_str()),
        "{tls:?}"
    );
    assert_eq!(tls.peer_cert_subject, None, "no client certificate was sent");
    assert_eq!(info.tuning.lock().auth_mechanism, "PLAIN");
    // Plain AMQP still serves, and its connections are not TLS.
    let plain = connect(&b.server).await;
    round_trip(&plain, "plain.q").await;
    let tls_count = b
        .server
        .broker
        .connections
        .list()
        .iter()
        .filter(|c| c.tls.is_some())
        .count();
    assert_eq!(tls_count, 1);
    conn.close(200, "bye".into()).await.unwrap();
    plain.close(200, "bye".into()).await.unwrap();
}

#[tokio::test]
async fn management_shows_tls_connections_over_https() {
    let b = TlsBroker::start(|_, _| {}).await;
    let conn = b
        .connect("guest:guest@", "", Some("alice"))
        .await
        .expect("TLS login");
    let https = b.server.management_tls_addr().expect("HTTPS listener");
    let auth = warren_tests::http::basic("guest", "guest");
    let connector = b.pki.connector(None);
    let (status, list, _) =
        warren_tests::http::https(&connector, https, "GET", "/api/connections", Some(&auth)).await;
    assert_eq!(status, 200);
    let c = &list[0];
    assert_eq!(c["ssl"], true);
    assert_eq!(c["ssl_protocol"], "tlsv1.3");
    assert_eq!(c["ssl_hash"], "aead");
    assert_eq!(c["ssl_key_exchange"], "any");
    assert_eq!(c["peer_cert_subject"], "CN=alice,O=Warren tests");
    assert_eq!(c["peer_cert_issuer"], "CN=Warren test CA");
    assert!(c["peer_cert_validity"].as_str().unwrap().contains(" - "), "{c}");
    // Listed among the listeners, as RabbitMQ names them.
    let (_, overview, _) =
        warren_tests::http::https(&connector, https, "GET", "/api/overview", Some(&auth)).await;
    let protocols: Vec<&str> = overview["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["protocol"].as_str().unwrap())
        .collect();
    assert!(
        protocols.contains(&"amqp/ssl") && protocols.contains(&"https"),
        "{protocols:?}"
    );
    conn.close(200, "bye".into()).await.unwrap();
}

#[tokio::test]
async fn external_logs_in_as_the_certificate_common_name() {
    let b = TlsBroker::start(|c, _| c.cert_login_from = CertLoginFrom::CommonName).await;
    // CN=guest logs in as guest (from loopback, as the loopback rule allows).
    let conn = b.connect_external("guest").await.expect("EXTERNAL login");
    round_trip(&conn, "external.q").await;
    let info = only_connection(&b.server);
    assert_eq!(*info.user.lock(), "guest");
    assert_eq!(info.tuning.lock().auth_mechanism, "EXTERNAL");
    conn.close(200, "bye".into()).await.unwrap();
    // CN=alice is refused until alice exists; no password is ever asked.
    let refused = b.connect_external("alice").await;
    assert!(refused.is_err(), "a certificate for a user that does not exist");
    warren_tests::http::user_with(&b.server, "alice", &[]);
    let alice = b.connect_external("alice").await.expect("alice logs in");
    round_trip(&alice, "alice.q").await;
    alice.close(200, "bye".into()).await.unwrap();
}

#[tokio::test]
async fn external_logs_in_as_the_distinguished_name_by_default() {
    let b = TlsBroker::start(|_, _| {}).await;
    // CN=guest's DN is not guest.
    assert!(b.connect_external("guest").await.is_err());
    warren_tests::http::user_with(&b.server, "CN=alice,O=Warren tests", &[]);
    let conn = b.connect_external("alice").await.expect("login as the DN");
    assert_eq!(*only_connection(&b.server).user.lock(), "CN=alice,O=Warren tests");
    conn.close(200, "bye".into()).await.unwrap();
}

/// Reads `connection.start` from a listener and returns its mechanisms'
/// bytes region (the whole frame: the test looks for a substring).
async fn start_frame<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) -> Vec<u8> {
    s.write_all(warren_codec::PROTOCOL_HEADER).await.unwrap();
    let mut head = [0u8; 7];
    s.read_exact(&mut head).await.unwrap();
    let len = u32::from_be_bytes(head[3..7].try_into().unwrap()) as usize;
    let mut payload = vec![0u8; len + 1];
    s.read_exact(&mut payload).await.unwrap();
    payload
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn external_is_offered_only_where_certificates_are_verified() {
    let b = TlsBroker::start(|_, _| {}).await;
    let tcp = tokio::net::TcpStream::connect(b.server.amqps_addr().unwrap())
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = b.pki.connector(None).connect(name, tcp).await.unwrap();
    let f = start_frame(tls).await;
    assert!(
        contains(&f, b"PLAIN AMQPLAIN EXTERNAL"),
        "{}",
        String::from_utf8_lossy(&f)
    );
    let plain = tokio::net::TcpStream::connect(b.server.addr()).await.unwrap();
    let start = start_frame(plain).await;
    assert!(contains(&start, b"PLAIN AMQPLAIN") && !contains(&start, b"EXTERNAL"));
    // A TLS listener that does not ask for certificates does not offer it.
    let quiet = TlsBroker::start(|c, _| {
        let t = c.tls.as_mut().unwrap();
        t.verify_peer = false;
    })
    .await;
    let tcp = tokio::net::TcpStream::connect(quiet.server.amqps_addr().unwrap())
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = quiet.pki.connector(None).connect(name, tcp).await.unwrap();
    assert!(!contains(&start_frame(tls).await, b"EXTERNAL"));
    // And EXTERNAL sent anyway, without a verified certificate, is refused.
    let refused = quiet.connect_external("guest").await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn bad_expired_and_missing_certificates_are_refused() {
    let b = TlsBroker::start(|c, _| c.tls.as_mut().unwrap().fail_if_no_peer_cert = true).await;
    assert!(
        b.connect("guest:guest@", "", None).await.is_err(),
        "no certificate"
    );
    assert!(
        b.connect("guest:guest@", "", Some("stranger")).await.is_err(),
        "another CA's"
    );
    assert!(
        b.connect("guest:guest@", "", Some("expired")).await.is_err(),
        "expired"
    );
    let failures = handshake_failures(&b.server);
    assert!(failures >= 3, "{failures} failed handshakes counted");
    assert!(b.server.broker.connections.list().is_empty());
    // A good certificate, and the plain listener, still serve.
    let good = b
        .connect("guest:guest@", "", Some("guest"))
        .await
        .expect("a good certificate");
    round_trip(&good, "good.q").await;
    still_serving(&b.server).await;
    // A client that does not trust the server's certificate gives up too.
    let port = b.server.amqps_addr().unwrap().port();
    let untrusting = Connection::connect_with_config(
        &format!("amqps://guest:guest@127.0.0.1:{port}/%2f"),
        ConnectionProperties::default(),
        lapin::tcp::OwnedTLSConfig {
            identity: None,
            cert_chain: Some(warren_tests::tls::Ca::new("Not Warren's CA").pem()),
        },
        lapin::runtime::default_runtime().unwrap(),
    )
    .await;
    assert!(untrusting.is_err());
}

#[tokio::test]
async fn clients_that_stall_or_send_garbage_free_their_slots_and_others_keep_serving() {
    let b = TlsBroker::start(|c, _| {
        c.handshake_timeout = std::time::Duration::from_millis(500);
        c.max_connections = 3;
    })
    .await;
    let amqps = b.server.amqps_addr().unwrap();
    // Three silent sockets (no ClientHello) hold every slot
    // until the handshake timeout frees them.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(amqps).await.unwrap());
    }
    // Plain AMQP on the TLS port and random bytes are refused at once.
    let mut plain = tokio::net::TcpStream::connect(amqps).await.unwrap();
    plain.write_all(warren_codec::PROTOCOL_HEADER).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, plain.read_to_end(&mut answer))
        .await
        .expect("hung up");
    assert!(!contains(&answer, b"AMQP"), "no AMQP is spoken before TLS");
    // Once the silent ones time out, a real client gets in.
    let conn = b.connect_guest().await;
    round_trip(&conn, "after.stalls").await;
    for mut s in silent {
        let mut rest = Vec::new();
        let n = tokio::time::timeout(PATIENCE, s.read_to_end(&mut rest))
            .await
            .expect("closed");
        // End of stream, with nothing sent: Warren hung up on it.
        assert!(matches!(n, Ok(0)), "a silent client is hung up on: {n:?}");
    }
    let failures = handshake_failures(&b.server);
    assert!(failures >= 1, "the plain AMQP header is a failed handshake");
    // A stalled HTTPS client does not hold up the management API.
    let https = b.server.management_tls_addr().unwrap();
    let _stalled = tokio::net::TcpStream::connect(https).await.unwrap();
    let auth = warren_tests::http::basic("guest", "guest");
    let (status, _, _) =
        warren_tests::http::https(&b.pki.connector(None), https, "GET", "/api/overview", Some(&auth)).await;
    assert_eq!(status, 200);
    conn.close(200, "bye".into()).await.unwrap();
}

#[tokio::test]
async fn a_rotated_certificate_serves_new_sessions_and_open_ones_carry_on() {
    let b = TlsBroker::start(|_, _| {}).await;
    let before = presented_certificate(&b.pki.connector(None), b.server.amqps_addr().unwrap()).await;
    let old = b.connect_guest().await;
    round_trip(&old, "rotation.before").await;
    // Broken files change nothing.
    std::fs::write(b.pki.path("server.pem"), "not a certificate").unwrap();
    let err = b.server.reload_tls().unwrap_err();
    assert!(err.contains("server.pem"), "{err}");
    let same = presented_certificate(&b.pki.connector(None), b.server.amqps_addr().unwrap()).await;
    assert_eq!(same, before);
    // A new certificate from the same CA.
    let next = b.pki.ca.server("warren-server-rotated");
    std::fs::write(b.pki.path("server.pem"), &next.cert_pem).unwrap();
    std::fs::write(b.pki.path("server.key"), &next.key_pem).unwrap();
    b.server.reload_tls().expect("reload");
    let after = presented_certificate(&b.pki.connector(None), b.server.amqps_addr().unwrap()).await;
    assert_eq!(after, next.der);
    let https = presented_certificate(&b.pki.connector(None), b.server.management_tls_addr().unwrap()).await;
    assert_eq!(https, next.der, "HTTPS uses it too");
    // The connection opened before the rotation keeps working.
    round_trip(&old, "rotation.after").await;
    let new = b.connect_guest().await;
    round_trip(&new, "rotation.new").await;
    // The management call does the same as SIGHUP.
    let auth = warren_tests::http::basic("guest", "guest");
    let (status, _, _) = warren_tests::http::https(
        &b.pki.connector(None),
        b.server.management_tls_addr().unwrap(),
        "POST",
        "/api/tls/reload",
        Some(&auth),
    )
    .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn update_secret_rechecks_the_password() {
    let s = start().await;
    let conn = connect(&s).await;
    conn.update_secret("guest".into(), "rotated".into())
        .await
        .expect("the same password is accepted");
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "secret.q").await.unwrap();
    let err = conn
        .update_secret("not-the-password".into(), "rotated".into())
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(530), "{err}");
    assert!(
        reply_text(&err).contains("Secret update was refused for user 'guest'"),
        "{err}"
    );
    still_serving(&s).await;
}

/// The failed TLS handshakes counted (Prometheus'
/// `warren_tls_handshake_failures_total`).
fn handshake_failures(server: &Server) -> u64 {
    server
        .broker
        .stats
        .tls_handshake_failures
        .load(std::sync::atomic::Ordering::Relaxed)
}
