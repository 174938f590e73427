//! Short strings that never panic: AMQP short strings are at most 255 bytes,
//! and amq-protocol's `ShortString::from` panics past that.

use amq_protocol::types::ShortString;

/// Truncates `s` to 255 bytes on a character boundary.
pub fn truncated(s: &str) -> ShortString {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    ShortString::try_new(&s[..end]).unwrap_or_else(|_| ShortString::from(""))
}
