//! The nesting walk against amq-protocol's recursive parser: whatever the
//! walk lets through must parse without overflowing the stack (a crash
//! here is a table the walk measured wrong).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if warren_codec::nesting::within_limit(data) {
        let _ = amq_protocol::types::parsing::parse_field_table(data);
    }
});
