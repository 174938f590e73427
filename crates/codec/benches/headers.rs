//! What checking a published message's headers costs on the publish path:
//! the iterative check alone (what `Properties::parse` does), against
//! amq-protocol's parser (what it did before, after the nesting walk).
//! Run in release mode: `cargo bench -p warren-codec --bench headers`.
//! Prints nanoseconds per content header; nothing is asserted, because
//! speed is measured here, not tested.

use std::hint::black_box;
use std::time::Instant;

use amq_protocol::frame::WriteContext;
use amq_protocol::types::generation::gen_field_table;
use amq_protocol::types::parsing::parse_field_table;
use amq_protocol::types::{AMQPValue, FieldArray, FieldTable, LongString};
use warren_codec::nesting;

const RUNS: u32 = 2_000_000;

fn encoded(t: &FieldTable) -> Vec<u8> {
    gen_field_table(t)(WriteContext::from(Vec::new()))
        .expect("encodes")
        .into_inner()
        .0
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.to_string()))
}

/// Headers as a headers exchange or a tracing library sends them.
fn typical() -> FieldTable {
    let mut t = FieldTable::default();
    t.insert("x-match".into(), text("all"));
    t.insert("format".into(), text("pdf"));
    t.insert("type".into(), text("report"));
    t.insert("x-retries".into(), AMQPValue::LongInt(3));
    t.insert(
        "traceparent".into(),
        text("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    t
}

/// A dead-lettered message's headers: `x-death`, an array of tables.
fn dead_lettered() -> FieldTable {
    let mut death = FieldTable::default();
    death.insert("count".into(), AMQPValue::LongLongInt(1));
    death.insert("reason".into(), text("rejected"));
    death.insert("queue".into(), text("work"));
    death.insert("time".into(), AMQPValue::Timestamp(1_700_000_000));
    death.insert("exchange".into(), text(""));
    death.insert(
        "routing-keys".into(),
        AMQPValue::FieldArray(FieldArray::from(vec![text("work")])),
    );
    let mut t = typical();
    t.insert(
        "x-death".into(),
        AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
    );
    t.insert("x-first-death-reason".into(), text("rejected"));
    t
}

fn per_call(f: impl Fn() -> bool) -> f64 {
    let started = Instant::now();
    for _ in 0..RUNS {
        assert!(black_box(f()));
    }
    started.elapsed().as_nanos() as f64 / f64::from(RUNS)
}

fn main() {
    for (what, table) in [("5 headers", typical()), ("x-death headers", dead_lettered())] {
        let bytes = encoded(&table);
        let check = per_call(|| nesting::check(black_box(&bytes)).is_ok());
        let walk_and_parse = per_call(|| {
            nesting::within_limit(black_box(&bytes)) && parse_field_table(black_box(&bytes[..])).is_ok()
        });
        println!(
            "{what:<16} ({:>3} bytes): check {check:>6.1} ns, walk + amq-protocol parse {walk_and_parse:>6.1} ns",
            bytes.len()
        );
    }
}
