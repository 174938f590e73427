//! A backlog beyond the queue window is paged out to the message log: memory
//! holds a window of messages per queue, and order survives paging.

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use warren_tests::*;

#[tokio::test]
async fn a_backlog_is_paged_out_and_drains_in_order() {
    let mut config = Config::ephemeral();
    config.queue_window = 64;
    let s = warren_server::start(config).await.unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "plain").await.unwrap();
    ch.queue_declare(
        "durable".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    for i in 0..3000u32 {
        // Alternate transient and persistent messages into both queues.
        let props = if i % 2 == 0 {
            BasicProperties::default()
        } else {
            BasicProperties::default().with_delivery_mode(2)
        };
        for q in ["plain", "durable"] {
            ch.basic_publish(
                "".into(),
                q.into(),
                Default::default(),
                &i.to_be_bytes(),
                props.clone(),
            )
            .await
            .unwrap();
        }
    }
    ch.wait_for_confirms().await.unwrap();
    let v = s.broker.vhost("/").unwrap();
    for q in ["plain", "durable"] {
        let queue = v.find_queue(q, 0).unwrap();
        assert_eq!(queue.message_count(), 3000);
        assert!(queue.in_memory() <= 64, "{q}: {} in memory", queue.in_memory());
    }
    for q in ["plain", "durable"] {
        let mut c = consume(&ch, q, false).await;
        for i in 0..3000u32 {
            let d = next(&mut c).await;
            assert_eq!(d.data, i.to_be_bytes(), "{q}");
            d.ack(BasicAckOptions::default()).await.unwrap();
        }
    }
    // Once drained, the segments holding the backlog are deleted.
    let store = s.broker.store.clone().unwrap();
    sync(&ch).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        store.log.segment_count() <= 2,
        "{} segments left",
        store.log.segment_count()
    );
}
