//! Topic permissions (RabbitMQ's topic authorisation): per user, vhost and
//! topic exchange, which routing keys the user may publish with (`write`)
//! and bind with (`read`). `{username}` and `{vhost}` in an expression are
//! replaced by the user's name and the vhost. Only topic exchanges are
//! checked, and an exchange without a topic permission allows every key.

use std::collections::HashMap;

use warren_store::definitions::TopicPermissionDef;

use crate::access::{Pattern, Perm};
use crate::error::AmqpError;
use crate::exchange::{Exchange, ExchangeKind};

/// A user's topic permissions in one vhost, compiled, by exchange.
#[derive(Default)]
pub struct TopicRules {
    by_exchange: HashMap<String, (Pattern, Pattern)>,
}

/// `{username}` and `{vhost}` replaced, as RabbitMQ expands them.
fn expand(source: &str, user: &str, vhost: &str) -> String {
    source.replace("{username}", user).replace("{vhost}", vhost)
}

impl TopicRules {
    /// Compiles the permissions of one user in one vhost; an expression
    /// that does not compile was refused when it was set.
    pub fn new<'a>(defs: impl IntoIterator<Item = &'a TopicPermissionDef>) -> TopicRules {
        let mut by_exchange = HashMap::new();
        for d in defs {
            let compile = |s: &str| Pattern::new(&expand(s, &d.user, &d.vhost));
            match (compile(&d.write), compile(&d.read)) {
                (Ok(w), Ok(r)) => {
                    by_exchange.insert(d.exchange.clone(), (w, r));
                }
                _ => tracing::warn!("topic permission of {} on {} not compiled", d.user, d.exchange),
            }
        }
        TopicRules { by_exchange }
    }

    pub fn is_empty(&self) -> bool {
        self.by_exchange.is_empty()
    }

    /// `perm` (write to publish, read to bind) for `routing_key` on `x`, or
    /// 403 with RabbitMQ's text.
    pub fn check(
        &self,
        perm: Perm,
        x: &Exchange,
        routing_key: &str,
        user: &str,
        vhost: &str,
    ) -> Result<(), AmqpError> {
        if x.kind != ExchangeKind::Topic || x.delayed.is_some() {
            return Ok(());
        }
        let Some((write, read)) = self.by_exchange.get(&*x.name) else {
            return Ok(());
        };
        let pattern = if perm == Perm::Write { write } else { read };
        if pattern.matches(routing_key) {
            return Ok(());
        }
        Err(AmqpError::access_refused(format_args!(
            "access to topic '{routing_key}' in exchange '{}' in vhost '{vhost}' refused for user '{user}'",
            x.name
        )))
    }
}

/// Checks the expressions of a topic permission as they will be used.
pub fn validate(def: &TopicPermissionDef) -> Result<(), regex::Error> {
    Pattern::new(&expand(&def.write, &def.user, &def.vhost))?;
    Pattern::new(&expand(&def.read, &def.user, &def.vhost))?;
    Ok(())
}
