//! warren-perf: load for any AMQP 0-9-1 broker, like RabbitMQ's PerfTest
//! and lavinmqperf, so users can measure Warren against what they run
//! today. Each run prints one JSON line.
//!
//!     warren-perf throughput --producers 2 --consumers 2 --size 1024 --confirm 1000 --ack
//!     warren-perf latency --rate 1000
//!     warren-perf connections --count 10000
//!     warren-perf queues --count 100000 --durable

mod client;
mod load;
mod rss;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};
use warren_codec::{AMQPValue, FieldTable, LongString};

use client::{Conn, Uri};

#[derive(Parser)]
#[command(
    name = "warren-perf",
    version,
    about = "Load tests for any AMQP 0-9-1 broker; one JSON line per run"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// amqp://user:password@host:port/vhost (vhost %-encoded)
    #[arg(long, global = true, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    uri: String,
    /// Seconds each connection and declaration may take
    #[arg(long, global = true, default_value_t = 10.0)]
    timeout: f64,
    /// The broker's process id, when it runs on this machine (Linux): its
    /// resident memory is reported before, during and after the load
    #[arg(long, global = true)]
    broker_pid: Option<u32>,
}

#[derive(Subcommand)]
enum Scenario {
    /// Publishers and consumers on queues, as fast as they go (or --rate)
    Throughput(Flow),
    /// Publish-to-deliver latency percentiles at a fixed rate (default 1000 msg/s)
    Latency(Flow),
    /// Open connections (one channel each), hold them, close them
    Connections {
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Opened at a time
        #[arg(long, default_value_t = 32)]
        parallel: usize,
        /// Seconds to hold them open
        #[arg(long, default_value_t = 5.0)]
        hold: f64,
        /// Local addresses to connect from, in turn, comma-separated (one
        /// address reaches one broker port from about 28,000 ports; on
        /// Linux all of 127.0.0.0/8 is loopback)
        #[arg(long, value_delimiter = ',')]
        sources: Vec<std::net::IpAddr>,
    },
    /// Declare queues, then delete them
    Queues {
        #[arg(long, default_value_t = 1000)]
        count: usize,
        #[arg(long)]
        durable: bool,
        /// Queue arguments, KEY=VALUE (numbers become integers), repeatable
        #[arg(long = "queue-arg", value_parser = queue_arg)]
        queue_args: Vec<(String, AMQPValue)>,
        #[arg(long, default_value = "perf")]
        prefix: String,
        /// Seconds to keep them before deleting them (to list them meanwhile)
        #[arg(long, default_value_t = 0.0)]
        hold: f64,
    },
}

#[derive(Args, Clone)]
pub struct Flow {
    #[arg(long, default_value_t = 1)]
    pub producers: usize,
    #[arg(long, default_value_t = 1)]
    pub consumers: usize,
    #[arg(long, default_value_t = 1)]
    pub queues: usize,
    /// Body size in bytes (at least 16: send time and sequence)
    #[arg(long, default_value_t = 16)]
    pub size: usize,
    /// Seconds to measure
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Total publish rate over all producers, msg/s (0: unlimited)
    #[arg(long)]
    pub rate: Option<f64>,
    /// Publisher confirms with this many unconfirmed at most (0: off)
    #[arg(long, default_value_t = 0)]
    pub confirm: usize,
    /// Consumers acknowledge (manual ack) instead of no-ack
    #[arg(long)]
    pub ack: bool,
    /// Acknowledge with multiple=true every N messages
    #[arg(long, default_value_t = 1)]
    pub multi_ack: u64,
    /// Consumer prefetch (with --ack)
    #[arg(long, default_value_t = 100)]
    pub prefetch: u16,
    /// Persistent messages (delivery mode 2) to durable queues
    #[arg(long)]
    pub persistent: bool,
    /// Queue arguments, KEY=VALUE (numbers become integers), repeatable:
    /// x-queue-type=quorum, x-max-priority=10, x-max-length=1000...
    #[arg(long = "queue-arg", value_parser = queue_arg)]
    pub queue_args: Vec<(String, AMQPValue)>,
    #[arg(long, default_value = "perf")]
    pub prefix: String,
}

fn queue_arg(s: &str) -> Result<(String, AMQPValue), String> {
    let (k, v) = s.split_once('=').ok_or("expected KEY=VALUE")?;
    let value = match v.parse::<i64>() {
        Ok(n) => AMQPValue::LongLongInt(n),
        Err(_) => AMQPValue::LongString(LongString::from(v)),
    };
    Ok((k.to_string(), value))
}

pub fn table(args: &[(String, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in args {
        t.insert(k.as_str().into(), v.clone());
    }
    t
}

fn main() {
    let cli = Cli::parse();
    rss::raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (name, result) = runtime.block_on(run(&cli));
    let line = match result {
        Ok(mut v) => {
            v["scenario"] = json!(name);
            v["ok"] = json!(true);
            v
        }
        Err(e) => json!({"scenario": name, "ok": false, "error": format!("{e:#}")}),
    };
    println!("{line}");
    if line["ok"] != json!(true) {
        std::process::exit(1);
    }
}

async fn run(cli: &Cli) -> (&'static str, Result<Value>) {
    let uri = match Uri::parse(&cli.uri) {
        Ok(u) => u,
        Err(e) => return ("", Err(e)),
    };
    let timeout = Duration::from_secs_f64(cli.timeout);
    match &cli.scenario {
        Scenario::Throughput(f) => (
            "throughput",
            load::flow(&uri, f, timeout, cli.broker_pid, false).await,
        ),
        Scenario::Latency(f) => {
            let mut f = f.clone();
            f.rate = Some(f.rate.unwrap_or(1000.0));
            (
                "latency",
                load::flow(&uri, &f, timeout, cli.broker_pid, true).await,
            )
        }
        Scenario::Connections {
            count,
            parallel,
            hold,
            sources,
        } => (
            "connections",
            connections(
                &uri,
                (*count, *parallel, sources),
                Duration::from_secs_f64(*hold),
                cli.broker_pid,
                timeout,
            )
            .await,
        ),
        Scenario::Queues {
            count,
            durable,
            queue_args,
            prefix,
            hold,
        } => (
            "queues",
            queues(
                &uri,
                (*count, *durable, &table(queue_args), prefix),
                Duration::from_secs_f64(*hold),
                cli.broker_pid,
                timeout,
            )
            .await,
        ),
    }
}

/// Opens `count` connections, `parallel` at a time (from `sources` in
/// turn), holds them, closes them.
async fn connections(
    uri: &Uri,
    (count, parallel, sources): (usize, usize, &[std::net::IpAddr]),
    hold: Duration,
    broker_pid: Option<u32>,
    timeout: Duration,
) -> Result<Value> {
    let rss_before = rss::sample(broker_pid);
    let started = Instant::now();
    let mut open = Vec::with_capacity(count);
    let mut server = String::new();
    while open.len() < count {
        let batch = parallel.min(count - open.len());
        let tasks: Vec<_> = (0..batch)
            .map(|i| {
                let uri = uri.clone();
                let source = (!sources.is_empty()).then(|| sources[(open.len() + i) % sources.len()]);
                tokio::spawn(async move { Conn::open_from(&uri, source, timeout).await })
            })
            .collect();
        for t in tasks {
            let mut c = t.await??;
            c.reader.release();
            server.clone_from(&c.server);
            open.push(c);
        }
    }
    let opened_in = started.elapsed().as_secs_f64();
    tokio::time::sleep(hold).await;
    let rss_held = rss::sample(broker_pid);
    let closing = Instant::now();
    let closes: Vec<_> = open.into_iter().map(|c| tokio::spawn(c.close())).collect();
    for c in closes {
        c.await?;
    }
    let close_rate = count as f64 / closing.elapsed().as_secs_f64();
    let mut out = json!({
        "broker": server,
        "params": {"count": count, "parallel": parallel, "hold_s": hold.as_secs_f64(), "sources": sources.len().max(1)},
        "open_rate": count as f64 / opened_in,
        "close_rate": close_rate,
    });
    rss::report(
        &mut out,
        broker_pid,
        rss_before,
        rss_held,
        count,
        "rss_per_connection",
    )
    .await;
    Ok(out)
}

/// Declares `count` queues, then deletes them, pipelined in batches (as a
/// client with many queues does at start); reports both rates.
async fn queues(
    uri: &Uri,
    (count, durable, args, prefix): (usize, bool, &FieldTable, &str),
    hold: Duration,
    broker_pid: Option<u32>,
    timeout: Duration,
) -> Result<Value> {
    const BATCH: usize = 100;
    let rss_before = rss::sample(broker_pid);
    let mut rss_held = None;
    let mut c = Conn::open(uri, timeout).await?;
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}-q{i}")).collect();
    let mut rates = Vec::new();
    for declaring in [true, false] {
        let started = Instant::now();
        for batch in names.chunks(BATCH) {
            for n in batch {
                let m = if declaring {
                    client::declare(n, durable, args)
                } else {
                    client::delete(n)
                };
                c.writer.send(1, m).await?;
            }
            for _ in batch {
                match tokio::time::timeout(timeout, c.reader.method()).await?? {
                    warren_codec::AMQPClass::Queue(_) => {}
                    other => bail!("{other:?}"),
                }
            }
        }
        rates.push(count as f64 / started.elapsed().as_secs_f64());
        if declaring {
            rss_held = rss::sample(broker_pid);
            tokio::time::sleep(hold).await;
        }
    }
    let server = c.server.clone();
    c.close().await;
    let mut out = json!({
        "broker": server,
        "params": {"count": count, "durable": durable, "hold_s": hold.as_secs_f64()},
        "declare_rate": rates[0],
        "delete_rate": rates[1],
    });
    rss::report(&mut out, broker_pid, rss_before, rss_held, count, "rss_per_queue").await;
    Ok(out)
}
