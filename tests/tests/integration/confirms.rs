//! Publisher confirms.

use lapin::options::*;
use lapin::BasicProperties;
use warren_tests::*;

#[tokio::test]
async fn every_publish_is_confirmed_and_enqueued() {
    let (_s, _c, ch) = setup().await;
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    declare(&ch, "conf").await.unwrap();
    let mut pending = Vec::new();
    for i in 0..500 {
        pending.push(
            ch.basic_publish(
                "".into(),
                "conf".into(),
                BasicPublishOptions::default(),
                format!("{i}").as_bytes(),
                BasicProperties::default(),
            )
            .await
            .unwrap(),
        );
    }
    for p in pending {
        assert!(p.await.unwrap().is_ack());
    }
    assert!(ch.wait_for_confirms().await.unwrap().is_empty());
    let q = declare(&ch, "conf").await.unwrap();
    assert_eq!(q.message_count(), 500);
}

#[tokio::test]
async fn confirm_select_after_tx_select_is_refused() {
    let (_s, _c, ch) = setup().await;
    ch.tx_select().await.unwrap();
    let err = ch
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406), "{err}");
}
