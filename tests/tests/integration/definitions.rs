//! A definitions file exported from a real RabbitMQ (3.10.8; see
//! tests/fixtures) imports into Warren at start: users log in with the
//! passwords they had there, and policies, alternate exchanges,
//! exchange-to-exchange bindings and queue types behave as they did.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Connection, ConnectionProperties};
use warren_tests::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/rabbitmq-3.10-definitions.json"
);

fn persistent() -> lapin::BasicProperties {
    lapin::BasicProperties::default().with_delivery_mode(2)
}

async fn start_with_file(dir: &std::path::Path) -> Server {
    let mut config = Config::ephemeral();
    config.data_dir = dir.to_path_buf();
    config.definitions_file = Some(FIXTURE.into());
    warren_server::start(config)
        .await
        .expect("starts with RabbitMQ's definitions")
}

#[tokio::test]
async fn a_rabbitmq_export_imports_at_start_and_works_the_same() {
    let dir = std::env::temp_dir().join(format!("warren-defs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = start_with_file(&dir).await;
    let url = format!(
        "amqp://fixture-user:fixture-pass@127.0.0.1:{}/fixture-v",
        s.addr().port()
    );
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .expect("the password set on RabbitMQ works on Warren");
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let publish = |key: &'static str| {
        let ch = ch.clone();
        async move {
            ch.basic_publish(
                "fx-main".into(),
                key.into(),
                BasicPublishOptions::default(),
                b"m",
                persistent(),
            )
            .await
            .unwrap()
            .await
            .unwrap()
        }
    };
    // fx-main --a.b.c--> fx-topic --a.*.c--> fx-capped (max-length 3,
    // reject-publish by policy); anything else goes to the alternate
    // exchange fx-ae and on to fx-unrouted.
    let mut acked = 0;
    for _ in 0..5 {
        if publish("a.b.c").await.is_ack() {
            acked += 1;
        }
    }
    assert_eq!(
        acked, 3,
        "the imported policy rejects publishes over max-length 3"
    );
    assert!(publish("elsewhere").await.is_ack());
    assert_eq!(count(&ch, "fx-capped").await, 3);
    assert_eq!(count(&ch, "fx-unrouted").await, 1);
    let quorum = s.broker.vhost("fixture-v").unwrap().queue("fx-quorum").unwrap();
    assert_eq!(quorum.args.queue_type.as_str(), "quorum");
    drop(quorum); // it holds the store open
                  // The imported permissions: configure only on ^fx-.
    let err = declare(&conn.create_channel().await.unwrap(), "other")
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(403));
    conn.close(200, "bye".into()).await.unwrap();
    s.shutdown().await;
    // Importing again at the next start changes nothing and loses nothing.
    let s = start_with_file(&dir).await;
    let url = format!(
        "amqp://fixture-user:fixture-pass@127.0.0.1:{}/fixture-v",
        s.addr().port()
    );
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(count(&ch, "fx-capped").await, 3);
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
