//! Prometheus metrics with rabbitmq_prometheus's names.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_tests::*;

async fn scrape(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    resp
}

/// The value of the sample line `name{...}` or `name`.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_report_queues_and_messages() {
    let mut config = Config::ephemeral();
    config.prometheus_port = Some(0);
    let s = warren_server::start(config).await.unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "m1").await.unwrap();
    declare(&ch, "m2").await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    for _ in 0..3 {
        publish(&ch, "", "m1", b"x").await;
    }
    // Unroutable: one dropped, one returned.
    publish(&ch, "amq.direct", "nowhere", b"x").await;
    ch.basic_publish(
        "amq.direct".into(),
        "nowhere".into(),
        lapin::options::BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        },
        b"x",
        Default::default(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let _held = ch
        .basic_get("m1".into(), Default::default())
        .await
        .unwrap()
        .unwrap();
    sync(&ch).await;
    let addr = s.prometheus_addr().unwrap();
    let text = scrape(addr, "/metrics").await;
    assert_eq!(sample(&text, "rabbitmq_queues "), Some(2.0), "{text}");
    assert_eq!(sample(&text, "rabbitmq_queue_messages "), Some(3.0));
    assert_eq!(sample(&text, "rabbitmq_queue_messages_ready "), Some(2.0));
    assert_eq!(sample(&text, "rabbitmq_queue_messages_unacked "), Some(1.0));
    assert_eq!(
        sample(&text, "rabbitmq_global_messages_delivered_total "),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "rabbitmq_global_messages_received_total "),
        Some(5.0)
    );
    assert_eq!(sample(&text, "rabbitmq_global_messages_routed_total "), Some(3.0));
    assert_eq!(
        sample(&text, "rabbitmq_global_messages_unroutable_dropped_total "),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "rabbitmq_global_messages_unroutable_returned_total "),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "rabbitmq_global_messages_confirmed_total "),
        Some(5.0)
    );
    assert_eq!(
        sample(&text, "rabbitmq_global_messages_received_confirm_total "),
        Some(5.0),
        "all five were published in confirm mode"
    );
    assert_eq!(sample(&text, "rabbitmq_connections "), Some(1.0));
    assert_eq!(sample(&text, "rabbitmq_channels "), Some(1.0));
    assert!(sample(&text, "rabbitmq_process_resident_memory_bytes ").unwrap() > 0.0);
    assert!(sample(&text, "rabbitmq_disk_space_available_bytes ").is_some());
    declare(&ch, "evil\"} 1\nfake_metric 1").await.unwrap();
    let per = scrape(addr, "/metrics/per-object").await;
    assert!(
        per.contains(r#"queue="evil\"} 1\nfake_metric 1""#),
        "queue names are escaped in labels: {per}"
    );
    assert!(!per.lines().any(|l| l.starts_with("fake_metric")), "{per}");
    assert_eq!(
        sample(&per, "rabbitmq_queue_messages_ready{vhost=\"/\",queue=\"m1\"}"),
        Some(2.0),
        "{per}"
    );
    // Totals are counters: deleting a queue does not lower them.
    drop(_held);
    ch.queue_delete("m1".into(), Default::default()).await.unwrap();
    let after = scrape(addr, "/metrics").await;
    assert_eq!(
        sample(&after, "rabbitmq_global_messages_delivered_total "),
        Some(1.0),
        "{after}"
    );
}

/// What RabbitMQ's Grafana dashboards read besides the message counts: the
/// identity every query joins on, object churn, logins, dead-lettering,
/// limits and delivery kinds.
#[tokio::test]
async fn metrics_carry_what_the_rabbitmq_dashboards_join_and_plot() {
    let dir = std::env::temp_dir().join(format!("warren-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = || {
        let mut config = Config::ephemeral();
        config.prometheus_port = Some(0);
        config.data_dir = dir.clone();
        warren_server::start(config)
    };
    let s = start().await.unwrap();
    let addr = s.prometheus_addr().unwrap();
    let conn = connect(&s).await;
    assert!(connect_as(&s, "guest", "wrong", "/").await.is_err());
    let ch = conn.create_channel().await.unwrap();
    let ttl = args(&[("x-message-ttl", lapin::types::AMQPValue::LongInt(0))]);
    declare_with(&ch, "expiring", ttl).await.unwrap();
    declare(&ch, "kept").await.unwrap();
    declare(&ch, "kept").await.unwrap();
    publish(&ch, "", "expiring", b"gone").await;
    publish(&ch, "", "kept", b"one").await;
    publish(&ch, "", "kept", b"two").await;
    assert!(get(&ch, "kept").await.is_some());
    let mut consumer = consume(&ch, "kept", false).await;
    next(&mut consumer).await;
    let other = conn.create_channel().await.unwrap();
    other.close(200, "bye".into()).await.unwrap();
    ch.queue_delete("expiring".into(), Default::default())
        .await
        .unwrap();
    sync(&ch).await;
    let text = scrape(addr, "/metrics").await;
    let identity = text
        .lines()
        .find(|l| l.starts_with("rabbitmq_identity_info{"))
        .expect("rabbitmq_identity_info")
        .to_string();
    assert!(
        identity.contains(r#"rabbitmq_node="warren@localhost""#),
        "{identity}"
    );
    assert!(identity.ends_with(" 1"));
    assert!(text.contains("rabbitmq_build_info{rabbitmq_version=\"3.13.7\""));
    for (metric, value) in [
        ("rabbitmq_connections_opened_total ", 2.0),
        ("rabbitmq_connections_closed_total ", 1.0),
        ("rabbitmq_channels_opened_total ", 2.0),
        ("rabbitmq_channels_closed_total ", 1.0),
        ("rabbitmq_queues_declared_total ", 3.0),
        ("rabbitmq_queues_created_total ", 2.0),
        ("rabbitmq_queues_deleted_total ", 1.0),
        ("rabbitmq_auth_attempts_succeeded_total{protocol=\"amqp091\"} ", 1.0),
        ("rabbitmq_auth_attempts_failed_total{protocol=\"amqp091\"} ", 1.0),
        (
            "rabbitmq_global_messages_dead_lettered_expired_total{queue_type=\"rabbit_classic_queue\",dead_letter_strategy=\"disabled\"} ",
            1.0,
        ),
        ("rabbitmq_global_messages_delivered_get_auto_ack_total ", 1.0),
        ("rabbitmq_global_messages_delivered_consume_manual_ack_total ", 1.0),
        ("rabbitmq_global_messages_received_confirm_total ", 0.0),
        ("rabbitmq_queue_messages_unacked_bytes ", 3.0),
        ("rabbitmq_global_publishers ", 1.0),
        ("rabbitmq_global_consumers ", 1.0),
        ("rabbitmq_alarms_memory_used_watermark ", 0.0),
    ] {
        assert_eq!(sample(&text, metric), Some(value), "{metric}\n{text}");
    }
    assert!(sample(&text, "rabbitmq_resident_memory_limit_bytes ").unwrap() > 0.0);
    assert!(sample(&text, "rabbitmq_process_open_fds ").unwrap() > 0.0);
    // The identity is permanent: the same after a restart.
    drop(consumer);
    drop(conn);
    s.shutdown().await;
    let s = start().await.unwrap();
    let again = scrape(s.prometheus_addr().unwrap(), "/metrics").await;
    assert!(again.contains(&identity), "{again}");
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
