//! Removing what is not there, as RabbitMQ answers it (observed on 3.10.8):
//! `queue.unbind` and `exchange.unbind` answer ok when the queue, the
//! exchange or the binding is missing (cleanup code unbinds after deleting:
//! aio-pika's RPC does on close), `queue.delete`, `exchange.delete` and
//! `basic.cancel` of missing objects answer ok, and what RabbitMQ refuses
//! (the default exchange, another connection's exclusive queue, a purge of
//! a missing queue) is still refused with its codes and texts.

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ExchangeKind};
use warren_tests::*;

async fn unbind_queue(ch: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    ch.queue_unbind(queue.into(), exchange.into(), key.into(), FieldTable::default())
        .await
}

async fn unbind_exchange(ch: &Channel, destination: &str, source: &str, key: &str) -> lapin::Result<()> {
    ch.exchange_unbind(
        destination.into(),
        source.into(),
        key.into(),
        ExchangeUnbindOptions::default(),
        FieldTable::default(),
    )
    .await
}

async fn direct_exchange(ch: &Channel, name: &str) {
    ch.exchange_declare(
        name.into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
}

/// Asserts `result` is a channel error with `code` and `text`, and that the
/// connection survived it.
fn assert_refused(conn: &Connection, result: lapin::Result<()>, code: u16, text: &str) {
    let err = result.expect_err(text);
    assert_eq!(reply_code(&err), Some(code), "{err}");
    assert_eq!(reply_text(&err), text);
    assert!(conn.status().connected(), "a channel error only");
}

#[tokio::test]
async fn queue_unbind_answers_ok_when_there_is_nothing_to_unbind() {
    let (s, _conn, ch) = setup().await;
    // A queue and an exchange that never existed.
    unbind_queue(&ch, "never-q", "never-x", "k").await.unwrap();
    // An existing queue, a missing exchange; a missing queue, an existing
    // exchange; both existing but not bound (by key, then by arguments).
    declare(&ch, "q").await.unwrap();
    unbind_queue(&ch, "q", "never-x", "k").await.unwrap();
    unbind_queue(&ch, "never-q", "amq.direct", "k").await.unwrap();
    bind(&ch, "q", "amq.direct", "k").await.unwrap();
    unbind_queue(&ch, "q", "amq.direct", "other").await.unwrap();
    let mut args = FieldTable::default();
    args.insert("x-any".into(), lapin::types::AMQPValue::Boolean(true));
    ch.queue_unbind("q".into(), "amq.direct".into(), "k".into(), args)
        .await
        .unwrap();
    // None of those removed the real binding; unbinding it works, twice.
    let v = s.broker.vhost("/").unwrap();
    assert_eq!(v.exchange("amq.direct").unwrap().bindings().len(), 1);
    unbind_queue(&ch, "q", "amq.direct", "k").await.unwrap();
    unbind_queue(&ch, "q", "amq.direct", "k").await.unwrap();
    assert!(v.exchange("amq.direct").unwrap().bindings().is_empty());
}

#[tokio::test]
async fn unbinding_a_deleted_auto_delete_queue_answers_ok() {
    // aio-pika's RPC close(): the auto-delete reply queue is gone when its
    // consumer is cancelled, then the client unbinds it.
    let (s, conn, ch) = setup().await;
    let auto_delete = QueueDeclareOptions {
        auto_delete: true,
        ..Default::default()
    };
    let q = declare_as(&ch, "", auto_delete).await.unwrap();
    let name = q.name().to_string();
    bind(&ch, &name, "amq.direct", "rpc").await.unwrap();
    let consumer = consume(&ch, &name, true).await;
    ch.basic_cancel(consumer.tag(), BasicCancelOptions::default())
        .await
        .unwrap();
    assert!(
        s.broker.vhost("/").unwrap().queue(&name).is_none(),
        "auto-deleted"
    );
    unbind_queue(&ch, &name, "amq.direct", "rpc").await.unwrap();
    // The channel is still open for more work.
    declare(&ch, "after").await.unwrap();
    assert!(conn.status().connected());
}

#[tokio::test]
async fn exchange_unbind_answers_ok_when_there_is_nothing_to_unbind() {
    let (_s, _conn, ch) = setup().await;
    unbind_exchange(&ch, "never-d", "never-s", "k").await.unwrap();
    unbind_exchange(&ch, "never-d", "amq.direct", "k").await.unwrap();
    unbind_exchange(&ch, "amq.direct", "never-s", "k").await.unwrap();
    unbind_exchange(&ch, "amq.fanout", "amq.direct", "k")
        .await
        .unwrap();
    // A real binding goes, and going twice is fine.
    direct_exchange(&ch, "src").await;
    direct_exchange(&ch, "dst").await;
    bind_exchange(&ch, "dst", "src", "k").await.unwrap();
    declare(&ch, "via").await.unwrap();
    bind(&ch, "via", "dst", "k").await.unwrap();
    unbind_exchange(&ch, "dst", "src", "k").await.unwrap();
    unbind_exchange(&ch, "dst", "src", "k").await.unwrap();
    publish(&ch, "src", "k", b"not routed").await;
    publish(&ch, "dst", "k", b"routed").await;
    let got = ch
        .basic_get("via".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the message published to dst");
    assert_eq!(got.delivery.data, b"routed");
    let none = ch
        .basic_get("via".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap();
    assert!(none.is_none(), "src no longer routes to dst");
}

#[tokio::test]
async fn the_default_exchange_is_refused_before_existence_is_looked_at() {
    let (_s, conn, _ch) = setup().await;
    let refused = "ACCESS_REFUSED - operation not permitted on the default exchange";
    let ch = conn.create_channel().await.unwrap();
    assert_refused(&conn, unbind_queue(&ch, "never-q", "", "k").await, 403, refused);
    let ch = conn.create_channel().await.unwrap();
    assert_refused(
        &conn,
        unbind_exchange(&ch, "amq.direct", "", "k").await,
        403,
        refused,
    );
    let ch = conn.create_channel().await.unwrap();
    assert_refused(
        &conn,
        unbind_exchange(&ch, "", "never-s", "k").await,
        403,
        refused,
    );
    let ch = conn.create_channel().await.unwrap();
    let result = bind(&ch, "never-q", "", "k").await;
    assert_refused(&conn, result, 403, refused);
    let ch = conn.create_channel().await.unwrap();
    let result = bind_exchange(&ch, "", "never-s", "k").await;
    assert_refused(&conn, result, 403, refused);
}

#[tokio::test]
async fn binds_name_the_missing_source_first_as_rabbitmq_does() {
    let (_s, conn, _ch) = setup().await;
    let ch = conn.create_channel().await.unwrap();
    let result = bind(&ch, "never-q", "never-x", "k").await;
    assert_refused(
        &conn,
        result,
        404,
        "NOT_FOUND - no exchange 'never-x' in vhost '/'",
    );
    let ch = conn.create_channel().await.unwrap();
    let result = bind_exchange(&ch, "never-d", "never-s", "k").await;
    assert_refused(
        &conn,
        result,
        404,
        "NOT_FOUND - no exchange 'never-s' in vhost '/'",
    );
    let ch = conn.create_channel().await.unwrap();
    let result = bind_exchange(&ch, "never-d", "amq.direct", "k").await;
    assert_refused(
        &conn,
        result,
        404,
        "NOT_FOUND - no exchange 'never-d' in vhost '/'",
    );
}

#[tokio::test]
async fn another_connections_exclusive_queue_is_locked_only_when_the_binding_exists() {
    let (s, conn, _ch) = setup().await;
    let owner = connect(&s).await;
    let och = owner.create_channel().await.unwrap();
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        ..Default::default()
    };
    declare_as(&och, "mine", exclusive).await.unwrap();
    bind(&och, "mine", "amq.direct", "k").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    unbind_queue(&ch, "mine", "never-x", "k").await.unwrap();
    unbind_queue(&ch, "mine", "amq.direct", "other").await.unwrap();
    assert_refused(
        &conn,
        unbind_queue(&ch, "mine", "amq.direct", "k").await,
        405,
        "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'mine' in vhost '/'. \
         It could be originally declared on another connection or the exclusive property value \
         does not match that of the original declaration.",
    );
    // The owner's binding is untouched.
    let x = s.broker.vhost("/").unwrap().exchange("amq.direct").unwrap();
    assert_eq!(x.bindings().len(), 1);
}

#[tokio::test]
async fn deletes_and_cancels_of_missing_objects_answer_ok_but_a_purge_does_not() {
    let (_s, conn, ch) = setup().await;
    let n = ch
        .queue_delete(
            "never-q".into(),
            QueueDeleteOptions {
                if_unused: true,
                if_empty: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(n, 0);
    ch.exchange_delete("never-x".into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
    ch.exchange_delete(
        "never-x".into(),
        ExchangeDeleteOptions {
            if_unused: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    ch.basic_cancel("never-tag".into(), BasicCancelOptions::default())
        .await
        .unwrap();
    let purge = ch
        .queue_purge("never-q".into(), QueuePurgeOptions::default())
        .await
        .map(drop);
    assert_refused(&conn, purge, 404, "NOT_FOUND - no queue 'never-q' in vhost '/'");
    // `""` with no queue declared on the channel: RabbitMQ's own text.
    let ch = conn.create_channel().await.unwrap();
    let unbind = unbind_queue(&ch, "", "amq.direct", "k").await;
    assert_refused(&conn, unbind, 404, "NOT_FOUND - no previously declared queue");
    let ch = conn.create_channel().await.unwrap();
    let refused = ch
        .exchange_delete("amq.direct".into(), ExchangeDeleteOptions::default())
        .await;
    assert_refused(
        &conn,
        refused,
        403,
        "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed",
    );
}
