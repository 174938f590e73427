//! Consumer timeouts, as RabbitMQ's: a delivery left unacknowledged past
//! the timeout (the broker's `consumer_timeout`, a queue's
//! `x-consumer-timeout`, or a `consumer-timeout` policy) closes its channel
//! with 406 and its messages go back to the queue. Driven by the broker's
//! test clock; the sweeper checks twice a second.

use std::time::Duration;

use futures_lite::StreamExt;
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use warren_tests::*;

/// A channel consuming `queue` with acks, holding its first delivery.
async fn holding(conn: &lapin::Connection, queue: &str) -> (lapin::Channel, lapin::Consumer) {
    let ch = conn.create_channel().await.unwrap();
    let mut consumer = ch
        .basic_consume(
            queue.into(),
            "holder".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let d = next(&mut consumer).await;
    assert_eq!(d.data, b"held");
    (ch, consumer)
}

/// The channel error that ends `consumer`.
async fn closed_with(consumer: &mut lapin::Consumer) -> lapin::Error {
    match tokio::time::timeout(PATIENCE, consumer.next()).await {
        Ok(Some(Err(e))) => e,
        other => panic!("the consumer's channel was not closed with an error: {other:?}"),
    }
}

#[tokio::test]
async fn a_delivery_unacked_past_the_default_30_minutes_closes_its_channel_and_is_requeued() {
    let (s, conn, ch) = setup().await;
    declare(&ch, "slow").await.unwrap();
    publish(&ch, "", "slow", b"held").await;
    let (held, mut consumer) = holding(&conn, "slow").await;
    advance(&s, &ch, Duration::from_secs(29 * 60)).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(held.status().connected(), "closed before its time");
    advance(&s, &ch, Duration::from_secs(61)).await;
    let e = closed_with(&mut consumer).await;
    assert_eq!(reply_code(&e), Some(406), "{e}");
    assert_eq!(
        reply_text(&e),
        "PRECONDITION_FAILED - delivery acknowledgement on channel 2 timed out. Timeout value used: 1800000 ms. \
         This timeout value can be configured, see consumers doc guide to learn more"
    );
    // Requeued, and the connection carries on.
    let again = get(&ch, "slow").await.expect("the message is back");
    assert!(again.delivery.redelivered);
}

#[tokio::test]
async fn x_consumer_timeout_and_the_consumer_timeout_policy_set_a_queues_own() {
    let (s, conn, ch) = setup().await;
    declare_with(
        &ch,
        "own",
        args(&[("x-consumer-timeout", AMQPValue::LongInt(5000))]),
    )
    .await
    .unwrap();
    publish(&ch, "", "own", b"held").await;
    let (_held, mut consumer) = holding(&conn, "own").await;
    advance(&s, &ch, Duration::from_secs(6)).await;
    let e = closed_with(&mut consumer).await;
    assert!(reply_text(&e).contains("Timeout value used: 5000 ms"), "{e}");

    s.broker
        .vhost("/")
        .unwrap()
        .put_policy(warren_store::definitions::PolicyDef {
            vhost: "/".into(),
            name: "quick".into(),
            pattern: "^by-policy$".into(),
            apply_to: "queues".into(),
            priority: 0,
            definition: serde_json::json!({"consumer-timeout": 2000})
                .as_object()
                .unwrap()
                .clone(),
        })
        .unwrap();
    declare(&ch, "by-policy").await.unwrap();
    publish(&ch, "", "by-policy", b"held").await;
    let (_held, mut consumer) = holding(&conn, "by-policy").await;
    advance(&s, &ch, Duration::from_secs(3)).await;
    let e = closed_with(&mut consumer).await;
    assert!(reply_text(&e).contains("Timeout value used: 2000 ms"), "{e}");
}

#[tokio::test]
async fn acknowledged_and_no_ack_deliveries_never_time_out() {
    let (s, conn, ch) = setup().await;
    declare(&ch, "fine").await.unwrap();
    declare(&ch, "auto").await.unwrap();
    publish(&ch, "", "fine", b"held").await;
    let (held, mut consumer) = holding(&conn, "fine").await;
    publish(&ch, "", "fine", b"second").await;
    let d = next(&mut consumer).await;
    d.ack(BasicAckOptions { multiple: true }).await.unwrap();
    let auto = conn.create_channel().await.unwrap();
    publish(&ch, "", "auto", b"auto").await;
    let mut auto_consumer = consume(&auto, "auto", true).await;
    assert_eq!(next(&mut auto_consumer).await.data, b"auto");
    sync(&held).await;
    advance(&s, &ch, Duration::from_secs(3600)).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(held.status().connected() && auto.status().connected());
}
