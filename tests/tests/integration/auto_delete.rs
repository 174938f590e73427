//! Auto-delete queues go when their last consumer does.

use lapin::options::*;
use lapin::types::FieldTable;
use warren_tests::*;

#[tokio::test]
async fn auto_delete_queue_is_deleted_after_its_last_consumer_cancels() {
    let (_s, _c, ch) = setup().await;
    ch.queue_declare(
        "ad".into(),
        QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    // lapin cancels a consumer when its stream is dropped, so keep both.
    let _c1 = ch
        .basic_consume(
            "ad".into(),
            "c1".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let _c2 = ch
        .basic_consume(
            "ad".into(),
            "c2".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    ch.basic_cancel("c1".into(), BasicCancelOptions::default())
        .await
        .unwrap();
    let q = passive(&ch, "ad").await.unwrap();
    assert_eq!(q.consumer_count(), 1);
    ch.basic_cancel("c2".into(), BasicCancelOptions::default())
        .await
        .unwrap();
    let err = passive(&ch, "ad").await.unwrap_err();
    assert_eq!(reply_code(&err), Some(404));
}

#[tokio::test]
async fn consumers_of_a_deleted_queue_get_basic_cancel() {
    let s = start().await;
    let c1 = connect(&s).await;
    let ch1 = c1.create_channel().await.unwrap();
    declare(&ch1, "doomed").await.unwrap();
    let mut consumer = consume(&ch1, "doomed", true).await;
    let c2 = connect(&s).await;
    let ch2 = c2.create_channel().await.unwrap();
    ch2.queue_delete("doomed".into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    // lapin ends the consumer stream when the server cancels it.
    let end = tokio::time::timeout(
        warren_tests::PATIENCE,
        futures_lite::StreamExt::next(&mut consumer),
    )
    .await
    .expect("stream ends");
    assert!(end.is_none(), "{end:?}");
}
