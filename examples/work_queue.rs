//! A work queue with lapin: a durable queue, persistent tasks published
//! with publisher confirms, and a worker that takes one task at a time
//! (prefetch 1) and acknowledges each when done.
//!
//!     cargo run -p warren-examples --example work_queue
//!
//! Connects to `AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`).

use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

const TASKS: usize = 10;

#[tokio::main]
async fn main() -> Result<(), lapin::Error> {
    let url = std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare("tasks".into(), durable, FieldTable::default())
        .await?;

    // The producer: persistent messages, each confirmed by the broker.
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    for i in 0..TASKS {
        let body = format!("task {i}");
        ch.basic_publish(
            "".into(),
            "tasks".into(),
            BasicPublishOptions::default(),
            body.as_bytes(),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await?
        .await?;
    }
    println!("published {TASKS} tasks, all confirmed");

    // The worker: one unacknowledged task at a time.
    let worker = conn.create_channel().await?;
    worker.basic_qos(1, BasicQosOptions::default()).await?;
    let mut tasks = worker
        .basic_consume(
            "tasks".into(),
            "worker".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    for _ in 0..TASKS {
        let Some(delivery) = tasks.next().await else {
            break;
        };
        let delivery = delivery?;
        println!("done: {}", String::from_utf8_lossy(&delivery.data));
        delivery.ack(BasicAckOptions::default()).await?;
    }
    ch.queue_delete("tasks".into(), QueueDeleteOptions::default())
        .await?;
    conn.close(200, "bye".into()).await?;
    Ok(())
}
