//! The message log's record reader over a damaged segment, as recovery
//! walks it: the input once as it is (torn and garbled records) and once
//! with its first record's length and CRC made right, so the payload
//! decoder behind the CRC check is reached too.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use warren_store::record::{read, Read};

fn walk(seg: Bytes) {
    let mut at = 0;
    while at < seg.len() {
        match read(&seg.slice(at..)) {
            Read::Record(_, n) if n > 0 => at += n,
            _ => break,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    walk(Bytes::copy_from_slice(data));
    let mut sealed = Vec::with_capacity(8 + data.len());
    sealed.extend_from_slice(&(data.len() as u32).to_be_bytes());
    sealed.extend_from_slice(&crc32c::crc32c(data).to_be_bytes());
    sealed.extend_from_slice(data);
    walk(Bytes::from(sealed));
});
