//! One function per verb and noun: the API path, the request body built
//! from the options, and what is printed. Each returns the text for
//! standard output; commands that change something print nothing.

use std::io::Read;
use std::path::Path;

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::args::*;
use crate::client::{enc, Client, Method};
use crate::error::CliError;
use crate::output::{self, col, json_col, Column};

type Result<T> = std::result::Result<T, CliError>;

pub fn run(cli: &Cli) -> Result<String> {
    let client = Client::new(&cli.conn)?;
    let ctx = Ctx {
        client: &client,
        vhost: &cli.conn.vhost,
        format: cli.conn.format,
    };
    match &cli.verb {
        Verb::Show {
            noun: ShowNoun::Overview,
        } => ctx.show_overview(),
        Verb::Show {
            noun: ShowNoun::ClusterName,
        } => {
            let name = ctx.client.get("/api/cluster-name")?;
            Ok(output::object(ctx.format, &name, &[col("name")]))
        }
        Verb::List { noun } => ctx.list(noun),
        Verb::Declare { noun } => ctx.declare(noun).map(|_| String::new()),
        Verb::Delete { noun } => ctx.delete(noun).map(|_| String::new()),
        Verb::Set {
            noun: SetNoun::ClusterName { name },
        } => {
            ctx.client.put("/api/cluster-name", &json!({ "name": name }))?;
            Ok(String::new())
        }
        Verb::Enable {
            noun: EnableNoun::FeatureFlag { name },
        } => {
            // RabbitMQ wants a JSON content type, and takes an empty object.
            ctx.client
                .put(&format!("/api/feature-flags/{}/enable", enc(name)), &json!({}))?;
            Ok(String::new())
        }
        Verb::Purge {
            noun: PurgeNoun::Queue { name },
        } => {
            ctx.client
                .delete(&format!("/api/queues/{}/{}/contents", ctx.v(), enc(name)))?;
            Ok(String::new())
        }
        Verb::Publish {
            noun: PublishNoun::Message(m),
        } => ctx.publish(m),
        Verb::Get {
            noun: GetNoun::Messages(g),
        } => ctx.get_messages(g),
        Verb::Peek {
            noun: PeekNoun::Messages(p),
        } => ctx.peek_messages(p),
        Verb::Move {
            noun: MoveNoun::Messages(m),
        } => ctx.move_messages(m),
        Verb::Close {
            noun: CloseNoun::Connection { name, reason },
        } => {
            let headers: Vec<(&str, &str)> = reason.iter().map(|r| ("x-reason", r.as_str())).collect();
            ctx.client.request(
                Method::Delete,
                &format!("/api/connections/{}", enc(name)),
                None,
                &headers,
            )?;
            Ok(String::new())
        }
        Verb::Export {
            noun: ExportNoun::Definitions { file },
        } => ctx.export(file.as_deref()),
        Verb::Import {
            noun: ImportNoun::Definitions { file },
        } => ctx.import(file.as_deref()),
    }
}

struct Ctx<'a> {
    client: &'a Client,
    vhost: &'a str,
    format: Format,
}

const fn named(header: &'static str, path: &'static str) -> Column {
    Column {
        header,
        path,
        as_json: false,
    }
}

const OVERVIEW: &[Column] = &[
    col("product_name"),
    col("product_version"),
    col("management_version"),
    col("cluster_name"),
    col("node"),
    named("connections", "object_totals.connections"),
    named("channels", "object_totals.channels"),
    named("queues", "object_totals.queues"),
    named("exchanges", "object_totals.exchanges"),
    named("consumers", "object_totals.consumers"),
    named("messages", "queue_totals.messages"),
    named("messages_ready", "queue_totals.messages_ready"),
    named("messages_unacknowledged", "queue_totals.messages_unacknowledged"),
    named("published", "message_stats.publish"),
    named("delivered", "message_stats.deliver_get"),
    named("acked", "message_stats.ack"),
];

const MESSAGES: &[Column] = &[
    col("routing_key"),
    col("exchange"),
    col("message_count"),
    col("redelivered"),
    col("payload_bytes"),
    col("payload_encoding"),
    col("payload"),
    col("properties"),
];

/// A peek shows where each message is instead of what remains.
const PEEKED: &[Column] = &[
    col("position"),
    col("routing_key"),
    col("exchange"),
    col("redelivered"),
    col("payload_bytes"),
    col("payload_encoding"),
    col("payload"),
    col("properties"),
];

const MOVED: &[Column] = &[col("moved"), col("skipped"), col("unroutable"), col("refused")];

/// Columns per noun, after rabbitmqadmin's, plus what one needs next
/// (`properties_key` to delete a binding, `name` to close a connection);
/// parameter values as the JSON that `--value` takes.
fn columns(noun: &ListNoun) -> &'static [Column] {
    const QUEUES: &[Column] = &[
        col("name"),
        col("type"),
        col("messages"),
        col("messages_ready"),
        col("messages_unacknowledged"),
        col("consumers"),
    ];
    const EXCHANGES: &[Column] = &[
        col("name"),
        col("type"),
        col("durable"),
        col("auto_delete"),
        col("internal"),
    ];
    const BINDINGS: &[Column] = &[
        col("source"),
        col("destination"),
        col("destination_type"),
        col("routing_key"),
        col("arguments"),
        col("properties_key"),
    ];
    const CONNECTIONS: &[Column] = &[
        col("name"),
        col("user"),
        col("vhost"),
        col("channels"),
        col("state"),
    ];
    const CHANNELS: &[Column] = &[
        col("name"),
        col("user"),
        col("vhost"),
        col("consumer_count"),
        col("messages_unacknowledged"),
        col("prefetch_count"),
    ];
    const CONSUMERS: &[Column] = &[
        named("queue", "queue.name"),
        col("consumer_tag"),
        named("channel", "channel_details.name"),
        col("ack_required"),
        col("prefetch_count"),
        col("active"),
    ];
    const VHOSTS: &[Column] = &[col("name"), col("description"), col("messages")];
    const USERS: &[Column] = &[col("name"), col("tags")];
    const PERMISSIONS: &[Column] = &[
        col("user"),
        col("vhost"),
        col("configure"),
        col("write"),
        col("read"),
    ];
    const TOPIC_PERMISSIONS: &[Column] = &[
        col("user"),
        col("vhost"),
        col("exchange"),
        col("write"),
        col("read"),
    ];
    const VHOST_LIMITS: &[Column] = &[
        col("vhost"),
        named("max-connections", "value.max-connections"),
        named("max-queues", "value.max-queues"),
    ];
    const USER_LIMITS: &[Column] = &[
        col("user"),
        named("max-connections", "value.max-connections"),
        named("max-channels", "value.max-channels"),
    ];
    const POLICIES: &[Column] = &[
        col("vhost"),
        col("name"),
        col("pattern"),
        col("apply-to"),
        col("definition"),
        col("priority"),
    ];
    const GLOBAL_PARAMETERS: &[Column] = &[col("name"), json_col("value")];
    const PARAMETERS: &[Column] = &[col("vhost"), col("component"), col("name"), json_col("value")];
    const FEATURE_FLAGS: &[Column] = &[col("name"), col("state"), col("stability"), col("provided_by")];
    const DEPRECATED_FEATURES: &[Column] = &[
        col("name"),
        col("deprecation_phase"),
        col("provided_by"),
        col("doc_url"),
    ];
    match noun {
        ListNoun::Queues => QUEUES,
        ListNoun::Exchanges => EXCHANGES,
        ListNoun::Bindings => BINDINGS,
        ListNoun::Connections => CONNECTIONS,
        ListNoun::Channels => CHANNELS,
        ListNoun::Consumers => CONSUMERS,
        ListNoun::Vhosts => VHOSTS,
        ListNoun::Users => USERS,
        ListNoun::Permissions => PERMISSIONS,
        ListNoun::TopicPermissions => TOPIC_PERMISSIONS,
        ListNoun::Policies | ListNoun::OperatorPolicies => POLICIES,
        ListNoun::VhostLimits => VHOST_LIMITS,
        ListNoun::UserLimits => USER_LIMITS,
        ListNoun::GlobalParameters => GLOBAL_PARAMETERS,
        ListNoun::Parameters { .. } => PARAMETERS,
        ListNoun::FeatureFlags => FEATURE_FLAGS,
        ListNoun::DeprecatedFeatures { .. } => DEPRECATED_FEATURES,
    }
}

fn policy_body(p: &DeclarePolicy) -> Value {
    json!({
        "pattern": p.pattern,
        "definition": p.definition,
        "apply-to": p.apply_to,
        "priority": p.priority,
    })
}

impl Ctx<'_> {
    /// The vhost as a path segment.
    fn v(&self) -> String {
        enc(self.vhost)
    }

    fn show_overview(&self) -> Result<String> {
        let overview = self.client.get("/api/overview")?;
        Ok(output::object(self.format, &overview, OVERVIEW))
    }

    /// Queues, exchanges, bindings, consumers and policies of `--vhost`;
    /// connections, channels, vhosts, users, permissions, parameters and
    /// feature flags of the broker.
    fn list(&self, noun: &ListNoun) -> Result<String> {
        let v = self.v();
        let path = match noun {
            ListNoun::Queues => format!("/api/queues/{v}"),
            ListNoun::Exchanges => format!("/api/exchanges/{v}"),
            ListNoun::Bindings => format!("/api/bindings/{v}"),
            ListNoun::Consumers => format!("/api/consumers/{v}"),
            ListNoun::Policies => format!("/api/policies/{v}"),
            ListNoun::OperatorPolicies => format!("/api/operator-policies/{v}"),
            ListNoun::Connections => "/api/connections".into(),
            ListNoun::Channels => "/api/channels".into(),
            ListNoun::Vhosts => "/api/vhosts".into(),
            ListNoun::Users => "/api/users".into(),
            ListNoun::Permissions => "/api/permissions".into(),
            ListNoun::TopicPermissions => "/api/topic-permissions".into(),
            ListNoun::VhostLimits => "/api/vhost-limits".into(),
            ListNoun::UserLimits => "/api/user-limits".into(),
            ListNoun::GlobalParameters => "/api/global-parameters".into(),
            ListNoun::Parameters { component: None } => "/api/parameters".into(),
            ListNoun::Parameters { component: Some(c) } => format!("/api/parameters/{}", enc(c)),
            ListNoun::FeatureFlags => "/api/feature-flags".into(),
            ListNoun::DeprecatedFeatures { used: false } => "/api/deprecated-features".into(),
            ListNoun::DeprecatedFeatures { used: true } => "/api/deprecated-features/used".into(),
        };
        let items = self.client.get(&path)?;
        Ok(output::list(self.format, &items, columns(noun)))
    }

    fn declare(&self, noun: &DeclareNoun) -> Result<()> {
        let v = self.v();
        let (path, body) = match noun {
            DeclareNoun::Queue(q) => {
                let mut arguments = q.arguments.clone().unwrap_or_default();
                if let Some(t) = &q.queue_type {
                    arguments.insert("x-queue-type".into(), json!(t));
                }
                let mut body = Map::new();
                set(&mut body, "durable", q.durable);
                set(&mut body, "auto_delete", q.auto_delete);
                body.insert("arguments".into(), Value::Object(arguments));
                (format!("/api/queues/{v}/{}", enc(&q.name)), Value::Object(body))
            }
            DeclareNoun::Exchange(x) => {
                let mut body = Map::new();
                body.insert("type".into(), json!(x.kind));
                set(&mut body, "durable", x.durable);
                set(&mut body, "auto_delete", x.auto_delete);
                set(&mut body, "internal", x.internal);
                body.insert(
                    "arguments".into(),
                    Value::Object(x.arguments.clone().unwrap_or_default()),
                );
                (
                    format!("/api/exchanges/{v}/{}", enc(&x.name)),
                    Value::Object(body),
                )
            }
            DeclareNoun::Binding(b) => {
                let path = format!(
                    "/api/bindings/{v}/e/{}/{}/{}",
                    enc(&b.source),
                    b.destination_type.path_letter(),
                    enc(&b.destination)
                );
                let body = json!({
                    "routing_key": b.routing_key,
                    "arguments": b.arguments.clone().unwrap_or_default(),
                });
                self.client.post(&path, &body)?;
                return Ok(());
            }
            DeclareNoun::Vhost(d) => {
                let mut body = Map::new();
                set(&mut body, "description", d.description.clone());
                set(&mut body, "tags", d.tags.clone());
                set(&mut body, "default_queue_type", d.default_queue_type.clone());
                set(&mut body, "tracing", d.tracing);
                (format!("/api/vhosts/{}", enc(&d.name)), Value::Object(body))
            }
            DeclareNoun::User(u) => {
                let mut body = Map::new();
                set(&mut body, "password", u.password.clone());
                set(&mut body, "password_hash", u.password_hash.clone());
                set(&mut body, "hashing_algorithm", u.hashing_algorithm.clone());
                body.insert("tags".into(), json!(u.tags));
                (format!("/api/users/{}", enc(&u.name)), Value::Object(body))
            }
            DeclareNoun::Permission(p) => (
                format!("/api/permissions/{v}/{}", enc(&p.user)),
                json!({"configure": p.configure, "write": p.write, "read": p.read}),
            ),
            DeclareNoun::TopicPermission(t) => (
                format!("/api/topic-permissions/{v}/{}", enc(&t.user)),
                json!({"exchange": t.exchange, "write": t.write, "read": t.read}),
            ),
            DeclareNoun::VhostLimit(l) => (
                format!("/api/vhost-limits/{v}/{}", enc(&l.name)),
                json!({"value": l.value}),
            ),
            DeclareNoun::UserLimit(l) => (
                format!("/api/user-limits/{}/{}", enc(&l.user), enc(&l.name)),
                json!({"value": l.value}),
            ),
            DeclareNoun::Policy(p) => (format!("/api/policies/{v}/{}", enc(&p.name)), policy_body(p)),
            DeclareNoun::OperatorPolicy(p) => (
                format!("/api/operator-policies/{v}/{}", enc(&p.name)),
                policy_body(p),
            ),
            DeclareNoun::GlobalParameter(g) => (
                format!("/api/global-parameters/{}", enc(&g.name)),
                json!({"value": g.value}),
            ),
            DeclareNoun::Parameter(p) => (
                format!("/api/parameters/{}/{v}/{}", enc(&p.component), enc(&p.name)),
                json!({"value": p.value}),
            ),
        };
        self.client.put(&path, &body)?;
        Ok(())
    }

    fn delete(&self, noun: &DeleteNoun) -> Result<()> {
        let v = self.v();
        let (path, idem) = match noun {
            DeleteNoun::Queue(q) => {
                let mut path = format!("/api/queues/{v}/{}", enc(&q.name));
                let query: Vec<&str> = [(q.if_empty, "if-empty=true"), (q.if_unused, "if-unused=true")]
                    .into_iter()
                    .filter_map(|(on, param)| on.then_some(param))
                    .collect();
                if !query.is_empty() {
                    path = format!("{path}?{}", query.join("&"));
                }
                (path, &q.idem)
            }
            DeleteNoun::Exchange(x) => {
                let query = if x.if_unused { "?if-unused=true" } else { "" };
                (format!("/api/exchanges/{v}/{}{query}", enc(&x.name)), &x.idem)
            }
            DeleteNoun::Binding(b) => {
                let between = format!(
                    "/api/bindings/{v}/e/{}/{}/{}",
                    enc(&b.source),
                    b.destination_type.path_letter(),
                    enc(&b.destination)
                );
                let key = match &b.properties_key {
                    Some(key) => Ok(key.clone()),
                    None => self.find_binding(&between, b),
                };
                match key {
                    Ok(key) => (format!("{between}/{}", enc(&key)), &b.idem),
                    Err(e) => return idempotent(Err(e), &b.idem),
                }
            }
            DeleteNoun::Vhost(n) => (format!("/api/vhosts/{}", enc(&n.name)), &n.idem),
            DeleteNoun::User(n) => (format!("/api/users/{}", enc(&n.name)), &n.idem),
            DeleteNoun::Permission(p) => (format!("/api/permissions/{v}/{}", enc(&p.user)), &p.idem),
            DeleteNoun::Policy(n) => (format!("/api/policies/{v}/{}", enc(&n.name)), &n.idem),
            DeleteNoun::OperatorPolicy(n) => {
                (format!("/api/operator-policies/{v}/{}", enc(&n.name)), &n.idem)
            }
            DeleteNoun::TopicPermission(t) => {
                let mut path = format!("/api/topic-permissions/{v}/{}", enc(&t.user));
                if let Some(x) = &t.exchange {
                    path = format!("{path}/{}", enc(x));
                }
                (path, &t.idem)
            }
            DeleteNoun::VhostLimit(n) => (format!("/api/vhost-limits/{v}/{}", enc(&n.name)), &n.idem),
            DeleteNoun::UserLimit(l) => (
                format!("/api/user-limits/{}/{}", enc(&l.user), enc(&l.name)),
                &l.idem,
            ),
            DeleteNoun::GlobalParameter(n) => (format!("/api/global-parameters/{}", enc(&n.name)), &n.idem),
            DeleteNoun::Parameter(p) => (
                format!("/api/parameters/{}/{v}/{}", enc(&p.component), enc(&p.name)),
                &p.idem,
            ),
        };
        idempotent(self.client.delete(&path).map(|_| ()), idem)
    }

    /// The `properties_key` of the one binding between the two ends with
    /// the given routing key (and arguments, when given).
    fn find_binding(&self, between: &str, b: &DeleteBinding) -> Result<String> {
        let all = self.client.get(between)?;
        let found: Vec<&Value> = all
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| {
                b.routing_key
                    .as_ref()
                    .is_none_or(|k| x["routing_key"] == k.as_str())
            })
            .filter(|x| {
                b.arguments
                    .as_ref()
                    .is_none_or(|a| x["arguments"].as_object() == Some(a))
            })
            .collect();
        let what = || {
            let kind = match b.destination_type {
                DestinationType::Queue => "queue",
                DestinationType::Exchange => "exchange",
            };
            let key = b
                .routing_key
                .as_ref()
                .map(|k| format!(" with routing key '{k}'"))
                .unwrap_or_default();
            format!(
                "binding from exchange '{}' to {kind} '{}'{key} in vhost '{}'",
                b.source, b.destination, self.vhost
            )
        };
        match found.as_slice() {
            [one] => one["properties_key"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| CliError::Data(format!("the {} has no properties_key", what()))),
            [] => Err(CliError::NotFound(format!("no {}", what()))),
            many => Err(CliError::Usage(format!(
                "{} bindings match the {}: name one with --properties-key ({})",
                many.len(),
                what(),
                many.iter()
                    .filter_map(|x| x["properties_key"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn publish(&self, m: &PublishMessage) -> Result<String> {
        let (payload, encoding) = match &m.payload {
            Some(p) => (p.clone(), m.payload_encoding.unwrap_or(PayloadEncoding::String)),
            None => stdin_payload(read_stdin("--payload")?, m.payload_encoding)?,
        };
        // RabbitMQ names the default exchange `amq.default` in paths.
        let exchange = if m.exchange.is_empty() {
            "amq.default"
        } else {
            &m.exchange
        };
        let body = json!({
            "properties": m.properties.clone().unwrap_or_default(),
            "routing_key": m.routing_key,
            "payload": payload,
            "payload_encoding": match encoding {
                PayloadEncoding::String => "string",
                PayloadEncoding::Base64 => "base64",
            },
        });
        let result = self.client.post(
            &format!("/api/exchanges/{}/{}/publish", self.v(), enc(exchange)),
            &body,
        )?;
        Ok(output::object(self.format, &result, &[col("routed")]))
    }

    fn get_messages(&self, g: &GetMessages) -> Result<String> {
        let body = json!({
            "count": g.count,
            "ackmode": g.ackmode,
            "encoding": g.encoding,
            "truncate": g.truncate,
        });
        let messages = self
            .client
            .post(&format!("/api/queues/{}/{}/get", self.v(), enc(&g.queue)), &body)?;
        Ok(output::list(self.format, &messages, MESSAGES))
    }

    fn peek_messages(&self, p: &PeekMessages) -> Result<String> {
        let path = format!(
            "/api/queues/{}/{}/messages?offset={}&count={}&encoding={}&truncate={}",
            self.v(),
            enc(&p.queue),
            p.offset,
            p.count,
            p.encoding,
            p.truncate
        );
        let reply = self.client.get(&path)?;
        Ok(output::list(self.format, &reply["messages"], PEEKED))
    }

    fn move_messages(&self, m: &MoveMessages) -> Result<String> {
        let mut body = match &m.destination {
            Some(queue) => json!({ "destination": queue }),
            None => json!({ "dead_letters": true }),
        };
        if let Some(count) = m.count {
            body["count"] = json!(count);
        }
        let moved = self
            .client
            .post(&format!("/api/queues/{}/{}/move", self.v(), enc(&m.queue)), &body)?;
        Ok(output::object(self.format, &moved, MOVED))
    }

    /// Always JSON, whatever `--format`: definitions are for `import`.
    fn export(&self, file: Option<&Path>) -> Result<String> {
        let definitions = output::json(&self.client.get("/api/definitions")?);
        match file {
            None => Ok(definitions),
            Some(path) => {
                std::fs::write(path, definitions).map_err(|cause| CliError::Output {
                    path: path.display().to_string(),
                    cause,
                })?;
                Ok(String::new())
            }
        }
    }

    fn import(&self, file: Option<&Path>) -> Result<String> {
        let (name, bytes) = match file {
            Some(path) => (
                path.display().to_string(),
                std::fs::read(path).map_err(|cause| CliError::NoInput {
                    path: path.display().to_string(),
                    cause,
                })?,
            ),
            None => ("standard input".to_string(), read_stdin("--file")?),
        };
        // Bad bytes are bad data (65), like bad JSON; a UTF-8 BOM is allowed.
        let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
        let definitions: Value = serde_json::from_slice(text)
            .map_err(|e| CliError::Data(format!("{name} is not valid JSON: {e}")))?;
        if !definitions.is_object() {
            return Err(CliError::Data(format!(
                "{name}: definitions must be a JSON object"
            )));
        }
        self.client.post("/api/definitions", &definitions)?;
        Ok(String::new())
    }
}

/// Standard input, unless it is a terminal: then nothing would arrive and
/// the command would wait silently, so it is a usage error naming the
/// option to use instead.
fn read_stdin(option: &str) -> Result<Vec<u8>> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(CliError::Usage(format!(
            "give {option} or pipe the data to standard input"
        )));
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|cause| CliError::NoInput {
            path: "standard input".into(),
            cause,
        })?;
    Ok(bytes)
}

/// Sets `key` when the option was given, leaving the API's default otherwise.
fn set<T: Into<Value>>(body: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        body.insert(key.into(), v.into());
    }
}

/// `--idempotently`: a missing object is not an error.
fn idempotent(r: Result<()>, idem: &Idempotently) -> Result<()> {
    match r {
        Err(e) if idem.idempotently && e.is_not_found() => Ok(()),
        other => other,
    }
}

/// A body read from standard input: UTF-8 goes as a string, other bytes as
/// base64; with `--payload-encoding base64` the input already is base64.
fn stdin_payload(bytes: Vec<u8>, encoding: Option<PayloadEncoding>) -> Result<(String, PayloadEncoding)> {
    match (encoding, String::from_utf8(bytes)) {
        (Some(PayloadEncoding::Base64), Ok(text)) => Ok((text.trim().to_string(), PayloadEncoding::Base64)),
        (Some(PayloadEncoding::Base64), Err(_)) => {
            Err(CliError::Data("standard input is not base64 text".into()))
        }
        (Some(PayloadEncoding::String), Err(_)) => Err(CliError::Data(
            "standard input is not UTF-8: leave out --payload-encoding to send it as base64".into(),
        )),
        (_, Ok(text)) => Ok((text, PayloadEncoding::String)),
        (None, Err(e)) => Ok((
            base64::engine::general_purpose::STANDARD.encode(e.into_bytes()),
            PayloadEncoding::Base64,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_bytes_that_are_not_utf8_go_as_base64() {
        let (p, e) = stdin_payload(vec![0xff, 0x00], None).unwrap();
        assert_eq!((p.as_str(), e), ("/wA=", PayloadEncoding::Base64));
        let (p, e) = stdin_payload(b"hi\n".to_vec(), None).unwrap();
        assert_eq!((p.as_str(), e), ("hi\n", PayloadEncoding::String));
        let (p, e) = stdin_payload(b"aGk=\n".to_vec(), Some(PayloadEncoding::Base64)).unwrap();
        assert_eq!((p.as_str(), e), ("aGk=", PayloadEncoding::Base64));
        assert!(stdin_payload(vec![0xff], Some(PayloadEncoding::String)).is_err());
    }
}
