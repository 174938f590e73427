//! A queue driven by random operations, compared after each one with a
//! simple model: a `VecDeque` of ready messages and a list of unacked ones.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use proptest::prelude::*;
use warren_broker::queue::{QueueEnv, QueueOptions, Source, Taken};
use warren_broker::{Consumer, DeliverySink, Entry, Message, Queue};

/// A consumer that takes messages while it has credit; the test collects
/// what it took from `delivered`.
struct Sink {
    credit: Mutex<usize>,
    delivered: Mutex<Vec<Entry>>,
}

impl DeliverySink for Sink {
    fn deliver(&self, _q: &Arc<Queue>, source: &mut Source, max: usize) -> Taken {
        let mut credit = self.credit.lock();
        let mut count = 0;
        while count < max.min(*credit) {
            let Some(e) = source.next() else { break };
            self.delivered.lock().push(e);
            count += 1;
        }
        *credit -= count;
        Taken {
            count,
            needs_ack: true,
        }
    }

    fn cancelled(&self, _q: &Arc<Queue>) {}
}

#[derive(Debug, Clone)]
enum Op {
    Publish,
    Get { ack: bool },
    Ack(usize),
    Nack { index: usize, requeue: bool },
    Consume { credit: usize },
    Cancel,
    Purge,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Publish),
        2 => any::<bool>().prop_map(|ack| Op::Get { ack }),
        2 => any::<usize>().prop_map(Op::Ack),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(index, requeue)| Op::Nack { index, requeue }),
        1 => (0usize..4).prop_map(|credit| Op::Consume { credit }),
        1 => Just(Op::Cancel),
        1 => Just(Op::Purge),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct M {
    seq: u64,
    body: Bytes,
    redelivered: bool,
}

fn message(n: u64) -> Arc<Message> {
    Arc::new(Message {
        exchange: Bytes::new(),
        routing_key: Bytes::from_static(b"q"),
        properties: Bytes::from_static(&[0, 0]),
        body: Bytes::from(n.to_string()),
        persistent: false,
        priority: 0,
        expiration_ms: None,
        has_headers: false,
        store_id: 0,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn queue_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        let q = Queue::new("q", "/", QueueOptions::default(), Default::default(), QueueEnv::default());
        // Entries the "client" holds unacked, and the model's view of them.
        let mut held: Vec<Entry> = Vec::new();
        let mut ready: VecDeque<M> = VecDeque::new();
        let mut unacked: Vec<M> = Vec::new();
        let mut next = 0u64;
        let mut consumer: Option<Arc<Sink>> = None;
        for op in ops {
            match op {
                Op::Publish => {
                    q.publish(message(next));
                    ready.push_back(M { seq: next, body: Bytes::from(next.to_string()), redelivered: false });
                    next += 1;
                }
                Op::Get { ack } => {
                    let got = q.get(ack).unwrap();
                    let want = ready.pop_front();
                    match (got, want) {
                        (None, None) => {}
                        (Some((e, left)), Some(m)) => {
                            prop_assert_eq!(&e.msg.body, &m.body);
                            prop_assert_eq!(e.redelivered, m.redelivered);
                            prop_assert_eq!(left as usize, ready.len());
                            if ack {
                                held.push(e);
                                unacked.push(m);
                            }
                        }
                        (g, w) => prop_assert!(false, "get {:?} but model has {:?}", g.map(|x| x.0.seq), w),
                    }
                }
                Op::Ack(i) | Op::Nack { index: i, requeue: false } => {
                    if !held.is_empty() {
                        let e = held.remove(i % held.len());
                        let pos = unacked.iter().position(|m| m.seq == e.seq).unwrap();
                        unacked.remove(pos);
                        q.acked([&e]);
                        if let Some(c) = &consumer {
                            *c.credit.lock() += 1;
                            q.dispatch();
                        }
                    }
                }
                Op::Nack { index, requeue: true } => {
                    if !held.is_empty() {
                        let e = held.remove(index % held.len());
                        let pos = unacked.iter().position(|m| m.seq == e.seq).unwrap();
                        let mut m = unacked.remove(pos);
                        m.redelivered = true;
                        let at = ready.partition_point(|x| x.seq < m.seq);
                        ready.insert(at, m);
                        if let Some(c) = &consumer {
                            *c.credit.lock() += 1;
                        }
                        q.requeue([e]);
                    }
                }
                Op::Consume { credit } => {
                    if consumer.is_none() {
                        let sink = Arc::new(Sink { credit: Mutex::new(credit), delivered: Mutex::new(Vec::new()) });
                        consumer = Some(sink.clone());
                        q.add_consumer(Arc::new(Consumer { tag: "c".into(), exclusive: false, priority: 0, connection: 1, sink }));
                    }
                }
                Op::Cancel => {
                    if consumer.take().is_some() {
                        q.remove_consumer("c", 1);
                    }
                }
                Op::Purge => {
                    prop_assert_eq!(q.purge() as usize, ready.len());
                    ready.clear();
                }
            }
            if let Some(c) = &consumer {
                // Deliveries come from the head of the queue, in order.
                for e in c.delivered.lock().drain(..) {
                    let m = ready.pop_front();
                    prop_assert_eq!(Some(e.seq), m.as_ref().map(|m| m.seq));
                    let m = m.unwrap();
                    prop_assert_eq!(e.redelivered, m.redelivered);
                    held.push(e);
                    unacked.push(m);
                }
                // A consumer with credit left never leaves messages waiting.
                prop_assert!(*c.credit.lock() == 0 || ready.is_empty());
            }
            prop_assert_eq!(q.message_count() as usize, ready.len());
            prop_assert_eq!(q.unacked_count(), unacked.len());
        }
    }
}
