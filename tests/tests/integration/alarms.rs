//! Resource alarms block publishers (with connection.blocked) while
//! consumers keep draining; clearing the alarm unblocks them.

use std::time::Duration;

use warren_codec::protocol::connection;
use warren_tests::raw::Raw;
use warren_tests::*;

#[tokio::test]
async fn an_alarm_blocks_publishers_but_not_consumers() {
    let s = start().await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "alarmed").await.unwrap();
    let mut consumer = consume(&ch, "alarmed", true).await;

    let mut publisher = Raw::connect(s.addr()).await;
    publisher.open_channel(1).await;
    publisher.publish(1, "alarmed", b"before").await;
    assert_eq!(next(&mut consumer).await.data, b"before");

    s.alarms.set_memory(true);
    publisher.publish(1, "alarmed", b"during-1").await;
    let reason = publisher
        .expect_connection_method(|m| match m {
            connection::AMQPMethod::Blocked(b) => Some(b.reason.to_string()),
            _ => None,
        })
        .await;
    assert_eq!(reason, "low on memory");
    // The publisher's socket is no longer read: later publishes wait.
    publisher.publish(1, "alarmed", b"during-2").await;
    // The first one may have been read with the batch that blocked it.
    let early = tokio::time::timeout(
        Duration::from_millis(300),
        futures_lite::StreamExt::next(&mut consumer),
    )
    .await;
    if let Ok(Some(Ok(d))) = early {
        assert_eq!(d.data, b"during-1");
        assert_quiet(&mut consumer).await;
    }
    // The consumer's connection still works while the alarm is on.
    declare(&ch, "still-served").await.unwrap();

    s.alarms.set_memory(false);
    publisher
        .expect_connection_method(|m| matches!(m, connection::AMQPMethod::Unblocked(_)).then_some(()))
        .await;
    let mut rest = Vec::new();
    while rest.last().map(|b: &Vec<u8>| b.as_slice()) != Some(b"during-2") {
        rest.push(next(&mut consumer).await.data);
    }
}
