//! Declaring and deleting exchanges, with RabbitMQ's equivalence checks
//! and texts.

use std::sync::Arc;

use super::names::check_name_length;
use super::VHost;
use crate::delayed::DelayStore;
use crate::error::AmqpError;
use crate::exchange::{Dest, Exchange, ExchangeKind, ExchangeOptions};
use crate::persist::Persistence;
use warren_store::definitions::ExchangeDef;

impl VHost {
    pub fn declare_exchange(
        &self,
        name: &str,
        kind: &str,
        passive: bool,
        options: ExchangeOptions,
    ) -> Result<Arc<Exchange>, AmqpError> {
        self.declare_exchange_with(name, kind, passive, options, None)
    }

    /// Recreates a durable exchange at start, with the log id its delayed
    /// messages were stored under.
    pub fn restore_exchange(&self, def: &ExchangeDef) -> Result<Arc<Exchange>, AmqpError> {
        let options = ExchangeOptions {
            durable: true,
            auto_delete: def.auto_delete,
            internal: def.internal,
            arguments: def.arguments.clone(),
        };
        self.declare_exchange_with(&def.name, &def.kind, false, options, def.delayed_id)
    }

    fn declare_exchange_with(
        &self,
        name: &str,
        kind: &str,
        passive: bool,
        options: ExchangeOptions,
        delayed_id: Option<u32>,
    ) -> Result<Arc<Exchange>, AmqpError> {
        check_name_length("exchange", name)?;
        self.check_live()?;
        if passive {
            return self.find_exchange(name);
        }
        let invalid = || AmqpError::command_invalid(format_args!("unknown exchange type '{kind}'"));
        let (routing_kind, delayed) = if kind == "x-delayed-message" {
            let inner = options
                .arguments
                .inner()
                .get("x-delayed-type")
                .and_then(crate::args::string)
                .ok_or_else(|| {
                    AmqpError::precondition(
                        "Invalid argument, 'x-delayed-type' must be an existing exchange type",
                    )
                })?;
            let k = ExchangeKind::parse(&inner).ok_or_else(|| {
                AmqpError::precondition(
                    "Invalid argument, 'x-delayed-type' must be an existing exchange type",
                )
            })?;
            (k, true)
        } else {
            (ExchangeKind::parse(kind).ok_or_else(invalid)?, false)
        };
        if name.is_empty() {
            return Err(AmqpError::default_exchange());
        }
        let mut map = self.exchanges.write();
        if let Some(x) = map.get(name) {
            let ineq = |arg: &str, got: &dyn std::fmt::Display, cur: &dyn std::fmt::Display| {
                AmqpError::precondition(format_args!(
                    "inequivalent arg '{arg}' for exchange '{name}' in vhost '{}': received '{got}' but current is '{cur}'",
                    self.name
                ))
            };
            if x.type_name() != kind {
                return Err(ineq("type", &kind, &x.type_name()));
            }
            if x.options.durable != options.durable {
                return Err(ineq("durable", &options.durable, &x.options.durable));
            }
            if x.options.auto_delete != options.auto_delete {
                return Err(ineq("auto_delete", &options.auto_delete, &x.options.auto_delete));
            }
            if x.options.internal != options.internal {
                return Err(ineq("internal", &options.internal, &x.options.internal));
            }
            if let Some((key, detail)) =
                crate::args::inequivalent(&x.options.arguments, &options.arguments, &["alternate-exchange"])
            {
                return Err(AmqpError::precondition(format_args!(
                    "inequivalent arg '{key}' for exchange '{name}' in vhost '{}': {detail}",
                    self.name
                )));
            }
            return Ok(x.clone());
        }
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format_args!(
                "exchange name '{name}' contains reserved prefix 'amq.*'"
            )));
        }
        let options_durable = options.durable;
        let x = if delayed {
            Exchange::new_delayed(
                name,
                routing_kind,
                options,
                self.delay_store(name, delayed_id, options_durable)?,
            )
        } else {
            Exchange::new(name, routing_kind, options)
        };
        if let (Some(store), true) = (&self.store, x.options.durable) {
            store
                .defs
                .put_exchange(&Persistence::exchange_def(&self.name, &x))
                .map_err(|e| AmqpError::unstored("exchange", name, &self.name, &e))?;
        }
        self.apply_policy_to_exchange(&x);
        map.insert(name.to_string(), x.clone());
        Ok(x)
    }

    /// Where a delayed exchange keeps its held messages: a durable one
    /// under a log id of its own (`restored`, or a new one), a transient
    /// one only for spilling.
    fn delay_store(
        &self,
        name: &str,
        restored: Option<u32>,
        durable: bool,
    ) -> Result<Option<DelayStore>, AmqpError> {
        let Some(store) = &self.store else { return Ok(None) };
        let id = match (restored, durable) {
            (Some(id), _) => Some(id),
            (None, true) => Some(
                store
                    .defs
                    .next_queue_id()
                    .map_err(|e| AmqpError::unstored("exchange", name, &self.name, &e))?,
            ),
            (None, false) => None,
        };
        Ok(Some(DelayStore {
            store: store.clone(),
            id,
        }))
    }

    pub fn delete_exchange(&self, name: &str, if_unused: bool) -> Result<(), AmqpError> {
        if name.is_empty() {
            return Err(AmqpError::default_exchange());
        }
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format_args!(
                "deletion of system exchange '{name}' in vhost '{}' not allowed",
                self.name
            )));
        }
        let Some(x) = self.exchange(name) else {
            return Ok(());
        };
        if if_unused && (x.has_bindings() || self.exchange_is_destination(&x)) {
            return Err(AmqpError::precondition(format_args!(
                "exchange '{name}' in vhost '{}' in use",
                self.name
            )));
        }
        self.remove_exchange(&x);
        Ok(())
    }

    fn exchange_is_destination(&self, x: &Arc<Exchange>) -> bool {
        let me = Dest::Exchange(x.clone());
        self.exchanges()
            .iter()
            .any(|s| s.bindings().iter().any(|b| b.dest.same(&me)))
    }

    pub(super) fn remove_exchange(&self, x: &Arc<Exchange>) {
        self.exchanges.write().remove(&*x.name);
        if let Some(d) = &x.delayed {
            // Its held messages go with it, and their records with them.
            d.lock().discard();
        }
        let me = Dest::Exchange(x.clone());
        for other in self.exchanges() {
            for b in other.unbind_all(&me) {
                self.forget_binding(&other, &b);
            }
        }
        // Drop its own bindings so exchange-to-exchange cycles cannot leak.
        for b in x.bindings() {
            x.unbind(&b.dest, &b.routing_key, &b.arguments);
            self.forget_binding(x, &b);
        }
        if let (Some(store), true) = (&self.store, x.options.durable) {
            store.defs.delete_exchange(&self.name, &x.name);
        }
    }
}
