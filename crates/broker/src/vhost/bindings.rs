//! Binding and unbinding queues and exchanges, the bindings listing, the
//! stored copies of durable bindings, and the deletion of an auto-delete
//! exchange that lost its last binding.

use std::sync::Arc;

use amq_protocol::types::FieldTable;

use super::VHost;
use crate::error::AmqpError;
use crate::exchange::{Binding, Dest, Exchange};
use crate::persist::Persistence;

impl VHost {
    fn check_bindable(&self, exchange: &str) -> Result<Arc<Exchange>, AmqpError> {
        if exchange.is_empty() {
            return Err(AmqpError::default_exchange());
        }
        self.find_exchange(exchange)
    }

    pub fn bind_queue(
        &self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
        arguments: FieldTable,
        connection: u64,
    ) -> Result<(), AmqpError> {
        self.check_live()?;
        let q = self.find_queue(queue, connection)?;
        let x = self.check_bindable(exchange)?;
        self.bind(&x, Dest::Queue(q), routing_key, arguments)
    }

    fn bind(
        &self,
        x: &Arc<Exchange>,
        dest: Dest,
        routing_key: &str,
        arguments: FieldTable,
    ) -> Result<(), AmqpError> {
        let b = Binding {
            dest,
            routing_key: routing_key.to_string(),
            arguments,
        };
        x.bind(b.dest.clone(), routing_key, b.arguments.clone())
            .map_err(AmqpError::precondition)?;
        self.remember_binding(x, &b);
        Ok(())
    }

    fn unbind(&self, x: &Arc<Exchange>, dest: Dest, routing_key: &str, arguments: &FieldTable) {
        if x.unbind(&dest, routing_key, arguments) {
            let b = Binding {
                dest,
                routing_key: routing_key.to_string(),
                arguments: arguments.clone(),
            };
            self.forget_binding(x, &b);
            self.auto_delete_exchange(x);
        }
    }

    pub fn unbind_queue(
        &self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
        arguments: &FieldTable,
        connection: u64,
    ) -> Result<(), AmqpError> {
        let q = self.find_queue(queue, connection)?;
        let x = self.check_bindable(exchange)?;
        self.unbind(&x, Dest::Queue(q), routing_key, arguments);
        Ok(())
    }

    pub fn bind_exchange(
        &self,
        destination: &str,
        source: &str,
        routing_key: &str,
        arguments: FieldTable,
    ) -> Result<(), AmqpError> {
        self.check_live()?;
        let d = self.check_bindable(destination)?;
        let s = self.check_bindable(source)?;
        self.bind(&s, Dest::Exchange(d), routing_key, arguments)
    }

    pub fn unbind_exchange(
        &self,
        destination: &str,
        source: &str,
        routing_key: &str,
        arguments: &FieldTable,
    ) -> Result<(), AmqpError> {
        let d = self.check_bindable(destination)?;
        let s = self.check_bindable(source)?;
        self.unbind(&s, Dest::Exchange(d), routing_key, arguments);
        Ok(())
    }

    /// Every binding in the vhost, by source exchange.
    pub fn bindings(&self) -> Vec<(Arc<str>, Binding)> {
        self.exchanges()
            .into_iter()
            .flat_map(|x| x.bindings().into_iter().map(move |b| (x.name.clone(), b)))
            .collect()
    }

    fn remember_binding(&self, source: &Exchange, b: &Binding) {
        if let Some(store) = &self.store {
            if let Some(def) = Persistence::binding_def(&self.name, source, b) {
                store.defs.put_binding(&def);
            }
        }
    }

    pub(super) fn forget_binding(&self, source: &Exchange, b: &Binding) {
        if let Some(store) = &self.store {
            if let Some(def) = Persistence::binding_def(&self.name, source, b) {
                store.defs.delete_binding(&def);
            }
        }
    }

    /// Deletes an auto-delete exchange that just lost its last binding.
    pub(super) fn auto_delete_exchange(&self, x: &Arc<Exchange>) {
        if x.options.auto_delete && !x.has_bindings() {
            self.remove_exchange(x);
        }
    }
}
