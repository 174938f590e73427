//! The command line: `warrenctl [options] <verb> <noun> [noun options]`.
//!
//! Options for the connection (`--host`, `--port`, `--username`,
//! `--vhost`, `--format`) may stand before the verb or after the noun;
//! `--password` only before the verb, because `declare user --password`
//! is the new user's password. Each also comes from a `WARRENCTL_*`
//! environment variable (not `WARREN_*`: the broker reads `WARREN_PORT`
//! as its AMQP port).
//!
//! Per-noun options carry RabbitMQ's management API field names
//! (`--auto-delete` is `auto_delete`, `--apply-to` is `apply-to`).
//!
//! `declare` creates or updates named objects; the one broker-wide
//! setting that is not an object, the cluster name, is `set` instead
//! (`set cluster-name --name N`, as rabbitmqctl's `set_cluster_name`), and
//! feature flags, which are only ever switched on, have `enable`.

use clap::builder::{NonEmptyStringValueParser, PossibleValuesParser};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value};

#[derive(Parser, Debug)]
#[command(
    name = "warrenctl",
    version,
    about = "Manage a Warren (or RabbitMQ) broker through its management HTTP API.",
    after_help = "Exit codes (sysexits): 0 ok, 64 usage, 65 data error (HTTP 400/404/other 4xx, bad JSON), \
                  66 input file unreadable, 69 unavailable (cannot connect, HTTP 5xx), \
                  74 output write error, 77 no permission (HTTP 401/403)."
)]
pub struct Cli {
    #[command(flatten)]
    pub conn: Connection,
    #[command(subcommand)]
    pub verb: Verb,
}

/// Where the management API is and who we are there.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Connection and output")]
pub struct Connection {
    /// Host of the management API.
    #[arg(long, global = true, env = "WARRENCTL_HOST", default_value = "localhost")]
    pub host: String,
    /// Port of the management API.
    #[arg(long, global = true, env = "WARRENCTL_PORT", default_value_t = 15672)]
    pub port: u16,
    /// Speak HTTPS to the management API (its TLS port, 15671 by default
    /// on Warren and RabbitMQ; rabbitmqadmin's `--ssl`).
    #[arg(long, global = true, env = "WARRENCTL_TLS")]
    pub tls: bool,
    /// CA certificates (PEM) the server's certificate is checked against,
    /// instead of Mozilla's roots; implies --tls.
    #[arg(long, global = true, env = "WARRENCTL_CA_CERT")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// User of the management API.
    #[arg(long, global = true, env = "WARRENCTL_USERNAME", default_value = "guest")]
    pub username: String,
    /// That user's password; must come before the verb (`declare user --password` is the new user's).
    #[arg(
        long,
        env = "WARRENCTL_PASSWORD",
        default_value = "guest",
        hide_env_values = true
    )]
    pub password: String,
    /// Virtual host of the objects listed, declared or deleted.
    #[arg(
        long,
        global = true,
        env = "WARRENCTL_VHOST",
        default_value = "/",
        value_parser = clap::builder::NonEmptyStringValueParser::new()
    )]
    pub vhost: String,
    /// Output: aligned table for people, JSON (the API's own objects) or
    /// tab-separated values for scripts.
    #[arg(long, global = true, env = "WARRENCTL_FORMAT", value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Tsv,
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Show one object.
    Show {
        #[command(subcommand)]
        noun: ShowNoun,
    },
    /// List objects (queues, exchanges and bindings, consumers and policies of --vhost).
    List {
        #[command(subcommand)]
        noun: ListNoun,
    },
    /// Create an object (or update it, where the API allows).
    Declare {
        #[command(subcommand)]
        noun: DeclareNoun,
    },
    /// Delete an object.
    Delete {
        #[command(subcommand)]
        noun: DeleteNoun,
    },
    /// Change a broker-wide setting.
    Set {
        #[command(subcommand)]
        noun: SetNoun,
    },
    /// Turn on a feature flag (there is no turning it off).
    Enable {
        #[command(subcommand)]
        noun: EnableNoun,
    },
    /// Remove the ready messages of a queue.
    Purge {
        #[command(subcommand)]
        noun: PurgeNoun,
    },
    /// Publish a message through an exchange.
    Publish {
        #[command(subcommand)]
        noun: PublishNoun,
    },
    /// Fetch messages from a queue (basic.get).
    Get {
        #[command(subcommand)]
        noun: GetNoun,
    },
    /// Look at a queue's ready messages without taking them (a Warren extension).
    Peek {
        #[command(subcommand)]
        noun: PeekNoun,
    },
    /// Move a queue's messages to another queue, or dead letters back where they came from (a Warren extension).
    Move {
        #[command(subcommand)]
        noun: MoveNoun,
    },
    /// Close a client connection.
    Close {
        #[command(subcommand)]
        noun: CloseNoun,
    },
    /// Write the broker's definitions as JSON.
    Export {
        #[command(subcommand)]
        noun: ExportNoun,
    },
    /// Load definitions from JSON.
    Import {
        #[command(subcommand)]
        noun: ImportNoun,
    },
}

#[derive(Subcommand, Debug)]
pub enum ShowNoun {
    /// Broker version, totals and message rates.
    Overview,
    /// The cluster's name (`set cluster-name` changes it).
    ClusterName,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum ListNoun {
    /// Queues of --vhost: name, type, message counts, consumers.
    Queues,
    /// Exchanges of --vhost.
    Exchanges,
    /// Bindings of --vhost, with the properties_key that `delete binding` takes.
    Bindings,
    /// Client connections, by the name `close connection` takes.
    Connections,
    Channels,
    /// Consumers of --vhost.
    Consumers,
    Vhosts,
    Users,
    /// Every user's permissions in every vhost.
    Permissions,
    /// Every user's topic permissions (routing keys on topic exchanges).
    TopicPermissions,
    /// Policies of --vhost.
    Policies,
    /// Operator policies of --vhost (limits over users' policies).
    OperatorPolicies,
    /// The max-connections and max-queues limits of every vhost.
    VhostLimits,
    /// The max-connections and max-channels limits of every user.
    UserLimits,
    /// Broker-wide parameters (cluster_name, internal_cluster_id, ...).
    GlobalParameters,
    /// Runtime parameters (shovels, federation upstreams, vhost limits...)
    /// of every vhost.
    Parameters {
        /// Only this component's (e.g. federation-upstream, shovel).
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        component: Option<String>,
    },
    /// Feature flags and whether they are enabled.
    FeatureFlags,
    /// Deprecated features and their deprecation phase.
    DeprecatedFeatures {
        /// Only those in use now.
        #[arg(long)]
        used: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeclareNoun {
    Queue(DeclareQueue),
    Exchange(DeclareExchange),
    Binding(DeclareBinding),
    Vhost(DeclareVhost),
    User(DeclareUser),
    Permission(DeclarePermission),
    /// Which routing keys a user may publish (--write) and bind (--read)
    /// with on a topic exchange of --vhost.
    TopicPermission(DeclareTopicPermission),
    Policy(DeclarePolicy),
    /// A policy of limits (max-length, message-ttl, ...) that bounds
    /// whatever queues and users' policies ask.
    OperatorPolicy(DeclarePolicy),
    /// A limit of --vhost: max-connections or max-queues (negative: none).
    VhostLimit(DeclareVhostLimit),
    /// A limit of a user over all their connections: max-connections or
    /// max-channels (negative: none).
    UserLimit(DeclareUserLimit),
    /// A broker-wide parameter.
    GlobalParameter(DeclareGlobalParameter),
    /// A runtime parameter of a component in --vhost (a federation
    /// upstream, a shovel...).
    Parameter(DeclareParameter),
}

#[derive(Args, Debug)]
pub struct DeclareQueue {
    /// The queue's name.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// Survives a broker restart (the API's default is true).
    #[arg(long)]
    pub durable: Option<bool>,
    #[arg(long)]
    pub auto_delete: Option<bool>,
    /// Sets the `x-queue-type` argument.
    #[arg(long, value_parser = PossibleValuesParser::new(["classic", "quorum", "stream"]))]
    pub queue_type: Option<String>,
    /// Queue arguments as a JSON object, e.g. '{"x-max-length":10}'.
    #[arg(long, value_parser = json_object)]
    pub arguments: Option<Map<String, Value>>,
}

#[derive(Args, Debug)]
pub struct DeclareExchange {
    /// The exchange's name.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// direct, fanout, topic, headers, or a plugin's type (x-delayed-message).
    #[arg(long = "type", default_value = "direct")]
    pub kind: String,
    #[arg(long)]
    pub durable: Option<bool>,
    #[arg(long)]
    pub auto_delete: Option<bool>,
    /// Clients cannot publish to it directly.
    #[arg(long)]
    pub internal: Option<bool>,
    /// Exchange arguments as a JSON object, e.g. '{"alternate-exchange":"ae"}'.
    #[arg(long, value_parser = json_object)]
    pub arguments: Option<Map<String, Value>>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationType {
    Queue,
    Exchange,
}

impl DestinationType {
    /// The letter in `/api/bindings/{vhost}/e/{source}/{q|e}/{destination}`.
    pub fn path_letter(self) -> &'static str {
        match self {
            DestinationType::Queue => "q",
            DestinationType::Exchange => "e",
        }
    }
}

#[derive(Args, Debug)]
pub struct DeclareBinding {
    /// The exchange messages come from.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub source: String,
    /// The queue or exchange they go to.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub destination: String,
    #[arg(long, value_enum, default_value_t = DestinationType::Queue)]
    pub destination_type: DestinationType,
    #[arg(long, default_value = "")]
    pub routing_key: String,
    /// Binding arguments as a JSON object (headers exchanges: '{"x-match":"all",...}').
    #[arg(long, value_parser = json_object)]
    pub arguments: Option<Map<String, Value>>,
}

#[derive(Args, Debug)]
pub struct DeclareVhost {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    #[arg(long)]
    pub description: Option<String>,
    /// Comma-separated tags.
    #[arg(long)]
    pub tags: Option<String>,
    #[arg(long, value_parser = PossibleValuesParser::new(["classic", "quorum", "stream"]))]
    pub default_queue_type: Option<String>,
    #[arg(long)]
    pub tracing: Option<bool>,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("secret").required(true).args(["password", "password_hash"])))]
pub struct DeclareUser {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// The new user's password.
    #[arg(long)]
    pub password: Option<String>,
    /// A salted hash as the API exports it; '' makes a user that cannot log in with a password.
    #[arg(long)]
    pub password_hash: Option<String>,
    /// e.g. rabbit_password_hashing_sha256 (with --password-hash).
    #[arg(long, requires = "password_hash")]
    pub hashing_algorithm: Option<String>,
    /// Comma-separated: administrator, monitoring, policymaker, management.
    #[arg(long, default_value = "")]
    pub tags: String,
}

#[derive(Args, Debug)]
pub struct DeclarePermission {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub user: String,
    /// Regular expression of the resources the user may configure.
    #[arg(long)]
    pub configure: String,
    #[arg(long)]
    pub write: String,
    #[arg(long)]
    pub read: String,
}

#[derive(Args, Debug)]
pub struct DeclareTopicPermission {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub user: String,
    /// The topic exchange it applies to.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub exchange: String,
    /// Regular expression of the routing keys the user may publish with.
    #[arg(long)]
    pub write: String,
    /// Regular expression of the keys the user may bind with.
    #[arg(long)]
    pub read: String,
}

#[derive(Args, Debug)]
pub struct DeclareVhostLimit {
    #[arg(long, value_parser = PossibleValuesParser::new(["max-connections", "max-queues"]))]
    pub name: String,
    #[arg(long, allow_negative_numbers = true)]
    pub value: i64,
}

#[derive(Args, Debug)]
pub struct DeclareUserLimit {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub user: String,
    #[arg(long, value_parser = PossibleValuesParser::new(["max-connections", "max-channels"]))]
    pub name: String,
    #[arg(long, allow_negative_numbers = true)]
    pub value: i64,
}

#[derive(Args, Debug)]
pub struct DeclareGlobalParameter {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// The value as JSON: '{"k":1}', '"text"' (with the quotes), 10.
    #[arg(long, value_parser = json_value, allow_negative_numbers = true)]
    pub value: Value,
}

#[derive(Args, Debug)]
pub struct DeclareParameter {
    /// e.g. federation-upstream, shovel.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub component: String,
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// The value as JSON, e.g. '{"uri":"amqp://remote"}'.
    #[arg(long, value_parser = json_value, allow_negative_numbers = true)]
    pub value: Value,
}

#[derive(Args, Debug)]
pub struct DeclarePolicy {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// Regular expression of the queue or exchange names it applies to.
    #[arg(long)]
    pub pattern: String,
    /// The policy's keys as a JSON object, e.g. '{"max-length":10}'.
    #[arg(long, value_parser = json_object)]
    pub definition: Map<String, Value>,
    #[arg(long, default_value = "all", value_parser = PossibleValuesParser::new(
        ["all", "queues", "exchanges", "classic_queues", "quorum_queues", "streams"]))]
    pub apply_to: String,
    #[arg(long, default_value_t = 0)]
    pub priority: i64,
}

#[derive(Subcommand, Debug)]
pub enum DeleteNoun {
    Queue(DeleteQueue),
    Exchange(DeleteExchange),
    Binding(DeleteBinding),
    Vhost(ByName),
    User(ByName),
    Permission(DeletePermission),
    /// A user's topic permissions in --vhost: on --exchange, or all.
    TopicPermission(DeleteTopicPermission),
    Policy(ByName),
    OperatorPolicy(ByName),
    /// A limit of --vhost (max-connections or max-queues).
    VhostLimit(ByName),
    /// A limit of a user (max-connections or max-channels).
    UserLimit(DeleteUserLimit),
    GlobalParameter(ByName),
    /// A runtime parameter of a component in --vhost.
    Parameter(DeleteParameter),
}

#[derive(Args, Debug)]
pub struct DeleteParameter {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub component: String,
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    #[command(flatten)]
    pub idem: Idempotently,
}

#[derive(Args, Debug)]
pub struct DeleteUserLimit {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub user: String,
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    #[command(flatten)]
    pub idem: Idempotently,
}

/// Shared by every `delete`.
#[derive(Args, Debug)]
pub struct Idempotently {
    /// Succeed when the object does not exist.
    #[arg(long)]
    pub idempotently: bool,
}

#[derive(Args, Debug)]
pub struct ByName {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    #[command(flatten)]
    pub idem: Idempotently,
}

#[derive(Args, Debug)]
pub struct DeleteQueue {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// Only if it has no ready messages.
    #[arg(long)]
    pub if_empty: bool,
    /// Only if it has no consumers.
    #[arg(long)]
    pub if_unused: bool,
    #[command(flatten)]
    pub idem: Idempotently,
}

#[derive(Args, Debug)]
pub struct DeleteExchange {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// Only if nothing is bound to it.
    #[arg(long)]
    pub if_unused: bool,
    #[command(flatten)]
    pub idem: Idempotently,
}

/// A binding is named by its `properties_key` (shown by `list bindings`);
/// without one, the binding with this routing key (and arguments) is looked up.
#[derive(Args, Debug)]
pub struct DeleteBinding {
    /// The exchange messages come from.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub source: String,
    /// The queue or exchange they go to.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub destination: String,
    #[arg(long, value_enum, default_value_t = DestinationType::Queue)]
    pub destination_type: DestinationType,
    /// The binding's `properties_key`, as `list bindings` shows it.
    #[arg(long, conflicts_with_all = ["routing_key", "arguments"])]
    pub properties_key: Option<String>,
    /// Find the binding by routing key instead of properties key.
    #[arg(long)]
    pub routing_key: Option<String>,
    /// With --routing-key: the binding's arguments as a JSON object.
    #[arg(long, value_parser = json_object, requires = "routing_key")]
    pub arguments: Option<Map<String, Value>>,
    #[command(flatten)]
    pub idem: Idempotently,
}

#[derive(Args, Debug)]
pub struct DeletePermission {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub user: String,
    #[command(flatten)]
    pub idem: Idempotently,
}

#[derive(Args, Debug)]
pub struct DeleteTopicPermission {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub user: String,
    /// Only the permission on this exchange.
    #[arg(long)]
    pub exchange: Option<String>,
    #[command(flatten)]
    pub idem: Idempotently,
}

#[derive(Subcommand, Debug)]
pub enum SetNoun {
    /// The name the broker reports as cluster_name.
    ClusterName {
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum EnableNoun {
    FeatureFlag {
        /// The flag's name, as `list feature-flags` shows it.
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PurgeNoun {
    Queue {
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PublishNoun {
    Message(PublishMessage),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadEncoding {
    String,
    Base64,
}

#[derive(Args, Debug)]
pub struct PublishMessage {
    /// '' (the default exchange) routes to the queue named by the routing key.
    #[arg(long, default_value = "")]
    pub exchange: String,
    #[arg(long, default_value = "")]
    pub routing_key: String,
    /// The body; read from standard input when absent.
    #[arg(long)]
    pub payload: Option<String>,
    /// How --payload is written; standard input that is not UTF-8 is sent as base64.
    #[arg(long, value_enum)]
    pub payload_encoding: Option<PayloadEncoding>,
    /// Message properties as a JSON object, e.g. '{"delivery_mode":2,"headers":{"h":1}}'.
    #[arg(long, value_parser = json_object)]
    pub properties: Option<Map<String, Value>>,
}

#[derive(Subcommand, Debug)]
pub enum GetNoun {
    Messages(GetMessages),
}

#[derive(Args, Debug)]
pub struct GetMessages {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub queue: String,
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// ack_requeue_true leaves the messages in the queue (redelivered).
    #[arg(long, default_value = "ack_requeue_true", value_parser = PossibleValuesParser::new(
        ["ack_requeue_true", "ack_requeue_false", "reject_requeue_true", "reject_requeue_false"]))]
    pub ackmode: String,
    /// auto: a UTF-8 body as a string, anything else base64.
    #[arg(long, default_value = "auto", value_parser = PossibleValuesParser::new(["auto", "base64"]))]
    pub encoding: String,
    /// Bodies longer than this many bytes are cut.
    #[arg(long, default_value_t = 50_000)]
    pub truncate: u64,
}

#[derive(Subcommand, Debug)]
pub enum PeekNoun {
    Messages(PeekMessages),
}

#[derive(Args, Debug)]
pub struct PeekMessages {
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub queue: String,
    /// Position of the first message shown (0: the next to be delivered).
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// At most 1,000.
    #[arg(long, default_value_t = 10)]
    pub count: u32,
    /// auto: a UTF-8 body as a string, anything else base64.
    #[arg(long, default_value = "auto", value_parser = PossibleValuesParser::new(["auto", "base64"]))]
    pub encoding: String,
    /// Bodies longer than this many bytes are cut.
    #[arg(long, default_value_t = 50_000)]
    pub truncate: u64,
}

#[derive(Subcommand, Debug)]
pub enum MoveNoun {
    Messages(MoveMessages),
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["destination", "dead_letters"])))]
pub struct MoveMessages {
    /// The queue the messages are in.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub queue: String,
    /// A queue of the same vhost to move them to.
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub destination: Option<String>,
    /// Send each message back to the exchange and routing key of its latest x-death entry.
    #[arg(long)]
    pub dead_letters: bool,
    /// Move at most this many.
    #[arg(long)]
    pub count: Option<u64>,
}

#[derive(Subcommand, Debug)]
pub enum CloseNoun {
    Connection {
        /// The connection's name, as `list connections` shows it.
        #[arg(long, value_parser = NonEmptyStringValueParser::new())]
        name: String,
        /// Sent to the client in connection.close (320 CONNECTION_FORCED).
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ExportNoun {
    /// Users, vhosts, permissions, policies, queues, exchanges and bindings.
    Definitions {
        /// Write here instead of standard output.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportNoun {
    Definitions {
        /// Read from here instead of standard input.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
}

/// Parses a JSON object given on the command line (a usage error otherwise).
fn json_object(s: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(s) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("expected a JSON object such as '{\"key\":1}'".into()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// Parses any JSON value given on the command line (a usage error otherwise).
fn json_value(s: &str) -> Result<Value, String> {
    serde_json::from_str(s)
        .map_err(|e| format!("not valid JSON: {e} (a string needs its quotes: '\"text\"')"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn connection_options_go_before_the_verb_or_after_the_noun() {
        let cli = Cli::try_parse_from([
            "warrenctl",
            "--port",
            "1",
            "list",
            "queues",
            "--vhost",
            "v",
            "--format",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.conn.port, 1);
        assert_eq!(cli.conn.vhost, "v");
        assert_eq!(cli.conn.format, Format::Json);
    }

    #[test]
    fn declare_user_password_is_the_new_users() {
        let cli = Cli::try_parse_from([
            "warrenctl",
            "--password",
            "admin",
            "declare",
            "user",
            "--name",
            "u",
            "--password",
            "p",
        ])
        .unwrap();
        assert_eq!(cli.conn.password, "admin");
        let Verb::Declare {
            noun: DeclareNoun::User(u),
        } = cli.verb
        else {
            panic!("{:?}", cli.verb)
        };
        assert_eq!(u.password.as_deref(), Some("p"));
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("warrenctl").chain(args.iter().copied()))
    }

    #[test]
    fn the_cluster_name_is_shown_and_set() {
        let cli = parse(&["show", "cluster-name"]).unwrap();
        assert!(matches!(
            cli.verb,
            Verb::Show {
                noun: ShowNoun::ClusterName
            }
        ));
        let cli = parse(&["set", "cluster-name", "--name", "rabbit@x"]).unwrap();
        let Verb::Set {
            noun: SetNoun::ClusterName { name },
        } = cli.verb
        else {
            panic!("{:?}", cli.verb)
        };
        assert_eq!(name, "rabbit@x");
        assert!(parse(&["set", "cluster-name"]).is_err());
        assert!(parse(&["set", "cluster-name", "--name", ""]).is_err());
        assert!(parse(&["declare", "cluster-name", "--name", "x"]).is_err());
    }

    #[test]
    fn parameter_values_are_any_json() {
        let cli = parse(&[
            "declare",
            "parameter",
            "--component",
            "federation-upstream",
            "--name",
            "up",
            "--value",
            r#"{"uri":"amqp://remote"}"#,
            "--vhost",
            "v",
        ])
        .unwrap();
        assert_eq!(cli.conn.vhost, "v");
        let Verb::Declare {
            noun: DeclareNoun::Parameter(p),
        } = cli.verb
        else {
            panic!("{:?}", cli.verb)
        };
        assert_eq!(p.component, "federation-upstream");
        assert_eq!(p.name, "up");
        assert_eq!(p.value, serde_json::json!({"uri": "amqp://remote"}));

        for (given, value) in [
            (r#""text""#, serde_json::json!("text")),
            ("-1", serde_json::json!(-1)),
            ("[1,2]", serde_json::json!([1, 2])),
            ("null", Value::Null),
        ] {
            let cli = parse(&["declare", "global-parameter", "--name", "g", "--value", given]).unwrap();
            let Verb::Declare {
                noun: DeclareNoun::GlobalParameter(g),
            } = cli.verb
            else {
                panic!("{:?}", cli.verb)
            };
            assert_eq!(g.value, value, "{given}");
        }
    }

    #[test]
    fn a_value_that_is_not_json_is_a_usage_error() {
        let e = parse(&["declare", "global-parameter", "--name", "g", "--value", "text"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        assert!(e.use_stderr());
        let e = parse(&[
            "declare",
            "parameter",
            "--component",
            "shovel",
            "--name",
            "s",
            "--value",
            "{",
        ])
        .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(parse(&["declare", "parameter", "--name", "s", "--value", "1"]).is_err());
    }

    #[test]
    fn parameters_are_listed_all_or_by_component_and_deleted_by_component() {
        let cli = parse(&["list", "parameters"]).unwrap();
        assert!(matches!(
            cli.verb,
            Verb::List {
                noun: ListNoun::Parameters { component: None }
            }
        ));
        let cli = parse(&["list", "parameters", "--component", "shovel"]).unwrap();
        let Verb::List {
            noun: ListNoun::Parameters { component },
        } = cli.verb
        else {
            panic!("{:?}", cli.verb)
        };
        assert_eq!(component.as_deref(), Some("shovel"));
        assert!(parse(&["list", "global-parameters"]).is_ok());

        let cli = parse(&[
            "delete",
            "parameter",
            "--component",
            "shovel",
            "--name",
            "s",
            "--idempotently",
        ])
        .unwrap();
        let Verb::Delete {
            noun: DeleteNoun::Parameter(d),
        } = cli.verb
        else {
            panic!("{:?}", cli.verb)
        };
        assert_eq!((d.component.as_str(), d.name.as_str()), ("shovel", "s"));
        assert!(d.idem.idempotently);
        assert!(parse(&["delete", "parameter", "--name", "s"]).is_err());
        assert!(parse(&["delete", "global-parameter", "--name", "g"]).is_ok());
    }

    #[test]
    fn feature_flags_are_listed_and_enabled_and_deprecated_features_listed() {
        assert!(parse(&["list", "feature-flags"]).is_ok());
        let cli = parse(&["enable", "feature-flag", "--name", "quorum_queue"]).unwrap();
        let Verb::Enable {
            noun: EnableNoun::FeatureFlag { name },
        } = cli.verb
        else {
            panic!("{:?}", cli.verb)
        };
        assert_eq!(name, "quorum_queue");
        assert!(parse(&["enable", "feature-flag"]).is_err());
        assert!(parse(&["enable", "queue", "--name", "q"]).is_err());

        let used = |args: &[&str]| match parse(args).unwrap().verb {
            Verb::List {
                noun: ListNoun::DeprecatedFeatures { used },
            } => used,
            other => panic!("{other:?}"),
        };
        assert!(!used(&["list", "deprecated-features"]));
        assert!(used(&["list", "deprecated-features", "--used"]));
    }

    #[test]
    fn json_arguments_must_be_objects() {
        assert!(json_object(r#"{"x-max-length":10}"#).is_ok());
        assert!(json_object("[1]").is_err());
        assert!(json_object("{").is_err());
    }
}
