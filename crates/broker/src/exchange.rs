//! Exchanges and their bindings.
//!
//! Each exchange keeps its bindings in the shape its type routes by: a hash
//! of routing keys (direct), a plain list (fanout), a trie plus a result
//! cache (topic) or compiled matchers (headers).

use std::collections::HashMap;
use std::sync::Arc;

use amq_protocol::types::FieldTable;
use parking_lot::{Mutex, RwLock};
use warren_store::Ticket;

use crate::delayed::{DelayStore, DelayedSet, LogRef, Released};
use crate::headers::HeadersMatcher;
use crate::message::Message;
use crate::queue::Queue;
use crate::topic::TopicTrie;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    Direct,
    Fanout,
    Topic,
    Headers,
}

impl ExchangeKind {
    pub fn parse(s: &str) -> Option<ExchangeKind> {
        Some(match s {
            "direct" => ExchangeKind::Direct,
            "fanout" => ExchangeKind::Fanout,
            "topic" => ExchangeKind::Topic,
            "headers" => ExchangeKind::Headers,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Direct => "direct",
            ExchangeKind::Fanout => "fanout",
            ExchangeKind::Topic => "topic",
            ExchangeKind::Headers => "headers",
        }
    }
}

/// Where a binding leads.
#[derive(Clone)]
pub enum Dest {
    Queue(Arc<Queue>),
    Exchange(Arc<Exchange>),
}

impl Dest {
    pub fn name(&self) -> &str {
        match self {
            Dest::Queue(q) => &q.name,
            Dest::Exchange(x) => &x.name,
        }
    }

    pub fn same(&self, other: &Dest) -> bool {
        match (self, other) {
            (Dest::Queue(a), Dest::Queue(b)) => Arc::ptr_eq(a, b),
            (Dest::Exchange(a), Dest::Exchange(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[derive(Clone)]
pub struct Binding {
    pub dest: Dest,
    pub routing_key: String,
    pub arguments: FieldTable,
}

#[derive(Default)]
struct Bindings {
    list: Vec<Binding>,
    direct: HashMap<Box<[u8]>, Vec<Dest>>,
    topic: TopicTrie<Dest>,
    headers: Vec<(HeadersMatcher, Dest)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeOptions {
    pub durable: bool,
    pub auto_delete: bool,
    pub internal: bool,
    pub arguments: FieldTable,
}

pub struct Exchange {
    pub name: Arc<str>,
    /// How bindings route; for `x-delayed-message`, its `x-delayed-type`.
    pub kind: ExchangeKind,
    pub options: ExchangeOptions,
    /// `x-delayed-message`: messages waiting for their `x-delay`.
    pub delayed: Option<Mutex<DelayedSet>>,
    bindings: RwLock<Bindings>,
    /// Topic results by routing key; cleared whenever a binding changes.
    topic_cache: Mutex<TopicCache>,
    /// The policy that applies, if any.
    policy: RwLock<Option<Arc<crate::policy::Policy>>>,
    /// Messages published to it, and those it routed somewhere.
    pub stats: ExchangeStats,
}

/// An exchange's message counters, for management (`publish_in`,
/// `publish_out`). Channels add their counts in batches.
#[derive(Debug, Default)]
pub struct ExchangeStats {
    pub publish_in: std::sync::atomic::AtomicU64,
    pub publish_out: std::sync::atomic::AtomicU64,
    pub rates: crate::stats::RateMeter<2>,
}

impl ExchangeStats {
    pub fn add(&self, published: u64, routed: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.publish_in.fetch_add(published, Relaxed);
        self.publish_out.fetch_add(routed, Relaxed);
    }

    /// (publish_in, publish_out) counts and their rates per second.
    pub fn snapshot(&self) -> ([u64; 2], [f64; 2]) {
        use std::sync::atomic::Ordering::Relaxed;
        let counts = [self.publish_in.load(Relaxed), self.publish_out.load(Relaxed)];
        (counts, self.rates.rates(counts))
    }
}

/// Routing key to the destinations it reached.
type TopicCache = HashMap<Box<[u8]>, Arc<[Dest]>>;

const TOPIC_CACHE_MAX: usize = 4096;

impl Exchange {
    pub fn new(name: &str, kind: ExchangeKind, options: ExchangeOptions) -> Arc<Exchange> {
        Arc::new(Exchange {
            name: name.into(),
            kind,
            options,
            delayed: None,
            bindings: RwLock::new(Bindings::default()),
            topic_cache: Mutex::new(HashMap::new()),
            policy: RwLock::new(None),
            stats: ExchangeStats::default(),
        })
    }

    pub fn policy(&self) -> Option<Arc<crate::policy::Policy>> {
        self.policy.read().clone()
    }

    /// Applies the policy `select` picks, under the policy lock (see
    /// `Queue::apply_policy`).
    pub fn apply_policy(&self, select: impl FnOnce() -> Option<Arc<crate::policy::Policy>>) {
        let mut current = self.policy.write();
        *current = select();
    }

    /// The alternate exchange: the `alternate-exchange` argument, else the
    /// policy's (the argument wins, as in RabbitMQ).
    pub fn alternate_exchange(&self) -> Option<String> {
        self.options
            .arguments
            .inner()
            .get("alternate-exchange")
            .and_then(crate::args::string)
            .or_else(|| self.policy.read().as_ref()?.alternate_exchange())
    }

    /// An `x-delayed-message` exchange routing like `kind` once a message's
    /// `x-delay` has passed; `store` keeps its held messages on disk.
    pub fn new_delayed(
        name: &str,
        kind: ExchangeKind,
        options: ExchangeOptions,
        store: Option<DelayStore>,
    ) -> Arc<Exchange> {
        let mut x = Exchange::new(name, kind, options);
        if let Some(x) = Arc::get_mut(&mut x) {
            x.delayed = Some(Mutex::new(DelayedSet::new(store)));
        }
        x
    }

    /// The type name clients declared (`x-delayed-message` for delayed ones).
    pub fn type_name(&self) -> &'static str {
        if self.delayed.is_some() {
            "x-delayed-message"
        } else {
            self.kind.as_str()
        }
    }

    /// The id the message log knows a durable delayed exchange's held
    /// messages by.
    pub fn delayed_store_id(&self) -> Option<u32> {
        self.delayed.as_ref()?.lock().store_id()
    }

    /// Holds a message until clock time `due` (`due_unix`: the same time
    /// in Unix milliseconds). Returns the log ticket its confirm waits for,
    /// if it was written durably.
    pub fn delay(&self, msg: Arc<Message>, due: u64, due_unix: u64) -> Option<Ticket> {
        self.delayed.as_ref()?.lock().hold(msg, due, due_unix)
    }

    /// Takes the delayed messages whose time has come, earliest first.
    /// Settle each with [`Exchange::settle_delayed`] once it is routed.
    pub fn due(&self, now: u64) -> Vec<Released> {
        let Some(d) = &self.delayed else { return Vec::new() };
        d.lock().due(now)
    }

    pub fn settle_delayed(&self, log: LogRef) {
        if let Some(d) = &self.delayed {
            d.lock().settle(log);
        }
    }

    /// Adds a binding; binding twice is a no-op. Returns whether it is new,
    /// or an error text when the arguments are invalid for this exchange
    /// type.
    pub fn bind(&self, dest: Dest, routing_key: &str, arguments: FieldTable) -> Result<bool, String> {
        let mut b = self.bindings.write();
        if b.list
            .iter()
            .any(|x| x.dest.same(&dest) && x.routing_key == routing_key && x.arguments == arguments)
        {
            return Ok(false);
        }
        match self.kind {
            ExchangeKind::Direct => b
                .direct
                .entry(routing_key.as_bytes().into())
                .or_default()
                .push(dest.clone()),
            ExchangeKind::Topic => b.topic.insert(routing_key, dest.clone()),
            ExchangeKind::Headers => {
                let m = HeadersMatcher::compile(&arguments)?;
                b.headers.push((m, dest.clone()));
            }
            ExchangeKind::Fanout => {}
        }
        b.list.push(Binding {
            dest,
            routing_key: routing_key.to_string(),
            arguments,
        });
        self.topic_cache.lock().clear();
        Ok(true)
    }

    /// Whether exactly this binding exists.
    pub fn has_binding(&self, dest: &Dest, routing_key: &str, arguments: &FieldTable) -> bool {
        self.bindings
            .read()
            .list
            .iter()
            .any(|x| x.dest.same(dest) && x.routing_key == routing_key && &x.arguments == arguments)
    }

    /// Removes one binding; returns whether it existed.
    pub fn unbind(&self, dest: &Dest, routing_key: &str, arguments: &FieldTable) -> bool {
        let mut b = self.bindings.write();
        let Some(pos) = b
            .list
            .iter()
            .position(|x| x.dest.same(dest) && x.routing_key == routing_key && &x.arguments == arguments)
        else {
            return false;
        };
        b.list.remove(pos);
        let still_bound_by_key = |b: &Bindings| {
            b.list
                .iter()
                .any(|x| x.dest.same(dest) && x.routing_key == routing_key)
        };
        match self.kind {
            ExchangeKind::Direct => {
                if !still_bound_by_key(&b) {
                    if let Some(v) = b.direct.get_mut(routing_key.as_bytes()) {
                        v.retain(|d| !d.same(dest));
                        if v.is_empty() {
                            b.direct.remove(routing_key.as_bytes());
                        }
                    }
                }
            }
            ExchangeKind::Topic => {
                if !still_bound_by_key(&b) {
                    b.topic.remove(routing_key, |d| d.same(dest));
                }
            }
            ExchangeKind::Headers => {
                if let Ok(m) = HeadersMatcher::compile(arguments) {
                    if let Some(i) = b.headers.iter().position(|(hm, d)| d.same(dest) && *hm == m) {
                        b.headers.remove(i);
                    }
                }
            }
            ExchangeKind::Fanout => {}
        }
        self.topic_cache.lock().clear();
        true
    }

    /// Removes every binding to `dest` (it is being deleted).
    pub fn unbind_all(&self, dest: &Dest) -> Vec<Binding> {
        let doomed: Vec<Binding> = self
            .bindings
            .read()
            .list
            .iter()
            .filter(|b| b.dest.same(dest))
            .cloned()
            .collect();
        for b in &doomed {
            self.unbind(&b.dest, &b.routing_key, &b.arguments);
        }
        doomed
    }

    pub fn bindings(&self) -> Vec<Binding> {
        self.bindings.read().list.clone()
    }

    pub fn has_bindings(&self) -> bool {
        !self.bindings.read().list.is_empty()
    }

    /// Bytes held by the topic routing cache: keys, results and the
    /// table's own entries (an estimate; the table's spare room is not
    /// counted).
    pub fn cache_bytes(&self) -> u64 {
        // Two fat pointers per entry in the table, and Arc's counts.
        const ENTRY: usize = 4 * std::mem::size_of::<usize>() + 16;
        let cache = self.topic_cache.lock();
        let held: usize = cache
            .iter()
            .map(|(k, v)| ENTRY + k.len() + std::mem::size_of_val::<[Dest]>(v))
            .sum();
        held as u64
    }

    /// Appends the destinations a message with this routing key reaches
    /// through this exchange alone (no exchange-to-exchange hops).
    pub fn route(&self, routing_key: &[u8], headers: &dyn Fn() -> Option<FieldTable>, out: &mut Vec<Dest>) {
        let b = self.bindings.read();
        match self.kind {
            ExchangeKind::Direct => {
                if let Some(v) = b.direct.get(routing_key) {
                    out.extend(v.iter().cloned());
                }
            }
            ExchangeKind::Fanout => out.extend(b.list.iter().map(|x| x.dest.clone())),
            ExchangeKind::Topic => {
                if let Some(hit) = self.topic_cache.lock().get(routing_key) {
                    out.extend(hit.iter().cloned());
                    return;
                }
                let start = out.len();
                let key = String::from_utf8_lossy(routing_key);
                b.topic.matches(&key, out);
                let found: Arc<[Dest]> = out[start..].into();
                let mut cache = self.topic_cache.lock();
                if cache.len() >= TOPIC_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(routing_key.into(), found);
            }
            ExchangeKind::Headers => {
                if b.headers.is_empty() {
                    return;
                }
                let h = headers();
                out.extend(
                    b.headers
                        .iter()
                        .filter(|(m, _)| m.matches(h.as_ref()))
                        .map(|(_, d)| d.clone()),
                );
            }
        }
    }
}
