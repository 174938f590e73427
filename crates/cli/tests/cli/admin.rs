//! Administration through the CLI: users, permissions, topic permissions,
//! vhost limits, policies, vhosts,
//! channels, consumers, `get messages`, and definitions export/import.

use crate::common::*;
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde_json::{json, Value};

#[test]
fn users_are_declared_listed_and_deleted() {
    let w = Warren::start();
    w.ok(&[
        "declare",
        "user",
        "--name",
        "cli-u",
        "--password",
        "p",
        "--tags",
        "administrator,monitoring",
    ]);
    w.ok(&["declare", "user", "--name", "cli-nopass", "--password-hash", ""]);
    let list = w.json(&["list", "users"]);
    let u = find(&list, "cli-u");
    assert_eq!(u["tags"], json!(["administrator", "monitoring"]));
    find(&list, "cli-nopass");
    let table = w.ok(&["list", "users"]);
    assert!(table.contains("| cli-u "), "{table}");
    assert!(table.contains("administrator,monitoring"), "{table}");

    w.ok(&["delete", "user", "--name", "cli-u"]);
    w.ok(&["delete", "user", "--name", "cli-nopass"]);
    let names = w.names(&["list", "users"]);
    assert!(!names.contains(&"cli-u".to_string()), "{names:?}");
    w.fails(65, &["delete", "user", "--name", "cli-u"]);
}

#[test]
fn a_new_user_with_permissions_can_use_the_api() {
    let w = Warren::start();
    w.ok(&[
        "declare",
        "user",
        "--name",
        "cli-u",
        "--password",
        "p",
        "--tags",
        "administrator",
    ]);
    w.ok(&[
        "declare",
        "permission",
        "--user",
        "cli-u",
        "--configure",
        ".*",
        "--write",
        ".*",
        "--read",
        ".*",
    ]);
    let perms = w.json(&["list", "permissions"]);
    let p = perms
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"] == "cli-u")
        .unwrap_or_else(|| panic!("{perms}"));
    assert_eq!(p["vhost"], "/");
    assert_eq!(p["configure"], ".*");

    w.ok(&["--username", "cli-u", "--password", "p", "list", "queues"]);
    w.fails(
        77,
        &["--username", "cli-u", "--password", "wrong", "list", "queues"],
    );

    w.ok(&["delete", "permission", "--user", "cli-u"]);
    let perms = w.json(&["list", "permissions"]);
    assert!(
        perms.as_array().unwrap().iter().all(|p| p["user"] != "cli-u"),
        "{perms}"
    );
    w.ok(&["delete", "user", "--name", "cli-u"]);
}

#[test]
fn policies_are_declared_listed_and_deleted() {
    let w = Warren::start();
    w.ok(&[
        "declare",
        "policy",
        "--name",
        "cli-p",
        "--pattern",
        "^cli-",
        "--definition",
        r#"{"max-length":10}"#,
        "--apply-to",
        "queues",
        "--priority",
        "1",
    ]);
    let list = w.json(&["list", "policies"]);
    let p = find(&list, "cli-p");
    assert_eq!(p["vhost"], "/");
    assert_eq!(p["pattern"], "^cli-");
    assert_eq!(p["apply-to"], "queues");
    assert_eq!(p["definition"], json!({"max-length": 10}));
    assert_eq!(p["priority"], 1);
    let tsv = w.ok(&["--format", "tsv", "list", "policies"]);
    assert!(
        tsv.contains("/\tcli-p\t^cli-\tqueues\t{\"max-length\":10}\t1\n"),
        "{tsv}"
    );

    w.ok(&["delete", "policy", "--name", "cli-p"]);
    assert_eq!(w.json(&["list", "policies"]), json!([]));

    w.ok(&[
        "declare",
        "operator-policy",
        "--name",
        "cli-cap",
        "--pattern",
        "^cli-",
        "--definition",
        r#"{"max-length":5}"#,
        "--apply-to",
        "queues",
    ]);
    let list = w.json(&["list", "operator-policies"]);
    assert_eq!(find(&list, "cli-cap")["definition"], json!({"max-length": 5}));
    w.fails(
        65,
        &[
            "declare",
            "operator-policy",
            "--name",
            "cli-bad",
            "--pattern",
            ".",
            "--definition",
            r#"{"dead-letter-exchange":"x"}"#,
        ],
    );
    w.ok(&["delete", "operator-policy", "--name", "cli-cap"]);
    assert_eq!(w.json(&["list", "operator-policies"]), json!([]));
}

#[test]
fn topic_permissions_and_vhost_limits_are_declared_listed_and_deleted() {
    let w = Warren::start();
    w.ok(&["declare", "user", "--name", "cli-t", "--password", "p"]);
    w.ok(&[
        "declare",
        "topic-permission",
        "--user",
        "cli-t",
        "--exchange",
        "amq.topic",
        "--write",
        "^a",
        "--read",
        "^b",
    ]);
    let list = w.json(&["list", "topic-permissions"]);
    assert_eq!(
        list,
        json!([{"user": "cli-t", "vhost": "/", "exchange": "amq.topic", "write": "^a", "read": "^b"}])
    );
    let tsv = w.ok(&["--format", "tsv", "list", "topic-permissions"]);
    assert!(tsv.contains("cli-t\t/\tamq.topic\t^a\t^b\n"), "{tsv}");
    w.ok(&[
        "delete",
        "topic-permission",
        "--user",
        "cli-t",
        "--exchange",
        "amq.topic",
    ]);
    assert_eq!(w.json(&["list", "topic-permissions"]), json!([]));
    w.fails(65, &["delete", "topic-permission", "--user", "cli-t"]);
    w.ok(&["delete", "topic-permission", "--user", "cli-t", "--idempotently"]);

    w.ok(&["declare", "vhost-limit", "--name", "max-queues", "--value", "5"]);
    w.ok(&[
        "declare",
        "vhost-limit",
        "--name",
        "max-connections",
        "--value",
        "-1",
    ]);
    assert_eq!(
        w.json(&["list", "vhost-limits"]),
        json!([{"vhost": "/", "value": {"max-queues": 5, "max-connections": -1}}])
    );
    let table = w.ok(&["list", "vhost-limits"]);
    assert!(table.contains("max-queues"), "{table}");
    w.fails(
        64,
        &["declare", "vhost-limit", "--name", "max-foo", "--value", "1"],
    );
    w.ok(&["delete", "vhost-limit", "--name", "max-queues"]);
    w.ok(&["delete", "vhost-limit", "--name", "max-connections"]);
    assert_eq!(w.json(&["list", "vhost-limits"]), json!([]));

    w.ok(&[
        "declare",
        "user-limit",
        "--user",
        "cli-t",
        "--name",
        "max-channels",
        "--value",
        "9",
    ]);
    assert_eq!(
        w.json(&["list", "user-limits"]),
        json!([{"user": "cli-t", "value": {"max-channels": 9}}])
    );
    w.ok(&[
        "delete",
        "user-limit",
        "--user",
        "cli-t",
        "--name",
        "max-channels",
    ]);
    assert_eq!(w.json(&["list", "user-limits"]), json!([]));
}

#[test]
fn vhosts_are_declared_and_deleted() {
    let w = Warren::start();
    w.ok(&[
        "declare",
        "vhost",
        "--name",
        "cli-v",
        "--description",
        "from warrenctl",
    ]);
    assert_eq!(w.names(&["list", "vhosts"]), ["/", "cli-v"]);
    w.ok(&["--vhost", "cli-v", "declare", "queue", "--name", "cli-q"]);
    assert_eq!(w.names(&["--vhost", "cli-v", "list", "queues"]), ["cli-q"]);
    assert_eq!(w.names(&["list", "queues"]), Vec::<String>::new());
    w.ok(&["delete", "vhost", "--name", "cli-v"]);
    assert_eq!(w.names(&["list", "vhosts"]), ["/"]);
}

#[test]
fn channels_and_consumers_are_listed() {
    let w = Warren::start();
    w.ok(&["declare", "queue", "--name", "cli-q"]);
    let url = w.amqp_url();
    let (_conn, _ch, _consumer) = w.rt.block_on(async {
        let conn = Connection::connect(&url, ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        let consumer = ch
            .basic_consume(
                "cli-q".into(),
                "cli-tag".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        (conn, ch, consumer)
    });

    let channels = w.json(&["list", "channels"]);
    assert_eq!(channels.as_array().unwrap().len(), 1, "{channels}");
    assert_eq!(channels[0]["user"], "guest");
    assert_eq!(channels[0]["consumer_count"], 1);

    let consumers = w.json(&["list", "consumers"]);
    assert_eq!(consumers.as_array().unwrap().len(), 1, "{consumers}");
    assert_eq!(consumers[0]["queue"]["name"], "cli-q");
    assert_eq!(consumers[0]["consumer_tag"], "cli-tag");
    let table = w.ok(&["list", "consumers"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("| cli-q ") && l.contains("cli-tag")),
        "{table}"
    );
}

#[test]
fn get_messages_requeues_or_takes_them() {
    let w = Warren::start();
    w.ok(&["declare", "queue", "--name", "cli-q"]);
    for payload in ["one", "two"] {
        w.ok(&[
            "publish",
            "message",
            "--routing-key",
            "cli-q",
            "--payload",
            payload,
        ]);
    }
    let count = |w: &Warren| find(&w.json(&["list", "queues"]), "cli-q")["messages"].clone();

    let got = w.json(&[
        "get",
        "messages",
        "--queue",
        "cli-q",
        "--count",
        "1",
        "--ackmode",
        "ack_requeue_true",
    ]);
    assert_eq!(got.as_array().unwrap().len(), 1, "{got}");
    assert_eq!(got[0]["payload"], "one");
    assert_eq!(got[0]["payload_encoding"], "string");
    assert_eq!(got[0]["routing_key"], "cli-q");
    assert_eq!(got[0]["message_count"], 1);
    assert_eq!(count(&w), 2);

    let table = w.ok(&[
        "get",
        "messages",
        "--queue",
        "cli-q",
        "--count",
        "2",
        "--ackmode",
        "ack_requeue_false",
    ]);
    assert!(table.contains("| payload "), "{table}");
    assert!(table.contains(" one "), "{table}");
    assert!(table.contains(" two "), "{table}");
    assert_eq!(count(&w), 0);

    // A body that is not UTF-8 goes (from stdin) and comes back as base64.
    let out = w
        .ctl()
        .args(["publish", "message", "--routing-key", "cli-q"])
        .write_stdin(vec![0xff, 0x00])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let got = w.json(&[
        "get",
        "messages",
        "--queue",
        "cli-q",
        "--ackmode",
        "ack_requeue_false",
    ]);
    assert_eq!(got[0]["payload_encoding"], "base64");
    assert_eq!(got[0]["payload"], "/wA=");
}

#[test]
fn peek_leaves_messages_and_move_moves_them() {
    let w = Warren::start();
    w.ok(&["declare", "queue", "--name", "cli-from"]);
    w.ok(&["declare", "queue", "--name", "cli-to"]);
    for payload in ["one", "two", "three"] {
        w.ok(&[
            "publish",
            "message",
            "--routing-key",
            "cli-from",
            "--payload",
            payload,
        ]);
    }
    let peeked = w.json(&[
        "peek", "messages", "--queue", "cli-from", "--offset", "1", "--count", "5",
    ]);
    let shown: Vec<_> = peeked
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["position"].clone(),
                m["payload"].clone(),
                m["redelivered"].clone(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (1.into(), "two".into(), false.into()),
            (2.into(), "three".into(), false.into())
        ]
    );
    let count = |w: &Warren, q: &str| find(&w.json(&["list", "queues"]), q)["messages"].clone();
    assert_eq!(count(&w, "cli-from"), 3, "a peek takes nothing");

    let table = w.ok(&[
        "move",
        "messages",
        "--queue",
        "cli-from",
        "--destination",
        "cli-to",
        "--count",
        "2",
    ]);
    assert!(table.contains("| moved "), "{table}");
    let moved = w.json(&[
        "move",
        "messages",
        "--queue",
        "cli-from",
        "--destination",
        "cli-to",
    ]);
    assert_eq!(moved["moved"], 1, "{moved}");
    assert_eq!(count(&w, "cli-from"), 0);
    assert_eq!(count(&w, "cli-to"), 3);
    // Dead letters: these never died, so they stay.
    let moved = w.json(&["move", "messages", "--queue", "cli-to", "--dead-letters"]);
    assert_eq!(moved["skipped"], 3, "{moved}");
    // One of --destination and --dead-letters is required.
    let out = w
        .ctl()
        .args(["move", "messages", "--queue", "cli-to"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{out:?}");
}

#[test]
fn definitions_are_exported_and_imported() {
    let w = Warren::start();
    w.ok(&["declare", "queue", "--name", "cli-durable", "--durable", "true"]);
    let defs: Value = serde_json::from_str(&w.ok(&["export", "definitions"])).unwrap();
    let queues = defs["queues"].as_array().unwrap_or_else(|| panic!("{defs}"));
    assert!(queues.iter().any(|q| q["name"] == "cli-durable"), "{defs}");

    let file = std::env::temp_dir().join(format!("warrenctl-defs-{}.json", std::process::id()));
    w.ok(&["export", "definitions", "--file", file.to_str().unwrap()]);
    let from_file: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(from_file["queues"], defs["queues"]);
    let _ = std::fs::remove_file(&file);

    let import = json!({
        "queues": [{"name": "cli-imported", "vhost": "/", "durable": true, "auto_delete": false, "arguments": {}}],
        "exchanges": [{"name": "cli-ix", "vhost": "/", "type": "fanout", "durable": true,
                       "auto_delete": false, "internal": false, "arguments": {}}],
        "bindings": [{"source": "cli-ix", "vhost": "/", "destination": "cli-imported",
                      "destination_type": "queue", "routing_key": "", "arguments": {}}],
    });
    let out = w
        .ctl()
        .args(["import", "definitions"])
        .write_stdin(import.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(w.names(&["list", "queues"]).contains(&"cli-imported".to_string()));
    let routed = w.json(&["publish", "message", "--exchange", "cli-ix", "--payload", "x"]);
    assert_eq!(routed["routed"], true);
}
