//! How long the management API takes to list 10,000 queues: whole, one
//! page, sorted by a counter, and with `columns`. Run in release mode:
//! `cargo bench -p warren-tests --bench management_listing`. Prints one
//! line per request kind (median and worst of the runs); nothing is
//! asserted, because speed is measured here, not tested.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_tests::http::{server, GUEST};

const QUEUES: usize = 10_000;
const RUNS: usize = 15;

#[tokio::main]
async fn main() {
    let s = server().await;
    let addr = s.management_addr().expect("the management API listens");
    let v = s.broker.vhost("/").expect("the default vhost");
    for i in 0..QUEUES {
        v.declare_queue(&format!("q{i:05}"), false, Default::default(), 0)
            .expect("declared");
    }
    for (what, path) in [
        ("whole listing", "/api/queues"),
        ("one page of 100", "/api/queues?page=50&page_size=100"),
        ("sorted by messages", "/api/queues?sort=messages"),
        ("columns=name,messages", "/api/queues?columns=name,messages"),
    ] {
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let started = Instant::now();
            let (status, bytes) = fetch(addr, path).await;
            times.push(started.elapsed());
            assert!(status.starts_with("HTTP/1.1 200"), "{path}: {status}");
            assert!(bytes > 100, "{path}");
        }
        times.sort();
        println!(
            "{QUEUES} queues, {what:<24} median {:>9.2?}  worst {:>9.2?}",
            times[RUNS / 2],
            times[RUNS - 1]
        );
    }
    s.shutdown().await;
}

/// The status line and the size of the answer, read whole but not parsed
/// (parsing 10 MB of JSON would measure the client, not the broker).
async fn fetch(addr: std::net::SocketAddr, path: &str) -> (String, usize) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {GUEST}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("request sent");
    let mut answer = Vec::with_capacity(16 << 20);
    s.read_to_end(&mut answer).await.expect("answer read");
    let status = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
    (status, answer.len())
}
