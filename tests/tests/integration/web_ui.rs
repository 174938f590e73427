//! The web UI's files are served at `/` without credentials, and a refused
//! script request gets no `WWW-Authenticate` challenge (the browser would
//! open its own password dialog over the login form). The UI itself is
//! tested in Chromium by tests/interop/ui_suite.py.

use warren_tests::http::{http, server};

#[tokio::test]
async fn the_ui_is_served_beside_the_api() {
    let s = server().await;
    let addr = s.management_addr().unwrap();
    for (path, kind, marker) in [
        ("/", "text/html", "js/app.js"),
        ("/index.html", "text/html", "css/app.css"),
        ("/js/core.js", "text/javascript", "/api/whoami"),
        ("/js/objects.js", "text/javascript", "/messages?offset="),
        ("/css/app.css", "text/css", "font"),
    ] {
        let (status, _, head) = http(addr, "GET", path, None, None).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            head.to_lowercase().contains(&format!("content-type: {kind}")),
            "{path}: {head}"
        );
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let body = raw_get(tcp, path).await;
        assert!(body.contains(marker), "{path} lacks {marker}");
    }
    // Every script the page loads is there.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let index = raw_get(tcp, "/").await;
    let scripts: Vec<&str> = index
        .split("<script src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert!(scripts.len() >= 5, "{index}");
    for script in scripts {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let body = raw_get(tcp, &format!("/{script}")).await;
        assert!(body.starts_with("HTTP/1.1 200"), "{script}: {body}");
        assert!(body.contains("'use strict';"), "{script}");
    }
    // The API still wants credentials.
    let (status, _, head) = http(addr, "GET", "/api/overview", None, None).await;
    assert_eq!(status, 401);
    assert!(head.to_lowercase().contains("www-authenticate: basic"), "{head}");
}

#[tokio::test]
async fn script_requests_are_refused_without_a_challenge() {
    let s = server().await;
    let addr = s.management_addr().unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let bad = warren_tests::http::basic("guest", "wrong");
    let answer = raw_request(
        tcp,
        &format!(
            "GET /api/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic {bad}\r\nX-Requested-With: XMLHttpRequest\r\n\r\n"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(!answer.to_lowercase().contains("www-authenticate"), "{answer}");
    assert!(answer.contains("Login failed"), "{answer}");
}

async fn raw_get(tcp: tokio::net::TcpStream, path: &str) -> String {
    raw_request(
        tcp,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await
}

async fn raw_request(mut tcp: tokio::net::TcpStream, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
