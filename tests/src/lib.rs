//! Helpers for Warren's integration tests: an in-process broker on port 0
//! and lapin connections to it.

use std::time::Duration;

use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::{Channel, Connection, ConnectionProperties, Consumer};
pub use warren_server::{Config, Server};

/// Starts a broker on 127.0.0.1 with a free port.
pub async fn start() -> Server {
    warren_server::start(Config::ephemeral())
        .await
        .expect("broker starts")
}

pub async fn connect(server: &Server) -> Connection {
    Connection::connect(&server.url(), ConnectionProperties::default())
        .await
        .expect("lapin connects")
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

/// The next delivery, failing the test after five seconds.
pub async fn next(consumer: &mut Consumer) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), consumer.next())
        .await
        .expect("a delivery within 5s")
        .expect("consumer open")
        .expect("delivery ok")
}

/// Asserts nothing arrives for a short while.
pub async fn assert_quiet(consumer: &mut Consumer) {
    let r = tokio::time::timeout(Duration::from_millis(200), consumer.next()).await;
    assert!(r.is_err(), "expected no delivery, got one");
}
