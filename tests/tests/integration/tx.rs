//! Transactions: publishes and acks take effect on commit, vanish on rollback.

use lapin::options::*;
use warren_tests::*;

async fn count(ch: &lapin::Channel, q: &str) -> u32 {
    declare(ch, q).await.unwrap().message_count()
}

#[tokio::test]
async fn publishes_wait_for_commit_and_rollback_discards_them() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "txq").await.unwrap();
    ch.tx_select().await.unwrap();
    publish(&ch, "", "txq", b"a").await;
    publish(&ch, "", "txq", b"b").await;
    assert_eq!(count(&ch, "txq").await, 0);
    ch.tx_commit().await.unwrap();
    assert_eq!(count(&ch, "txq").await, 2);
    publish(&ch, "", "txq", b"c").await;
    ch.tx_rollback().await.unwrap();
    ch.tx_commit().await.unwrap();
    assert_eq!(count(&ch, "txq").await, 2);
}

#[tokio::test]
async fn acks_wait_for_commit() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "txa").await.unwrap();
    publish(&ch, "", "txa", b"a").await;
    ch.tx_select().await.unwrap();
    let m = ch
        .basic_get("txa".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .unwrap();
    m.delivery.ack(BasicAckOptions::default()).await.unwrap();
    ch.tx_rollback().await.unwrap();
    // The ack was rolled back: the message is still unacked; recover requeues it.
    ch.basic_recover(BasicRecoverOptions { requeue: true })
        .await
        .unwrap();
    let again = ch
        .basic_get("txa".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
        .unwrap();
    assert!(again.delivery.redelivered);
    again.delivery.ack(BasicAckOptions::default()).await.unwrap();
    ch.tx_commit().await.unwrap();
    assert_eq!(count(&ch, "txa").await, 0);
}

#[tokio::test]
async fn commit_without_select_is_refused() {
    let (_s, _c, ch) = setup().await;
    let err = ch.tx_commit().await.unwrap_err();
    assert_eq!(reply_code(&err), Some(406), "{err}");
    assert!(reply_text(&err).contains("not transactional"), "{err}");
}
