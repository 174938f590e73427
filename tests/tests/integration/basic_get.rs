//! basic.get: get-ok with the remaining count, get-empty, ack and no-ack.

use lapin::options::*;
use warren_tests::*;

#[tokio::test]
async fn get_returns_messages_in_order_with_remaining_count() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "g").await.unwrap();
    for b in ["1", "2", "3"] {
        publish(&ch, "", "g", b.as_bytes()).await;
    }
    for (want, left) in [("1", 2), ("2", 1), ("3", 0)] {
        let m = ch
            .basic_get("g".into(), BasicGetOptions { no_ack: false })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.delivery.data, want.as_bytes());
        assert_eq!(m.message_count, left);
        m.delivery.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert!(ch
        .basic_get("g".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn get_on_a_missing_queue_is_404() {
    let (_s, _c, ch) = setup().await;
    let err = ch
        .basic_get("nope".into(), BasicGetOptions::default())
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(404));
    assert_eq!(reply_text(&err), "NOT_FOUND - no queue 'nope' in vhost '/'");
}

#[tokio::test]
async fn large_bodies_span_frames_both_ways() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "big").await.unwrap();
    let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    publish(&ch, "", "big", &body).await;
    let m = ch
        .basic_get("big".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.delivery.data, body);
}
