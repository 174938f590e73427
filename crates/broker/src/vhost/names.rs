//! Generated names (tokens, `amq.gen-` queue names) and the checks on
//! names clients and the management API choose.

use rand::Rng;

use crate::error::AmqpError;

/// 22 random URL-safe characters, as RabbitMQ's generated names have.
pub fn random_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `amq.gen-` and a random token, as RabbitMQ names queues.
/// Names travel as AMQP short strings; the management API and definitions
/// files could otherwise make longer ones.
pub(super) fn check_name_length(kind: &str, name: &str) -> Result<(), AmqpError> {
    if name.len() > 255 {
        return Err(AmqpError::precondition(format_args!(
            "{kind} name is longer than 255 bytes"
        )));
    }
    Ok(())
}

/// A server-generated queue name, as RabbitMQ makes them.
pub fn server_named() -> String {
    format!("amq.gen-{}", random_token())
}

/// `amq.` queue names belong to the broker: RabbitMQ refuses a client's
/// non-passive declare of one even when the queue exists (a server-named
/// queue is found again with a passive declare).
pub fn check_client_queue_name(name: &str) -> Result<(), AmqpError> {
    if name.starts_with("amq.") {
        return Err(AmqpError::access_refused(format_args!(
            "queue name '{name}' contains reserved prefix 'amq.*'"
        )));
    }
    Ok(())
}
