//! The frame splitter over arbitrary bytes, as a client's socket delivers
//! them: every complete frame is decoded (methods and content headers
//! included), and nothing panics or overflows.
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(_frame)) = warren_codec::decode_frame(&mut buf, 131_072) {}
});
