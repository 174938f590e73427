//! The method decoder (the hand-written fast path for publish, ack, nack,
//! reject, and amq-protocol behind the nesting check for the rest).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = warren_codec::method::decode(bytes::Bytes::copy_from_slice(data));
});
