//! Durable definitions and persistent messages survive a restart; transient
//! ones do not, as in RabbitMQ.

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, ExchangeKind};
use warren_tests::*;

fn persistent() -> BasicProperties {
    BasicProperties::default().with_delivery_mode(2)
}

#[tokio::test]
async fn durable_state_and_persistent_messages_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("warren-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let s = start_in(&dir).await;
        let conn = connect(&s).await;
        let ch = conn.create_channel().await.unwrap();
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            "dx".into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.exchange_declare(
            "tx".into(),
            ExchangeKind::Fanout,
            Default::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.queue_declare(
            "dq".into(),
            durable,
            args(&[("x-max-length", lapin::types::AMQPValue::LongInt(100))]),
        )
        .await
        .unwrap();
        declare(&ch, "transient-q").await.unwrap();
        ch.queue_bind(
            "dq".into(),
            "dx".into(),
            "a.*".into(),
            Default::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.confirm_select(Default::default()).await.unwrap();
        for i in 0..10 {
            let props = if i == 5 {
                BasicProperties::default()
            } else {
                persistent()
            };
            let c = ch
                .basic_publish(
                    "dx".into(),
                    "a.b".into(),
                    Default::default(),
                    format!("m{i}").as_bytes(),
                    props,
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert!(c.is_ack());
        }
        // m0 acked, m1 delivered and left unacked at shutdown.
        let m0 = ch
            .basic_get("dq".into(), BasicGetOptions::default())
            .await
            .unwrap()
            .unwrap();
        m0.delivery.ack(Default::default()).await.unwrap();
        let m1 = ch
            .basic_get("dq".into(), BasicGetOptions::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m1.delivery.data, b"m1");
        sync(&ch).await;
        s.shutdown().await;
    }
    let s = start_in(&dir).await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            "dq".into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    // m1..m9 without the transient m5.
    assert_eq!(q.message_count(), 8);
    let mut got = Vec::new();
    while let Some(m) = get(&ch, "dq").await {
        got.push((
            String::from_utf8(m.delivery.data).unwrap(),
            m.delivery.redelivered,
        ));
    }
    let want: Vec<(String, bool)> = [1, 2, 3, 4, 6, 7, 8, 9]
        .iter()
        .map(|i| (format!("m{i}"), *i == 1))
        .collect();
    assert_eq!(got, want);
    // The binding came back too.
    publish_props(&ch, "dx", "a.z", b"again", persistent()).await;
    assert_eq!(count(&ch, "dq").await, 1);
    // Transient definitions did not.
    assert_eq!(
        reply_code(&passive(&ch, "transient-q").await.unwrap_err()),
        Some(404)
    );
    let ch = conn.create_channel().await.unwrap();
    let err = ch
        .exchange_declare(
            "tx".into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(404));
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_transaction_with_persistent_messages_commits_after_they_are_on_disk() {
    let dir = std::env::temp_dir().join(format!("warren-durability-tx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let s = start_in(&dir).await;
        let (conn, ch) = {
            let c = connect(&s).await;
            let ch = c.create_channel().await.unwrap();
            (c, ch)
        };
        ch.queue_declare(
            "txd".into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.tx_select().await.unwrap();
        for i in 0..5 {
            publish_props(&ch, "", "txd", format!("{i}").as_bytes(), persistent()).await;
        }
        ch.tx_commit().await.unwrap();
        drop(conn);
        s.shutdown().await;
    }
    let s = start_in(&dir).await;
    let ch = connect(&s).await.create_channel().await.unwrap();
    assert_eq!(count(&ch, "txd").await, 5);
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn messages_taken_without_ack_do_not_come_back_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("warren-durability-noack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let s = start_in(&dir).await;
        let conn = connect(&s).await;
        let ch = conn.create_channel().await.unwrap();
        ch.queue_declare(
            "na".into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
        for i in 0..3 {
            publish_props(&ch, "", "na", format!("{i}").as_bytes(), persistent()).await;
        }
        assert_eq!(get(&ch, "na").await.unwrap().delivery.data, b"0");
        let mut c = consume(&ch, "na", true).await;
        assert_eq!(next(&mut c).await.data, b"1");
        assert_eq!(next(&mut c).await.data, b"2");
        sync(&ch).await;
        drop(conn);
        s.shutdown().await;
    }
    let s = start_in(&dir).await;
    let ch = connect(&s).await.create_channel().await.unwrap();
    assert_eq!(count(&ch, "na").await, 0);
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
