//! Content properties as the broker reads them from a publisher's raw
//! bytes, and the headers table decoded when routing needs it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(view) = warren_codec::Properties::parse(data) {
        // Headers are checked without decoding on the publish path; what
        // the check let through must decode when routing asks for it.
        assert_eq!(view.headers(data).is_some(), view.has_headers());
        let _ = view.expiration(data);
        let _ = view.reply_to(data);
        let _ = warren_codec::properties::decode(data);
    }
});
