//! Field tables checked before any recursive parser sees them: how deep
//! they nest, and whether they are well formed.
//!
//! amq-protocol parses a nested table or array by recursion, one stack
//! frame group per level; a 126 KB `connection.start-ok` whose client
//! properties nest 18,000 deep overflowed the stack and aborted the whole
//! broker. [`check`] walks the same encoding with an explicit stack
//! instead, accepting exactly what amq-protocol's `parse_field_table`
//! accepts (its type tags and sizes, UTF-8 entry names, containers that
//! end where their length says) up to [`MAX_NESTING`] levels. rabbitmq-c
//! caps nesting at 100 for the same reason.
//!
//! On the publish path [`check`] is the whole validation of a message's
//! headers: it allocates nothing, where amq-protocol builds a `FieldTable`
//! (a map entry per header) only to drop it. The table is decoded later,
//! and only when routing or dead-lettering needs it. The `field_tables`
//! fuzz target holds the two to the same answer.

/// The deepest nesting of tables and arrays accepted from a peer (the
/// outermost table is level 1).
pub const MAX_NESTING: usize = 100;

/// Why a table was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableError {
    /// Deeper than [`MAX_NESTING`].
    TooDeep,
    /// Anything amq-protocol would refuse.
    Malformed,
}

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
    let b = bytes.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// Whether the field table at the start of `bytes` (with its 4-byte
/// length) nests at most [`MAX_NESTING`] levels deep. Malformed bytes
/// count as within the limit: the parser refuses them at the same point,
/// without going deeper.
pub fn within_limit(bytes: &[u8]) -> bool {
    check(bytes) != Err(TableError::TooDeep)
}

/// Checks the field table at the start of `bytes` (its 4-byte length, then
/// its entries); bytes after it are not looked at. `Ok` exactly when
/// amq-protocol's `parse_field_table` would parse it, and it nests at most
/// [`MAX_NESTING`] levels.
pub fn check(bytes: &[u8]) -> Result<(), TableError> {
    use TableError::Malformed;
    // Table lengths are u32s, so positions past u32::MAX cannot be reached
    // from the start; the walk keeps them in u32s to stay small.
    let bytes = &bytes[..bytes.len().min(u32::MAX as usize)];
    // Open containers, outermost first: where each ends, and (a bit per
    // level) whether it is an array, whose values have no names. On the
    // stack: no allocation, 400 bytes to clear.
    let mut ends = [0u32; MAX_NESTING];
    let mut arrays: u128 = 0;
    let len = long_len(bytes, 0).ok_or(Malformed)?;
    let end = 4usize
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or(Malformed)?;
    ends[0] = end as u32;
    let mut depth = 1;
    let mut pos = 4;
    while depth > 0 {
        let end = ends[depth - 1] as usize;
        if pos == end {
            depth -= 1;
            continue;
        }
        if arrays & (1 << (depth - 1)) == 0 {
            // The entry's name: a UTF-8 short string.
            let n = *bytes.get(pos).ok_or(Malformed)? as usize;
            let name = bytes
                .get(pos + 1..pos + 1 + n)
                .filter(|_| pos + 1 + n <= end)
                .ok_or(Malformed)?;
            if !name.is_ascii() {
                std::str::from_utf8(name).map_err(|_| Malformed)?;
            }
            pos += 1 + n;
        }
        let tag = *bytes.get(pos).filter(|_| pos < end).ok_or(Malformed)?;
        pos += 1;
        if let Some(size) = fixed_size(tag) {
            pos += size;
            if pos > end {
                return Err(Malformed);
            }
            continue;
        }
        let len = long_len(bytes, pos).filter(|_| pos + 4 <= end).ok_or(Malformed)?;
        let inner_end = (pos + 4)
            .checked_add(len)
            .filter(|&e| e <= end)
            .ok_or(Malformed)?;
        match tag {
            b'S' | b'x' => pos = inner_end,
            b'F' | b'A' => {
                if depth == MAX_NESTING {
                    return Err(TableError::TooDeep);
                }
                ends[depth] = inner_end as u32;
                if tag == b'A' {
                    arrays |= 1 << depth;
                } else {
                    arrays &= !(1 << depth);
                }
                depth += 1;
                pos += 4;
            }
            _ => return Err(Malformed),
        }
    }
    Ok(())
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

    /// What amq-protocol says of `bytes` as one whole table.
    fn parses(bytes: &[u8]) -> bool {
        matches!(
            amq_protocol::types::parsing::parse_field_table(bytes),
            Ok((rest, _)) if rest.is_empty()
        )
    }

    #[test]
    fn check_accepts_exactly_what_amq_protocol_parses() {
        let whole = encoded(&nested(MAX_NESTING));
        assert_eq!(check(&whole), Ok(()));
        // Every cut and every single-byte change, against the parser.
        for cut in 0..whole.len() {
            let mut bytes = whole[..cut].to_vec();
            if bytes.len() >= 4 {
                let len = (bytes.len() - 4) as u32;
                bytes[..4].copy_from_slice(&len.to_be_bytes());
            }
            assert_eq!(check(&bytes).is_ok(), parses(&bytes), "cut at {cut}");
        }
        for at in 4..whole.len().min(400) {
            for b in [0u8, 1, b'F', b'A', b'S', b'?', 0x80, 0xff] {
                let mut bytes = whole.clone();
                bytes[at] = b;
                assert_eq!(check(&bytes).is_ok(), parses(&bytes), "byte {at} set to {b}");
            }
        }
    }

    #[test]
    fn check_refuses_what_the_parser_refuses() {
        // A name that is not UTF-8.
        assert_eq!(check(&[0, 0, 0, 3, 1, 0xff, b'V']), Err(TableError::Malformed));
        // An unknown type.
        assert_eq!(check(&[0, 0, 0, 3, 1, b'k', b'?']), Err(TableError::Malformed));
        // A string running past its table.
        assert_eq!(
            check(&[0, 0, 0, 7, 1, b'k', b'S', 0, 0, 0, 9]),
            Err(TableError::Malformed)
        );
        // A table longer than the bytes.
        assert_eq!(check(&[0, 0, 0, 9, 1, b'k', b'V']), Err(TableError::Malformed));
        assert_eq!(check(&[0xff, 0xff, 0xff, 0xff]), Err(TableError::Malformed));
        // An empty table, and one followed by bytes that are not its own.
        assert_eq!(check(&[0, 0, 0, 0]), Ok(()));
        assert_eq!(check(&[0, 0, 0, 0, 9, 9]), Ok(()));
        assert_eq!(check(&deep_arrays(18_000)), Err(TableError::TooDeep));
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
