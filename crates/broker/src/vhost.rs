//! A virtual host: its exchanges and queues, and RabbitMQ's rules for
//! declaring, binding and deleting them.

use std::collections::HashMap;
use std::sync::Arc;

use amq_protocol::types::{AMQPValue, FieldTable};
use parking_lot::RwLock;
use rand::Rng;

use crate::error::AmqpError;
use crate::exchange::{Binding, Dest, Exchange, ExchangeKind, ExchangeOptions};
use crate::queue::{Queue, QueueOptions};

pub struct VHost {
    pub name: Arc<str>,
    exchanges: RwLock<HashMap<String, Arc<Exchange>>>,
    queues: RwLock<HashMap<String, Arc<Queue>>>,
}

/// What `queue.declare` found or made.
pub struct Declared {
    pub queue: Arc<Queue>,
    pub created: bool,
}

fn describe(v: &AMQPValue) -> String {
    match v {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_string(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(n) => n.to_string(),
        AMQPValue::ShortShortUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        AMQPValue::ShortUInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

impl VHost {
    pub fn new(name: &str) -> VHost {
        let v = VHost {
            name: name.into(),
            exchanges: RwLock::new(HashMap::new()),
            queues: RwLock::new(HashMap::new()),
        };
        let durable = ExchangeOptions {
            durable: true,
            auto_delete: false,
            internal: false,
            arguments: FieldTable::default(),
        };
        for (n, k) in [
            ("", ExchangeKind::Direct),
            ("amq.direct", ExchangeKind::Direct),
            ("amq.fanout", ExchangeKind::Fanout),
            ("amq.topic", ExchangeKind::Topic),
            ("amq.headers", ExchangeKind::Headers),
            ("amq.match", ExchangeKind::Headers),
        ] {
            v.exchanges
                .write()
                .insert(n.to_string(), Exchange::new(n, k, durable.clone()));
        }
        v
    }

    pub fn exchange(&self, name: &str) -> Option<Arc<Exchange>> {
        self.exchanges.read().get(name).cloned()
    }

    pub fn exchanges(&self) -> Vec<Arc<Exchange>> {
        self.exchanges.read().values().cloned().collect()
    }

    pub fn queues(&self) -> Vec<Arc<Queue>> {
        self.queues.read().values().cloned().collect()
    }

    fn not_found_exchange(&self, name: &str) -> AmqpError {
        AmqpError::not_found("exchange", name, &self.name)
    }

    fn not_found_queue(&self, name: &str) -> AmqpError {
        AmqpError::not_found("queue", name, &self.name)
    }

    /// Looks up an exchange for use, 404 when it does not exist.
    pub fn find_exchange(&self, name: &str) -> Result<Arc<Exchange>, AmqpError> {
        self.exchange(name).ok_or_else(|| self.not_found_exchange(name))
    }

    /// Looks up a queue for use by `connection`: 404 when missing, 405 when
    /// another connection owns it exclusively.
    pub fn find_queue(&self, name: &str, connection: u64) -> Result<Arc<Queue>, AmqpError> {
        let q = self
            .queues
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found_queue(name))?;
        if !q.accessible_by(connection) {
            return Err(AmqpError::resource_locked(name, &self.name));
        }
        Ok(q)
    }

    pub fn declare_exchange(
        &self,
        name: &str,
        kind: &str,
        passive: bool,
        options: ExchangeOptions,
    ) -> Result<Arc<Exchange>, AmqpError> {
        if passive {
            if name.is_empty() {
                return self.find_exchange(name);
            }
            return self.find_exchange(name);
        }
        let kind = ExchangeKind::parse(kind)
            .ok_or_else(|| AmqpError::command_invalid(format_args!("invalid exchange type '{kind}'")))?;
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
            if x.kind != kind {
                return Err(ineq("type", &kind.as_str(), &x.kind.as_str()));
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
            if let Some(e) = inequivalent_args(&x.options.arguments, &options.arguments) {
                return Err(AmqpError::precondition(format_args!(
                    "inequivalent arg '{e}' for exchange '{name}' in vhost '{}'",
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
        let x = Exchange::new(name, kind, options);
        map.insert(name.to_string(), x.clone());
        Ok(x)
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

    fn remove_exchange(&self, x: &Arc<Exchange>) {
        self.exchanges.write().remove(&*x.name);
        let me = Dest::Exchange(x.clone());
        for other in self.exchanges() {
            other.unbind_all(&me);
        }
        // Drop its own bindings so exchange-to-exchange cycles cannot leak.
        for b in x.bindings() {
            x.unbind(&b.dest, &b.routing_key, &b.arguments);
        }
    }

    /// Deletes an auto-delete exchange that just lost its last binding.
    fn auto_delete_exchange(&self, x: &Arc<Exchange>) {
        if x.options.auto_delete && !x.has_bindings() {
            self.remove_exchange(x);
        }
    }

    pub fn declare_queue(
        &self,
        name: &str,
        passive: bool,
        options: QueueOptions,
        connection: u64,
    ) -> Result<Declared, AmqpError> {
        if passive {
            if name.is_empty() {
                return Err(self.not_found_queue(name));
            }
            let queue = self.find_queue(name, connection)?;
            return Ok(Declared {
                queue,
                created: false,
            });
        }
        let name = if name.is_empty() {
            server_named()
        } else {
            name.to_string()
        };
        let mut map = self.queues.write();
        if let Some(q) = map.get(&name) {
            if !q.accessible_by(connection) || q.is_exclusive() != options.exclusive_owner.is_some() {
                return Err(AmqpError::resource_locked(&name, &self.name));
            }
            let ineq = |arg: &str, got: bool, cur: bool| {
                AmqpError::precondition(format_args!(
                    "inequivalent arg '{arg}' for queue '{name}' in vhost '{}': received '{got}' but current is '{cur}'",
                    self.name
                ))
            };
            if q.options.durable != options.durable {
                return Err(ineq("durable", options.durable, q.options.durable));
            }
            if q.options.auto_delete != options.auto_delete {
                return Err(ineq("auto_delete", options.auto_delete, q.options.auto_delete));
            }
            if let Some(e) = inequivalent_args(&q.options.arguments, &options.arguments) {
                return Err(AmqpError::precondition(format_args!(
                    "inequivalent arg '{e}' for queue '{name}' in vhost '{}'",
                    self.name
                )));
            }
            return Ok(Declared {
                queue: q.clone(),
                created: false,
            });
        }
        if name.starts_with("amq.") && !name.starts_with("amq.gen-") {
            return Err(AmqpError::access_refused(format_args!(
                "queue name '{name}' contains reserved prefix 'amq.*'"
            )));
        }
        let q = Queue::new(&name, &self.name, options);
        map.insert(name, q.clone());
        Ok(Declared {
            queue: q,
            created: true,
        })
    }

    pub fn delete_queue(
        &self,
        name: &str,
        if_unused: bool,
        if_empty: bool,
        connection: u64,
    ) -> Result<u32, AmqpError> {
        let q = match self.find_queue(name, connection) {
            Ok(q) => q,
            Err(e) if e.code == crate::error::NOT_FOUND => return Ok(0),
            Err(e) => return Err(e),
        };
        if if_unused && q.consumer_count() > 0 {
            return Err(AmqpError::precondition(format_args!(
                "queue '{name}' in vhost '{}' in use",
                self.name
            )));
        }
        if if_empty && q.message_count() > 0 {
            return Err(AmqpError::precondition(format_args!(
                "queue '{name}' in vhost '{}' is not empty",
                self.name
            )));
        }
        Ok(self.remove_queue(&q))
    }

    /// Removes a queue and its bindings; returns its ready message count.
    pub fn remove_queue(&self, q: &Arc<Queue>) -> u32 {
        {
            let mut map = self.queues.write();
            match map.get(&*q.name) {
                Some(cur) if Arc::ptr_eq(cur, q) => {
                    map.remove(&*q.name);
                }
                _ => return 0,
            }
        }
        let me = Dest::Queue(q.clone());
        for x in self.exchanges() {
            if x.unbind_all(&me) > 0 {
                self.auto_delete_exchange(&x);
            }
        }
        q.delete()
    }

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
        let q = self.find_queue(queue, connection)?;
        let x = self.check_bindable(exchange)?;
        x.bind(Dest::Queue(q), routing_key, arguments)
            .map_err(AmqpError::precondition)
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
        if x.unbind(&Dest::Queue(q), routing_key, arguments) {
            self.auto_delete_exchange(&x);
        }
        Ok(())
    }

    pub fn bind_exchange(
        &self,
        destination: &str,
        source: &str,
        routing_key: &str,
        arguments: FieldTable,
    ) -> Result<(), AmqpError> {
        let d = self.check_bindable(destination)?;
        let s = self.check_bindable(source)?;
        s.bind(Dest::Exchange(d), routing_key, arguments)
            .map_err(AmqpError::precondition)
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
        if s.unbind(&Dest::Exchange(d), routing_key, arguments) {
            self.auto_delete_exchange(&s);
        }
        Ok(())
    }

    /// Every binding in the vhost, by source exchange.
    pub fn bindings(&self) -> Vec<(Arc<str>, Binding)> {
        self.exchanges()
            .into_iter()
            .flat_map(|x| x.bindings().into_iter().map(move |b| (x.name.clone(), b)))
            .collect()
    }

    /// Finds the queues a message reaches from `exchange`, following
    /// exchange-to-exchange bindings once each. `out` holds each queue once.
    pub fn route(
        &self,
        exchange: &Arc<Exchange>,
        routing_key: &[u8],
        headers: &dyn Fn() -> Option<FieldTable>,
        scratch: &mut Vec<Dest>,
        out: &mut Vec<Arc<Queue>>,
    ) {
        out.clear();
        if exchange.name.is_empty() {
            if let Ok(key) = std::str::from_utf8(routing_key) {
                if let Some(q) = self.queues.read().get(key) {
                    out.push(q.clone());
                }
            }
            return;
        }
        scratch.clear();
        exchange.route(routing_key, headers, scratch);
        let mut visited: Vec<*const Exchange> = Vec::new();
        while let Some(d) = scratch.pop() {
            match d {
                Dest::Queue(q) => out.push(q),
                Dest::Exchange(x) => {
                    let p = Arc::as_ptr(&x);
                    if p != Arc::as_ptr(exchange) && !visited.contains(&p) {
                        visited.push(p);
                        x.route(routing_key, headers, scratch);
                    }
                }
            }
        }
        if out.len() > 1 {
            out.sort_unstable_by_key(|q| Arc::as_ptr(q) as usize);
            out.dedup_by(|a, b| Arc::ptr_eq(a, b));
        }
    }
}

/// Names the first argument that differs between two declarations.
fn inequivalent_args(current: &FieldTable, received: &FieldTable) -> Option<String> {
    let (c, r) = (current.inner(), received.inner());
    for (k, v) in r {
        match c.get(k) {
            Some(cv) if cv == v => {}
            Some(cv) => {
                return Some(format!(
                    "{k}' received '{}' but current is '{}",
                    describe(v),
                    describe(cv)
                ))
            }
            None => return Some(format!("{k}' received '{}' but current is 'none", describe(v))),
        }
    }
    c.keys()
        .find(|k| !r.contains_key(*k))
        .map(|k| format!("{k}' received 'none' but current is '{}", describe(&c[k])))
}

/// `amq.gen-` and 22 URL-safe characters, as RabbitMQ names queues.
fn server_named() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    let suffix: String = (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("amq.gen-{suffix}")
}
