//! The rest of RabbitMQ 3.13's management endpoints, which clients pick by
//! the `management_version` Warren reports: feature flags, deprecated
//! features, the detailed queue listing, connections by user name, auth
//! settings and attempts, rebalancing and resets; plus the answers to
//! removing what does not exist and to streams, which Warren lacks.

use lapin::options::BasicConsumeOptions;
use lapin::types::{AMQPValue, FieldTable};
use serde_json::{json, Value};
use warren_tests::http::*;
use warren_tests::*;

fn find<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

#[tokio::test]
async fn feature_flags_are_rabbitmq_3_13s_and_enabled_only_where_warren_has_the_feature() {
    let s = server().await;
    let manager = user_with(&s, "manager", &["management"]);
    let (st, flags) = call(&s, "GET", "/api/feature-flags", &manager, None).await;
    assert_eq!(st, 200, "any management user in 3.13");
    let list = flags.as_array().unwrap();
    assert_eq!(list.len(), 24);
    let names: Vec<&str> = list.iter().map(|f| f["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    for f in list {
        assert_eq!(
            keys(f),
            ["desc", "doc_url", "name", "provided_by", "stability", "state"]
        );
    }
    let quorum = find(&flags, "quorum_queue");
    assert_eq!(quorum["state"], "enabled");
    assert_eq!(quorum["stability"], "required");
    assert_eq!(quorum["desc"], "Support queues of type `quorum`");
    assert_eq!(
        find(&flags, "detailed_queues_endpoint")["provided_by"],
        "rabbitmq_management"
    );
    assert_eq!(
        find(&flags, "stream_queue")["state"],
        "disabled",
        "no streams yet"
    );
    assert_eq!(find(&flags, "khepri_db")["stability"], "experimental");

    let enable = |name: &str| format!("/api/feature-flags/{name}/enable");
    let api = s.management_addr().unwrap();
    let (st, _, _) = http(api, "PUT", &enable("quorum_queue"), Some(GUEST), Some("{}")).await;
    assert_eq!(st, 204);
    let (st, _, _) = http_as(
        api,
        "PUT",
        &enable("quorum_queue"),
        Some(GUEST),
        "text/plain",
        Some(""),
    )
    .await;
    assert_eq!(st, 415, "JSON only, as RabbitMQ");
    let (st, err, _) = http(api, "PUT", &enable("no_such_flag"), Some(GUEST), Some("{}")).await;
    assert_eq!((st, err["reason"].as_str()), (400, Some("unsupported")));
    let (st, _, _) = http(api, "PUT", &enable("stream_queue"), Some(GUEST), Some("{}")).await;
    assert_eq!(st, 400, "a feature Warren lacks cannot be turned on");
    let (st, err, _) = http(api, "PUT", &enable("quorum_queue"), Some(&manager), Some("{}")).await;
    assert_eq!(
        (st, err["reason"].as_str()),
        (401, Some("Not administrator user"))
    );
}

#[tokio::test]
async fn deprecated_features_list_3_13s_five_and_mirroring_is_used_when_a_policy_asks_for_it() {
    let s = server().await;
    let (st, all) = call(&s, "GET", "/api/deprecated-features", GUEST, None).await;
    assert_eq!(st, 200);
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "classic_queue_mirroring",
            "global_qos",
            "management_metrics_collection",
            "ram_node_type",
            "transient_nonexcl_queues"
        ]
    );
    assert_eq!(
        keys(&all[0]),
        ["deprecation_phase", "desc", "doc_url", "name", "provided_by"]
    );
    assert_eq!(all[1]["deprecation_phase"], "permitted_by_default");
    let (_, used) = call(&s, "GET", "/api/deprecated-features/used", GUEST, None).await;
    assert_eq!(used, json!([]));
    let ha = json!({"pattern": ".*", "definition": {"ha-mode": "all"}});
    let (st, _) = call(&s, "PUT", "/api/policies/%2F/ha", GUEST, Some(ha)).await;
    assert_eq!(st, 201);
    let (_, used) = call(&s, "GET", "/api/deprecated-features/used", GUEST, None).await;
    assert_eq!(used.as_array().unwrap().len(), 1);
    assert_eq!(used[0]["name"], "classic_queue_mirroring");
    call(&s, "DELETE", "/api/policies/%2F/ha", GUEST, None).await;
    let (_, used) = call(&s, "GET", "/api/deprecated-features/used", GUEST, None).await;
    assert_eq!(used, json!([]));
}

#[tokio::test]
async fn queues_list_without_null_fields_and_the_detailed_listing_keeps_them() {
    let s = server().await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "plain").await.unwrap();
    let mut args = FieldTable::default();
    args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    ch.queue_declare("sac".into(), Default::default(), args)
        .await
        .unwrap();
    // lapin cancels a consumer when it is dropped: keep them.
    let mut consumers = Vec::new();
    for tag in ["first", "second"] {
        let c = ch
            .basic_consume(
                "sac".into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        consumers.push(c);
    }
    let exclusive = BasicConsumeOptions {
        exclusive: true,
        ..Default::default()
    };
    let _only = ch
        .basic_consume("plain".into(), "only".into(), exclusive, FieldTable::default())
        .await
        .unwrap();
    let (st, listed) = call(&s, "GET", "/api/queues", GUEST, None).await;
    assert_eq!(st, 200);
    let plain = find(&listed, "plain");
    assert!(plain.get("policy").is_none(), "no null fields: {plain}");
    assert!(plain.get("single_active_consumer_tag").is_none(), "{plain}");
    assert_eq!(plain["exclusive_consumer_tag"], "only", "set fields stay");
    assert_eq!(
        find(&listed, "sac")["single_active_consumer_tag"],
        "first",
        "{listed}"
    );
    let (st, detailed) = call(&s, "GET", "/api/queues/detailed", GUEST, None).await;
    assert_eq!(st, 200);
    let plain = find(&detailed, "plain");
    assert_eq!(plain["policy"], Value::Null);
    assert_eq!(plain["operator_policy"], Value::Null);
    assert_eq!(plain["single_active_consumer_tag"], Value::Null);
    assert_eq!(plain["exclusive_consumer_tag"], "only");
    assert_eq!(plain["messages"], 0);
    // One queue, and listings with columns, are detailed too.
    let (_, one) = call(&s, "GET", "/api/queues/%2F/plain", GUEST, None).await;
    assert_eq!(one["policy"], Value::Null);
    let (_, cols) = call(&s, "GET", "/api/queues?columns=name,policy", GUEST, None).await;
    assert_eq!(cols[0], json!({"name": "plain", "policy": null}));
    // Pages of the detailed listing.
    let (_, page) = call(&s, "GET", "/api/queues/detailed?page=1&page_size=1", GUEST, None).await;
    assert_eq!(page["total_count"], 2);
    assert_eq!(page["items"][0]["name"], "plain");
    assert!(page["items"][0].get("policy").is_some());
    // A management user sees only the vhosts it may use.
    add_user(&s, "nobody", "pw", &["management"]);
    let (st, none) = call(&s, "GET", "/api/queues/detailed", &basic("nobody", "pw"), None).await;
    assert_eq!((st, none), (200, json!([])));
}

#[tokio::test]
async fn connections_of_a_user_are_listed_and_closed_by_name() {
    let s = server().await;
    let alice = user_with(&s, "alice", &["management"]);
    let _g1 = connect(&s).await;
    let _g2 = connect(&s).await;
    let a = connect_as(&s, "alice", "pw", "/").await.unwrap();
    let (st, mine) = call(&s, "GET", "/api/connections/username/guest", GUEST, None).await;
    assert_eq!(st, 200);
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert_eq!(keys(&mine[0]), ["name", "node", "user", "vhost"]);
    assert_eq!(mine[0]["user"], "guest");
    assert_eq!(mine[0]["vhost"], "/");
    let (_, page) = call(
        &s,
        "GET",
        "/api/connections/username/guest?page=1&page_size=1",
        GUEST,
        None,
    )
    .await;
    assert_eq!(
        (
            page["total_count"].as_u64(),
            page["items"].as_array().map(Vec::len)
        ),
        (Some(2), Some(1))
    );
    // Alice sees her own, not guest's, and may not close guest's.
    let (st, err) = call(&s, "GET", "/api/connections/username/guest", &alice, None).await;
    assert_eq!(
        (st, err["reason"].as_str()),
        (401, Some("User not authorised to access object"))
    );
    let (st, hers) = call(&s, "GET", "/api/connections/username/alice", &alice, None).await;
    assert_eq!((st, hers.as_array().map(Vec::len)), (200, Some(1)));
    let (st, _) = call(&s, "DELETE", "/api/connections/username/guest", &alice, None).await;
    assert_eq!(st, 401);
    // An administrator closes all of a user's connections with a reason.
    let api = s.management_addr().unwrap();
    let mut req = tokio::net::TcpStream::connect(api).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    req.write_all(
        format!(
            "DELETE /api/connections/username/alice HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {GUEST}\r\n\
             X-Reason: maintenance\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = String::new();
    req.read_to_string(&mut head).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 204"), "{head}");
    let closed = tokio::time::timeout(PATIENCE, async {
        while a.status().connected() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "alice's connection is closed");
    let (_, hers) = call(&s, "GET", "/api/connections/username/alice", GUEST, None).await;
    assert_eq!(hers, json!([]));
    let (st, _) = call(&s, "DELETE", "/api/connections/username/nobody", GUEST, None).await;
    assert_eq!(st, 204, "nothing to close is fine");
}

#[tokio::test]
async fn auth_settings_need_no_login_and_attempts_are_counted_by_protocol() {
    let s = server().await;
    let api = s.management_addr().unwrap();
    let (st, settings, _) = http(api, "GET", "/api/auth", None, None).await;
    assert_eq!((st, settings), (200, json!({"oauth_enabled": false})));
    let path = "/api/auth/attempts/warren@localhost";
    let (st, _) = call(&s, "DELETE", path, GUEST, None).await;
    assert_eq!(st, 204);
    let (st, _, _) = http(api, "GET", "/api/overview", Some(&basic("guest", "wrong")), None).await;
    assert_eq!(st, 401);
    let _amqp = connect(&s).await;
    let (st, attempts) = call(&s, "GET", path, GUEST, None).await;
    assert_eq!(st, 200);
    assert_eq!(
        attempts,
        json!([
            // The failed login and this request.
            {"protocol": "http", "auth_attempts": 2, "auth_attempts_failed": 1, "auth_attempts_succeeded": 1},
            {"protocol": "amqp091", "auth_attempts": 1, "auth_attempts_failed": 0, "auth_attempts_succeeded": 1},
        ])
    );
    let (st, by_source) = call(&s, "GET", &format!("{path}/source"), GUEST, None).await;
    assert_eq!((st, by_source), (200, json!([])));
    let (st, _) = call(&s, "GET", "/api/auth/attempts/rabbit@elsewhere", GUEST, None).await;
    assert_eq!(st, 404);
    let manager = user_with(&s, "manager", &["management"]);
    let (st, err) = call(&s, "GET", path, &manager, None).await;
    assert_eq!((st, err["reason"].as_str()), (401, Some("Not monitor user")));
    // A password hash made here logs in as that password.
    let (st, hash) = call(&s, "GET", "/api/auth/hash_password/s3cret", GUEST, None).await;
    assert_eq!(st, 200);
    let hash = hash["ok"].as_str().unwrap().to_string();
    let user = json!({"password_hash": hash, "tags": "management"});
    let (st, _) = call(&s, "PUT", "/api/users/hashed", GUEST, Some(user)).await;
    assert_eq!(st, 201);
    let (st, _, _) = http(api, "GET", "/api/whoami", Some(&basic("hashed", "s3cret")), None).await;
    assert_eq!(st, 200);
    let (st, _) = call(&s, "GET", "/api/auth/hash_password/x", &manager, None).await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn single_node_cluster_operations_answer_as_rabbitmq_on_one_node() {
    let s = server().await;
    let manager = user_with(&s, "manager", &["management"]);
    let (st, _) = call(&s, "POST", "/api/rebalance/queues", GUEST, None).await;
    assert_eq!(st, 204);
    let (st, err) = call(&s, "POST", "/api/rebalance/queues", &manager, None).await;
    assert_eq!(
        (st, err["reason"].as_str()),
        (401, Some("Not administrator user"))
    );
    let (st, _) = call(&s, "POST", "/api/vhosts/%2F/start/warren@localhost", GUEST, None).await;
    assert_eq!(st, 204);
    let (st, _) = call(&s, "POST", "/api/vhosts/%2F/start/rabbit@other", GUEST, None).await;
    assert_eq!(st, 400);
    let (st, _) = call(
        &s,
        "POST",
        "/api/vhosts/nowhere/start/warren@localhost",
        GUEST,
        None,
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = call(&s, "DELETE", "/api/reset", GUEST, None).await;
    assert_eq!(st, 204);
    let (st, _) = call(&s, "DELETE", "/api/reset/warren@localhost", GUEST, None).await;
    assert_eq!(st, 204);
    let (st, _) = call(&s, "DELETE", "/api/reset/rabbit@other", GUEST, None).await;
    assert_eq!(st, 404);
    // Queue actions sync mirrors: there are none, as on an unmirrored queue.
    let conn = connect(&s).await;
    declare(&conn.create_channel().await.unwrap(), "q").await.unwrap();
    let actions = "/api/queues/%2F/q/actions";
    for action in ["sync", "cancel_sync"] {
        let (st, _) = call(&s, "POST", actions, GUEST, Some(json!({ "action": action }))).await;
        assert_eq!(st, 204, "{action}");
    }
    let (st, err) = call(&s, "POST", actions, GUEST, Some(json!({"action": "shuffle"}))).await;
    assert_eq!(
        (st, err["reason"].as_str()),
        (400, Some("{unknown,<<\"shuffle\">>}"))
    );
    let (st, err) = call(&s, "POST", actions, GUEST, Some(json!({}))).await;
    assert_eq!(
        (st, err["reason"].as_str()),
        (400, Some("[{key_missing,action}]"))
    );
    let body = Some(json!({"action": "sync"}));
    let (st, err) = call(&s, "POST", "/api/queues/%2F/never/actions", GUEST, body.clone()).await;
    assert_eq!((st, err["reason"].as_str()), (404, Some("queue_not_found")));
    let (st, _) = call(&s, "POST", actions, &manager, body).await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn streams_and_unknown_queue_types_are_refused_with_rabbitmqs_error_shape() {
    let s = server().await;
    let stream = json!({"durable": true, "arguments": {"x-queue-type": "stream"}});
    let (st, err) = call(&s, "PUT", "/api/queues/%2F/events", GUEST, Some(stream)).await;
    assert_eq!(st, 400);
    assert_eq!(err["error"], "bad_request");
    let reason = err["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("invalid arg 'x-queue-type' for queue 'events' in vhost '/': "),
        "{reason}"
    );
    let foo = json!({"durable": true, "arguments": {"x-queue-type": "foo"}});
    let (st, err) = call(&s, "PUT", "/api/queues/%2F/odd", GUEST, Some(foo)).await;
    assert_eq!(st, 400);
    assert_eq!(
        err["reason"],
        "invalid arg 'x-queue-type' for queue 'odd' in vhost '/': \"unsupported queue type 'foo'\""
    );
    let (st, _) = call(&s, "GET", "/api/queues/%2F/events", GUEST, None).await;
    assert_eq!(st, 404, "nothing was declared");
}

#[tokio::test]
async fn removing_what_does_not_exist_over_http_is_rabbitmqs_404() {
    let s = server().await;
    let not_found = json!({"error": "Object Not Found", "reason": "Not Found"});
    for path in [
        "/api/bindings/%2F/e/amq.direct/q/never/k",
        "/api/bindings/%2F/e/never/q/never/k",
        "/api/bindings/%2F/e/amq.direct/e/amq.fanout/k",
        "/api/queues/%2F/never",
        "/api/exchanges/%2F/never",
        "/api/users/never",
        "/api/vhosts/never",
        "/api/policies/%2F/never",
        "/api/operator-policies/%2F/never",
        "/api/permissions/%2F/never",
        "/api/parameters/shovel/%2F/never",
        "/api/parameters/foo/%2F/never",
        "/api/global-parameters/never",
        "/api/queues/%2F/never/contents",
        "/api/connections/never",
    ] {
        let (st, body) = call(&s, "DELETE", path, GUEST, None).await;
        assert_eq!((st, &body), (404, &not_found), "{path}");
    }
    // Clearing a limit that is not set is fine, as in RabbitMQ.
    let (st, _) = call(&s, "DELETE", "/api/vhost-limits/%2F/max-queues", GUEST, None).await;
    assert_eq!(st, 204);
    // A binding that exists goes once; the second time it is 404.
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "bound").await.unwrap();
    let body = json!({"routing_key": "k", "arguments": {}});
    let (st, _) = call(
        &s,
        "POST",
        "/api/bindings/%2F/e/amq.direct/q/bound",
        GUEST,
        Some(body),
    )
    .await;
    assert_eq!(st, 201);
    let path = "/api/bindings/%2F/e/amq.direct/q/bound/k";
    assert_eq!(call(&s, "DELETE", path, GUEST, None).await.0, 204);
    assert_eq!(call(&s, "DELETE", path, GUEST, None).await.0, 404);
}
