//! A durable queue under random operations including `Restart`, compared
//! with a model after each one: persistent messages survive restarts in
//! their order, transient ones do not, unacked ones come back redelivered.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use warren_broker::queue::QueueOptions;
use warren_broker::vhost::RouteScratch;
use warren_broker::{Broker, Entry, Message, Queue};

#[derive(Debug, Clone)]
enum Op {
    Publish { persistent: bool },
    Get,
    Ack(usize),
    Requeue(usize),
    Drop(usize),
    Purge,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => any::<bool>().prop_map(|persistent| Op::Publish { persistent }),
        3 => Just(Op::Get),
        2 => any::<usize>().prop_map(Op::Ack),
        2 => any::<usize>().prop_map(Op::Requeue),
        1 => any::<usize>().prop_map(Op::Drop),
        1 => Just(Op::Purge),
        2 => Just(Op::Restart),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct M {
    n: u64,
    persistent: bool,
    delivered: bool,
    held: bool,
}

fn message(n: u64, persistent: bool) -> Arc<Message> {
    let properties = if persistent { vec![0x10, 0, 2] } else { vec![0, 0] };
    Arc::new(Message {
        exchange: Bytes::new(),
        routing_key: Bytes::from_static(b"q"),
        properties: Bytes::from(properties),
        body: Bytes::from(n.to_string()),
        persistent,
        priority: 0,
        expiration_ms: None,
        has_headers: false,
        store_id: 0,
    })
}

fn open(dir: &std::path::Path) -> (Broker, Arc<Queue>) {
    // A window of 3 messages, so most of the backlog is paged out.
    let broker = Broker::open(dir, 4096, 3).expect("broker opens");
    let v = broker.vhost("/").unwrap();
    let q = v
        .declare_queue(
            "q",
            false,
            QueueOptions {
                durable: true,
                ..Default::default()
            },
            0,
        )
        .unwrap()
        .queue;
    (broker, q)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn durable_queue_matches_model_across_restarts(ops in proptest::collection::vec(op(), 1..50)) {
        let dir = tempfile::tempdir().unwrap();
        let (mut broker, mut q) = open(dir.path());
        let mut scratch = RouteScratch::default();
        let mut model: Vec<M> = Vec::new();
        let mut held: Vec<Entry> = Vec::new();
        let mut n = 0;
        for op in ops {
            match op {
                Op::Publish { persistent } => {
                    let v = broker.vhost("/").unwrap();
                    let x = v.exchange("").unwrap();
                    let routed = v.publish(&x, message(n, persistent), &mut scratch);
                    prop_assert_eq!(routed.queues, 1);
                    model.push(M { n, persistent, delivered: false, held: false });
                    n += 1;
                }
                Op::Get => {
                    let want = model.iter_mut().find(|m| !m.held);
                    let got = q.get(true).unwrap();
                    match (got, want) {
                        (None, None) => {}
                        (Some((e, _)), Some(m)) => {
                            prop_assert_eq!(&e.msg.body, &Bytes::from(m.n.to_string()));
                            prop_assert_eq!(e.redelivered, m.delivered);
                            m.delivered = true;
                            m.held = true;
                            held.push(e);
                        }
                        (g, w) => prop_assert!(false, "got {:?}, model {:?}", g.map(|x| x.0.msg.body.clone()), w),
                    }
                }
                Op::Ack(i) | Op::Drop(i) | Op::Requeue(i) if !held.is_empty() => {
                    let e = held.remove(i % held.len());
                    let pos = model.iter().position(|m| m.n.to_string().as_bytes() == &e.msg.body[..]).unwrap();
                    match op {
                        Op::Requeue(_) => {
                            model[pos].held = false;
                            q.requeue([e]);
                        }
                        Op::Ack(_) => {
                            model.remove(pos);
                            q.acked([&e]);
                        }
                        _ => {
                            model.remove(pos);
                            q.discard([e]);
                        }
                    }
                }
                Op::Ack(_) | Op::Drop(_) | Op::Requeue(_) => {}
                Op::Purge => {
                    let ready = model.iter().filter(|m| !m.held).count();
                    prop_assert_eq!(q.purge() as usize, ready);
                    model.retain(|m| m.held);
                }
                Op::Restart => {
                    // The client is gone with the broker: held messages return.
                    held.clear();
                    broker.close();
                    drop(q);
                    drop(broker);
                    let (b, nq) = open(dir.path());
                    broker = b;
                    q = nq;
                    model.retain(|m| m.persistent);
                    for m in &mut model {
                        m.held = false;
                    }
                }
            }
            prop_assert_eq!(q.message_count() as usize, model.iter().filter(|m| !m.held).count());
        }
    }
}
