//! Errors found while decoding frames. Every one of them is a connection error.

/// A frame or method that could not be decoded. The server maps each to the
/// AMQP reply code RabbitMQ uses for it ([`FrameError::reply_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame size {size} exceeds frame_max {max}")]
    TooLarge { size: u32, max: u32 },
    #[error("frame end octet was {0:#04x}, expected 0xce")]
    BadFrameEnd(u8),
    #[error("unknown frame type {0}")]
    UnknownFrameType(u8),
    #[error("unknown class/method {class}/{method}")]
    UnknownMethod { class: u16, method: u16 },
    #[error("cannot decode the arguments of method {class}/{method}")]
    Undecodable { class: u16, method: u16 },
    #[error("malformed content header")]
    BadHeader,
    #[error("field table in method {class}/{method} nested deeper than {max} levels")]
    TooDeep { class: u16, method: u16, max: usize },
}

impl FrameError {
    /// The AMQP reply code for the `connection.close` this error causes.
    pub fn reply_code(&self) -> u16 {
        match self {
            FrameError::TooLarge { .. }
            | FrameError::BadFrameEnd(_)
            | FrameError::UnknownFrameType(_)
            | FrameError::BadHeader
            // RabbitMQ: "FRAME_ERROR - cannot decode <<...>>".
            | FrameError::Undecodable { .. } => 501,
            FrameError::TooDeep { .. } => 502,
            FrameError::UnknownMethod { .. } => 540,
        }
    }

    /// The method the `connection.close` names: the one that could not be
    /// decoded, as RabbitMQ names it, else none (0, 0).
    pub fn method_ids(&self) -> (u16, u16) {
        match *self {
            FrameError::Undecodable { class, method } | FrameError::TooDeep { class, method, .. } => {
                (class, method)
            }
            _ => (0, 0),
        }
    }

    /// The reply text, in RabbitMQ's `NAME - detail` form.
    pub fn reply_text(&self) -> String {
        let name = match self.reply_code() {
            501 => "FRAME_ERROR",
            502 => "SYNTAX_ERROR",
            _ => "NOT_IMPLEMENTED",
        };
        format!("{name} - {self}")
    }
}
