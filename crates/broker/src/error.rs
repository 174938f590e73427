//! Protocol errors with RabbitMQ's reply codes and texts.

/// An AMQP error: the reply code decides whether it closes the channel
/// (4xx) or the connection (5xx and 320).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {text}")]
pub struct AmqpError {
    pub code: u16,
    pub text: String,
}

pub const CONNECTION_FORCED: u16 = 320;
pub const NO_ROUTE: u16 = 312;
pub const ACCESS_REFUSED: u16 = 403;
pub const NOT_FOUND: u16 = 404;
pub const RESOURCE_LOCKED: u16 = 405;
pub const PRECONDITION_FAILED: u16 = 406;
pub const FRAME_ERROR: u16 = 501;
pub const SYNTAX_ERROR: u16 = 502;
pub const COMMAND_INVALID: u16 = 503;
pub const CHANNEL_ERROR: u16 = 504;
pub const UNEXPECTED_FRAME: u16 = 505;
pub const RESOURCE_ERROR: u16 = 506;
pub const NOT_ALLOWED: u16 = 530;
pub const NOT_IMPLEMENTED: u16 = 540;
pub const INTERNAL_ERROR: u16 = 541;

fn code_name(code: u16) -> &'static str {
    match code {
        CONNECTION_FORCED => "CONNECTION_FORCED",
        NO_ROUTE => "NO_ROUTE",
        ACCESS_REFUSED => "ACCESS_REFUSED",
        NOT_FOUND => "NOT_FOUND",
        RESOURCE_LOCKED => "RESOURCE_LOCKED",
        PRECONDITION_FAILED => "PRECONDITION_FAILED",
        FRAME_ERROR => "FRAME_ERROR",
        SYNTAX_ERROR => "SYNTAX_ERROR",
        COMMAND_INVALID => "COMMAND_INVALID",
        CHANNEL_ERROR => "CHANNEL_ERROR",
        UNEXPECTED_FRAME => "UNEXPECTED_FRAME",
        RESOURCE_ERROR => "RESOURCE_ERROR",
        NOT_ALLOWED => "NOT_ALLOWED",
        NOT_IMPLEMENTED => "NOT_IMPLEMENTED",
        _ => "INTERNAL_ERROR",
    }
}

impl AmqpError {
    /// Builds `NAME - detail`, as RabbitMQ writes reply texts.
    pub fn new(code: u16, detail: impl std::fmt::Display) -> Self {
        AmqpError {
            code,
            text: format!("{} - {}", code_name(code), detail),
        }
    }

    /// The text without its `NAME - ` prefix, as RabbitMQ's management API
    /// reports AMQP errors.
    pub fn detail(&self) -> &str {
        let name = code_name(self.code);
        self.text
            .strip_prefix(name)
            .and_then(|t| t.strip_prefix(" - "))
            .unwrap_or(&self.text)
    }

    /// Whether this error closes the whole connection rather than a channel.
    pub fn is_connection_error(&self) -> bool {
        self.code >= 500 || self.code == CONNECTION_FORCED
    }

    pub fn not_found(kind: &str, name: &str, vhost: &str) -> Self {
        Self::new(NOT_FOUND, format_args!("no {kind} '{name}' in vhost '{vhost}'"))
    }

    /// A durable object whose definition could not be stored: it would not
    /// exist after a restart, so its declare fails instead.
    pub fn unstored(kind: &str, name: &str, vhost: &str, e: &dyn std::fmt::Display) -> Self {
        tracing::error!("cannot store {kind} '{name}' in vhost '{vhost}': {e}");
        Self::new(
            INTERNAL_ERROR,
            format_args!("cannot store {kind} '{name}' in vhost '{vhost}'"),
        )
    }

    pub fn precondition(detail: impl std::fmt::Display) -> Self {
        Self::new(PRECONDITION_FAILED, detail)
    }

    pub fn access_refused(detail: impl std::fmt::Display) -> Self {
        Self::new(ACCESS_REFUSED, detail)
    }

    pub fn resource_locked(queue: &str, vhost: &str) -> Self {
        Self::new(
            RESOURCE_LOCKED,
            format_args!(
                "cannot obtain exclusive access to locked queue '{queue}' in vhost '{vhost}'. \
                 It could be originally declared on another connection or the exclusive property \
                 value does not match that of the original declaration."
            ),
        )
    }

    pub fn default_exchange() -> Self {
        Self::access_refused("operation not permitted on the default exchange")
    }

    pub fn command_invalid(detail: impl std::fmt::Display) -> Self {
        Self::new(COMMAND_INVALID, detail)
    }
}
