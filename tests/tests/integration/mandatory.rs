//! Mandatory publishing: unroutable messages come back with 312 NO_ROUTE.

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use warren_tests::*;

#[tokio::test]
async fn unroutable_mandatory_message_is_returned_before_its_confirm() {
    let (_s, _c, ch) = setup().await;
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let confirm = ch
        .basic_publish(
            "amq.direct".into(),
            "nobody".into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            b"lost?",
            BasicProperties::default().with_message_id("m1".into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack());
    let returned = confirm.take_message().expect("a basic.return");
    assert_eq!(returned.reply_code, 312);
    assert_eq!(returned.reply_text.as_str(), "NO_ROUTE");
    assert_eq!(returned.delivery.data, b"lost?");
    assert_eq!(returned.delivery.routing_key.as_str(), "nobody");
    assert_eq!(
        returned
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.as_str()),
        Some("m1")
    );
}

#[tokio::test]
async fn routable_mandatory_and_unroutable_plain_messages_are_not_returned() {
    let (_s, _c, ch) = setup().await;
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    declare(&ch, "here").await.unwrap();
    let routed = ch
        .basic_publish(
            "".into(),
            "here".into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            b"x",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(routed.is_ack());
    assert!(routed.take_message().is_none());
    let plain = ch
        .basic_publish(
            "".into(),
            "nowhere".into(),
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(plain.take_message().is_none());
    let _ = FieldTable::default();
}
