//! Failures exit with sysexits codes and say why on stderr.

use crate::common::*;

#[test]
fn a_wrong_password_is_no_permission() {
    let w = Warren::start();
    let stderr = w.fails(77, &["--password", "wrong", "list", "queues"]);
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    let stderr = w.fails(77, &["--username", "nobody", "show", "overview"]);
    assert!(stderr.contains("Login failed"), "{stderr}");
}

#[test]
fn nothing_listening_is_unavailable() {
    // A port that was free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stderr = fails_with(ctl_at(port), 69, &["list", "queues"]);
    assert!(stderr.contains("cannot reach the management API"), "{stderr}");
}

#[test]
fn tls_to_a_plain_port_or_with_a_bad_ca_file_fails_clearly() {
    let w = Warren::start();
    // The management port speaks plain HTTP: a TLS client cannot handshake.
    let stderr = w.fails(69, &["--tls", "list", "queues"]);
    assert!(stderr.contains("https://"), "{stderr}");
    let stderr = w.fails(66, &["--ca-cert", "/nonexistent/ca.pem", "list", "queues"]);
    assert!(stderr.contains("/nonexistent/ca.pem"), "{stderr}");
    let dir = std::env::temp_dir().join(format!("warrenctl-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no certificate here").unwrap();
    let stderr = w.fails(65, &["--ca-cert", empty.to_str().unwrap(), "list", "queues"]);
    assert!(stderr.contains("no certificate"), "{stderr}");
}

#[test]
fn bad_usage_is_a_usage_error() {
    // Usage errors are found before anything is sent: no broker needed.
    let ctl = || ctl_at(9);
    fails_with(ctl(), 64, &["list", "queuez"]);
    fails_with(ctl(), 64, &["frobnicate", "queue"]);
    fails_with(ctl(), 64, &["declare", "queue"]);
    fails_with(
        ctl(),
        64,
        &["declare", "queue", "--name", "q", "--durable", "maybe"],
    );
    let stderr = fails_with(
        ctl(),
        64,
        &["declare", "queue", "--name", "q", "--arguments", "{bad"],
    );
    assert!(stderr.contains("not valid JSON"), "{stderr}");
    let stderr = fails_with(
        ctl(),
        64,
        &["declare", "global-parameter", "--name", "g", "--value", "text"],
    );
    assert!(stderr.contains("a string needs its quotes"), "{stderr}");
    fails_with(ctl(), 64, &["declare", "user", "--name", "u"]);
    fails_with(ctl(), 64, &["--format", "xml", "list", "queues"]);
    fails_with(
        ctl(),
        64,
        &["get", "messages", "--queue", "q", "--ackmode", "maybe"],
    );
}

#[test]
fn help_and_version_succeed() {
    let out = ctl_at(9).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Exit codes"), "{help}");
    assert!(ctl_at(9).arg("--version").output().unwrap().status.success());
}

#[test]
fn a_missing_object_is_a_data_error() {
    let w = Warren::start();
    let stderr = w.fails(65, &["purge", "queue", "--name", "no-such-queue"]);
    assert!(stderr.contains("Not Found"), "{stderr}");
    w.fails(65, &["delete", "exchange", "--name", "no-such-exchange"]);
    w.fails(65, &["--vhost", "no-such-vhost", "list", "queues"]);
    w.fails(
        65,
        &[
            "publish",
            "message",
            "--exchange",
            "no-such-exchange",
            "--payload",
            "x",
        ],
    );
}

#[test]
fn unreadable_definitions_are_no_input_and_bad_json_is_a_data_error() {
    let w = Warren::start();
    w.fails(
        66,
        &["import", "definitions", "--file", "/nonexistent/definitions.json"],
    );
    let out = w
        .ctl()
        .args(["import", "definitions"])
        .write_stdin("{not json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
}
