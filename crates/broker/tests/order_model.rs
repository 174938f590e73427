//! Model tests for delivery order: priorities (highest first, FIFO within a
//! priority, requeue to the original place) and TTL (expired messages are
//! never handed out, survivors keep their order).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use warren_broker::args::QueueArgs;
use warren_broker::queue::{QueueEnv, QueueOptions};
use warren_broker::{Clock, Message, Queue};

fn message(n: u64, priority: u8, expiration_ms: Option<u64>) -> Arc<Message> {
    Arc::new(Message {
        exchange: Bytes::new(),
        routing_key: Bytes::from_static(b"q"),
        properties: Bytes::from_static(&[0, 0]),
        body: Bytes::from(n.to_string()),
        persistent: false,
        priority,
        expiration_ms,
        has_headers: false,
        store_id: 0,
    })
}

fn body(n: u64) -> Bytes {
    Bytes::from(n.to_string())
}

#[derive(Debug, Clone)]
enum TtlOp {
    Publish(Option<u64>),
    Advance(u64),
    Get,
}

#[derive(Debug, Clone)]
enum PrioOp {
    Publish(u8),
    Get,
    GetAndRequeue,
}

proptest! {
    #[test]
    fn priority_order_matches_model(
        max in 1u8..10,
        ops in proptest::collection::vec(prop_oneof![
            3 => (0u8..16).prop_map(PrioOp::Publish),
            2 => Just(PrioOp::Get),
            1 => Just(PrioOp::GetAndRequeue),
        ], 1..80),
    ) {
        let args = QueueArgs { max_priority: Some(max), ..Default::default() };
        let q = Queue::new("p", "/", QueueOptions::default(), args, QueueEnv::default());
        // Model: (level, seq) with level capped at max; highest level first, then seq.
        let mut model: Vec<(u8, u64)> = Vec::new();
        let mut n = 0u64;
        for op in ops {
            match op {
                PrioOp::Publish(p) => {
                    q.publish(message(n, p, None));
                    model.push((p.min(max), n));
                    n += 1;
                }
                PrioOp::Get | PrioOp::GetAndRequeue => {
                    model.sort_by_key(|(level, seq)| (std::cmp::Reverse(*level), *seq));
                    let want = if model.is_empty() { None } else { Some(model.remove(0)) };
                    let got = q.get(true).unwrap();
                    prop_assert_eq!(got.as_ref().map(|(e, _)| e.msg.body.clone()), want.map(|(_, s)| body(s)));
                    match (got, &op, want) {
                        (Some((e, _)), PrioOp::GetAndRequeue, Some(w)) => {
                            q.requeue([e]);
                            model.push(w);
                        }
                        (Some((e, _)), _, _) => q.acked([&e]),
                        _ => {}
                    }
                }
            }
            prop_assert_eq!(q.message_count() as usize, model.len());
        }
    }

    #[test]
    fn ttl_expiry_matches_model(
        queue_ttl in proptest::option::of(0u64..500),
        ops in proptest::collection::vec(prop_oneof![
            3 => proptest::option::of(0u64..500).prop_map(TtlOp::Publish),
            2 => (1u64..300).prop_map(TtlOp::Advance),
            2 => Just(TtlOp::Get),
        ], 1..60),
    ) {
        let clock = Arc::new(Clock::frozen());
        let env = QueueEnv { clock: clock.clone(), ..QueueEnv::default() };
        let args = QueueArgs { message_ttl: queue_ttl, ..Default::default() };
        let q = Queue::new("t", "/", QueueOptions::default(), args, env);
        // Model: (seq, expires_at), expired once the clock is past expires_at.
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut n = 0u64;
        for op in ops {
            let now = clock.now_ms();
            match op {
                TtlOp::Publish(expiration) => {
                    q.publish(message(n, 0, expiration));
                    let ttl = match (queue_ttl, expiration) {
                        (None, None) => None,
                        (a, b) => Some(a.unwrap_or(u64::MAX).min(b.unwrap_or(u64::MAX))),
                    };
                    // TTL 0 with no consumer waiting: expired at once.
                    if ttl != Some(0) {
                        model.push((n, ttl.map_or(u64::MAX, |t| now + t)));
                    }
                    n += 1;
                }
                TtlOp::Advance(ms) => {
                    clock.advance(Duration::from_millis(ms));
                    let now = clock.now_ms();
                    q.sweep();
                    // The sweep removes the expired run at the head only.
                    while model.first().is_some_and(|(_, at)| now > *at) {
                        model.remove(0);
                    }
                    prop_assert_eq!(q.message_count() as usize, model.len());
                }
                TtlOp::Get => {
                    let want = loop {
                        if model.is_empty() {
                            break None;
                        }
                        let (seq, at) = model.remove(0);
                        if now <= at {
                            break Some(seq);
                        }
                    };
                    let got = q.get(false).unwrap().map(|(e, _)| e.msg.body.clone());
                    prop_assert_eq!(got, want.map(body));
                }
            }
        }
    }
}
