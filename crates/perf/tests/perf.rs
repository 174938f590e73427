//! warren-perf against a real Warren: each scenario's JSON line, and the
//! broker left as it was found.

use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

async fn broker() -> warren_server::Server {
    warren_server::start(warren_server::Config::ephemeral())
        .await
        .unwrap()
}

async fn perf(args: Vec<String>) -> (Value, Output) {
    let out = tokio::task::spawn_blocking(move || {
        Command::cargo_bin("warren-perf")
            .unwrap()
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    (v, out)
}

fn args(s: &warren_server::Server, list: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = list.iter().map(|x| x.to_string()).collect();
    a.extend(["--uri".to_string(), s.url()]);
    a
}

fn queues_named(s: &warren_server::Server, prefix: &str) -> usize {
    let vhost = s.broker.vhost("/").unwrap();
    vhost
        .queues()
        .iter()
        .filter(|q| q.name.starts_with(prefix))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_with_confirms_and_acks_moves_messages_and_cleans_up() {
    let s = broker().await;
    let (v, out) = perf(args(
        &s,
        &[
            "throughput",
            "--duration",
            "1",
            "--size",
            "256",
            "--confirm",
            "100",
            "--ack",
            "--multi-ack",
            "10",
            "--producers",
            "2",
            "--consumers",
            "2",
            "--queues",
            "2",
            "--persistent",
            "--prefix",
            "tp",
        ],
    ))
    .await;
    assert!(out.status.success(), "{v}");
    assert_eq!(v["scenario"], "throughput");
    assert!(v["broker"].as_str().unwrap().starts_with("Warren"), "{v}");
    for k in ["pub_rate", "cons_rate", "confirm_rate"] {
        assert!(v[k].as_f64().unwrap() > 0.0, "{k} in {v}");
    }
    assert_eq!(v["nacked"], 0);
    assert_eq!(v["params"]["producers"], 2);
    assert!(v["latency_us"]["samples"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(queues_named(&s, "tp-"), 0, "its queues are deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_at_a_fixed_rate_on_quorum_queues() {
    let s = broker().await;
    let (v, out) = perf(args(
        &s,
        &[
            "latency",
            "--duration",
            "1",
            "--rate",
            "200",
            "--queue-arg",
            "x-queue-type=quorum",
            "--prefix",
            "lat",
        ],
    ))
    .await;
    assert!(out.status.success(), "{v}");
    let l = &v["latency_us"];
    assert!(l["samples"].as_u64().unwrap() >= 100, "{v}");
    assert!(l["p50"].as_u64().unwrap() <= l["p99"].as_u64().unwrap());
    // The limiter never publishes ahead of the rate (how far below it a
    // busy machine falls is not this test's business).
    let rate = v["pub_rate"].as_f64().unwrap();
    assert!(rate > 0.0 && rate <= 250.0, "at most the rate asked: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_and_queues_report_their_rates() {
    let s = broker().await;
    let (v, out) = perf(args(&s, &["connections", "--count", "40", "--hold", "0.2"])).await;
    assert!(out.status.success(), "{v}");
    assert!(v["open_rate"].as_f64().unwrap() > 0.0, "{v}");
    let (v, out) = perf(args(
        &s,
        &["queues", "--count", "250", "--durable", "--prefix", "qq"],
    ))
    .await;
    assert!(out.status.success(), "{v}");
    assert!(
        v["declare_rate"].as_f64().unwrap() > 0.0 && v["delete_rate"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    assert_eq!(queues_named(&s, "qq-"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_is_an_error_line() {
    let s = broker().await;
    let uri = s.url().replace("guest:guest", "guest:wrong");
    let (v, out) = perf(vec![
        "connections".into(),
        "--count".into(),
        "1".into(),
        "--uri".into(),
        uri,
    ])
    .await;
    assert!(!out.status.success());
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().len() > 3, "{v}");
}
