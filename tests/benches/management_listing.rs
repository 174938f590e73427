//! How long the management API takes to list 10,000 queues: whole, one
//! page, sorted by a counter, and with `columns`. Run in release mode:
//! `cargo bench -p warren-tests --bench management_listing`. Prints one
//! line per request kind (median and worst of the runs); nothing is
//! asserted, because speed is measured here, not tested.

use std::time::{Duration, Instant};

use warren_tests::http::{http, server, GUEST};

const QUEUES: usize = 10_000;
const RUNS: usize = 15;

#[tokio::main]
async fn main() {
    let s = server().await;
    let addr = s.management_addr().expect("the management API listens");
    let v = s.broker.vhost("/").expect("the default vhost");
    for i in 0..QUEUES {
        v.declare_queue(&format!("q{i:05}"), false, Default::default(), 0)
            .expect("declared");
    }
    for (what, path) in [
        ("whole listing", "/api/queues"),
        ("one page of 100", "/api/queues?page=50&page_size=100"),
        ("sorted by messages", "/api/queues?sort=messages"),
        ("columns=name,messages", "/api/queues?columns=name,messages"),
    ] {
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let started = Instant::now();
            let (status, _, _) = http(addr, "GET", path, Some(GUEST), None).await;
            times.push(started.elapsed());
            assert_eq!(status, 200, "{path}");
        }
        times.sort();
        println!(
            "{QUEUES} queues, {what:<24} median {:>9.2?}  worst {:>9.2?}",
            times[RUNS / 2],
            times[RUNS - 1]
        );
    }
    s.shutdown().await;
}
