//! Where memory goes: `/api/nodes/{node}/memory` (RabbitMQ's categories
//! and Warren's own), the Prometheus gauges, and connection buffers that
//! stay small for quiet clients and are let go after a burst.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_tests::http::{call, GUEST};
use warren_tests::raw::Raw;
use warren_tests::*;

const NODE: &str = "/api/nodes/warren@localhost";

async fn with_metrics() -> Server {
    let mut config = Config::ephemeral();
    config.management_port = Some(0);
    config.prometheus_port = Some(0);
    warren_server::start(config).await.unwrap()
}

async fn breakdown(s: &Server) -> Value {
    let (status, v) = call(s, "GET", &format!("{NODE}/memory"), GUEST, None).await;
    assert_eq!(status, 200, "{v}");
    v["memory"].clone()
}

fn bytes(m: &Value, category: &str) -> u64 {
    m[category]
        .as_u64()
        .unwrap_or_else(|| panic!("no {category} in {m}"))
}

fn buffers(m: &Value) -> u64 {
    bytes(m, "connection_readers") + bytes(m, "connection_writers")
}

/// The categories, without `strategy` and `total`.
fn categories(m: &Value) -> Vec<(String, u64)> {
    m.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "strategy" && *k != "total")
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or_else(|| panic!("{k}: {v}"))))
        .collect()
}

async fn scrape(s: &Server) -> String {
    let mut sock = tokio::net::TcpStream::connect(s.prometheus_addr().unwrap())
        .await
        .unwrap();
    sock.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    sock.read_to_string(&mut text).await.unwrap();
    text
}

fn gauge(text: &str, category: &str) -> u64 {
    let start = format!("warren_memory_bytes{{category=\"{category}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(start.as_str()))
        .unwrap_or_else(|| panic!("no {start} in {text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn breakdown_adds_up_and_follows_queued_messages() {
    let s = with_metrics().await;
    let m = breakdown(&s).await;
    assert_eq!(m["strategy"], "rss");
    let sum: u64 = categories(&m).iter().map(|(_, v)| v).sum();
    assert_eq!(sum, m["total"]["rss"].as_u64().unwrap(), "{m}");
    // Every category RabbitMQ names is there, for tools that read them.
    for k in [
        "connection_readers",
        "connection_writers",
        "connection_channels",
        "connection_other",
        "queue_procs",
        "quorum_queue_procs",
        "other_proc",
        "binary",
        "code",
        "other_system",
        "allocated_unused",
        "reserved_unallocated",
    ] {
        assert!(m[k].is_u64(), "{k} missing from {m}");
    }
    // The allocator's figures (jemalloc in this build).
    assert!(m["total"]["erlang"].as_u64().unwrap() > 0, "{m}");
    assert!(m["total"]["allocated"].as_u64().unwrap() > 0, "{m}");
    assert_eq!(bytes(&m, "queue_procs"), 0);

    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "mem.classic").await.unwrap();
    ch.queue_declare(
        "mem.quorum".into(),
        lapin::options::QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args(&[("x-queue-type", text("quorum"))]),
    )
    .await
    .unwrap();
    let body = vec![7u8; 10 * 1024];
    for _ in 0..200 {
        publish(&ch, "", "mem.classic", &body).await;
    }
    for _ in 0..100 {
        publish(&ch, "", "mem.quorum", &body).await;
    }
    sync(&ch).await;
    let m = breakdown(&s).await;
    assert!(bytes(&m, "queue_procs") >= 200 * 10 * 1024, "{m}");
    assert!(bytes(&m, "quorum_queue_procs") >= 100 * 10 * 1024, "{m}");
    let text = scrape(&s).await;
    assert!(gauge(&text, "queue_procs") >= 200 * 10 * 1024, "{text}");
    assert!(gauge(&text, "connection_readers") > 0, "{text}");
    assert!(text.contains("warren_allocator_resident_bytes "), "{text}");

    ch.queue_purge("mem.classic".into(), Default::default())
        .await
        .unwrap();
    ch.queue_purge("mem.quorum".into(), Default::default())
        .await
        .unwrap();
    let m = breakdown(&s).await;
    assert_eq!(bytes(&m, "queue_procs"), 0, "{m}");
    assert_eq!(bytes(&m, "quorum_queue_procs"), 0, "{m}");

    // As RabbitMQ: whole percentages with a total of 100, and the same
    // breakdown inside the node with `?memory=true`.
    let (status, rel) = call(&s, "GET", &format!("{NODE}/memory/relative"), GUEST, None).await;
    assert_eq!(status, 200);
    assert_eq!(rel["memory"]["total"], 100);
    for (k, pct) in categories(&rel["memory"]) {
        assert!(pct <= 100, "{k}: {pct}");
    }
    let (_, node) = call(&s, "GET", &format!("{NODE}?memory=true"), GUEST, None).await;
    assert!(node["memory"]["other_proc"].is_u64(), "{node}");
    let (_, node) = call(&s, "GET", NODE, GUEST, None).await;
    assert!(node.get("memory").is_none());
    let (status, _) = call(&s, "GET", "/api/nodes/rabbit@elsewhere/memory", GUEST, None).await;
    assert_eq!(status, 404);
    let untagged = http::user_with(&s, "mem.nobody", &[]);
    let (status, _) = call(&s, "GET", &format!("{NODE}/memory"), &untagged, None).await;
    assert_eq!(status, 401);
}

/// Polls the breakdown until the connection buffers are at most `limit`.
async fn buffers_down_to(s: &Server, limit: u64) -> u64 {
    let mut held = u64::MAX;
    for _ in 0..100 {
        held = buffers(&breakdown(s).await);
        if held <= limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    held
}

#[tokio::test]
async fn quiet_connections_keep_small_buffers() {
    let s = http::server().await;
    // Idle clients past the handshake: each holds well under 4 KiB.
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(Raw::connect(s.addr()).await);
    }
    let idle_held = buffers_down_to(&s, 50 * 4096).await;
    assert!(
        idle_held <= 50 * 4096,
        "{idle_held} bytes for 50 idle connections"
    );
    assert!(idle_held > 0, "buffers are counted");

    // A publisher's burst grows its buffers to read in large batches...
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "mem.burst").await.unwrap();
    let body = vec![1u8; 16 * 1024];
    for _ in 0..400 {
        publish(&ch, "", "mem.burst", &body).await;
    }
    sync(&ch).await;
    let grown = buffers(&breakdown(&s).await);
    assert!(
        grown >= idle_held + 16 * 1024,
        "a publisher's burst grew its buffers: {idle_held} -> {grown}"
    );
    // ...and lets them go once it is quiet, while its connection stays open.
    let after = buffers_down_to(&s, idle_held + 8192).await;
    assert!(
        after <= idle_held + 8192,
        "{after} bytes still held after the burst (idle: {idle_held})"
    );
    assert_eq!(count(&ch, "mem.burst").await, 400);

    drop(idle);
    conn.close(200, "bye".into()).await.unwrap();
    let closed = buffers_down_to(&s, 0).await;
    assert_eq!(closed, 0, "closed connections give their buffers back");
}
