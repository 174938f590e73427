//! Declaring, listing, publishing to, purging and deleting queues.

use crate::common::*;

#[test]
fn a_declared_queue_is_listed_as_json_table_and_tsv() {
    let w = Warren::start();
    w.ok(&[
        "declare",
        "queue",
        "--name",
        "cli-q",
        "--durable",
        "true",
        "--auto-delete",
        "false",
        "--arguments",
        r#"{"x-max-length":10}"#,
    ]);
    w.ok(&[
        "declare",
        "queue",
        "--name",
        "cli-quorum",
        "--queue-type",
        "quorum",
    ]);

    let list = w.json(&["list", "queues"]);
    assert_eq!(names(&list), ["cli-q", "cli-quorum"]);
    let q = find(&list, "cli-q");
    assert_eq!(q["vhost"], "/");
    assert_eq!(q["durable"], true);
    assert_eq!(q["auto_delete"], false);
    assert_eq!(q["arguments"]["x-max-length"], 10);
    assert_eq!(q["messages"], 0);
    assert_eq!(find(&list, "cli-quorum")["type"], "quorum");

    let table = w.ok(&["list", "queues"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[1].starts_with("| name "), "{table}");
    assert!(lines[1].contains("| messages |"), "{table}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("| cli-q ") && l.contains("| classic |")),
        "{table}"
    );

    let tsv = w.ok(&["--format", "tsv", "list", "queues"]);
    let mut rows = tsv.lines();
    assert_eq!(
        rows.next(),
        Some("name\ttype\tmessages\tmessages_ready\tmessages_unacknowledged\tconsumers")
    );
    assert_eq!(rows.next(), Some("cli-q\tclassic\t0\t0\t0\t0"));
    assert_eq!(rows.next(), Some("cli-quorum\tquorum\t0\t0\t0\t0"));
}

#[test]
fn options_may_follow_the_noun() {
    let w = Warren::start();
    w.ok(&["declare", "queue", "--name", "cli-q"]);
    let list = w.json(&["list", "queues", "--vhost", "/"]);
    assert_eq!(names(&list), ["cli-q"]);
}

#[test]
fn published_messages_are_counted_and_purged() {
    let w = Warren::start();
    w.ok(&["declare", "queue", "--name", "cli-q"]);

    let routed = w.json(&[
        "publish",
        "message",
        "--exchange",
        "",
        "--routing-key",
        "cli-q",
        "--payload",
        "hi",
    ]);
    assert_eq!(routed["routed"], true);
    let count = |w: &Warren| find(&w.json(&["list", "queues"]), "cli-q")["messages"].clone();
    assert_eq!(count(&w), 1);

    // The payload from standard input when there is no --payload.
    let out = w
        .ctl()
        .args(["publish", "message", "--routing-key", "cli-q"])
        .write_stdin("from stdin\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("| routed | true  |"), "{table}");
    assert_eq!(count(&w), 2);

    let unrouted = w.json(&[
        "publish",
        "message",
        "--routing-key",
        "no-such-queue",
        "--payload",
        "x",
    ]);
    assert_eq!(unrouted["routed"], false);

    w.ok(&["purge", "queue", "--name", "cli-q"]);
    assert_eq!(count(&w), 0);
}

#[test]
fn a_deleted_queue_is_gone_and_deleting_it_again_is_a_data_error() {
    let w = Warren::start();
    w.ok(&["declare", "queue", "--name", "cli-q"]);
    w.ok(&["declare", "queue", "--name", "cli-keep"]);
    w.ok(&["delete", "queue", "--name", "cli-q"]);
    assert_eq!(w.names(&["list", "queues"]), ["cli-keep"]);

    let stderr = w.fails(65, &["delete", "queue", "--name", "cli-q"]);
    assert!(stderr.contains("Not Found"), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    w.ok(&["delete", "queue", "--name", "cli-q", "--idempotently"]);
}

#[test]
fn redeclaring_with_other_properties_prints_the_brokers_reason() {
    let w = Warren::start();
    w.ok(&["declare", "queue", "--name", "cli-q", "--durable", "true"]);
    let stderr = w.fails(65, &["declare", "queue", "--name", "cli-q", "--durable", "false"]);
    assert!(stderr.contains("inequivalent arg 'durable'"), "{stderr}");
}

#[test]
fn vhosts_and_the_overview_are_shown() {
    let w = Warren::start();
    w.ok(&["declare", "queue", "--name", "cli-q"]);
    w.ok(&["publish", "message", "--routing-key", "cli-q", "--payload", "hi"]);

    assert_eq!(w.names(&["list", "vhosts"]), ["/"]);
    let overview = w.json(&["show", "overview"]);
    assert_eq!(overview["product_name"], "Warren");
    assert_eq!(overview["object_totals"]["queues"], 1);
    let tsv = w.ok(&["--format", "tsv", "show", "overview"]);
    assert!(tsv.starts_with("key\tvalue\n"), "{tsv}");
    assert!(tsv.contains("\nproduct_name\tWarren\n"), "{tsv}");
    assert!(tsv.contains("\nmessages\t1\n"), "{tsv}");
    let table = w.ok(&["show", "overview"]);
    assert!(table.contains("| queues "), "{table}");
}
