//! Exchanges and the bindings from them to queues and exchanges.

use crate::common::*;
use serde_json::{json, Value};

/// Bindings whose source is `source` (leaving out the default exchange's).
fn from(list: &Value, source: &str) -> Vec<Value> {
    list.as_array()
        .unwrap()
        .iter()
        .filter(|b| b["source"] == source)
        .cloned()
        .collect()
}

#[test]
fn exchanges_are_declared_listed_and_deleted() {
    let w = Warren::start();
    w.ok(&[
        "declare",
        "exchange",
        "--name",
        "cli-x",
        "--type",
        "topic",
        "--durable",
        "false",
    ]);
    let list = w.json(&["list", "exchanges"]);
    let x = find(&list, "cli-x");
    assert_eq!(x["type"], "topic");
    assert_eq!(x["durable"], false);
    assert!(names(&list).contains(&"amq.direct".to_string()));

    let table = w.ok(&["list", "exchanges"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("| cli-x ") && l.contains("| topic ")),
        "{table}"
    );

    w.ok(&["delete", "exchange", "--name", "cli-x"]);
    assert!(!w.names(&["list", "exchanges"]).contains(&"cli-x".to_string()));
}

#[test]
fn an_unknown_exchange_type_is_a_data_error_with_the_brokers_reason() {
    let w = Warren::start();
    let stderr = w.fails(65, &["declare", "exchange", "--name", "cli-x", "--type", "bogus"]);
    assert!(stderr.contains("bogus"), "{stderr}");
}

#[test]
fn bindings_route_are_listed_and_deleted_by_routing_key_or_properties_key() {
    let w = Warren::start();
    w.ok(&["declare", "queue", "--name", "cli-q"]);
    w.ok(&["declare", "exchange", "--name", "cli-x", "--type", "topic"]);
    w.ok(&["declare", "exchange", "--name", "cli-x2", "--type", "fanout"]);
    w.ok(&[
        "declare",
        "binding",
        "--source",
        "cli-x",
        "--destination",
        "cli-q",
        "--destination-type",
        "queue",
        "--routing-key",
        "k.#",
    ]);
    w.ok(&[
        "declare",
        "binding",
        "--source",
        "cli-x",
        "--destination",
        "cli-q",
        "--routing-key",
        "other",
        "--arguments",
        r#"{"a":1}"#,
    ]);
    w.ok(&[
        "declare",
        "binding",
        "--source",
        "cli-x",
        "--destination",
        "cli-x2",
        "--destination-type",
        "exchange",
        "--routing-key",
        "e",
    ]);

    let list = w.json(&["list", "bindings"]);
    let bindings = from(&list, "cli-x");
    assert_eq!(bindings.len(), 3, "{list}");
    let to_queue = bindings
        .iter()
        .find(|b| b["routing_key"] == "k.#")
        .expect("the k.# binding");
    assert_eq!(to_queue["destination"], "cli-q");
    assert_eq!(to_queue["destination_type"], "queue");
    assert_eq!(to_queue["arguments"], json!({}));
    let to_exchange = bindings.iter().find(|b| b["routing_key"] == "e").unwrap();
    assert_eq!(to_exchange["destination_type"], "exchange");
    assert_eq!(to_exchange["destination"], "cli-x2");

    let table = w.ok(&["list", "bindings"]);
    assert!(
        table.lines().nth(1).unwrap().contains(" properties_key "),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("| cli-x ") && l.contains(" k.# ")),
        "{table}"
    );

    let routed = w.json(&[
        "publish",
        "message",
        "--exchange",
        "cli-x",
        "--routing-key",
        "k.1",
        "--payload",
        "m",
    ]);
    assert_eq!(routed["routed"], true);
    assert_eq!(find(&w.json(&["list", "queues"]), "cli-q")["messages"], 1);

    // Two bindings lead from cli-x to cli-q: without a key the CLI cannot choose.
    let stderr = w.fails(
        64,
        &["delete", "binding", "--source", "cli-x", "--destination", "cli-q"],
    );
    assert!(stderr.contains("--properties-key"), "{stderr}");

    w.ok(&[
        "delete",
        "binding",
        "--source",
        "cli-x",
        "--destination",
        "cli-q",
        "--routing-key",
        "k.#",
    ]);
    let with_args = from(&w.json(&["list", "bindings"]), "cli-x")
        .into_iter()
        .find(|b| b["routing_key"] == "other")
        .unwrap();
    let key = with_args["properties_key"].as_str().unwrap().to_string();
    w.ok(&[
        "delete",
        "binding",
        "--source",
        "cli-x",
        "--destination",
        "cli-q",
        "--destination-type",
        "queue",
        "--properties-key",
        &key,
    ]);
    w.ok(&[
        "delete",
        "binding",
        "--source",
        "cli-x",
        "--destination",
        "cli-x2",
        "--destination-type",
        "exchange",
        "--routing-key",
        "e",
    ]);
    assert_eq!(from(&w.json(&["list", "bindings"]), "cli-x"), Vec::<Value>::new());

    let unrouted = w.json(&[
        "publish",
        "message",
        "--exchange",
        "cli-x",
        "--routing-key",
        "k.1",
        "--payload",
        "m",
    ]);
    assert_eq!(unrouted["routed"], false);

    let stderr = w.fails(
        65,
        &[
            "delete",
            "binding",
            "--source",
            "cli-x",
            "--destination",
            "cli-q",
            "--routing-key",
            "k.#",
        ],
    );
    assert!(
        stderr.contains("no binding from exchange 'cli-x' to queue 'cli-q'"),
        "{stderr}"
    );
    w.ok(&[
        "delete",
        "binding",
        "--source",
        "cli-x",
        "--destination",
        "cli-q",
        "--routing-key",
        "k.#",
        "--idempotently",
    ]);
}
