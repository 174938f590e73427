//! Exclusive queues belong to one connection and go with it.

use lapin::options::*;
use lapin::types::FieldTable;
use warren_tests::*;

#[tokio::test]
async fn other_connections_get_405_and_the_queue_dies_with_its_owner() {
    let s = start().await;
    let owner = connect(&s).await;
    let och = owner.create_channel().await.unwrap();
    och.queue_declare(
        "mine".into(),
        QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    let other = connect(&s).await;
    let ch = other.create_channel().await.unwrap();
    let err = consume_err(&ch, "mine").await;
    assert_eq!(reply_code(&err), Some(405), "{err}");
    assert!(reply_text(&err)
        .starts_with("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'mine'"));
    owner.close(200, "bye".into()).await.unwrap();
    let ch = other.create_channel().await.unwrap();
    let err = passive(&ch, "mine").await.unwrap_err();
    assert_eq!(reply_code(&err), Some(404), "{err}");
}

async fn consume_err(ch: &lapin::Channel, q: &str) -> lapin::Error {
    ch.basic_consume(
        q.into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect_err("consume refused")
}

#[tokio::test]
async fn exclusive_consumer_locks_out_others_with_403() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "solo").await.unwrap();
    ch.basic_consume(
        "solo".into(),
        "first".into(),
        BasicConsumeOptions {
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    let err = consume_err(&ch, "solo").await;
    assert_eq!(reply_code(&err), Some(403), "{err}");
}
