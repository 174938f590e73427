//! SASL responses from `connection.start-ok`: PLAIN and AMQPLAIN, whose
//! response is a field table without its length.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mechanism, response) = match data.split_first() {
        Some((m, rest)) if m % 2 == 0 => ("PLAIN", rest),
        Some((_, rest)) => ("AMQPLAIN", rest),
        None => return,
    };
    let _ = warren_codec::sasl::credentials(mechanism, response);
});
