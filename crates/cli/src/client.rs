//! A blocking client of the management API: basic auth, JSON in and out,
//! and every non-2xx answer turned into a [`CliError`] that keeps the body.

use std::time::Duration;

use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::args::Connection;
use crate::error::CliError;

/// Bytes of a response read at most (a definitions export can be large).
const MAX_BODY: u64 = 1 << 30;

/// Everything but RFC 3986's unreserved characters is escaped, so `/` in a
/// vhost becomes `%2F` and a connection name's spaces and `>` survive.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One path segment, percent-encoded: `enc("/") == "%2F"`.
pub fn enc(segment: &str) -> String {
    match segment {
        // Left alone, these would be read as "this" and "the parent" path.
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        s => utf8_percent_encode(s, SEGMENT).to_string(),
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// JSON preferred, anything accepted: RabbitMQ answers some endpoints that
/// return no body (`DELETE .../contents`) with 406 to a strict
/// `application/json`.
const ACCEPT: &str = "application/json, */*;q=0.5";

pub struct Client {
    agent: ureq::Agent,
    base: String,
    authorization: String,
}

impl Client {
    pub fn new(conn: &Connection) -> Result<Client, CliError> {
        let roots = match &conn.ca_cert {
            None => ureq::tls::RootCerts::WebPki,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|cause| CliError::NoInput {
                    path: path.display().to_string(),
                    cause,
                })?;
                let certs = ureq::tls::parse_pem(&pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                        Ok(_) => None,
                        Err(e) => Some(Err(e)),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| CliError::Data(format!("bad PEM in --ca-cert {}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(CliError::Data(format!(
                        "no certificate in --ca-cert {}",
                        path.display()
                    )));
                }
                ureq::tls::RootCerts::new_with_certs(&certs)
            }
        };
        let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            // Error statuses come back as responses: their bodies carry RabbitMQ's reason.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(120)))
            // A redirect would drop the credentials and could turn a POST
            // into a GET: report it instead of following it.
            .max_redirects(0)
            .user_agent(concat!("warrenctl/", env!("CARGO_PKG_VERSION")))
            .build();
        // An IPv6 literal needs brackets in a URL.
        let host = if conn.host.contains(':') && !conn.host.starts_with('[') {
            format!("[{}]", conn.host)
        } else {
            conn.host.clone()
        };
        let credentials = format!("{}:{}", conn.username, conn.password);
        let scheme = if conn.tls || conn.ca_cert.is_some() {
            "https"
        } else {
            "http"
        };
        Ok(Client {
            agent: config.into(),
            base: format!("{scheme}://{host}:{}", conn.port),
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
        })
    }

    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        self.request(Method::Get, path, None, &[])
    }

    pub fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.request(Method::Put, path, Some(body), &[])
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.request(Method::Post, path, Some(body), &[])
    }

    pub fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.request(Method::Delete, path, None, &[])
    }

    /// Sends one request; a 2xx answer's JSON body (`Null` when empty) or the error.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |e: ureq::Error| match e {
            ureq::Error::BadUri(why) => CliError::Usage(format!("bad --host or --port ({url}): {why}")),
            // An option that cannot go into a URL or header (a control character in --reason).
            ureq::Error::Http(why) => CliError::Usage(format!("cannot send this request: {why}")),
            other => CliError::Unreachable {
                url: self.base.clone(),
                cause: other.to_string(),
            },
        };
        let auth = ("authorization", self.authorization.as_str());
        let response = match method {
            Method::Get | Method::Delete => {
                let mut req = match method {
                    Method::Get => self.agent.get(&url),
                    _ => self.agent.delete(&url),
                }
                .header(auth.0, auth.1)
                .header("accept", ACCEPT);
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.call()
            }
            Method::Put | Method::Post => {
                let mut req = match method {
                    Method::Put => self.agent.put(&url),
                    _ => self.agent.post(&url),
                }
                .header(auth.0, auth.1)
                .header("accept", ACCEPT)
                .header("content-type", "application/json");
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req.send(body.unwrap_or(&Value::Null).to_string())
            }
        };
        let mut response = response.map_err(unreachable)?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(unreachable)?;
        let text = String::from_utf8_lossy(&bytes);
        let json = if text.trim().is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_str::<Value>(&text)
        };
        if (200..300).contains(&status) {
            json.map_err(|e| {
                CliError::Data(format!(
                    "{} {path} answered with something other than JSON: {e}",
                    method.as_str()
                ))
            })
        } else {
            Err(CliError::Api {
                status,
                method: method.as_str(),
                path: path.to_string(),
                body: json.unwrap_or_else(|_| Value::String(text.into_owned())),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::enc;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(enc("/"), "%2F");
        assert_eq!(enc("my-queue_1.x~"), "my-queue_1.x~");
        assert_eq!(enc("127.0.0.1:5 -> 1:2"), "127.0.0.1%3A5%20-%3E%201%3A2");
        assert_eq!(enc("k.%23"), "k.%2523");
        assert_eq!(enc("é"), "%C3%A9");
        assert_eq!(enc(".."), "%2E%2E");
    }
}
