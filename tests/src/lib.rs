//! Helpers for Warren's integration tests: an in-process broker on port 0
//! and lapin connections to it.

use std::time::Duration;

use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
pub use warren_server::{Config, Server};

pub mod http;
pub mod raw;
pub mod tls;

/// How long a test waits for something that must happen before it calls the
/// wait a hang. Never a speed bound: CI machines are busy and builds are
/// unoptimised, so this only has to be longer than any plausible stall.
/// Speed is measured by the benchmarks (`cargo bench -p warren-tests`).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Adds (or replaces) a user with `tags`.
pub fn add_user(s: &Server, name: &str, password: &str, tags: &[&str]) {
    s.broker.access.put_user(warren_store::definitions::UserDef {
        name: name.into(),
        password_hash: warren_broker::access::hash_password(password),
        hashing_algorithm: warren_broker::access::SHA256.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    });
}

/// Starts a broker on 127.0.0.1 with a free port.
pub async fn start() -> Server {
    warren_server::start(Config::ephemeral())
        .await
        .expect("broker starts")
}

/// Starts a broker on a free port whose data lives in `dir`.
pub async fn start_in(dir: &std::path::Path) -> Server {
    let mut config = Config::ephemeral();
    config.data_dir = dir.to_path_buf();
    warren_server::start(config).await.expect("broker starts")
}

/// After a hostile or broken client: a normal client still gets its
/// messages through.
pub async fn still_serving(s: &Server) {
    let conn = connect(s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "still-here").await.unwrap();
    publish(&ch, "", "still-here", b"alive").await;
    let mut consumer = consume(&ch, "still-here", true).await;
    assert_eq!(next(&mut consumer).await.data, b"alive");
    conn.close(200, "bye".into()).await.unwrap();
}

pub async fn connect(server: &Server) -> Connection {
    Connection::connect(&server.url(), ConnectionProperties::default())
        .await
        .expect("lapin connects")
}

/// A connection as `user` to `vhost`.
pub async fn connect_as(s: &Server, user: &str, password: &str, vhost: &str) -> lapin::Result<Connection> {
    let vhost = vhost.replace('/', "%2f");
    let url = format!("amqp://{user}:{password}@127.0.0.1:{}/{vhost}", s.addr().port());
    Connection::connect(&url, ConnectionProperties::default()).await
}

/// A broker, a connection and one channel.
pub async fn setup() -> (Server, Connection, Channel) {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = conn.create_channel().await.expect("channel opens");
    (server, conn, ch)
}

/// The AMQP reply code of a protocol error.
pub fn reply_code(e: &lapin::Error) -> Option<u16> {
    match e.kind() {
        lapin::ErrorKind::ProtocolError(a) => Some(a.get_id()),
        _ => None,
    }
}

/// The AMQP reply text of a protocol error.
pub fn reply_text(e: &lapin::Error) -> String {
    match e.kind() {
        lapin::ErrorKind::ProtocolError(a) => a.get_message().to_string(),
        other => format!("{other:?}"),
    }
}

/// The next delivery, failing the test if none comes within [`PATIENCE`].
pub async fn next(consumer: &mut Consumer) -> Delivery {
    tokio::time::timeout(PATIENCE, consumer.next())
        .await
        .expect("a delivery")
        .expect("consumer open")
        .expect("delivery ok")
}

/// Asserts nothing arrives for a short while.
pub async fn assert_quiet(consumer: &mut Consumer) {
    let r = tokio::time::timeout(Duration::from_millis(200), consumer.next()).await;
    assert!(r.is_err(), "expected no delivery, got one");
}

/// Declares a plain (non-durable, non-exclusive) queue.
pub async fn declare(ch: &Channel, name: &str) -> lapin::Result<lapin::Queue> {
    ch.queue_declare(name.into(), QueueDeclareOptions::default(), FieldTable::default())
        .await
}

/// Declares a durable queue.
pub async fn declare_durable(ch: &Channel, name: &str) -> lapin::Result<lapin::Queue> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(name.into(), durable, FieldTable::default())
        .await
}

/// Publishes `body` through `exchange` with `routing_key`.
pub async fn publish(ch: &Channel, exchange: &str, routing_key: &str, body: &[u8]) {
    ch.basic_publish(
        exchange.into(),
        routing_key.into(),
        BasicPublishOptions::default(),
        body,
        BasicProperties::default(),
    )
    .await
    .expect("publish");
}

/// Consumes `queue` with an automatic tag and manual acks.
pub async fn consume(ch: &Channel, queue: &str, no_ack: bool) -> Consumer {
    ch.basic_consume(
        queue.into(),
        "".into(),
        BasicConsumeOptions {
            no_ack,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("consume")
}

/// Drains `count` deliveries and returns their bodies as strings.
pub async fn bodies(consumer: &mut Consumer, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(String::from_utf8_lossy(&next(consumer).await.data).into_owned());
    }
    out
}

/// Queue arguments from `(name, value)` pairs.
pub fn args(pairs: &[(&str, lapin::types::AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), v.clone());
    }
    t
}

/// A long string argument value.
pub fn text(s: &str) -> lapin::types::AMQPValue {
    lapin::types::AMQPValue::LongString(s.into())
}

/// Declares a queue with arguments.
pub async fn declare_with(ch: &Channel, name: &str, arguments: FieldTable) -> lapin::Result<lapin::Queue> {
    ch.queue_declare(name.into(), QueueDeclareOptions::default(), arguments)
        .await
}

/// Declares a queue with these options and no arguments.
pub async fn declare_as(
    ch: &Channel,
    name: &str,
    options: QueueDeclareOptions,
) -> lapin::Result<lapin::Queue> {
    ch.queue_declare(name.into(), options, FieldTable::default())
        .await
}

/// Binds `queue` to `exchange` with `routing_key` and no arguments.
pub async fn bind(ch: &Channel, queue: &str, exchange: &str, routing_key: &str) -> lapin::Result<()> {
    ch.queue_bind(
        queue.into(),
        exchange.into(),
        routing_key.into(),
        lapin::options::QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
}

/// Binds exchange `destination` to `source` with `routing_key`.
pub async fn bind_exchange(
    ch: &Channel,
    destination: &str,
    source: &str,
    routing_key: &str,
) -> lapin::Result<()> {
    ch.exchange_bind(
        destination.into(),
        source.into(),
        routing_key.into(),
        lapin::options::ExchangeBindOptions::default(),
        FieldTable::default(),
    )
    .await
}

/// Ready messages in a queue (passive declare).
pub async fn count(ch: &Channel, name: &str) -> u32 {
    passive(ch, name).await.expect("queue exists").message_count()
}

/// Publishes with properties.
pub async fn publish_props(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    props: BasicProperties,
) {
    ch.basic_publish(
        exchange.into(),
        routing_key.into(),
        BasicPublishOptions::default(),
        body,
        props,
    )
    .await
    .expect("publish");
}

/// `basic.get` with no-ack: the body, or `None` when the queue is empty.
pub async fn get(ch: &Channel, queue: &str) -> Option<lapin::message::BasicGetMessage> {
    ch.basic_get(queue.into(), lapin::options::BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
}

/// Waits until the broker has handled everything sent on `ch` so far
/// (a passive declare is answered in order).
pub async fn sync(ch: &Channel) {
    ch.exchange_declare(
        "amq.direct".into(),
        lapin::ExchangeKind::Direct,
        lapin::options::ExchangeDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("passive declare of amq.direct");
}

/// Moves the broker's clock forward, once everything sent on `ch` has been
/// handled, and runs the broker's time-driven work.
pub async fn advance(server: &Server, ch: &Channel, by: Duration) {
    sync(ch).await;
    server.broker.clock.advance(by);
    server.broker.sweep();
}

/// Publishes on a confirm channel and returns the channel error the
/// publish causes (the channel must already be in confirm mode).
pub async fn publish_error(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    props: BasicProperties,
) -> lapin::Error {
    publish_body_error(ch, exchange, routing_key, props, b"x").await
}

/// [`publish_error`] with this body.
pub async fn publish_body_error(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    props: BasicProperties,
    body: &[u8],
) -> lapin::Error {
    let res = ch
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            props,
        )
        .await;
    match res {
        Ok(confirm) => confirm.await.expect_err("the publish fails"),
        Err(e) => e,
    }
}

/// A passive `queue.declare`: the queue's counts, or the error when it is gone.
pub async fn passive(ch: &Channel, name: &str) -> lapin::Result<lapin::Queue> {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
}
