//! A start that cannot read the definitions stops with a clear error and
//! touches no message file: read as "no queues", an unreadable queue
//! definition used to make recovery forget every message and delete every
//! segment.

use std::sync::Arc;

use bytes::Bytes;
use warren_broker::queue::QueueOptions;
use warren_broker::vhost::RouteScratch;
use warren_broker::{Broker, Message};

fn persistent(n: u64) -> Arc<Message> {
    Arc::new(Message {
        exchange: Bytes::new(),
        routing_key: Bytes::from_static(b"q"),
        properties: Bytes::from_static(&[0x10, 0, 2]),
        body: Bytes::from(vec![n as u8; 1000]),
        persistent: true,
        priority: 0,
        expiration_ms: None,
        has_headers: false,
        store_id: 0,
    })
}

/// Every message file: its name, length and a hash of its contents.
fn message_files(dir: &std::path::Path) -> Vec<(std::ffi::OsString, usize, u64)> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("messages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            // FNV-1a: enough to see that a file changed.
            let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
            });
            (p.file_name().unwrap().to_owned(), bytes.len(), hash)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn an_unreadable_queue_definition_stops_the_start_and_keeps_every_message_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Small segments: the messages span several files.
        let broker = Broker::open(dir.path(), 4096, 3).unwrap();
        let v = broker.vhost("/").unwrap();
        let durable = QueueOptions {
            durable: true,
            ..Default::default()
        };
        v.declare_queue("q", false, durable, 0).unwrap();
        let x = v.exchange("").unwrap();
        let mut scratch = RouteScratch::default();
        for n in 0..20 {
            assert_eq!(v.publish(&x, persistent(n), &mut scratch).queues, 1);
        }
        broker.close();
    }
    let before = message_files(dir.path());
    assert!(before.len() > 3, "{} segments", before.len());
    {
        // One queue definition is damaged (a torn write, a bad disk block).
        let db = definitions_db(dir.path());
        db.open_tree("queues")
            .unwrap()
            .insert(b"/\0broken", &b"{not json"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let err = Broker::open(dir.path(), 4096, 3)
        .err()
        .expect("the start is refused");
    let text = err.to_string();
    assert!(text.contains("corrupt definition"), "{text}");
    assert!(text.contains("broken"), "names the damaged key: {text}");
    assert_eq!(message_files(dir.path()), before, "no message file touched");

    // Repaired, the broker starts with every message.
    {
        let db = definitions_db(dir.path());
        db.open_tree("queues").unwrap().remove(b"/\0broken").unwrap();
        db.flush().unwrap();
    }
    let broker = Broker::open(dir.path(), 4096, 3).unwrap();
    let q = broker.vhost("/").unwrap().queue("q").unwrap();
    assert_eq!(q.message_count(), 20);
}

#[test]
fn a_queue_id_that_cannot_be_drawn_fails_the_declare_and_is_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let durable = || QueueOptions {
        durable: true,
        ..Default::default()
    };
    {
        let broker = Broker::open(dir.path(), 4096, 3).unwrap();
        let v = broker.vhost("/").unwrap();
        v.declare_queue("first", false, durable(), 0).unwrap();
        let x = v.exchange("").unwrap();
        let mut scratch = RouteScratch::default();
        let mut m = (*persistent(1)).clone();
        m.routing_key = Bytes::from_static(b"first");
        assert_eq!(v.publish(&x, Arc::new(m), &mut scratch).queues, 1);
        broker.close();
    }
    {
        // The id counter is damaged.
        let db = definitions_db(dir.path());
        db.open_tree("meta")
            .unwrap()
            .insert(b"next_queue_id", &[1u8, 2, 3][..])
            .unwrap();
        db.flush().unwrap();
    }
    let broker = Broker::open(dir.path(), 4096, 3).unwrap();
    let v = broker.vhost("/").unwrap();
    let err = v
        .declare_queue("second", false, durable(), 0)
        .err()
        .expect("refused");
    assert_eq!(err.code, 541, "{}", err.text);
    assert_eq!(
        err.text,
        "INTERNAL_ERROR - cannot store queue 'second' in vhost '/'"
    );
    assert!(
        v.queue("second").is_none(),
        "no queue that would vanish at a restart"
    );
    // Nor a durable delayed exchange (its held messages need a log id).
    let mut arguments = amq_protocol::types::FieldTable::default();
    arguments.insert(
        "x-delayed-type".into(),
        amq_protocol::types::AMQPValue::LongString("direct".into()),
    );
    let options = warren_broker::exchange::ExchangeOptions {
        durable: true,
        auto_delete: false,
        internal: false,
        arguments,
    };
    let err = v
        .declare_exchange("later", "x-delayed-message", false, options)
        .err()
        .expect("refused");
    assert_eq!(
        err.text,
        "INTERNAL_ERROR - cannot store exchange 'later' in vhost '/'"
    );
    assert!(v.exchange("later").is_none());
    // A transient queue needs no id and is still declared.
    v.declare_queue("transient", false, QueueOptions::default(), 0)
        .unwrap();
    broker.close();
    drop(v);
    drop(broker);
    // Repaired (the last id given out was 1), the next durable queue gets
    // a fresh id and starts empty; "first" keeps its message. Before, the
    // damaged counter read as "start again at 1": the new queue would
    // have shared "first"'s id and taken its messages at the next start.
    {
        let db = definitions_db(dir.path());
        db.open_tree("meta")
            .unwrap()
            .insert(b"next_queue_id", &1u32.to_be_bytes()[..])
            .unwrap();
        db.flush().unwrap();
    }
    let broker = Broker::open(dir.path(), 4096, 3).unwrap();
    let v = broker.vhost("/").unwrap();
    assert_eq!(v.queue("first").unwrap().message_count(), 1);
    let second = v.declare_queue("second", false, durable(), 0).unwrap().queue;
    assert_eq!(second.message_count(), 0);
}

/// The definitions database, opened behind the broker's back. As
/// `Definitions::open` does, it waits up to 2 s for the lock: sled lets
/// go of its file lock when its background threads drop the database,
/// which can be just after the broker that used it is dropped.
fn definitions_db(data_dir: &std::path::Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match sled::open(data_dir.join("definitions")) {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
}
