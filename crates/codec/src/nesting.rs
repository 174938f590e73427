//! A bound on how deep field tables and arrays nest, checked before any
//! recursive parser sees them.
//!
//! amq-protocol parses a nested table or array by recursion, one stack
//! frame group per level; a 126 KB `connection.start-ok` whose client
//! properties nest 18,000 deep overflowed the stack and aborted the whole
//! broker. [`within_limit`] walks the same encoding with an explicit stack
//! instead, in the order amq-protocol parses it, so a table it accepts
//! never takes amq-protocol past [`MAX_NESTING`] levels. rabbitmq-c caps
//! nesting at 100 for the same reason.
//!
//! The walk only measures depth: bytes it cannot make sense of (an unknown
//! type, a length past the end) end it with "within the limit", because
//! amq-protocol meets the same bytes at the same point and refuses them
//! without going deeper.

/// The deepest nesting of tables and arrays accepted from a peer (the
/// outermost table is level 1).
pub const MAX_NESTING: usize = 100;

/// The size of a value of type `tag` that holds no other values, or `None`
/// for the types with a 4-byte length (strings, byte arrays, tables,
/// arrays) and for unknown types. The tags are amq-protocol's (RabbitMQ's
/// reading of the spec).
fn fixed_size(tag: u8) -> Option<usize> {
    Some(match tag {
        b'V' => 0,
        b't' | b'b' | b'B' => 1,
        b's' | b'U' | b'u' => 2,
        b'I' | b'i' | b'f' => 4,
        b'D' => 5,
        b'L' | b'l' | b'd' | b'T' => 8,
        _ => return None,
    })
}

fn long_len(bytes: &[u8], pos: usize) -> Option<usize> {
    let b = bytes.get(pos..pos + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// Whether the field table at the start of `bytes` (with its 4-byte
/// length) nests at most [`MAX_NESTING`] levels deep.
pub fn within_limit(bytes: &[u8]) -> bool {
    walk(bytes).is_some_and(|deep| !deep)
}

/// `Some(true)` when the table nests too deep, `Some(false)` when it does
/// not or the walk stopped at bytes amq-protocol will refuse anyway.
fn walk(bytes: &[u8]) -> Option<bool> {
    // Open containers: where each ends, and whether it is an array (its
    // entries have no names).
    let mut open: Vec<(usize, bool)> = Vec::with_capacity(8);
    let Some(len) = long_len(bytes, 0) else {
        return Some(false);
    };
    open.push((4 + len, false));
    let mut pos = 4;
    while let Some(&(end, array)) = open.last() {
        if end > bytes.len() || pos > end {
            return Some(false);
        }
        if pos == end {
            open.pop();
            continue;
        }
        if !array {
            // The entry's name: a short string.
            let Some(&n) = bytes.get(pos) else {
                return Some(false);
            };
            pos += 1 + n as usize;
        }
        let Some(&tag) = bytes.get(pos) else {
            return Some(false);
        };
        pos += 1;
        if let Some(size) = fixed_size(tag) {
            pos += size;
            continue;
        }
        let Some(len) = long_len(bytes, pos) else {
            return Some(false);
        };
        match tag {
            b'S' | b'x' => pos += 4 + len,
            b'F' | b'A' => {
                open.push((pos + 4 + len, tag == b'A'));
                pos += 4;
                if open.len() > MAX_NESTING {
                    return Some(true);
                }
            }
            _ => return Some(false),
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use amq_protocol::frame::WriteContext;
    use amq_protocol::types::generation::gen_field_table;
    use amq_protocol::types::{AMQPValue, FieldArray, FieldTable, LongString};

    fn encoded(t: &FieldTable) -> Vec<u8> {
        let written = gen_field_table(t)(WriteContext::from(Vec::new())).expect("encodes");
        written.into_inner().0
    }

    /// A table whose single entry nests `levels - 1` more containers,
    /// alternating tables and arrays, with a string at the bottom.
    fn nested(levels: usize) -> FieldTable {
        let mut value = AMQPValue::LongString(LongString::from("bottom".to_string()));
        for level in 1..levels {
            value = if level % 2 == 0 {
                AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::Boolean(true), value]))
            } else {
                let mut t = FieldTable::default();
                t.insert("n".into(), AMQPValue::LongLongInt(level as i64));
                t.insert("next".into(), value);
                AMQPValue::FieldTable(t)
            };
        }
        let mut top = FieldTable::default();
        top.insert("x-first".into(), AMQPValue::Double(1.5));
        top.insert("deep".into(), value);
        top
    }

    #[test]
    fn nesting_up_to_the_limit_passes_and_one_more_level_does_not() {
        assert!(within_limit(&encoded(&FieldTable::default())));
        assert!(within_limit(&encoded(&nested(MAX_NESTING))));
        assert!(!within_limit(&encoded(&nested(MAX_NESTING + 1))));
        // Thousands of levels (built by hand: encoding or dropping them
        // through amq-protocol's types would recurse as deep).
        assert!(!within_limit(&deep_arrays(18_000)));
    }

    /// A table holding arrays nested `levels` deep: each level is its tag
    /// and length, 5 bytes, holding the levels below it.
    fn deep_arrays(levels: usize) -> Vec<u8> {
        let inner = 5 * levels;
        let mut table = ((2 + inner) as u32).to_be_bytes().to_vec();
        table.extend_from_slice(&[1, b'k']);
        for level in 1..=levels {
            table.push(b'A');
            table.extend_from_slice(&((5 * (levels - level)) as u32).to_be_bytes());
        }
        table
    }

    #[test]
    fn every_value_type_is_stepped_over_by_its_size() {
        let mut t = FieldTable::default();
        t.insert("t".into(), AMQPValue::Boolean(true));
        t.insert("b".into(), AMQPValue::ShortShortInt(-1));
        t.insert("B".into(), AMQPValue::ShortShortUInt(1));
        t.insert("s".into(), AMQPValue::ShortInt(-2));
        t.insert("u".into(), AMQPValue::ShortUInt(2));
        t.insert("I".into(), AMQPValue::LongInt(-3));
        t.insert("i".into(), AMQPValue::LongUInt(3));
        t.insert("l".into(), AMQPValue::LongLongInt(-4));
        t.insert("f".into(), AMQPValue::Float(1.0));
        t.insert("d".into(), AMQPValue::Double(2.0));
        t.insert(
            "D".into(),
            AMQPValue::DecimalValue(amq_protocol::types::DecimalValue { scale: 2, value: 5 }),
        );
        t.insert(
            "S".into(),
            AMQPValue::LongString(LongString::from("text".to_string())),
        );
        t.insert("T".into(), AMQPValue::Timestamp(7));
        t.insert("x".into(), AMQPValue::ByteArray(vec![1, 2, 3].into()));
        t.insert("V".into(), AMQPValue::Void);
        // After every kind of value, a nesting that is too deep is found:
        // the walk stayed in step with the encoding.
        t.insert("zz-deep".into(), AMQPValue::FieldTable(nested(MAX_NESTING)));
        assert!(!within_limit(&encoded(&t)));
        t.insert("zz-deep".into(), AMQPValue::FieldTable(nested(MAX_NESTING - 1)));
        assert!(within_limit(&encoded(&t)));
    }

    #[test]
    fn truncated_and_garbled_tables_are_left_to_the_parser() {
        let bytes = encoded(&nested(MAX_NESTING + 1));
        // Cut anywhere, the walk ends without panicking; amq-protocol then
        // refuses what is left.
        for cut in 0..bytes.len() {
            let _ = within_limit(&bytes[..cut]);
        }
        assert!(within_limit(&[0, 0, 0, 3, 1, b'k', b'?']));
        assert!(within_limit(&[0xff, 0xff, 0xff, 0xff]));
    }
}
