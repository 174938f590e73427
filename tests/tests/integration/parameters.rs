//! Runtime parameters (`/api/parameters`), global parameters and the
//! cluster name, with RabbitMQ 3.13's shapes, codes and texts (checked
//! against RabbitMQ 3.10.8 where it has them): stored, exported, imported
//! and kept over a restart.

use serde_json::{json, Value};
use warren_tests::http::*;

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_cluster_name_is_a_global_parameter_shown_wherever_rabbitmq_shows_it() {
    let s = server().await;
    let monitor = user_with(&s, "watcher", &["monitoring"]);
    let (st, name) = call(&s, "GET", "/api/cluster-name", &monitor, None).await;
    assert_eq!((st, name), (200, json!({"name": "warren"})));
    let (st, err) = call(
        &s,
        "PUT",
        "/api/cluster-name",
        &monitor,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(st, 401);
    assert_eq!(err["reason"], "Not administrator user");
    let (st, err) = call(&s, "PUT", "/api/cluster-name", GUEST, Some(json!({}))).await;
    assert_eq!(st, 400);
    assert_eq!(err["reason"], "[{key_missing,name}]");
    let (st, _) = call(&s, "PUT", "/api/cluster-name", GUEST, Some(json!({"name": 5}))).await;
    assert_eq!(st, 400, "not a string: 400 where RabbitMQ crashes with 500");
    let (st, _) = call(
        &s,
        "PUT",
        "/api/cluster-name",
        GUEST,
        Some(json!({"name": "east"})),
    )
    .await;
    assert_eq!(st, 204, "always 204, as RabbitMQ");
    let (_, name) = call(&s, "GET", "/api/cluster-name", GUEST, None).await;
    assert_eq!(name["name"], "east");
    let (_, overview) = call(&s, "GET", "/api/overview", GUEST, None).await;
    assert_eq!(overview["cluster_name"], "east");
    // connection.start announces it to clients.
    let mut raw = warren_tests::raw::Raw::socket(s.addr()).await;
    raw.send_bytes(b"AMQP\x00\x00\x09\x01").await;
    let properties = raw
        .expect_connection_method(|m| match m {
            warren_codec::protocol::connection::AMQPMethod::Start(start) => {
                Some(start.server_properties.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(
        properties.inner().get("cluster_name"),
        Some(&warren_codec::AMQPValue::LongString("east".into()))
    );
    // It is the `cluster_name` global parameter.
    let (st, globals) = call(&s, "GET", "/api/global-parameters", GUEST, None).await;
    assert_eq!(st, 200);
    assert_eq!(names(&globals), ["cluster_name", "internal_cluster_id"]);
    assert_eq!(globals[0]["value"], "east");
    let id = globals[1]["value"].as_str().unwrap().to_string();
    assert!(id.starts_with("warren-cluster-id-"), "{id}");
    let put = json!({"value": "west"});
    let (st, _) = call(&s, "PUT", "/api/global-parameters/cluster_name", GUEST, Some(put)).await;
    assert_eq!(st, 204, "an existing parameter");
    let (_, name) = call(&s, "GET", "/api/cluster-name", GUEST, None).await;
    assert_eq!(name["name"], "west");
    let (st, _) = call(&s, "DELETE", "/api/global-parameters/cluster_name", GUEST, None).await;
    assert_eq!(st, 204);
    let (_, name) = call(&s, "GET", "/api/cluster-name", GUEST, None).await;
    assert_eq!(name["name"], "warren", "back to the default");
    let (st, err) = call(&s, "DELETE", "/api/global-parameters/cluster_name", GUEST, None).await;
    assert_eq!((st, err["error"].as_str()), (404, Some("Object Not Found")));
    // The broker's identity is shown, never changed.
    let put = json!({"value": "rabbitmq-cluster-id-other"});
    let (st, _) = call(
        &s,
        "PUT",
        "/api/global-parameters/internal_cluster_id",
        GUEST,
        Some(put),
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = call(
        &s,
        "DELETE",
        "/api/global-parameters/internal_cluster_id",
        GUEST,
        None,
    )
    .await;
    assert_eq!(st, 400);
    let (_, one) = call(
        &s,
        "GET",
        "/api/global-parameters/internal_cluster_id",
        GUEST,
        None,
    )
    .await;
    assert_eq!(one, json!({"name": "internal_cluster_id", "value": id}));
}

#[tokio::test]
async fn global_parameters_are_for_policymakers_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = server_in(dir.path()).await;
        let monitor = user_with(&s, "watcher", &["monitoring"]);
        let maker = user_with(&s, "maker", &["policymaker"]);
        let (st, err) = call(&s, "GET", "/api/global-parameters", &monitor, None).await;
        assert_eq!(st, 401);
        assert_eq!(err["reason"], "User not authorised to access object");
        let mapping = json!({"value": {"acme": "/acme", "ids": [1, 2]}});
        let path = "/api/global-parameters/user_vhost_mapping";
        let (st, _) = call(&s, "PUT", path, &maker, Some(mapping.clone())).await;
        assert_eq!(st, 201);
        let (st, _) = call(&s, "PUT", path, &maker, Some(mapping)).await;
        assert_eq!(st, 204);
        let (st, err) = call(&s, "PUT", path, &maker, Some(json!({"name": "x"}))).await;
        assert_eq!((st, err["reason"].as_str()), (400, Some("[{key_missing,value}]")));
        s.shutdown().await;
    }
    let s = server_in(dir.path()).await;
    let (st, one) = call(
        &s,
        "GET",
        "/api/global-parameters/user_vhost_mapping",
        GUEST,
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(one["value"], json!({"acme": "/acme", "ids": [1, 2]}));
    let (st, _) = call(&s, "GET", "/api/global-parameters/never", GUEST, None).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn vhost_limits_and_operator_policies_are_runtime_parameters_too() {
    let s = server().await;
    let path = "/api/parameters/vhost-limits/%2F/limits";
    let (st, _) = call(&s, "PUT", path, GUEST, Some(json!({"value": {"max-queues": 10}}))).await;
    assert_eq!(st, 201);
    let (st, _) = call(&s, "PUT", path, GUEST, Some(json!({"value": {"max-queues": 20}}))).await;
    assert_eq!(st, 204);
    let (_, limits) = call(&s, "GET", "/api/vhost-limits/%2F", GUEST, None).await;
    assert_eq!(limits, json!([{"vhost": "/", "value": {"max-queues": 20}}]));
    let (st, all) = call(&s, "GET", "/api/parameters", GUEST, None).await;
    assert_eq!(st, 200);
    assert_eq!(
        all,
        json!([{"name": "limits", "vhost": "/", "component": "vhost-limits", "value": {"max-queues": 20}}])
    );
    // RabbitMQ's validation texts, HTML-escaped on this path.
    for (value, reason) in [
        (
            json!({"max-queues": "abc"}),
            "Validation failed\n\nmax-queues should be a number, actually was &lt;&lt;\"abc\"&gt;&gt;\n",
        ),
        (
            json!({"max-foo": 1}),
            "Validation failed\n\nUnrecognised terms [{&lt;&lt;\"max-foo\"&gt;&gt;,1}] in limits\n",
        ),
        (json!(5), "Validation failed\n\nlimits not a list 5\n"),
    ] {
        let (st, err) = call(&s, "PUT", path, GUEST, Some(json!({ "value": value }))).await;
        assert_eq!(st, 400, "{value}");
        assert_eq!(err["reason"], reason);
    }
    let other = "/api/parameters/vhost-limits/%2F/other";
    let (st, _) = call(&s, "PUT", other, GUEST, Some(json!({"value": {}}))).await;
    assert_eq!(st, 400, "only `limits` (RabbitMQ stores it and crashes)");
    let (st, _) = call(&s, "DELETE", path, GUEST, None).await;
    assert_eq!(st, 204);
    let (st, _) = call(&s, "DELETE", path, GUEST, None).await;
    assert_eq!(st, 404);
    let (_, limits) = call(&s, "GET", "/api/vhost-limits", GUEST, None).await;
    assert_eq!(limits, json!([]));

    // Operator policies: set through either path, seen through both.
    let capped = json!({"value": {"pattern": "^capped", "definition": {"max-length": 3}, "priority": 1, "apply-to": "queues"}});
    let op = "/api/parameters/operator_policy/%2F/cap";
    let (st, _) = call(&s, "PUT", op, GUEST, Some(capped)).await;
    assert_eq!(st, 201);
    let (_, ops) = call(&s, "GET", "/api/operator-policies/%2F/cap", GUEST, None).await;
    assert_eq!(ops["definition"], json!({"max-length": 3}));
    let (_, listed) = call(&s, "GET", "/api/parameters/operator_policy", GUEST, None).await;
    assert_eq!(listed[0]["value"]["pattern"], "^capped");
    assert_eq!(listed[0]["value"]["apply-to"], "queues");
    let (st, _) = call(&s, "DELETE", op, GUEST, None).await;
    assert_eq!(st, 204);
    let (st, _) = call(&s, "GET", "/api/operator-policies/%2F/cap", GUEST, None).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn policies_are_listed_only_when_asked_for_and_never_changed_here() {
    let s = server().await;
    let policy = json!({"pattern": "^p", "definition": {"max-length": 5}});
    let (st, _) = call(&s, "PUT", "/api/policies/%2F/p5", GUEST, Some(policy)).await;
    assert_eq!(st, 201);
    let (_, all) = call(&s, "GET", "/api/parameters", GUEST, None).await;
    assert_eq!(all, json!([]), "RabbitMQ leaves policies out of /api/parameters");
    let (_, policies) = call(&s, "GET", "/api/parameters/policy", GUEST, None).await;
    assert_eq!(policies[0]["name"], "p5");
    assert_eq!(policies[0]["component"], "policy");
    assert_eq!(policies[0]["value"]["definition"], json!({"max-length": 5}));
    let (st, one) = call(&s, "GET", "/api/parameters/policy/%2F/p5", GUEST, None).await;
    assert_eq!((st, &one["vhost"]), (200, &json!("/")));
    let value = json!({"value": {"pattern": "x", "definition": {"max-length": 1}}});
    let (st, err) = call(&s, "PUT", "/api/parameters/policy/%2F/p6", GUEST, Some(value)).await;
    assert_eq!(
        (st, err["reason"].as_str()),
        (400, Some("policies may not be set using this method"))
    );
    let (st, err) = call(&s, "DELETE", "/api/parameters/policy/%2F/p5", GUEST, None).await;
    assert_eq!(
        (st, err["reason"].as_str()),
        (400, Some("policies may not be cleared using this method"))
    );
    let (st, _) = call(&s, "GET", "/api/policies/%2F/p5", GUEST, None).await;
    assert_eq!(st, 200, "still there");
}

#[tokio::test]
async fn shovel_and_federation_parameters_are_stored_as_given_and_other_components_refused() {
    let dir = tempfile::tempdir().unwrap();
    let shovel =
        json!({"src-uri": "amqp://", "src-queue": "in", "dest-uri": "amqp://remote", "dest-queue": "out"});
    {
        let s = server_in(dir.path()).await;
        let path = "/api/parameters/shovel/%2F/move-it";
        let (st, _) = call(&s, "PUT", path, GUEST, Some(json!({ "value": shovel }))).await;
        assert_eq!(st, 201);
        let upstream = json!({"value": {"uri": "amqp://upstream", "expires": 3600000}});
        let path = "/api/parameters/federation-upstream/%2F/up";
        let (st, _) = call(&s, "PUT", path, GUEST, Some(upstream)).await;
        assert_eq!(st, 201);
        let (st, err) = call(&s, "PUT", path, GUEST, Some(json!({"value": "text"}))).await;
        assert_eq!(st, 400, "{err}");
        for component in ["foo", "mqtt-port-to-vhost-mapping"] {
            let path = format!("/api/parameters/{component}/%2F/x");
            let (st, err) = call(&s, "PUT", &path, GUEST, Some(json!({"value": {}}))).await;
            assert_eq!(st, 400);
            assert_eq!(
                err["reason"],
                format!("Validation failed\n\ncomponent {component} not found\n")
            );
        }
        let (st, err) = call(
            &s,
            "PUT",
            "/api/parameters/shovel/nowhere/x",
            GUEST,
            Some(json!({"value": {}})),
        )
        .await;
        assert_eq!((st, err["reason"].as_str()), (404, Some("vhost_not_found")));
        s.shutdown().await;
    }
    let s = server_in(dir.path()).await;
    let (_, all) = call(&s, "GET", "/api/parameters", GUEST, None).await;
    assert_eq!(names(&all), ["up", "move-it"], "by component, then name: {all}");
    let (st, one) = call(&s, "GET", "/api/parameters/shovel/%2F/move-it", GUEST, None).await;
    assert_eq!(st, 200);
    assert_eq!(
        one,
        json!({"name": "move-it", "vhost": "/", "component": "shovel", "value": shovel})
    );
    let (_, none) = call(&s, "GET", "/api/parameters/foo", GUEST, None).await;
    assert_eq!(none, json!([]), "an unknown component lists nothing, as RabbitMQ");
    let (st, _) = call(&s, "GET", "/api/parameters/shovel/nowhere", GUEST, None).await;
    assert_eq!(st, 404);
    // A management user may not read or change parameters; a policymaker
    // with access to the vhost may.
    let manager = user_with(&s, "manager", &["management"]);
    let (st, _) = call(&s, "GET", "/api/parameters", &manager, None).await;
    assert_eq!(st, 401);
    let maker = user_with(&s, "maker", &["policymaker"]);
    let (st, _) = call(&s, "DELETE", "/api/parameters/shovel/%2F/move-it", &maker, None).await;
    assert_eq!(st, 204);
    let (st, _) = call(&s, "DELETE", "/api/parameters/shovel/%2F/move-it", &maker, None).await;
    assert_eq!(st, 404);
    // Deleting the vhost takes its parameters along.
    let (st, _) = call(&s, "DELETE", "/api/vhosts/%2F", GUEST, None).await;
    assert_eq!(st, 204);
    assert!(s.broker.parameters.list().is_empty());
}

#[tokio::test]
async fn definitions_carry_parameters_and_global_parameters_both_ways() {
    let s = server().await;
    let defs = json!({
        "vhosts": [{"name": "/"}],
        "parameters": [
            {"value": {"src-uri": "amqp://", "src-queue": "a", "dest-uri": "amqp://", "dest-queue": "b"},
             "vhost": "/", "component": "shovel", "name": "a-to-b"},
            {"value": {"uri": "amqp://up"}, "vhost": "/", "component": "federation-upstream", "name": "up"},
            {"value": {"max-connections": 7}, "vhost": "/", "component": "vhost-limits", "name": "limits"}
        ],
        "global_parameters": [
            {"name": "cluster_name", "value": "imported"},
            {"name": "internal_cluster_id", "value": "rabbitmq-cluster-id-fromElsewhere00000000"}
        ]
    });
    let (st, _) = call(&s, "POST", "/api/definitions", GUEST, Some(defs.clone())).await;
    assert_eq!(st, 204);
    let (_, name) = call(&s, "GET", "/api/cluster-name", GUEST, None).await;
    assert_eq!(name["name"], "imported");
    let (_, exported) = call(&s, "GET", "/api/definitions", GUEST, None).await;
    let mut params = exported["parameters"].as_array().unwrap().clone();
    let mut expected = defs["parameters"].as_array().unwrap().clone();
    let key = |p: &Value| format!("{}/{}", p["component"], p["name"]);
    params.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(params, expected, "what went in comes out");
    let globals = &exported["global_parameters"];
    assert_eq!(names(globals), ["cluster_name", "internal_cluster_id"]);
    assert_eq!(globals[0]["value"], "imported");
    assert_ne!(
        globals[1]["value"], "rabbitmq-cluster-id-fromElsewhere00000000",
        "the broker keeps its own identity"
    );
    let (_, alias) = call(&s, "GET", "/api/all-configuration", GUEST, None).await;
    assert_eq!(alias["parameters"], exported["parameters"]);
    // The export imports into another broker unchanged.
    let other = server().await;
    let (st, _) = call(&other, "POST", "/api/definitions", GUEST, Some(exported.clone())).await;
    assert_eq!(st, 204);
    let (_, again) = call(&other, "GET", "/api/definitions", GUEST, None).await;
    let sorted = |v: &Value| {
        let mut a = v.as_array().unwrap().clone();
        a.sort_by_key(key);
        a
    };
    assert_eq!(sorted(&again["parameters"]), sorted(&exported["parameters"]));
    assert_eq!(again["global_parameters"][0], exported["global_parameters"][0]);
    // One vhost's export has its parameters too.
    let (_, one) = call(&s, "GET", "/api/definitions/%2F", GUEST, None).await;
    assert_eq!(sorted(&one["parameters"]), sorted(&exported["parameters"]));
}
