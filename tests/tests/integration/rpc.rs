//! Request/reply with reply_to and correlation_id.

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use warren_tests::*;

#[tokio::test]
async fn replies_reach_the_callback_queue_with_the_correlation_id() {
    let s = start().await;
    let server_conn = connect(&s).await;
    let server_ch = server_conn.create_channel().await.unwrap();
    declare(&server_ch, "rpc").await.unwrap();
    let mut requests = consume(&server_ch, "rpc", false).await;
    let responder = tokio::spawn(async move {
        for _ in 0..3 {
            let d = next(&mut requests).await;
            let n: u64 = String::from_utf8_lossy(&d.data).parse().unwrap();
            let reply_to = d.properties.reply_to().clone().unwrap();
            let corr = d.properties.correlation_id().clone().unwrap();
            server_ch
                .basic_publish(
                    "".into(),
                    reply_to,
                    BasicPublishOptions::default(),
                    (n * n).to_string().as_bytes(),
                    BasicProperties::default().with_correlation_id(corr),
                )
                .await
                .unwrap();
            d.ack(BasicAckOptions::default()).await.unwrap();
        }
    });
    let client = connect(&s).await;
    let ch = client.create_channel().await.unwrap();
    let callback = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert!(callback.name().as_str().starts_with("amq.gen-"));
    let mut replies = consume(&ch, callback.name().as_str(), true).await;
    for n in [3u64, 4, 5] {
        let corr = format!("req-{n}");
        ch.basic_publish(
            "".into(),
            "rpc".into(),
            BasicPublishOptions::default(),
            n.to_string().as_bytes(),
            BasicProperties::default()
                .with_reply_to(callback.name().clone())
                .with_correlation_id(corr.clone().into()),
        )
        .await
        .unwrap();
        let r = next(&mut replies).await;
        assert_eq!(
            r.properties.correlation_id().as_ref().map(|c| c.to_string()),
            Some(corr)
        );
        assert_eq!(r.data, (n * n).to_string().as_bytes());
    }
    responder.await.unwrap();
}
