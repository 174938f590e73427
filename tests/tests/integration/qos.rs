//! basic.qos as RabbitMQ reads it: per consumer (global=false) and per
//! channel (global=true); channel.flow pauses deliveries; recover requeues.

use lapin::options::*;
use warren_tests::*;

#[tokio::test]
async fn global_prefetch_limits_the_whole_channel() {
    let (_s, _c, ch) = setup().await;
    for q in ["g1", "g2"] {
        declare(&ch, q).await.unwrap();
        for i in 0..5 {
            publish(&ch, "", q, format!("{q}-{i}").as_bytes()).await;
        }
    }
    ch.basic_qos(3, BasicQosOptions { global: true }).await.unwrap();
    let mut a = consume(&ch, "g1", false).await;
    let mut b = consume(&ch, "g2", false).await;
    // Three unacked in all across both consumers, then nothing.
    let mut got = Vec::new();
    for _ in 0..3 {
        tokio::select! {
            d = next(&mut a) => got.push(d),
            d = next(&mut b) => got.push(d),
        }
    }
    assert_quiet(&mut a).await;
    assert_quiet(&mut b).await;
    got.remove(0).ack(BasicAckOptions::default()).await.unwrap();
    let one_more = tokio::select! {
        d = next(&mut a) => d,
        d = next(&mut b) => d,
    };
    got.push(one_more);
    assert_quiet(&mut a).await;
    assert_quiet(&mut b).await;
}

#[tokio::test]
async fn per_consumer_prefetch_applies_to_consumers_started_after_it() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "pc").await.unwrap();
    for i in 0..10 {
        publish(&ch, "", "pc", format!("{i}").as_bytes()).await;
    }
    ch.basic_qos(2, BasicQosOptions::default()).await.unwrap();
    let mut a = consume(&ch, "pc", false).await;
    let mut b = consume(&ch, "pc", false).await;
    let mut n = 0;
    for _ in 0..4 {
        tokio::select! {
            _ = next(&mut a) => n += 1,
            _ = next(&mut b) => n += 1,
        }
    }
    assert_eq!(n, 4);
    assert_quiet(&mut a).await;
    assert_quiet(&mut b).await;
}

#[tokio::test]
async fn channel_flow_pauses_and_resumes_deliveries() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "flow").await.unwrap();
    let mut c = consume(&ch, "flow", true).await;
    assert!(!ch
        .channel_flow(ChannelFlowOptions { active: false })
        .await
        .unwrap());
    publish(&ch, "", "flow", b"held").await;
    assert_quiet(&mut c).await;
    assert!(ch
        .channel_flow(ChannelFlowOptions { active: true })
        .await
        .unwrap());
    assert_eq!(next(&mut c).await.data, b"held");
}

#[tokio::test]
async fn recover_requeues_unacked_messages_as_redelivered() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "rec").await.unwrap();
    publish(&ch, "", "rec", b"once").await;
    let mut c = consume(&ch, "rec", false).await;
    let d = next(&mut c).await;
    assert!(!d.redelivered);
    ch.basic_recover(BasicRecoverOptions { requeue: true })
        .await
        .unwrap();
    let again = next(&mut c).await;
    assert!(again.redelivered);
    assert_eq!(again.data, b"once");
}
