//! What can go wrong, and the sysexits code each failure exits with.
//!
//! | code | sysexits | when |
//! |---|---|---|
//! | 64 | `EX_USAGE` | bad arguments (clap), including malformed JSON in an option |
//! | 65 | `EX_DATAERR` | HTTP 400, 404 and any other 4xx; JSON from a file or stdin that does not parse; a response that is not JSON |
//! | 66 | `EX_NOINPUT` | `--file` cannot be read |
//! | 69 | `EX_UNAVAILABLE` | cannot connect (refused, unknown host, timeout), HTTP 5xx |
//! | 74 | `EX_IOERR` | cannot write the output file |
//! | 77 | `EX_NOPERM` | HTTP 401 or 403 |
//!
//! rabbitmqadmin-ng exits 65 for every HTTP error and for connection
//! failures; warrenctl keeps its 65 for 400 and 404 (a missing object is
//! bad data, not a usage error) but tells "cannot reach the broker" (69)
//! and "not allowed" (77) apart, so scripts can retry the one and stop on
//! the other.

use serde_json::Value;

pub const USAGE: u8 = 64;
pub const DATA_ERR: u8 = 65;
pub const NO_INPUT: u8 = 66;
pub const UNAVAILABLE: u8 = 69;
pub const IO_ERR: u8 = 74;
pub const NO_PERM: u8 = 77;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The API answered with an error status.
    #[error("{} (HTTP {status} on {method} {path})", reason_text(.body, *.status))]
    Api {
        status: u16,
        method: &'static str,
        path: String,
        /// The error body: RabbitMQ's `{"error": ..., "reason": ...}` or raw text.
        body: Value,
    },
    #[error("cannot reach the management API at {url}: {cause}")]
    Unreachable { url: String, cause: String },
    /// An object the command needs is not there (found by listing, not by a 404).
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Data(String),
    #[error("cannot read {path}: {cause}")]
    NoInput { path: String, cause: std::io::Error },
    #[error("cannot write {path}: {cause}")]
    Output { path: String, cause: std::io::Error },
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Api { status, .. } => match status {
                401 | 403 => NO_PERM,
                500.. => UNAVAILABLE,
                _ => DATA_ERR,
            },
            CliError::Unreachable { .. } => UNAVAILABLE,
            CliError::Usage(_) => USAGE,
            CliError::NotFound(_) | CliError::Data(_) => DATA_ERR,
            CliError::NoInput { .. } => NO_INPUT,
            CliError::Output { .. } => IO_ERR,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, CliError::Api { status: 404, .. } | CliError::NotFound(_))
    }
}

/// RabbitMQ's `reason` (a string, or a term such as `["not_boolean","x"]`),
/// else its `error`, else the body as it came.
fn reason_text(body: &Value, status: u16) -> String {
    let field = |k: &str| body.get(k).filter(|v| !v.is_null());
    match field("reason").or_else(|| field("error")) {
        Some(Value::String(s)) => unescape_html(s.trim()),
        Some(other) => other.to_string(),
        None => match body {
            Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
            Value::Null => match status {
                405 => "method not allowed".to_string(),
                406 => "not acceptable".to_string(),
                _ => "no error details in the response".to_string(),
            },
            other => other.to_string(),
        },
    }
}

/// RabbitMQ escapes some reasons for its web UI (`&lt;&lt;"x"&gt;&gt;`).
fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(status: u16, body: Value) -> CliError {
        CliError::Api {
            status,
            method: "GET",
            path: "/api/x".into(),
            body,
        }
    }

    #[test]
    fn statuses_map_to_sysexits() {
        assert_eq!(api(401, Value::Null).exit_code(), NO_PERM);
        assert_eq!(api(403, Value::Null).exit_code(), NO_PERM);
        assert_eq!(api(404, Value::Null).exit_code(), DATA_ERR);
        assert_eq!(api(400, Value::Null).exit_code(), DATA_ERR);
        assert_eq!(api(503, Value::Null).exit_code(), UNAVAILABLE);
    }

    #[test]
    fn messages_carry_rabbitmqs_reason() {
        let e = api(
            400,
            json!({"error": "bad_request", "reason": "inequivalent arg 'durable'"}),
        );
        assert_eq!(
            e.to_string(),
            "inequivalent arg 'durable' (HTTP 400 on GET /api/x)"
        );
        let e = api(
            400,
            json!({"error": "bad_request", "reason": ["not_boolean", "x"]}),
        );
        assert!(e.to_string().starts_with(r#"["not_boolean","x"]"#));
        let e = api(
            400,
            json!({"reason": "Validation failed\n\n&lt;&lt;\"x\"&gt;&gt; is not valid\n"}),
        );
        assert!(e
            .to_string()
            .starts_with("Validation failed\n\n<<\"x\">> is not valid (HTTP 400"));
        let e = api(502, json!("Bad Gateway\n"));
        assert!(e.to_string().starts_with("Bad Gateway (HTTP 502"));
    }
}
