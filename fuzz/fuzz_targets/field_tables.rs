//! The table check against amq-protocol's recursive parser: whatever the
//! check lets through must parse without overflowing the stack, and the
//! two agree on every input within the nesting limit (the publish path
//! checks headers without decoding them, and decodes them later).
#![no_main]
use libfuzzer_sys::fuzz_target;
use warren_codec::nesting::{check, TableError};

fuzz_target!(|data: &[u8]| {
    let checked = check(data);
    if checked != Err(TableError::TooDeep) {
        let parsed = amq_protocol::types::parsing::parse_field_table(data);
        // check() looks only at the table's own bytes; the parser returns
        // whatever follows them.
        assert_eq!(checked.is_ok(), parsed.is_ok(), "check {checked:?}, parser {parsed:?}");
    }
});
