//! Work queues: FIFO order, prefetch, fair dispatch, acks and requeue.

use lapin::options::*;
use lapin::types::FieldTable;
use warren_tests::*;

#[tokio::test]
async fn messages_arrive_in_order_and_acks_remove_them() {
    let (_s, _c, ch) = setup().await;
    ch.queue_declare(
        "work".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    for i in 0..100 {
        publish(&ch, "", "work", format!("m{i}").as_bytes()).await;
    }
    let mut consumer = ch
        .basic_consume(
            "work".into(),
            "c1".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    for i in 0..100 {
        let d = next(&mut consumer).await;
        assert_eq!(d.data, format!("m{i}").as_bytes());
        assert!(!d.redelivered);
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_quiet(&mut consumer).await;
    let q = passive(&ch, "work").await.unwrap();
    assert_eq!(q.message_count(), 0);
    assert_eq!(q.consumer_count(), 1);
}

#[tokio::test]
async fn prefetch_limits_unacked_and_dispatch_is_fair() {
    let (s, c1, ch1) = setup().await;
    let c2 = connect(&s).await;
    let ch2 = c2.create_channel().await.unwrap();
    ch1.queue_declare(
        "fair".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch1.basic_qos(1, BasicQosOptions::default()).await.unwrap();
    ch2.basic_qos(1, BasicQosOptions::default()).await.unwrap();
    let mut a = ch1
        .basic_consume(
            "fair".into(),
            "a".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut b = ch2
        .basic_consume(
            "fair".into(),
            "b".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    for i in 0..4 {
        publish(&ch1, "", "fair", format!("{i}").as_bytes()).await;
    }
    // Each consumer holds one unacked message; no more until it acks.
    let da = next(&mut a).await;
    let db = next(&mut b).await;
    assert_quiet(&mut a).await;
    assert_quiet(&mut b).await;
    let mut seen = vec![da.data.clone(), db.data.clone()];
    da.ack(BasicAckOptions::default()).await.unwrap();
    let da2 = next(&mut a).await;
    seen.push(da2.data.clone());
    db.ack(BasicAckOptions::default()).await.unwrap();
    let db2 = next(&mut b).await;
    seen.push(db2.data.clone());
    seen.sort();
    assert_eq!(
        seen,
        vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]
    );
    drop(c1);
}

#[tokio::test]
async fn nack_with_requeue_redelivers_at_the_original_position() {
    let (_s, _c, ch) = setup().await;
    ch.queue_declare("rq".into(), QueueDeclareOptions::default(), FieldTable::default())
        .await
        .unwrap();
    for i in 0..3 {
        publish(&ch, "", "rq", format!("{i}").as_bytes()).await;
    }
    ch.basic_qos(2, BasicQosOptions::default()).await.unwrap();
    let mut consumer = ch
        .basic_consume(
            "rq".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let d0 = next(&mut consumer).await;
    let d1 = next(&mut consumer).await;
    assert_eq!(d0.data, b"0");
    assert_eq!(d1.data, b"1");
    ch.basic_cancel("c".into(), BasicCancelOptions::default())
        .await
        .unwrap();
    d0.nack(BasicNackOptions {
        requeue: true,
        multiple: false,
    })
    .await
    .unwrap();
    d1.reject(BasicRejectOptions { requeue: true }).await.unwrap();
    // Requeued messages go back in front of "2", in their original order.
    for (want, redelivered) in [(b"0", true), (b"1", true), (b"2", false)] {
        let m = ch
            .basic_get("rq".into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
            .expect("a message");
        assert_eq!(m.delivery.data, want);
        assert_eq!(m.delivery.redelivered, redelivered);
    }
}

#[tokio::test]
async fn closing_a_channel_requeues_its_unacked_messages() {
    let (s, _c, ch) = setup().await;
    ch.queue_declare("cq".into(), QueueDeclareOptions::default(), FieldTable::default())
        .await
        .unwrap();
    publish(&ch, "", "cq", b"x").await;
    let c2 = connect(&s).await;
    let ch2 = c2.create_channel().await.unwrap();
    let mut consumer = ch2
        .basic_consume(
            "cq".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let d = next(&mut consumer).await;
    assert!(!d.redelivered);
    c2.close(200, "bye".into()).await.unwrap();
    let m = ch
        .basic_get("cq".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .expect("requeued");
    assert!(m.delivery.redelivered);
    assert_eq!(m.delivery.data, b"x");
}
