//! A minimal HTTP client for the management API tests (the tests need
//! status codes and headers exactly as sent, which a plain socket gives).

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Config, Server};

/// `guest:guest` as HTTP basic credentials.
pub const GUEST: &str = "Z3Vlc3Q6Z3Vlc3Q=";

/// Basic credentials for `user:password`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// A broker with the management API on a free port.
pub async fn server() -> Server {
    let mut config = Config::ephemeral();
    config.management_port = Some(0);
    warren_server::start(config).await.unwrap()
}

/// A broker with the management API whose data lives in `dir`.
pub async fn server_in(dir: &std::path::Path) -> Server {
    let mut config = Config::ephemeral();
    config.data_dir = dir.to_path_buf();
    config.management_port = Some(0);
    warren_server::start(config).await.unwrap()
}

/// Adds a user with `tags` and every permission on `/`; its basic
/// credentials.
pub fn user_with(s: &Server, name: &str, tags: &[&str]) -> String {
    user_permitted(s, name, tags, ".*", ".*")
}

/// Adds a user with `tags`, no configure permission and these `write` and
/// `read` patterns on `/`; its basic credentials.
pub fn user_permitted(s: &Server, name: &str, tags: &[&str], write: &str, read: &str) -> String {
    crate::add_user(s, name, "pw", tags);
    let configure = if write == ".*" && read == ".*" { ".*" } else { "" };
    s.broker
        .access
        .put_permission(warren_store::definitions::PermissionDef {
            user: name.into(),
            vhost: "/".into(),
            configure: configure.into(),
            write: write.into(),
            read: read.into(),
        })
        .unwrap();
    basic(name, "pw")
}

/// A request to `s`'s management API with basic credentials `auth` and a
/// JSON body; the status and the JSON answer.
pub async fn call(s: &Server, method: &str, path: &str, auth: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let (status, v, _) = http(
        s.management_addr().unwrap(),
        method,
        path,
        Some(auth),
        body.as_deref(),
    )
    .await;
    (status, v)
}

/// A minimal HTTP/1.1 request with a JSON body; returns the status, the
/// JSON body and the head.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> (u16, Value, String) {
    http_as(addr, method, path, auth, "application/json", body).await
}

/// [`http`] with another content type (`curl -d` sends a form's).
pub async fn http_as(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    content_type: &str,
    body: Option<&str>,
) -> (u16, Value, String) {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    exchange(s, method, path, auth, content_type, body).await
}

/// [`http`] over TLS with `connector` (see [`crate::tls::Pki::connector`]).
pub async fn https(
    connector: &tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, Value, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    exchange(tls, method, path, auth, "application/json", None).await
}

async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    method: &str,
    path: &str,
    auth: Option<&str>,
    content_type: &str,
    body: Option<&str>,
) -> (u16, Value, String) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: Basic {a}\r\n"));
    }
    let body = body.unwrap_or("");
    req.push_str(&format!(
        "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // A TLS peer may hang up without close_notify once it has answered.
    if let Err(e) = s.read_to_end(&mut raw).await {
        assert!(!raw.is_empty(), "no answer: {e}");
    }
    let resp = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (
        status,
        serde_json::from_str(rest).unwrap_or(Value::Null),
        head.to_string(),
    )
}
