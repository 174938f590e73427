//! Users, vhosts and permissions are enforced on AMQP operations as
//! RabbitMQ enforces them: which operation needs configure, write or read
//! on which queue or exchange, with RabbitMQ's 403 texts; vhost access on
//! connection.open; changes apply to open connections at once.

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use warren_store::definitions::PermissionDef;
use warren_tests::*;

/// (configure, write, read) expressions.
type Perms<'a> = (&'a str, &'a str, &'a str);

fn grant(s: &Server, user: &str, vhost: &str, (configure, write, read): Perms) {
    s.broker
        .access
        .put_permission(PermissionDef {
            user: user.into(),
            vhost: vhost.into(),
            configure: configure.into(),
            write: write.into(),
            read: read.into(),
        })
        .unwrap();
}

/// What an operation against the fixture objects (exchange `x`, queue `q`
/// bound to `x`, exchange `x2`) needs.
#[derive(Clone, Copy, Debug)]
enum Op {
    DeclareExchange,
    DeleteExchange,
    DeclareQueue,
    DeleteQueue,
    BindQueue,
    UnbindQueue,
    BindExchange,
    Purge,
    Publish,
    PublishDefault,
    Consume,
    Get,
}

async fn run(ch: &Channel, op: Op) -> lapin::Result<()> {
    let args = FieldTable::default;
    match op {
        Op::DeclareExchange => ch
            .exchange_declare(
                "x".into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions::default(),
                args(),
            )
            .await
            .map(drop),
        Op::DeleteExchange => {
            ch.exchange_delete("gone".into(), ExchangeDeleteOptions::default())
                .await
        }
        Op::DeclareQueue => ch
            .queue_declare("q".into(), QueueDeclareOptions::default(), args())
            .await
            .map(drop),
        Op::DeleteQueue => ch
            .queue_delete("gone".into(), QueueDeleteOptions::default())
            .await
            .map(drop),
        Op::BindQueue => {
            ch.queue_bind(
                "q".into(),
                "x".into(),
                "k2".into(),
                QueueBindOptions::default(),
                args(),
            )
            .await
        }
        Op::UnbindQueue => ch.queue_unbind("q".into(), "x".into(), "k".into(), args()).await,
        Op::BindExchange => {
            ch.exchange_bind(
                "x2".into(),
                "x".into(),
                "k".into(),
                ExchangeBindOptions::default(),
                args(),
            )
            .await
        }
        Op::Purge => ch
            .queue_purge("q".into(), QueuePurgeOptions::default())
            .await
            .map(drop),
        Op::Publish | Op::PublishDefault => {
            let (x, key) = if matches!(op, Op::Publish) {
                ("x", "k")
            } else {
                ("", "q")
            };
            // Under confirms the outcome is certain: an ack, or the channel
            // closed with the refusal.
            ch.confirm_select(Default::default()).await?;
            ch.basic_publish(
                x.into(),
                key.into(),
                BasicPublishOptions::default(),
                b"m",
                Default::default(),
            )
            .await?
            .await
            .map(drop)
        }
        Op::Consume => ch
            .basic_consume("q".into(), "".into(), BasicConsumeOptions::default(), args())
            .await
            .map(drop),
        Op::Get => ch
            .basic_get("q".into(), BasicGetOptions { no_ack: true })
            .await
            .map(drop),
    }
}

#[tokio::test]
async fn each_operation_needs_its_permission_on_its_resource() {
    let (s, _admin, admin) = setup().await;
    admin
        .exchange_declare(
            "x".into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    admin
        .exchange_declare(
            "x2".into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    declare(&admin, "q").await.unwrap();
    admin
        .queue_bind(
            "q".into(),
            "x".into(),
            "k".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    add_user(&s, "alice", "pw", &[]);
    grant(&s, "alice", "/", ("", "", ""));
    let conn = connect_as(&s, "alice", "pw", "/")
        .await
        .expect("a user without tags logs in over AMQP");
    let all = ".*";
    // (operation, permissions that lack exactly what it needs, the refusal
    // text, permissions that are just enough)
    let cases: Vec<(Op, Perms, &str, Perms)> = vec![
        (
            Op::DeclareExchange,
            ("^q$", all, all),
            "exchange 'x'",
            ("^x$", "", ""),
        ),
        (
            Op::DeleteExchange,
            ("^x$", all, all),
            "exchange 'gone'",
            ("^gone$", "", ""),
        ),
        (Op::DeclareQueue, ("^x$", all, all), "queue 'q'", ("^q$", "", "")),
        (
            Op::DeleteQueue,
            ("^q$", all, all),
            "queue 'gone'",
            ("^gone$", "", ""),
        ),
        (Op::BindQueue, (all, "^x$", all), "queue 'q'", ("", "^q$", "^x$")),
        (
            Op::BindQueue,
            (all, all, "^q$"),
            "exchange 'x'",
            ("", "^q$", "^x$"),
        ),
        (
            Op::UnbindQueue,
            (all, "^x$", all),
            "queue 'q'",
            ("", "^q$", "^x$"),
        ),
        (
            Op::BindExchange,
            (all, "^x$", all),
            "exchange 'x2'",
            ("", "^x2$", "^x$"),
        ),
        (
            Op::BindExchange,
            (all, all, "^x2$"),
            "exchange 'x'",
            ("", "^x2$", "^x$"),
        ),
        (Op::Purge, (all, all, "^x$"), "queue 'q'", ("", "", "^q$")),
        (Op::Publish, (all, "^q$", all), "exchange 'x'", ("", "^x$", "")),
        (
            Op::PublishDefault,
            (all, "^q$", all),
            "exchange 'amq.default'",
            ("", "^amq\\.default$", ""),
        ),
        (Op::Consume, (all, all, "^x$"), "queue 'q'", ("", "", "^q$")),
        (Op::Get, (all, all, "^x$"), "queue 'q'", ("", "", "^q$")),
    ];
    for (op, denied, what, allowed) in cases {
        grant(&s, "alice", "/", denied);
        let ch = conn.create_channel().await.unwrap();
        let err = run(&ch, op)
            .await
            .expect_err(&format!("{op:?} must be refused with {denied:?}"));
        assert_eq!(reply_code(&err), Some(403), "{op:?}: {err}");
        assert_eq!(
            reply_text(&err),
            format!("ACCESS_REFUSED - access to {what} in vhost '/' refused for user 'alice'"),
            "{op:?}"
        );
        grant(&s, "alice", "/", allowed);
        let ch = conn.create_channel().await.unwrap();
        run(&ch, op)
            .await
            .unwrap_or_else(|e| panic!("{op:?} must pass with {allowed:?}: {e}"));
    }
    assert!(conn.status().connected(), "403s close channels only");
}

#[tokio::test]
async fn passive_declares_need_no_permission_and_server_named_queues_are_checked_by_their_name() {
    let (s, _admin, admin) = setup().await;
    declare(&admin, "q").await.unwrap();
    add_user(&s, "bob", "pw", &[]);
    grant(&s, "bob", "/", ("", "", ""));
    let conn = connect_as(&s, "bob", "pw", "/").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    passive(&ch, "q")
        .await
        .expect("passive declare checks no permission");
    let err = declare(&ch, "").await.unwrap_err();
    assert!(
        reply_text(&err).starts_with("ACCESS_REFUSED - access to queue 'amq.gen-"),
        "{err}"
    );
    grant(&s, "bob", "/", ("^amq\\.gen-", "", ""));
    let ch = conn.create_channel().await.unwrap();
    let q = declare(&ch, "").await.unwrap();
    assert!(q.name().as_str().starts_with("amq.gen-"));
}

#[tokio::test]
async fn dead_letter_and_alternate_exchanges_need_write_on_them() {
    let (s, _admin, _) = setup().await;
    add_user(&s, "carol", "pw", &[]);
    let conn = connect_as_granted(&s, "carol", (".*", "^$", ".*")).await;
    let ch = conn.create_channel().await.unwrap();
    let err = declare_with(&ch, "dlq", args(&[("x-dead-letter-exchange", text("dlx"))]))
        .await
        .unwrap_err();
    assert_eq!(
        reply_text(&err),
        "ACCESS_REFUSED - access to exchange 'dlx' in vhost '/' refused for user 'carol'"
    );
    let ch = conn.create_channel().await.unwrap();
    let err = ch
        .exchange_declare(
            "withae".into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            args(&[("alternate-exchange", text("ae"))]),
        )
        .await
        .unwrap_err();
    assert_eq!(
        reply_text(&err),
        "ACCESS_REFUSED - access to exchange 'ae' in vhost '/' refused for user 'carol'"
    );
    grant(&s, "carol", "/", (".*", "^(dlx|ae)$", ".*"));
    let ch = conn.create_channel().await.unwrap();
    declare_with(&ch, "dlq", args(&[("x-dead-letter-exchange", text("dlx"))]))
        .await
        .unwrap();
}

async fn connect_as_granted(s: &Server, user: &str, perms: (&str, &str, &str)) -> Connection {
    grant(s, user, "/", perms);
    connect_as(s, user, "pw", "/").await.unwrap()
}

#[tokio::test]
async fn vhost_access_wrong_passwords_and_deleted_users() {
    let (s, _admin, _) = setup().await;
    add_user(&s, "dave", "pw", &["management"]);
    let err = connect_as(&s, "dave", "pw", "/").await.unwrap_err();
    assert_eq!(reply_code(&err), Some(530));
    assert_eq!(
        reply_text(&err),
        "NOT_ALLOWED - access to vhost '/' refused for user 'dave'"
    );
    let err = connect_as(&s, "dave", "wrong", "/").await.unwrap_err();
    assert_eq!(reply_code(&err), Some(403), "{err}");
    s.broker.add_vhost("v2");
    grant(&s, "dave", "v2", (".*", ".*", ".*"));
    let conn = connect_as(&s, "dave", "pw", "v2")
        .await
        .expect("access to v2 only");
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "in-v2").await.unwrap();
    assert!(
        s.broker.vhost("/").unwrap().queue("in-v2").is_none(),
        "vhosts are separate"
    );
    // Deleting the user closes their connections with 320, as RabbitMQ.
    assert!(s.broker.delete_user("dave"));
    for _ in 0..50 {
        if !conn.status().connected() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        !conn.status().connected(),
        "a deleted user's connection is closed"
    );
    assert!(connect_as(&s, "dave", "pw", "v2").await.is_err());
}

#[tokio::test]
async fn guest_may_log_in_only_from_loopback() {
    // The broker listens on every address; a non-loopback address of this
    // machine, if there is one, is what a remote client would use.
    let mut config = Config::ephemeral();
    config.bind = "0.0.0.0".into();
    let s = warren_server::start(config).await.unwrap();
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address on this machine; skipping the remote half");
        return;
    };
    let port = s.addr().port();
    let local = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
    Connection::connect(&local, ConnectionProperties::default())
        .await
        .unwrap();
    let remote = format!("amqp://guest:guest@{ip}:{port}/%2f");
    let err = Connection::connect(&remote, ConnectionProperties::default())
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(403), "{err}");
    add_user(&s, "erin", "pw", &[]);
    grant(&s, "erin", "/", (".*", ".*", ".*"));
    let remote = format!("amqp://erin:pw@{ip}:{port}/%2f");
    Connection::connect(&remote, ConnectionProperties::default())
        .await
        .expect("other users may log in from anywhere");
}

/// An address of this machine other than loopback (the one a UDP socket
/// would use to reach the outside; no packet is sent).
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("192.0.2.1:9").ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn a_message_may_not_claim_another_user_id() {
    let (_s, _conn, ch) = setup().await;
    declare(&ch, "uid").await.unwrap();
    let props = lapin::BasicProperties::default().with_user_id("guest".into());
    publish_props(&ch, "", "uid", b"mine", props).await;
    sync(&ch).await;
    assert_eq!(
        count(&ch, "uid").await,
        1,
        "the publisher's own user_id is accepted"
    );
    let props = lapin::BasicProperties::default().with_user_id("mallory".into());
    ch.confirm_select(Default::default()).await.unwrap();
    let err = ch
        .basic_publish("".into(), "uid".into(), Default::default(), b"forged", props)
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    assert_eq!(
        reply_text(&err),
        "PRECONDITION_FAILED - user_id property set to 'mallory' but authenticated user was 'guest'"
    );
}
