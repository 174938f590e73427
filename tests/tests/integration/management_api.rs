//! The management HTTP API answers RabbitMQ's paths with RabbitMQ's JSON.

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_tests::http::*;
use warren_tests::raw::Raw;
use warren_tests::*;

#[tokio::test]
async fn requests_without_valid_credentials_get_401_with_a_challenge() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let (status, body, head) = http(api, "GET", "/api/overview", None, None).await;
    assert_eq!(status, 401);
    assert!(
        head.to_ascii_lowercase().contains("www-authenticate: basic"),
        "{head}"
    );
    assert_eq!(body, Value::Null, "no body without credentials, as RabbitMQ");
    let (status, body, _) = http(api, "GET", "/api/overview", Some("Z3Vlc3Q6d3Jvbmc="), None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "not_authorized");
    assert_eq!(body["reason"], "Login failed");
    let (status, body, _) = http(api, "GET", "/api/whoami", Some(GUEST), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "guest");
    assert_eq!(body["tags"][0], "administrator");
}

#[tokio::test]
async fn queues_show_their_counts_and_can_be_declared_purged_and_deleted() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "api-q").await.unwrap();
    for i in 0..3 {
        publish(&ch, "", "api-q", format!("{i}").as_bytes()).await;
    }
    let _held = ch
        .basic_get("api-q".into(), Default::default())
        .await
        .unwrap()
        .unwrap();
    sync(&ch).await;
    let (status, q, _) = http(api, "GET", "/api/queues/%2F/api-q", Some(GUEST), None).await;
    assert_eq!(status, 200);
    assert_eq!(q["name"], "api-q");
    assert_eq!(q["vhost"], "/");
    assert_eq!(q["messages"], 3);
    assert_eq!(q["messages_ready"], 2);
    assert_eq!(q["messages_unacknowledged"], 1);
    assert_eq!(q["durable"], false);
    assert_eq!(q["message_stats"]["publish"], 3);
    assert!(q["memory"].as_u64().unwrap() > 0, "{q}");
    assert!(
        q["message_stats"]["publish_details"]["rate"].is_number(),
        "rates as RabbitMQ shows them: {q}"
    );

    let (status, _, _) = http(
        api,
        "PUT",
        "/api/queues/%2F/made-by-http",
        Some(GUEST),
        Some(r#"{"durable":true,"arguments":{"x-max-length":10}}"#),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(count(&ch, "made-by-http").await, 0);
    let (_, list, _) = http(api, "GET", "/api/queues/%2F", Some(GUEST), None).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api-q", "made-by-http"]);
    assert_eq!(list[1]["arguments"]["x-max-length"], 10);

    let (status, _, _) = http(api, "DELETE", "/api/queues/%2F/api-q/contents", Some(GUEST), None).await;
    assert_eq!(status, 204);
    assert_eq!(count(&ch, "api-q").await, 0);
    let (status, _, _) = http(api, "DELETE", "/api/queues/%2F/made-by-http", Some(GUEST), None).await;
    assert_eq!(status, 204);
    let (status, body, _) = http(api, "GET", "/api/queues/%2F/made-by-http", Some(GUEST), None).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        serde_json::json!({"error": "Object Not Found", "reason": "Not Found"})
    );
}

#[tokio::test]
async fn overview_exchanges_and_bindings_use_rabbitmq_shapes() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "bq").await.unwrap();
    ch.queue_bind(
        "bq".into(),
        "amq.topic".into(),
        "a.#".into(),
        Default::default(),
        Default::default(),
    )
    .await
    .unwrap();
    let (status, o, _) = http(api, "GET", "/api/overview", Some(GUEST), None).await;
    assert_eq!(status, 200);
    assert_eq!(o["product_name"], "Warren");
    assert_eq!(o["rabbitmq_version"], "3.13.7", "the API Warren answers as");
    assert_eq!(o["object_totals"]["queues"], 1);
    // The node's readings scripts check (KeyError on RabbitMQ's names).
    let (status, nodes, _) = http(api, "GET", "/api/nodes", Some(GUEST), None).await;
    assert_eq!(status, 200);
    let node = &nodes[0];
    assert_eq!(node["partitions"], serde_json::json!([]));
    let (fd_used, fd_total) = (
        node["fd_used"].as_u64().unwrap(),
        node["fd_total"].as_u64().unwrap(),
    );
    assert!(fd_used > 0 && fd_used <= fd_total, "{node}");
    assert_eq!(node["sockets_used"], 1, "one AMQP connection: {node}");
    assert!(node["disk_free_limit"].as_u64().unwrap() > 0);
    assert_eq!(node["enabled_plugins"][0], "rabbitmq_management");
    assert_eq!(node["auth_mechanisms"][0]["name"], "PLAIN");
    let (_, x, _) = http(api, "GET", "/api/exchanges/%2F/amq.topic", Some(GUEST), None).await;
    assert_eq!(x["type"], "topic");
    assert_eq!(x["durable"], true);
    let (_, d, _) = http(api, "GET", "/api/exchanges/%2F/amq.default", Some(GUEST), None).await;
    assert_eq!(d["name"], "");
    let (_, b, _) = http(api, "GET", "/api/bindings/%2F", Some(GUEST), None).await;
    let topic: Vec<&Value> = b
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["source"] == "amq.topic")
        .collect();
    assert_eq!(topic.len(), 1);
    assert_eq!(topic[0]["destination"], "bq");
    assert_eq!(topic[0]["destination_type"], "queue");
    assert_eq!(topic[0]["routing_key"], "a.#");
    let (status, v, _) = http(api, "GET", "/api/vhosts", Some(GUEST), None).await;
    assert_eq!(status, 200);
    assert_eq!(v[0]["name"], "/");
    assert_eq!(v[0]["description"], "Default virtual host");
    let (_, alive, _) = http(api, "GET", "/api/aliveness-test/%2F", Some(GUEST), None).await;
    assert_eq!(alive["status"], "ok");
    let q = s.broker.vhost("/").unwrap().queue("aliveness-test");
    assert_eq!(
        q.map(|q| q.message_count()),
        Some(0),
        "the test message went through a real queue"
    );
}

#[tokio::test]
async fn connections_are_listed_and_can_be_closed_with_a_reason() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    let (status, list, _) = http(api, "GET", "/api/connections", Some(GUEST), None).await;
    assert_eq!(status, 200);
    let c = &list.as_array().unwrap()[0];
    assert_eq!(c["user"], "guest");
    assert_eq!(c["vhost"], "/");
    assert_eq!(c["channels"], 1);
    assert_eq!(c["protocol"], "AMQP 0-9-1");
    // Socket traffic: a channel.open is 13 bytes in, open-ok 16 out.
    let (recv, sent) = (c["recv_oct"].as_u64().unwrap(), c["send_oct"].as_u64().unwrap());
    assert!(recv > 0 && sent > 0 && c["recv_cnt"].as_u64().unwrap() > 0, "{c}");
    assert!(c["recv_oct_details"]["rate"].is_number());
    raw.open_channel(2).await;
    let (_, list, _) = http(api, "GET", "/api/connections", Some(GUEST), None).await;
    assert_eq!(list[0]["recv_oct"].as_u64().unwrap() - recv, 13, "{}", list[0]);
    assert_eq!(list[0]["send_oct"].as_u64().unwrap() - sent, 16, "{}", list[0]);
    let name = c["name"].as_str().unwrap().to_string();
    let path = format!(
        "/api/connections/{}",
        name.replace(' ', "%20").replace('>', "%3E")
    );
    let mut s2 = tokio::net::TcpStream::connect(api).await.unwrap();
    let req = format!(
        "DELETE {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {GUEST}\r\nX-Reason: maintenance\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    s2.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s2.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 204"), "{resp}");
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 320);
    assert_eq!(text, "CONNECTION_FORCED - maintenance");
}

#[tokio::test]
async fn exchanges_can_be_declared_published_to_and_deleted() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    let (status, _, _) = http(
        api,
        "PUT",
        "/api/exchanges/%2F/web-x",
        Some(GUEST),
        Some(r#"{"type":"fanout","durable":false}"#),
    )
    .await;
    assert_eq!(status, 201);
    declare(&ch, "web-q").await.unwrap();
    ch.queue_bind(
        "web-q".into(),
        "web-x".into(),
        "".into(),
        Default::default(),
        Default::default(),
    )
    .await
    .unwrap();
    let (status, r, _) = http(
        api,
        "POST",
        "/api/exchanges/%2F/web-x/publish",
        Some(GUEST),
        Some(r#"{"routing_key":"","payload":"hello","payload_encoding":"string","properties":{}}"#),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(r["routed"], true);
    assert_eq!(get(&ch, "web-q").await.unwrap().delivery.data, b"hello");
    let (_, r, _) = http(
        api,
        "POST",
        "/api/exchanges/%2F/amq.default/publish",
        Some(GUEST),
        Some(r#"{"routing_key":"nowhere","payload":"aGk=","payload_encoding":"base64","properties":{}}"#),
    )
    .await;
    assert_eq!(r["routed"], false);
    // AMQP publishes count too: two more to the fanout web-x over lapin.
    publish(&ch, "web-x", "k", b"a").await;
    publish(&ch, "web-x", "unbound-key", b"b").await;
    sync(&ch).await;
    let (_, x, _) = http(api, "GET", "/api/exchanges/%2F/web-x", Some(GUEST), None).await;
    assert_eq!(x["message_stats"]["publish_in"], 3, "{x}");
    assert_eq!(x["message_stats"]["publish_out"], 3, "{x}");
    assert!(x["message_stats"]["publish_in_details"]["rate"].is_number());
    let (_, d, _) = http(api, "GET", "/api/exchanges/%2F/amq.default", Some(GUEST), None).await;
    assert_eq!(d["message_stats"]["publish_in"], 1, "{d}");
    assert_eq!(d["message_stats"]["publish_out"], 0, "the unroutable one: {d}");
    // In use: if-unused refuses with RabbitMQ's 400 body.
    let (status, body, _) = http(
        api,
        "DELETE",
        "/api/exchanges/%2F/web-x?if-unused=true",
        Some(GUEST),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _, _) = http(api, "DELETE", "/api/exchanges/%2F/web-x", Some(GUEST), None).await;
    assert_eq!(status, 204);
    let (status, _, _) = http(api, "GET", "/api/exchanges/%2F/web-x", Some(GUEST), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bindings_can_be_created_listed_and_deleted_by_properties_key() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "bound").await.unwrap();
    let (status, _, head) = http(
        api,
        "POST",
        "/api/bindings/%2F/e/amq.direct/q/bound",
        Some(GUEST),
        Some(r#"{"routing_key":"k1","arguments":{}}"#),
    )
    .await;
    assert_eq!(status, 201);
    assert!(head.to_ascii_lowercase().contains("location: k1"), "{head}");
    publish(&ch, "amq.direct", "k1", b"via-http-binding").await;
    assert_eq!(
        get(&ch, "bound").await.unwrap().delivery.data,
        b"via-http-binding"
    );
    let (_, list, _) = http(
        api,
        "GET",
        "/api/bindings/%2F/e/amq.direct/q/bound",
        Some(GUEST),
        None,
    )
    .await;
    assert_eq!(list[0]["properties_key"], "k1");
    // The default exchange's source bindings are every queue's implicit one.
    let (_, implicit, _) = http(
        api,
        "GET",
        "/api/exchanges/%2F/amq.default/bindings/source",
        Some(GUEST),
        None,
    )
    .await;
    assert_eq!(
        implicit,
        serde_json::json!([{"source": "", "vhost": "/", "destination": "bound", "destination_type": "queue",
            "routing_key": "bound", "arguments": {}, "properties_key": "bound"}])
    );
    let (status, _, _) = http(
        api,
        "DELETE",
        "/api/bindings/%2F/e/amq.direct/q/bound/k1",
        Some(GUEST),
        None,
    )
    .await;
    assert_eq!(status, 204);
    publish(&ch, "amq.direct", "k1", b"dropped").await;
    assert_eq!(count(&ch, "bound").await, 0);
    let (status, _, _) = http(
        api,
        "DELETE",
        "/api/bindings/%2F/e/amq.direct/q/bound/k1",
        Some(GUEST),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = http(
        api,
        "POST",
        "/api/bindings/%2F/e/amq.direct/q/missing",
        Some(GUEST),
        Some("{}"),
    )
    .await;
    assert_eq!(status, 404);
}

/// Bad requests get RabbitMQ's reasons, observed on RabbitMQ 3.10.8 with
/// the same requests: Erlang terms for wrong-typed fields, AMQP errors
/// without their `NAME - ` prefix, and `not_json` for a body that is not
/// an object.
#[tokio::test]
async fn bad_requests_get_rabbitmq_reasons() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let put = |path: &'static str, body: &'static str| async move {
        let (status, reply, _) = http(api, "PUT", path, Some(GUEST), Some(body)).await;
        (status, reply["reason"].clone())
    };
    let (status, reason) = put("/api/queues/%2F/r", r#"{"durable":"abc"}"#).await;
    assert_eq!((status, reason), (400, serde_json::json!(["not_boolean", "abc"])));
    let (status, reason) = put("/api/queues/%2F/r", "[1]").await;
    assert_eq!((status, reason), (400, Value::from("not_json")));
    let (status, reason) = put("/api/vhosts/v1", r#"{"tracing":"x"}"#).await;
    assert_eq!((status, reason), (400, serde_json::json!(["not_boolean", "x"])));
    assert_eq!(put("/api/queues/%2F/r", r#"{"durable":true}"#).await.0, 201);
    let (status, reason) = put("/api/queues/%2F/r", r#"{"durable":false}"#).await;
    assert_eq!(status, 400);
    assert_eq!(
        reason,
        "inequivalent arg 'durable' for queue 'r' in vhost '/': received 'false' but current is 'true'"
    );
    let (status, reason) = put("/api/exchanges/%2F/x", r#"{"type":"nope"}"#).await;
    assert_eq!(
        (status, reason),
        (400, Value::from("unknown exchange type 'nope'"))
    );
    // Server-named queue names are the broker's.
    let (status, reply, _) = http(api, "PUT", "/api/queues/%2F/amq.gen-x", Some(GUEST), Some("{}")).await;
    assert_eq!(
        (status, reply["reason"].clone()),
        (401, Value::from("Access refused."))
    );

    let (status, reply, _) = http(
        api,
        "POST",
        "/api/queues/%2F/r/get",
        Some(GUEST),
        Some(r#"{"count":"abc","ackmode":"ack_requeue_true","encoding":"auto"}"#),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(reply["reason"], serde_json::json!(["not_integer", "abc"]));
}

/// `curl -d` sends a form's content type; RabbitMQ reads the body as JSON
/// anyway, so a binding made that way exists and `if-unused` sees it.
#[tokio::test]
async fn bodies_are_json_whatever_their_content_type() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let form = "application/x-www-form-urlencoded";
    for (path, body) in [
        ("/api/queues/%2F/fq", "{}"),
        ("/api/exchanges/%2F/fx", r#"{"type":"direct"}"#),
    ] {
        let (status, _, _) = http_as(api, "PUT", path, Some(GUEST), form, Some(body)).await;
        assert_eq!(status, 201, "{path}");
    }
    let (status, _, head) = http_as(
        api,
        "POST",
        "/api/bindings/%2F/e/fx/q/fq",
        Some(GUEST),
        form,
        Some(r#"{"routing_key":"k"}"#),
    )
    .await;
    assert_eq!(status, 201, "{head}");
    let (status, reply, _) = http(
        api,
        "DELETE",
        "/api/exchanges/%2F/fx?if-unused=true",
        Some(GUEST),
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(reply["reason"], "exchange 'fx' in vhost '/' in use");
}

/// An exclusive queue belongs to its connection: the API may not take from,
/// purge or delete it. RabbitMQ answers 400, and its get keeps the AMQP code
/// in the reason.
#[tokio::test]
async fn exclusive_queues_are_locked_for_the_api() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        "mine".into(),
        lapin::options::QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        },
        Default::default(),
    )
    .await
    .unwrap();
    publish(&ch, "", "mine", b"kept").await;
    let locked = "cannot obtain exclusive access to locked queue 'mine' in vhost '/'. It could be \
                  originally declared on another connection or the exclusive property value does \
                  not match that of the original declaration.";
    let (status, reply, _) = http(
        api,
        "POST",
        "/api/queues/%2F/mine/get",
        Some(GUEST),
        Some(r#"{"count":1,"ackmode":"ack_requeue_false","encoding":"auto"}"#),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(reply["reason"], format!("405 RESOURCE_LOCKED - {locked}"));
    for path in ["/api/queues/%2F/mine/contents", "/api/queues/%2F/mine"] {
        let (status, reply, _) = http(api, "DELETE", path, Some(GUEST), None).await;
        assert_eq!(
            (status, reply["reason"].clone()),
            (400, Value::from(locked)),
            "{path}"
        );
    }
    assert_eq!(count(&ch, "mine").await, 1, "the message is still there");
}

/// Missing objects, the default exchange and bad publishes, answered with
/// RabbitMQ's statuses and reasons (observed on RabbitMQ 3.10.8).
#[tokio::test]
async fn missing_objects_and_bad_publishes_get_rabbitmq_reasons() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let call = |method: &'static str, path: &'static str, body: Option<&'static str>| async move {
        let (status, reply, _) = http(api, method, path, Some(GUEST), body).await;
        (status, reply)
    };
    assert_eq!(call("PUT", "/api/queues/%2F/here", Some("{}")).await.0, 201);
    let cases: &[(&str, &str, Option<&str>, u16, Value)] = &[
        (
            "POST",
            "/api/bindings/%2F/e/amq.direct/q/nope",
            Some("{}"),
            404,
            serde_json::json!({"error": "not_found", "reason": "no queue 'nope' in vhost '/'"}),
        ),
        (
            "POST",
            "/api/bindings/%2F/e/nope/q/here",
            Some("{}"),
            404,
            serde_json::json!({"error": "not_found", "reason": "no exchange 'nope' in vhost '/'"}),
        ),
        (
            "POST",
            "/api/exchanges/%2F/nope/publish",
            Some(r#"{"properties":{},"routing_key":"k","payload":"x","payload_encoding":"string"}"#),
            400,
            serde_json::json!({"error": "bad_request", "reason": "404 NOT_FOUND - no exchange 'nope' in vhost '/'"}),
        ),
        (
            "POST",
            "/api/queues/%2F/nope/get",
            Some(r#"{"count":1,"ackmode":"ack_requeue_true","encoding":"auto"}"#),
            404,
            serde_json::json!({"error": "not_found", "reason": "NOT_FOUND - no queue 'nope' in vhost '/'"}),
        ),
        (
            "PUT",
            "/api/queues/nope/q",
            Some("{}"),
            404,
            serde_json::json!({"error": "not_found", "reason": "vhost_not_found"}),
        ),
        (
            "PUT",
            "/api/exchanges/nope/x",
            Some(r#"{"type":"direct"}"#),
            404,
            serde_json::json!({"error": "not_found", "reason": "vhost_not_found"}),
        ),
        (
            "GET",
            "/api/definitions/nope",
            None,
            400,
            serde_json::json!({"error": "bad_request", "reason": "vhost_not_found"}),
        ),
        (
            "DELETE",
            "/api/exchanges/%2F/amq.default",
            None,
            401,
            serde_json::json!({"error": "not_authorised", "reason": "Access refused."}),
        ),
        (
            "POST",
            "/api/bindings/%2F/e/amq.default/q/here",
            Some("{}"),
            401,
            serde_json::json!({"error": "not_authorised", "reason": "Access refused."}),
        ),
        (
            "POST",
            "/api/exchanges/%2F/amq.default/publish",
            Some(r#"{"properties":{},"routing_key":"here","payload":"x"}"#),
            400,
            serde_json::json!({"error": "bad_request", "reason": "[{key_missing,payload_encoding}]"}),
        ),
        (
            "POST",
            "/api/exchanges/%2F/amq.default/publish",
            Some(r#"{"properties":{},"routing_key":"here","payload":"x","payload_encoding":"bogus"}"#),
            400,
            serde_json::json!({"error": "bad_request", "reason": ["unsupported_encoding", "bogus"]}),
        ),
        (
            "POST",
            "/api/exchanges/%2F/amq.default/publish",
            Some(r#"{"properties":{},"routing_key":"here","payload":"!!!","payload_encoding":"base64"}"#),
            400,
            serde_json::json!({"error": "bad_request", "reason": ["not_base64", "!!!"]}),
        ),
        (
            "POST",
            "/api/exchanges/%2F/amq.default/publish",
            Some(
                r#"{"properties":{"priority":"x"},"routing_key":"here","payload":"x","payload_encoding":"string"}"#,
            ),
            400,
            serde_json::json!({"error": "bad_request", "reason": ["not_int", "priority"]}),
        ),
        (
            "PUT",
            "/api/users/u",
            Some(r#"{"password_hash":"notbase64!!","tags":""}"#),
            400,
            serde_json::json!({"error": "bad_request", "reason": ["not_base64", "notbase64!!"]}),
        ),
    ];
    for (method, path, body, status, reply) in cases {
        let (method, path, body) = (*method, *path, *body);
        let (got_status, got, _) = http(api, method, path, Some(GUEST), body).await;
        assert_eq!((got_status, &got), (*status, reply), "{method} {path}");
    }
    // None of the refused publishes reached the queue.
    let (_, q) = call("GET", "/api/queues/%2F/here", None).await;
    assert_eq!(q["messages"], 0, "{q}");
}

/// A queue's counters split deliveries as RabbitMQ does (the same steps on
/// RabbitMQ 3.10.8 gave the same numbers), and its bytes count the
/// unacknowledged messages too.
#[tokio::test]
async fn queue_stats_split_deliveries_and_count_unacked_bytes() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "qs").await.unwrap();
    for _ in 0..6 {
        publish(&ch, "", "qs", b"hello").await;
    }
    let got = ch
        .basic_get("qs".into(), Default::default())
        .await
        .unwrap()
        .unwrap();
    got.nack(lapin::options::BasicNackOptions {
        requeue: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let again = ch
        .basic_get("qs".into(), lapin::options::BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .unwrap();
    assert!(again.delivery.redelivered);
    let ch2 = conn.create_channel().await.unwrap();
    ch2.basic_qos(2, Default::default()).await.unwrap();
    let mut consumer = consume(&ch2, "qs", false).await;
    next(&mut consumer).await;
    next(&mut consumer).await;
    sync(&ch2).await;
    let (_, q, _) = http(api, "GET", "/api/queues/%2F/qs", Some(GUEST), None).await;
    assert_eq!(q["policy"], Value::Null, "null, not missing: {q}");
    for depth in ["messages", "messages_ready", "messages_unacknowledged"] {
        assert!(q[format!("{depth}_details")]["rate"].is_number(), "{depth}: {q}");
    }
    assert_eq!(q["node"], "warren@localhost");
    assert_eq!(
        [
            &q["messages_ready"],
            &q["messages_unacknowledged"],
            &q["message_bytes"]
        ],
        [3, 2, 25],
        "{q}"
    );
    assert_eq!(
        [&q["message_bytes_ready"], &q["message_bytes_unacknowledged"]],
        [15, 10]
    );
    let stats = &q["message_stats"];
    let expected = [
        ("publish", 6),
        ("deliver_get", 4),
        ("deliver", 2),
        ("deliver_no_ack", 0),
        ("get", 1),
        ("get_no_ack", 1),
        ("get_empty", 0),
        ("redeliver", 1),
        ("ack", 0),
    ];
    for (name, count) in expected {
        assert_eq!(stats[name], count, "{name}: {stats}");
        assert!(stats[format!("{name}_details")]["rate"].is_number(), "{name}");
    }
    // Unacked bytes go back as messages are acked, requeued or the channel
    // closes.
    let unacked_bytes = |q: &Value| q["message_bytes_unacknowledged"].clone();
    let taken = ch
        .basic_get("qs".into(), Default::default())
        .await
        .unwrap()
        .unwrap();
    let (_, q, _) = http(api, "GET", "/api/queues/%2F/qs", Some(GUEST), None).await;
    assert_eq!(unacked_bytes(&q), 15, "{q}");
    taken.ack(Default::default()).await.unwrap();
    sync(&ch).await;
    let (_, q, _) = http(api, "GET", "/api/queues/%2F/qs", Some(GUEST), None).await;
    assert_eq!(unacked_bytes(&q), 10, "{q}");
    drop(consumer);
    ch2.close(200, "bye".into()).await.unwrap();
    let (_, q, _) = http(api, "GET", "/api/queues/%2F/qs", Some(GUEST), None).await;
    assert_eq!(
        (unacked_bytes(&q), q["message_bytes"].clone()),
        (0.into(), 20.into()),
        "{q}"
    );
    ch.queue_delete("qs".into(), Default::default()).await.unwrap();
    let (_, o, _) = http(api, "GET", "/api/overview", Some(GUEST), None).await;
    let totals = &o["message_stats"];
    // One more get, acked, since the queue's counts were read.
    let later = |name: &str| match name {
        "get" | "deliver_get" | "ack" => 1,
        _ => 0,
    };
    for (name, count) in expected.iter().filter(|(n, _)| *n != "publish") {
        assert_eq!(totals[name], *count + later(name), "{name}: {totals}");
    }
    assert_eq!(totals["publish"], 6, "messages received: {totals}");
}

/// Paths with a trailing slash and `columns` on single objects, as
/// RabbitMQ's API takes them.
#[tokio::test]
async fn trailing_slashes_and_columns_on_single_objects() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let (status, list, _) = http(api, "GET", "/api/vhosts/", Some(GUEST), None).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["name"], "/");
    let (status, _, _) = http(api, "PUT", "/api/queues/%2F/slashed/", Some(GUEST), Some("{}")).await;
    assert_eq!(status, 201);
    let (status, q, _) = http(
        api,
        "GET",
        "/api/queues/%2F/slashed/?columns=name",
        Some(GUEST),
        None,
    )
    .await;
    assert_eq!((status, q), (200, serde_json::json!({"name": "slashed"})));
    for (path, expected) in [
        (
            "/api/overview?columns=node",
            serde_json::json!({"node": "warren@localhost"}),
        ),
        ("/api/vhosts/%2F?columns=name", serde_json::json!({"name": "/"})),
        (
            "/api/users/guest?columns=name",
            serde_json::json!({"name": "guest"}),
        ),
        (
            "/api/nodes?columns=name",
            serde_json::json!([{"name": "warren@localhost"}]),
        ),
        (
            "/api/nodes/warren@localhost?columns=name",
            serde_json::json!({"name": "warren@localhost"}),
        ),
    ] {
        let (status, got, _) = http(api, "GET", path, Some(GUEST), None).await;
        assert_eq!((status, got), (200, expected), "{path}");
    }
}

/// A channel's counters, as RabbitMQ's management shows them.
#[tokio::test]
async fn channel_stats_count_confirms_returns_gets_and_redeliveries() {
    use lapin::options::*;
    let s = server().await;
    let api = s.management_addr().unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    declare(&ch, "cs").await.unwrap();
    declare(&ch, "empty").await.unwrap();
    for (key, mandatory) in [
        ("cs", false),
        ("cs", false),
        ("nowhere", true),
        ("nowhere", false),
    ] {
        ch.basic_publish(
            "".into(),
            key.into(),
            BasicPublishOptions {
                mandatory,
                ..Default::default()
            },
            b"hello",
            Default::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    assert!(get(&ch, "empty").await.is_none());
    let got = ch
        .basic_get("cs".into(), Default::default())
        .await
        .unwrap()
        .unwrap();
    got.nack(BasicNackOptions {
        requeue: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(get(&ch, "cs").await.unwrap().delivery.redelivered);
    let mut consumer = ch
        .basic_consume(
            "cs".into(),
            "c".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    next(&mut consumer).await;
    sync(&ch).await;
    let (_, chans, _) = http(api, "GET", "/api/channels", Some(GUEST), None).await;
    let stats = &chans[0]["message_stats"];
    for (name, count) in [
        ("publish", 4),
        ("confirm", 4),
        ("return_unroutable", 1),
        ("drop_unroutable", 1),
        ("deliver_get", 3),
        ("deliver", 0),
        ("deliver_no_ack", 1),
        ("get", 1),
        ("get_no_ack", 1),
        ("get_empty", 1),
        ("redeliver", 1),
        ("ack", 0),
    ] {
        assert_eq!(stats[name], count, "{name}: {stats}");
    }
}

/// Sorting, reversing and paging whole queues (written from typed views)
/// and with columns (projected) give the same order.
#[tokio::test]
async fn queue_listings_sort_page_and_project_alike() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    for (name, n) in [("s-a", 2), ("s-b", 0), ("s-c", 3), ("s-d", 1)] {
        declare(&ch, name).await.unwrap();
        for _ in 0..n {
            publish(&ch, "", name, b"x").await;
        }
    }
    sync(&ch).await;
    let get = |path: &'static str| async move { http(api, "GET", path, Some(GUEST), None).await.1 };
    let page = get("/api/queues/%2F?sort=messages&sort_reverse=true&page=1&page_size=2").await;
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["s-c", "s-a"]);
    assert_eq!(
        (&page["filtered_count"], &page["page_count"]),
        (&json!(4), &json!(2))
    );
    assert!(
        page["items"][0]["message_stats"].is_object(),
        "whole queues: {page}"
    );
    let projected =
        get("/api/queues/%2F?sort=messages&sort_reverse=true&page=2&page_size=2&columns=name,messages").await;
    assert_eq!(
        projected["items"],
        json!([{"name": "s-d", "messages": 1}, {"name": "s-b", "messages": 0}])
    );
    let named = get("/api/queues/%2F?name=s-&sort=message_stats.publish").await;
    let order: Vec<&str> = named
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["s-b", "s-d", "s-a", "s-c"]);
}
