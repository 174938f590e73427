//! Topic permissions, as RabbitMQ 3.10.8 enforced them on this machine:
//! on topic exchanges only, the publish routing key against `write` and the
//! binding key (queue and exchange bindings, and unbinds) against `read`,
//! with `{username}` and `{vhost}` expanded; an exchange without a topic
//! permission allows every key. Set over HTTP, stored, and carried in
//! definitions.

use lapin::ExchangeKind;
use serde_json::{json, Value};
use warren_tests::http::*;
use warren_tests::*;

async fn put_topic(api: std::net::SocketAddr, user: &str, exchange: &str, write: &str, read: &str) -> u16 {
    let body = json!({"exchange": exchange, "write": write, "read": read}).to_string();
    let path = format!("/api/topic-permissions/%2F/{user}");
    http(api, "PUT", &path, Some(GUEST), Some(&body)).await.0
}

fn refused(key: &str) -> String {
    format!("ACCESS_REFUSED - access to topic '{key}' in exchange 'amq.topic' in vhost '/' refused for user 'tom'")
}

#[tokio::test]
async fn topic_exchanges_check_routing_and_binding_keys() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    user_with(&s, "tom", &[]);
    let conn = connect_as(&s, "tom", "pw", "/").await.unwrap();
    // Set while the connection is open: it applies from the next operation.
    assert_eq!(
        put_topic(api, "tom", "amq.topic", r"^a\.", r"^{username}\.").await,
        201
    );
    assert_eq!(put_topic(api, "tom", "amq.direct", "^a", "^a").await, 201);
    assert_eq!(
        put_topic(api, "tom", "amq.topic", r"^a\.", r"^{username}\.").await,
        204
    );

    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    publish(&ch, "amq.topic", "a.b", b"allowed").await;
    publish(&ch, "amq.direct", "b", b"not a topic exchange").await;
    publish(&ch, "amq.fanout", "zzz", b"no topic permission there").await;
    sync(&ch).await;
    let err = ch
        .basic_publish(
            "amq.topic".into(),
            "b.c".into(),
            Default::default(),
            b"refused",
            Default::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(403));
    assert_eq!(reply_text(&err), refused("b.c"));

    let ch = conn.create_channel().await.unwrap();
    let q = declare(&ch, "").await.unwrap();
    let bind = |ch: lapin::Channel, key: &'static str| {
        let q = q.name().as_str().to_string();
        async move {
            ch.queue_bind(
                q.into(),
                "amq.topic".into(),
                key.into(),
                Default::default(),
                Default::default(),
            )
            .await
        }
    };
    bind(ch.clone(), "tom.orders").await.unwrap();
    let err = bind(ch.clone(), "jerry.orders").await.unwrap_err();
    assert_eq!(reply_text(&err), refused("jerry.orders"));
    let ch = conn.create_channel().await.unwrap();
    let err = ch
        .queue_unbind(
            q.name().as_str().into(),
            "amq.topic".into(),
            "other".into(),
            Default::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_text(&err), refused("other"), "unbinding is checked too");
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        "tom-x".into(),
        ExchangeKind::Topic,
        Default::default(),
        Default::default(),
    )
    .await
    .unwrap();
    let err = ch
        .exchange_bind(
            "tom-x".into(),
            "amq.topic".into(),
            "elsewhere".into(),
            Default::default(),
            Default::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_text(&err), refused("elsewhere"));

    // An empty expression matches only the empty key; {vhost} expands.
    assert_eq!(put_topic(api, "tom", "amq.topic", "", "^{vhost}$").await, 204);
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    publish(&ch, "amq.topic", "", b"empty key").await;
    bind(ch.clone(), "/").await.unwrap();
    let err = bind(ch, "x").await.unwrap_err();
    assert_eq!(reply_code(&err), Some(403));

    // Removed: every key is allowed again.
    let (status, _, _) = http(api, "DELETE", "/api/topic-permissions/%2F/tom", Some(GUEST), None).await;
    assert_eq!(status, 204);
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    publish(&ch, "amq.topic", "b.c", b"now allowed").await;
    sync(&ch).await;
}

#[tokio::test]
async fn topic_permissions_are_listed_stored_and_exported() {
    let dir = std::env::temp_dir().join(format!("warren-topic-perms-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = || {
        let mut config = Config::ephemeral();
        config.management_port = Some(0);
        config.data_dir = dir.clone();
        warren_server::start(config)
    };
    let s = start().await.unwrap();
    let api = s.management_addr().unwrap();
    user_with(&s, "tom", &[]);
    assert_eq!(put_topic(api, "tom", "amq.topic", "^a", "^b").await, 201);
    let expected =
        json!([{"user": "tom", "vhost": "/", "exchange": "amq.topic", "write": "^a", "read": "^b"}]);
    for path in [
        "/api/topic-permissions",
        "/api/topic-permissions/%2F/tom",
        "/api/users/tom/topic-permissions",
        "/api/vhosts/%2F/topic-permissions",
    ] {
        let (status, got, _) = http(api, "GET", path, Some(GUEST), None).await;
        assert_eq!((status, got), (200, expected.clone()), "{path}");
    }
    let (status, _, _) = http(api, "GET", "/api/topic-permissions/%2F/guest", Some(GUEST), None).await;
    assert_eq!(status, 404, "none for guest");
    let (status, reply, _) = http(
        api,
        "PUT",
        "/api/topic-permissions/%2F/tom",
        Some(GUEST),
        Some(r#"{"write":"x","read":"y"}"#),
    )
    .await;
    assert_eq!(
        (status, reply["reason"].clone()),
        (400, Value::from("[{key_missing,exchange}]"))
    );
    let (status, reply, _) = http(
        api,
        "PUT",
        "/api/topic-permissions/%2F/nobody",
        Some(GUEST),
        Some(r#"{"exchange":"amq.topic","write":"x","read":"y"}"#),
    )
    .await;
    assert_eq!(
        (status, reply["reason"].clone()),
        (400, Value::from("vhost_or_user_not_found"))
    );
    let (_, defs, _) = http(api, "GET", "/api/definitions", Some(GUEST), None).await;
    assert_eq!(defs["topic_permissions"], expected);
    s.shutdown().await;

    // Stored: enforced after a restart.
    let s = start().await.unwrap();
    let conn = connect_as(&s, "tom", "pw", "/").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    let err = ch
        .basic_publish(
            "amq.topic".into(),
            "zz".into(),
            Default::default(),
            b"refused",
            Default::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(403));
    drop(conn);
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    // An export imports into a fresh broker with its topic permissions.
    let fresh = server().await;
    let api = fresh.management_addr().unwrap();
    let body = defs.to_string();
    let (status, reply, _) = http(api, "POST", "/api/definitions", Some(GUEST), Some(&body)).await;
    assert_eq!(status, 204, "{reply}");
    let (_, got, _) = http(api, "GET", "/api/topic-permissions", Some(GUEST), None).await;
    assert_eq!(got, expected);
}

#[tokio::test]
async fn cc_and_bcc_keys_are_checked_like_the_routing_key() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    user_with(&s, "tom", &[]);
    assert_eq!(put_topic(api, "tom", "amq.topic", r"^a\.", ".*").await, 201);
    let conn = connect_as(&s, "tom", "pw", "/").await.unwrap();
    let with = |header: &str, keys: &[&str]| {
        let mut h = lapin::types::FieldTable::default();
        let keys: Vec<lapin::types::AMQPValue> = keys
            .iter()
            .map(|k| lapin::types::AMQPValue::LongString(k.to_string().into()))
            .collect();
        h.insert(header.into(), lapin::types::AMQPValue::FieldArray(keys.into()));
        lapin::BasicProperties::default().with_headers(h)
    };
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    ch.basic_publish(
        "amq.topic".into(),
        "a.main".into(),
        Default::default(),
        b"allowed",
        with("CC", &["a.copy"]),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    for header in ["CC", "BCC"] {
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(Default::default()).await.unwrap();
        let err = publish_error(&ch, "amq.topic", "a.main", with(header, &["a.ok", "b.secret"])).await;
        assert_eq!(reply_code(&err), Some(403), "{header}: {err}");
        assert_eq!(reply_text(&err), refused("b.secret"), "{header}");
    }
}
