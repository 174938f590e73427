//! Management API: users, vhosts, permissions, policies, definitions,
//! `POST .../get`, channels and consumers, pagination, health checks, and
//! what each user tag may see, with RabbitMQ's shapes and status codes.

use serde_json::{json, Value};
use warren_tests::http::*;
use warren_tests::*;

#[tokio::test]
async fn users_and_permissions_created_over_http_log_in_over_amqp() {
    let s = server().await;
    let (st, _) = call(
        &s,
        "PUT",
        "/api/users/alice",
        GUEST,
        Some(json!({"password": "pw", "tags": "management"})),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _) = call(
        &s,
        "PUT",
        "/api/users/alice",
        GUEST,
        Some(json!({"password": "pw2", "tags": ["management", "monitoring"]})),
    )
    .await;
    assert_eq!(st, 204);
    let (st, v) = call(
        &s,
        "PUT",
        "/api/users/nobody",
        GUEST,
        Some(json!({"password": "x"})),
    )
    .await;
    assert_eq!((st, v["reason"].as_str()), (400, Some("tags_not_present")));
    let (_, u) = call(&s, "GET", "/api/users/alice", GUEST, None).await;
    assert_eq!(u["tags"], json!(["management", "monitoring"]));
    assert_eq!(u["hashing_algorithm"], "rabbit_password_hashing_sha256");
    let url = format!("amqp://alice:pw2@127.0.0.1:{}/%2f", s.addr().port());
    let connect = || lapin::Connection::connect(&url, Default::default());
    assert!(connect().await.is_err(), "no permissions in / yet");
    let (st, _) = call(
        &s,
        "PUT",
        "/api/permissions/%2F/alice",
        GUEST,
        Some(json!({"configure": ".*", "write": ".*", "read": ".*"})),
    )
    .await;
    assert_eq!(st, 201);
    let (_, perms) = call(&s, "GET", "/api/users/alice/permissions", GUEST, None).await;
    assert_eq!(
        perms,
        json!([{"user": "alice", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}])
    );
    connect().await.expect("alice logs in with her new password");
    // A management user is not an administrator.
    let alice = basic("alice", "pw2");
    let (st, v) = call(&s, "GET", "/api/users", &alice, None).await;
    assert_eq!(
        (st, v["error"].as_str(), v["reason"].as_str()),
        (401, Some("not_authorised"), Some("Not administrator user"))
    );
    for empty in [
        "/api/topic-permissions",
        "/api/parameters",
        "/api/operator-policies",
    ] {
        assert_eq!(
            call(&s, "GET", empty, GUEST, None).await,
            (200, json!([])),
            "{empty}"
        );
    }
    let (st, _) = call(&s, "DELETE", "/api/users/alice", GUEST, None).await;
    assert_eq!(st, 204);
    let (st, _) = call(&s, "DELETE", "/api/users/alice", GUEST, None).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn a_hash_exported_by_rabbitmq_imports_and_logs_in() {
    let s = server().await;
    // Exported by RabbitMQ 3.10.8 for the password "test12".
    let defs = json!({
        "users": [{"name": "imported", "password_hash": "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR",
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"], "limits": {}}],
        "vhosts": [{"name": "v1"}],
        "permissions": [{"user": "imported", "vhost": "v1", "configure": ".*", "write": ".*", "read": ".*"}],
        "policies": [{"vhost": "v1", "name": "cap", "pattern": "^capped", "apply-to": "queues", "definition": {"max-length": 2}, "priority": 0}],
        "exchanges": [{"name": "ex", "vhost": "v1", "type": "topic", "durable": true, "auto_delete": false, "internal": false, "arguments": {}}],
        "queues": [{"name": "capped", "vhost": "v1", "durable": true, "auto_delete": false, "arguments": {}}],
        "bindings": [{"source": "ex", "vhost": "v1", "destination": "capped", "destination_type": "queue", "routing_key": "a.#", "arguments": {}}]
    });
    let (st, _) = call(&s, "POST", "/api/definitions", GUEST, Some(defs)).await;
    assert_eq!(st, 204);
    let url = format!("amqp://imported:test12@127.0.0.1:{}/v1", s.addr().port());
    let conn = lapin::Connection::connect(&url, Default::default())
        .await
        .expect("RabbitMQ's hash verifies");
    let ch = conn.create_channel().await.unwrap();
    for i in 0..5 {
        publish(&ch, "ex", "a.b", format!("m{i}").as_bytes()).await;
    }
    sync(&ch).await;
    assert_eq!(
        count(&ch, "capped").await,
        2,
        "the imported policy caps the imported queue"
    );
    let (_, q) = call(&s, "GET", "/api/queues/v1/capped", GUEST, None).await;
    assert_eq!(q["policy"], "cap");
    assert_eq!(q["effective_policy_definition"], json!({"max-length": 2}));
    // Export gives the same objects back.
    let (_, out) = call(&s, "GET", "/api/definitions", GUEST, None).await;
    let names = |k: &str| -> Vec<String> {
        out[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert!(names("users").contains(&"imported".to_string()));
    assert_eq!(names("queues"), vec!["capped"]);
    assert_eq!(
        names("exchanges"),
        vec!["ex"],
        "amq.* and the default exchange are not exported"
    );
    assert_eq!(out["bindings"][0]["routing_key"], "a.#");
    let (_, one) = call(&s, "GET", "/api/definitions/v1", GUEST, None).await;
    assert!(
        one["queues"][0].get("vhost").is_none(),
        "per-vhost exports leave out the vhost"
    );
    let (st, v) = call(
        &s,
        "POST",
        "/api/definitions",
        GUEST,
        Some(json!({"queues": [{"name": "q", "vhost": "nope"}]})),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        v["reason"],
        json!(["no_such_vhost", "nope"]),
        "as RabbitMQ answers"
    );
}

#[tokio::test]
async fn policies_validate_apply_by_priority_and_combine_with_arguments() {
    let s = server().await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    let put = |name: &'static str, body: Value| {
        let s = &s;
        async move { call(s, "PUT", &format!("/api/policies/%2F/{name}"), GUEST, Some(body)).await }
    };
    let (st, v) = put("bad", json!({"pattern": "q", "definition": {"max-priority": 5}})).await;
    assert_eq!(st, 400);
    assert_eq!(
        v["reason"],
        "Validation failed\n\n[{&lt;&lt;\"max-priority\"&gt;&gt;,5}] are not recognised policy settings\n"
    );
    let (st, v) = put(
        "bad",
        json!({"pattern": "q", "definition": {"message-ttl": "abc"}}),
    )
    .await;
    assert_eq!(
        (st, v["reason"].as_str()),
        (
            400,
            Some("Validation failed\n\n&lt;&lt;\"abc\"&gt;&gt; is not a valid message TTL\n")
        )
    );
    let (st, _) = put(
        "low",
        json!({"pattern": "^p", "definition": {"max-length": 1}, "priority": 1, "apply-to": "queues"}),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _) = put(
        "high",
        json!({"pattern": "^p", "definition": {"max-length": 3}, "priority": 5}),
    )
    .await;
    assert_eq!(st, 201);
    // The queue's own x-max-length of 2 is lower than the policy's 3: 2 wins.
    declare_with(
        &ch,
        "p1",
        args(&[("x-max-length", lapin::types::AMQPValue::LongInt(2))]),
    )
    .await
    .unwrap();
    declare(&ch, "p2").await.unwrap();
    for i in 0..5 {
        publish(&ch, "", "p1", format!("{i}").as_bytes()).await;
        publish(&ch, "", "p2", format!("{i}").as_bytes()).await;
    }
    sync(&ch).await;
    assert_eq!(count(&ch, "p1").await, 2);
    assert_eq!(count(&ch, "p2").await, 3, "the highest-priority policy applies");
    // Deleting it lets the other one apply at once (dropping from the head).
    let (st, _) = call(&s, "DELETE", "/api/policies/%2F/high", GUEST, None).await;
    assert_eq!(st, 204);
    assert_eq!(count(&ch, "p2").await, 1);
    let c = ch
        .basic_get("p2".into(), Default::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.delivery.data, b"4", "the newest message stays");
    let (_, list) = call(&s, "GET", "/api/policies/%2F", GUEST, None).await;
    assert_eq!(
        list,
        json!([{"vhost": "/", "name": "low", "pattern": "^p", "apply-to": "queues", "definition": {"max-length": 1}, "priority": 1}])
    );
    // A dead-letter-exchange from a policy is used when the queue names none.
    let (st, _) = put("dlx", json!({"pattern": "^ttl", "definition": {"dead-letter-exchange": "amq.fanout", "message-ttl": 0}, "priority": 9})).await;
    assert_eq!(st, 201);
    declare(&ch, "dead").await.unwrap();
    ch.queue_bind(
        "dead".into(),
        "amq.fanout".into(),
        "".into(),
        Default::default(),
        Default::default(),
    )
    .await
    .unwrap();
    declare(&ch, "ttl-q").await.unwrap();
    publish(&ch, "", "ttl-q", b"expires").await;
    sync(&ch).await;
    assert_eq!(
        count(&ch, "dead").await,
        1,
        "expired at once and dead-lettered through the policy's exchange"
    );
}

#[tokio::test]
async fn get_messages_pagination_channels_consumers_and_health() {
    let s = server().await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    for n in ["a1", "a2", "b1"] {
        declare(&ch, n).await.unwrap();
    }
    publish(&ch, "", "a1", b"hello").await;
    publish(&ch, "", "a1", &[0, 159, 146]).await;
    sync(&ch).await;
    let get = |ackmode: &str, encoding: &str| json!({"count": "5", "ackmode": ackmode, "encoding": encoding, "truncate": 3});
    let (st, got) = call(
        &s,
        "POST",
        "/api/queues/%2F/a1/get",
        GUEST,
        Some(get("ack_requeue_true", "auto")),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(got[0]["payload"], "hel");
    assert_eq!(got[0]["payload_bytes"], 5);
    assert_eq!(got[0]["payload_encoding"], "string");
    assert_eq!(got[0]["message_count"], 1);
    assert_eq!(
        got[1]["payload_encoding"], "base64",
        "bytes that are not UTF-8 come as base64"
    );
    let (_, again) = call(
        &s,
        "POST",
        "/api/queues/%2F/a1/get",
        GUEST,
        Some(get("ack_requeue_false", "base64")),
    )
    .await;
    assert_eq!(again[0]["redelivered"], true);
    assert_eq!(again[0]["payload"], "aGVs");
    assert_eq!(count(&ch, "a1").await, 0, "ack_requeue_false removes them");
    let (_, page) = call(
        &s,
        "GET",
        "/api/queues?page=1&page_size=2&name=a&columns=name",
        GUEST,
        None,
    )
    .await;
    assert_eq!(
        page,
        json!({"filtered_count": 2, "item_count": 2, "items": [{"name": "a1"}, {"name": "a2"}], "page": 1, "page_count": 1, "page_size": 2, "total_count": 3})
    );
    let (st, v) = call(
        &s,
        "POST",
        "/api/queues/%2F/a1/get",
        GUEST,
        Some(json!({"count": 1})),
    )
    .await;
    assert_eq!(
        (st, v["reason"].as_str()),
        (400, Some("[{key_missing,ackmode},{key_missing,encoding}]"))
    );
    let (st, v) = call(
        &s,
        "PUT",
        "/api/permissions/%2F/guest",
        GUEST,
        Some(json!({"configure": ".*"})),
    )
    .await;
    assert_eq!(
        (st, v["reason"].as_str()),
        (400, Some("[{key_missing,write},{key_missing,read}]"))
    );
    let (st, v, _) = http(
        s.management_addr().unwrap(),
        "PUT",
        "/api/queues/%2F/x",
        Some(GUEST),
        Some("{not json"),
    )
    .await;
    assert_eq!((st, v["reason"].as_str()), (400, Some("not_json")));
    let (st, _) = call(&s, "PUT", "/api/exchanges/%2F/typeless", GUEST, Some(json!({}))).await;
    assert_eq!(st, 201, "an exchange without a type is direct, as in RabbitMQ");
    let (_, x) = call(&s, "GET", "/api/exchanges/%2F/typeless", GUEST, None).await;
    assert_eq!(x["type"], "direct");
    let (st, v) = call(&s, "GET", "/api/queues?page=3&page_size=2", GUEST, None).await;
    assert_eq!((st, v["error"].as_str()), (400, Some("page_out_of_range")));
    // Channels and consumers.
    ch.basic_qos(7, Default::default()).await.unwrap();
    let mut consumer = consume(&ch, "b1", false).await;
    publish(&ch, "", "b1", b"for the consumer").await;
    next(&mut consumer).await.ack(Default::default()).await.unwrap();
    sync(&ch).await;
    let (_, chans) = call(&s, "GET", "/api/channels", GUEST, None).await;
    let c = &chans[0];
    assert_eq!(c["consumer_count"], 1);
    assert_eq!(c["prefetch_count"], 7);
    assert_eq!(c["message_stats"]["publish"], 3, "{c}");
    assert_eq!(c["message_stats"]["deliver_get"], 1, "{c}");
    assert_eq!(c["message_stats"]["ack"], 1, "{c}");
    assert!(c["message_stats"]["ack_details"]["rate"].is_number());
    assert!(c["name"].as_str().unwrap().ends_with(" (1)"), "{c}");
    let (_, cons) = call(&s, "GET", "/api/consumers/%2F", GUEST, None).await;
    assert_eq!(cons[0]["queue"], json!({"name": "b1", "vhost": "/"}));
    assert_eq!(cons[0]["ack_required"], true);
    assert_eq!(cons[0]["prefetch_count"], 7);
    assert_eq!(cons[0]["channel_details"]["number"], 1);
    let (_, q) = call(&s, "GET", "/api/queues/%2F/b1", GUEST, None).await;
    assert_eq!(q["consumer_details"][0]["prefetch_count"], 7, "{q}");
    let (_, conns) = call(&s, "GET", "/api/connections", GUEST, None).await;
    assert_eq!(conns[0]["auth_mechanism"], "PLAIN");
    assert!(conns[0]["frame_max"].as_u64().unwrap() >= 4096);
    // Health checks.
    let (st, v) = call(
        &s,
        "GET",
        "/api/health/checks/protocol-listener/amqp",
        GUEST,
        None,
    )
    .await;
    assert_eq!((st, v), (200, json!({"status": "ok", "protocol": "amqp"})));
    let (st, v) = call(
        &s,
        "GET",
        "/api/health/checks/protocol-listener/amqp0-9-1",
        GUEST,
        None,
    )
    .await;
    assert_eq!((st, v), (200, json!({"status": "ok", "protocol": "amqp"})));
    let (st, v) = call(&s, "GET", "/api/health/checks/alarms", GUEST, None).await;
    assert_eq!((st, v), (200, json!({"status": "ok"})));
    let (st, v) = call(&s, "GET", "/api/healthchecks/node", GUEST, None).await;
    assert_eq!((st, v), (200, json!({"status": "ok"})));
    let (st, _) = call(&s, "GET", "/api/healthchecks/node/elsewhere@host", GUEST, None).await;
    assert_eq!(st, 404);
    let (st, v) = call(
        &s,
        "GET",
        "/api/health/checks/certificate-expiration/1/fortnights",
        GUEST,
        None,
    )
    .await;
    assert_eq!(
        (st, v["reason"].as_str()),
        (
            400,
            Some("Time unit not recognised. Supported units: days, weeks, months, years.")
        )
    );
    s.alarms.set_memory(true);
    let (st, v) = call(&s, "GET", "/api/health/checks/local-alarms", GUEST, None).await;
    assert_eq!(st, 503);
    assert_eq!(v["alarms"][0]["resource"], "memory");
    s.alarms.set_memory(false);
    let port = s.addr().port();
    let (st, v) = call(
        &s,
        "GET",
        &format!("/api/health/checks/port-listener/{port}"),
        GUEST,
        None,
    )
    .await;
    assert_eq!((st, v["status"].as_str()), (200, Some("ok")));
    let (st, v) = call(&s, "GET", "/api/health/checks/port-listener/1", GUEST, None).await;
    assert_eq!(
        (st, v["status"].as_str(), v["missing"].as_u64()),
        (503, Some("failed"), Some(1))
    );
}

#[tokio::test]
async fn tags_decide_what_a_user_sees() {
    let s = server().await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "in-root").await.unwrap();
    let (st, _) = call(
        &s,
        "PUT",
        "/api/vhosts/mine",
        GUEST,
        Some(json!({"description": "my vhost", "tags": "a,b"})),
    )
    .await;
    assert_eq!(st, 201);
    let (_, v) = call(&s, "GET", "/api/vhosts/mine", GUEST, None).await;
    assert_eq!(
        (v["description"].as_str(), &v["tags"]),
        (Some("my vhost"), &json!(["a", "b"]))
    );
    let (_, defs) = call(&s, "GET", "/api/definitions", GUEST, None).await;
    assert!(defs["vhosts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["name"] == "mine" && v["description"] == "my vhost"));
    for (user, tags) in [("m", "management"), ("mon", "monitoring"), ("none", "")] {
        call(
            &s,
            "PUT",
            &format!("/api/users/{user}"),
            GUEST,
            Some(json!({"password": "pw", "tags": tags})),
        )
        .await;
        call(
            &s,
            "PUT",
            &format!("/api/permissions/mine/{user}"),
            GUEST,
            Some(json!({"configure": ".*", "write": ".*", "read": ".*"})),
        )
        .await;
    }
    let (st, v) = call(&s, "GET", "/api/overview", &basic("none", "pw"), None).await;
    assert_eq!((st, v["reason"].as_str()), (401, Some("Not management user")));
    let m = basic("m", "pw");
    let (_, qs) = call(&s, "GET", "/api/queues", &m, None).await;
    assert_eq!(
        qs,
        json!([]),
        "a management user sees only the vhosts it has permissions in"
    );
    let (_, vs) = call(&s, "GET", "/api/vhosts", &m, None).await;
    assert_eq!(vs.as_array().unwrap().len(), 1);
    let (st, v) = call(&s, "PUT", "/api/queues/%2F/x", &m, Some(json!({}))).await;
    assert_eq!(
        (st, v["reason"].as_str()),
        (401, Some("User not authorised to access virtual host"))
    );
    let (st, _) = call(&s, "PUT", "/api/queues/mine/x", &m, Some(json!({}))).await;
    assert_eq!(st, 201);
    let (st, v) = call(&s, "PUT", "/api/queues/mine/amq.x", &m, Some(json!({}))).await;
    assert_eq!(
        (st, v["reason"].as_str()),
        (401, Some("Access refused.")),
        "as RabbitMQ answers a reserved name"
    );
    let (st, v) = call(&s, "GET", "/api/nodes", &m, None).await;
    assert_eq!((st, v["reason"].as_str()), (401, Some("Not monitor user")));
    let mon = basic("mon", "pw");
    let (_, vs) = call(&s, "GET", "/api/vhosts", &mon, None).await;
    assert_eq!(vs.as_array().unwrap().len(), 2, "monitoring sees every vhost");
    let (_, cs) = call(&s, "GET", "/api/connections", &mon, None).await;
    assert_eq!(cs.as_array().unwrap().len(), 1, "and every connection");
    let (_, cs) = call(&s, "GET", "/api/connections", &m, None).await;
    assert_eq!(cs, json!([]), "a management user sees only its own connections");
    // And only the consumers on its own channels, even in its vhost.
    let guest_in_mine = connect_as(&s, "guest", "guest", "mine").await.unwrap();
    let gch = guest_in_mine.create_channel().await.unwrap();
    declare(&gch, "watched").await.unwrap();
    let _consumer = consume(&gch, "watched", false).await;
    let (_, cs) = call(&s, "GET", "/api/consumers/mine", &mon, None).await;
    assert_eq!(cs.as_array().unwrap().len(), 1, "{cs}");
    let (_, cs) = call(&s, "GET", "/api/consumers/mine", &m, None).await;
    assert_eq!(cs, json!([]), "guest's consumer is not the management user's");
    // Deleting a vhost deletes what is in it.
    let (st, _) = call(&s, "DELETE", "/api/vhosts/mine", GUEST, None).await;
    assert_eq!(st, 204);
    let (st, _) = call(&s, "GET", "/api/queues/mine", GUEST, None).await;
    assert_eq!(st, 404);
}

/// 10,000 queues list whole, sorted by name, and paged. How fast is measured
/// by `cargo bench -p warren-tests --bench management_listing`, not here: a
/// time bound in a test flakes on a busy machine.
#[tokio::test]
async fn ten_thousand_queues_list_sorted_and_paged() {
    let s = server().await;
    let v = s.broker.vhost("/").unwrap();
    for i in 0..10_000 {
        v.declare_queue(&format!("q{i:05}"), false, Default::default(), 0)
            .unwrap();
    }
    let (st, all) = call(&s, "GET", "/api/queues", GUEST, None).await;
    assert_eq!(st, 200);
    assert_eq!(all.as_array().unwrap().len(), 10_000);
    assert_eq!(all[9_999]["name"], "q09999", "sorted by name");
    let (_, page) = call(
        &s,
        "GET",
        "/api/queues?page=100&page_size=100&columns=name",
        GUEST,
        None,
    )
    .await;
    assert_eq!(page["page_count"], 100);
    assert_eq!(page["items"][99]["name"], "q09999");
}

#[tokio::test]
async fn users_permissions_and_policies_survive_a_restart_and_a_deleted_default_user_stays_deleted() {
    let dir = std::env::temp_dir().join(format!("warren-access-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = || {
        let mut config = Config::ephemeral();
        config.data_dir = dir.clone();
        config.management_port = Some(0);
        warren_server::start(config)
    };
    {
        let s = start().await.unwrap();
        call(
            &s,
            "PUT",
            "/api/users/keeper",
            GUEST,
            Some(json!({"password": "pw", "tags": "administrator"})),
        )
        .await;
        call(
            &s,
            "PUT",
            "/api/permissions/%2F/keeper",
            GUEST,
            Some(json!({"configure": "^k", "write": ".*", "read": ".*"})),
        )
        .await;
        call(
            &s,
            "PUT",
            "/api/policies/%2F/cap",
            GUEST,
            Some(json!({"pattern": "^k", "definition": {"max-length": 1}})),
        )
        .await;
        let (st, _) = call(&s, "DELETE", "/api/users/guest", &basic("keeper", "pw"), None).await;
        assert_eq!(st, 204);
        s.shutdown().await;
    }
    let s = start().await.unwrap();
    let keeper = basic("keeper", "pw");
    let (st, _) = call(&s, "GET", "/api/whoami", GUEST, None).await;
    assert_eq!(st, 401, "the deleted default user is not created again");
    let (_, p) = call(&s, "GET", "/api/permissions/%2F/keeper", &keeper, None).await;
    assert_eq!(p["configure"], "^k");
    let url = format!("amqp://keeper:pw@127.0.0.1:{}/%2f", s.addr().port());
    let conn = lapin::Connection::connect(&url, Default::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "kq").await.unwrap();
    publish(&ch, "", "kq", b"1").await;
    publish(&ch, "", "kq", b"2").await;
    sync(&ch).await;
    assert_eq!(
        count(&ch, "kq").await,
        1,
        "the stored policy applies after the restart"
    );
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_vhost_default_queue_type_applies_to_durable_queues_declared_without_one() {
    let s = server().await;
    call(&s, "PUT", "/api/vhosts/qq", GUEST, None).await;
    let url = format!("amqp://guest:guest@127.0.0.1:{}/qq", s.addr().port());
    let conn = lapin::Connection::connect(&url, Default::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let durable = lapin::options::QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare("classic-before".into(), durable, Default::default())
        .await
        .unwrap();
    let (st, _) = call(
        &s,
        "PUT",
        "/api/vhosts/qq",
        GUEST,
        Some(json!({"default_queue_type": "quorum"})),
    )
    .await;
    assert_eq!(st, 204);
    ch.queue_declare("classic-before".into(), durable, Default::default())
        .await
        .expect("a queue declared before the default changed is redeclared as it is");
    ch.queue_declare("d".into(), durable, Default::default())
        .await
        .unwrap();
    ch.queue_declare("d".into(), durable, Default::default())
        .await
        .expect("redeclaring the same way stays equivalent");
    declare(&ch, "transient").await.unwrap();
    let (_, d) = call(&s, "GET", "/api/queues/qq/d", GUEST, None).await;
    assert_eq!(d["type"], "quorum");
    let (_, t) = call(&s, "GET", "/api/queues/qq/transient", GUEST, None).await;
    assert_eq!(
        t["type"], "classic",
        "quorum queues must be durable: transient ones stay classic"
    );
}

#[tokio::test]
async fn large_definitions_import() {
    let s = server().await;
    // Over axum's default 2 MB body limit.
    let queues: Vec<serde_json::Value> = (0..20_000)
        .map(|i| json!({"name": format!("imported-queue-with-a-fairly-long-name-{i:06}-{}", "x".repeat(60)), "vhost": "/", "durable": false, "auto_delete": false, "arguments": {}}))
        .collect();
    let body = json!({"queues": queues});
    assert!(body.to_string().len() > 2 << 20);
    let (st, v) = call(&s, "POST", "/api/definitions", GUEST, Some(body)).await;
    assert_eq!(st, 204, "{v}");
    assert_eq!(s.broker.vhost("/").unwrap().queues().len(), 20_000);
}

/// Operator policies bound every matching queue's limits, whatever its own
/// arguments and policy say (lowest wins), show as `operator_policy` with a
/// merged `effective_policy_definition`, may set only limits, and are
/// stored and exported as RabbitMQ's `operator_policy` parameters. Shapes
/// and texts as RabbitMQ 3.10.8 answered the same requests.
#[tokio::test]
async fn operator_policies_bound_queue_limits() {
    let dir = std::env::temp_dir().join(format!("warren-operator-policies-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = || {
        let mut config = Config::ephemeral();
        config.management_port = Some(0);
        config.data_dir = dir.clone();
        warren_server::start(config)
    };
    let s = start().await.unwrap();
    let (st, _) = call(
        &s,
        "PUT",
        "/api/operator-policies/%2F/cap",
        GUEST,
        Some(json!({"pattern": "^opq", "definition": {"max-length": 3, "message-ttl": 60000}, "apply-to": "queues"})),
    )
    .await;
    assert_eq!(st, 201);
    let (st, v) = call(
        &s,
        "PUT",
        "/api/operator-policies/%2F/bad",
        GUEST,
        Some(json!({"pattern": "^opq", "definition": {"dead-letter-exchange": "x"}})),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        v["reason"],
        "Validation failed\n\n[{<<\"dead-letter-exchange\">>,<<\"x\">>}] are not recognised policy settings\n"
    );
    let (st, _) = call(
        &s,
        "PUT",
        "/api/policies/%2F/user",
        GUEST,
        Some(json!({"pattern": "^opq", "definition": {"max-length": 10, "message-ttl": 500}})),
    )
    .await;
    assert_eq!(st, 201);
    // Durable (the API's default), so that it is there after the restart.
    let (st, _) = call(&s, "PUT", "/api/queues/%2F/opq", GUEST, Some(json!({}))).await;
    assert_eq!(st, 201);
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    for i in 0..5 {
        publish(&ch, "", "opq", format!("m{i}").as_bytes()).await;
    }
    sync(&ch).await;
    let (_, q) = call(&s, "GET", "/api/queues/%2F/opq", GUEST, None).await;
    assert_eq!(
        q["messages"], 3,
        "the operator's max-length 3 beats the policy's 10: {q}"
    );
    assert_eq!(
        (&q["policy"], &q["operator_policy"]),
        (&json!("user"), &json!("cap"))
    );
    assert_eq!(
        q["effective_policy_definition"],
        json!({"max-length": 3, "message-ttl": 500})
    );
    let (_, defs) = call(&s, "GET", "/api/definitions", GUEST, None).await;
    assert_eq!(
        defs["parameters"],
        json!([{"value": {"pattern": "^opq", "definition": {"max-length": 3, "message-ttl": 60000}, "priority": 0, "apply-to": "queues"},
            "vhost": "/", "component": "operator_policy", "name": "cap"}])
    );
    // Administrators only.
    call(
        &s,
        "PUT",
        "/api/users/pm",
        GUEST,
        Some(json!({"password": "pw", "tags": "policymaker"})),
    )
    .await;
    let (st, _) = call(&s, "GET", "/api/operator-policies", &basic("pm", "pw"), None).await;
    assert_eq!(st, 401);
    drop(conn);
    s.shutdown().await;

    // Stored: in force after a restart.
    let s = start().await.unwrap();
    let (_, list) = call(&s, "GET", "/api/operator-policies/%2F", GUEST, None).await;
    assert_eq!(list[0]["name"], "cap", "{list}");
    let (_, q) = call(&s, "GET", "/api/queues/%2F/opq", GUEST, None).await;
    assert_eq!(q["operator_policy"], "cap", "{q}");
    let (st, _) = call(&s, "DELETE", "/api/operator-policies/%2F/cap", GUEST, None).await;
    assert_eq!(st, 204);
    let (_, q) = call(&s, "GET", "/api/queues/%2F/opq", GUEST, None).await;
    assert_eq!(q["operator_policy"], Value::Null);
    assert_eq!(
        q["effective_policy_definition"],
        json!({"max-length": 10, "message-ttl": 500})
    );
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    // The export imports into a fresh broker with its operator policy.
    let fresh = server().await;
    let (st, _) = call(&fresh, "POST", "/api/definitions", GUEST, Some(defs)).await;
    assert_eq!(st, 204);
    let (_, op) = call(&fresh, "GET", "/api/operator-policies/%2F/cap", GUEST, None).await;
    assert_eq!(op["definition"], json!({"max-length": 3, "message-ttl": 60000}));
}
