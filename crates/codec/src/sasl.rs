//! SASL responses of `connection.start-ok`: the user name and password
//! in a `PLAIN` or `AMQPLAIN` response, read without trusting the peer.

use amq_protocol::types::parsing::parse_field_table;
use amq_protocol::types::AMQPValue;

/// The mechanisms offered in `connection.start`.
pub const MECHANISMS: &str = "PLAIN AMQPLAIN";

/// Offered besides, on TLS listeners that verify client certificates: the
/// certificate names the user, and no password is sent.
pub const EXTERNAL: &str = "EXTERNAL";

/// Reads `user` and `password` from a SASL response; `None` for another
/// mechanism or a malformed (or too deeply nested) response.
pub fn credentials(mechanism: &str, response: &[u8]) -> Option<(String, String)> {
    match mechanism {
        "PLAIN" => {
            let mut parts = response.split(|b| *b == 0);
            let _authzid = parts.next()?;
            let user = parts.next()?;
            let pass = parts.next()?;
            Some((
                String::from_utf8_lossy(user).into_owned(),
                String::from_utf8_lossy(pass).into_owned(),
            ))
        }
        "AMQPLAIN" => {
            // A field table without its length prefix.
            let mut framed = (response.len() as u32).to_be_bytes().to_vec();
            framed.extend_from_slice(response);
            if !crate::nesting::within_limit(&framed) {
                return None;
            }
            let (_, table) = parse_field_table(&framed[..]).ok()?;
            let get = |k: &str| match table.inner().get(k)? {
                AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
                AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
                _ => None,
            };
            Some((get("LOGIN")?, get("PASSWORD")?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_amqplain_responses_give_user_and_password() {
        assert_eq!(
            credentials("PLAIN", b"\0guest\0secret"),
            Some(("guest".into(), "secret".into()))
        );
        assert_eq!(credentials("PLAIN", b"guest"), None);
        // AMQPLAIN: LOGIN and PASSWORD as long strings, no table length.
        let mut t = Vec::new();
        for (k, v) in [("LOGIN", "guest"), ("PASSWORD", "secret")] {
            t.push(k.len() as u8);
            t.extend_from_slice(k.as_bytes());
            t.push(b'S');
            t.extend_from_slice(&(v.len() as u32).to_be_bytes());
            t.extend_from_slice(v.as_bytes());
        }
        assert_eq!(
            credentials("AMQPLAIN", &t),
            Some(("guest".into(), "secret".into()))
        );
        assert_eq!(credentials("AMQPLAIN", &t[..t.len() - 1]), None);
        assert_eq!(credentials("EXTERNAL", b""), None);
    }
}
