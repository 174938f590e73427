//! A channel's state machine: content assembly, one handler per AMQP method,
//! confirms and transactions. Owned by its connection's task.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use warren_broker::access::{Perm, Permissions};
use warren_broker::error::{self, AmqpError};
use warren_broker::exchange::ExchangeOptions;
use warren_broker::queue::QueueOptions;
use warren_broker::stats::Counts;
use warren_broker::vhost::{RouteScratch, REPLY_TO};
use warren_broker::{Consumer, Exchange, Message, Queue, VHost};
use warren_codec::protocol::{basic, channel, confirm, exchange, queue, tx};
use warren_codec::shortstr::truncated;
use warren_codec::{encode, AMQPClass, Frame, Method, Properties, Publish};
use warren_store::{MessageLog, Ticket};

use crate::delivery::{ChannelShared, ConsumerSink, Unacked};
use crate::outbound::Outbound;

/// What the connection lends a channel while it handles a frame.
pub struct Ctx<'a> {
    /// The user's permissions in the vhost, checked before each operation.
    pub perms: &'a Permissions,
    pub perms_generation: u64,
    pub vhost: &'a Arc<VHost>,
    pub conn_id: u64,
    pub out: &'a Arc<Outbound>,
    pub exclusive_queues: &'a mut Vec<Arc<Queue>>,
}

/// Content assembly: `Idle -> Header -> Body { remaining }`.
enum Content {
    Idle,
    Header(Publish, Arc<Exchange>),
    Body {
        publish: Publish,
        exchange: Arc<Exchange>,
        properties: Bytes,
        props: Properties,
        remaining: u64,
        body: Body,
    },
}

/// A body that arrived in one frame is kept as that frame's slice.
enum Body {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Body {
    fn push(&mut self, part: Bytes) {
        *self = match std::mem::replace(self, Body::Empty) {
            Body::Empty => Body::One(part),
            Body::One(first) => {
                let mut m = BytesMut::with_capacity(first.len() + part.len());
                m.extend_from_slice(&first);
                m.extend_from_slice(&part);
                Body::Many(m)
            }
            Body::Many(mut m) => {
                m.extend_from_slice(&part);
                Body::Many(m)
            }
        }
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Body::Empty => Bytes::new(),
            Body::One(b) => b,
            Body::Many(m) => m.freeze(),
        }
    }
}

/// A publish held back by a transaction until commit.
struct PendingPublish {
    exchange: Arc<Exchange>,
    msg: Arc<Message>,
    mandatory: bool,
}

enum Settle {
    Ack,
    Requeue,
    Drop,
}

/// An acknowledgement held back by a transaction until commit.
struct PendingAck {
    tag: u64,
    multiple: bool,
    settle: Settle,
}

#[derive(Default)]
struct Tx {
    publishes: Vec<PendingPublish>,
    acks: Vec<PendingAck>,
}

/// Publisher confirms: sequence numbers assigned and confirmed so far, and
/// those to be nacked (a queue refused them).
#[derive(Default)]
struct Confirms {
    published: u64,
    confirmed: u64,
    nacks: Vec<u64>,
    /// Publishes written to the message log: (sequence, ticket), in order.
    /// Each is confirmed only once its ticket is synced.
    durable: VecDeque<(u64, Ticket)>,
}

pub struct Channel {
    pub shared: Arc<ChannelShared>,
    content: Content,
    consumers: HashMap<Arc<str>, (Arc<Queue>, Arc<ConsumerSink>)>,
    prefetch: u32,
    last_queue: Option<String>,
    confirms: Option<Confirms>,
    tx: Option<Tx>,
    /// The server sent `channel.close` and waits for `close-ok`.
    pub closing: bool,
    scratch: RouteScratch,
    /// A queue this channel published to that asked publishers to pause.
    pub congested: Option<Arc<Queue>>,
    /// The direct reply-to pseudo-queue this channel consumes from.
    reply_queue: Option<Arc<Queue>>,
    /// A `tx.commit` whose persistent messages are not yet synced.
    commit_pending: Option<Ticket>,
    /// The newest log ticket of a message this channel published.
    last_ticket: Ticket,
    /// The exchange last allowed by the write check, and the permissions
    /// generation it was checked under.
    write_allowed: Option<(Box<str>, u64)>,
    /// Message counts not yet added to the broker's totals.
    pub counts: Counts,
    /// The exchange last published to, with the messages published and
    /// routed since they were last added to its counters.
    exchange_counts: Option<(Arc<Exchange>, u64, u64)>,
}

fn ok(m: AMQPClass) -> Result<Option<AMQPClass>, AmqpError> {
    Ok(Some(m))
}

fn utf8(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Channel {
    pub fn new(id: u16, out: Arc<Outbound>) -> Channel {
        Channel {
            shared: ChannelShared::new(id, out),
            content: Content::Idle,
            consumers: HashMap::new(),
            prefetch: 0,
            last_queue: None,
            confirms: None,
            tx: None,
            closing: false,
            scratch: RouteScratch::default(),
            congested: None,
            reply_queue: None,
            commit_pending: None,
            last_ticket: 0,
            write_allowed: None,
            counts: Counts::default(),
            exchange_counts: None,
        }
    }

    pub fn id(&self) -> u16 {
        self.shared.id
    }

    /// Handles one frame. Errors carry their scope in their reply code.
    pub fn handle(&mut self, ctx: &mut Ctx, frame: Frame) -> Result<(), AmqpError> {
        match frame {
            Frame::Method { method, .. } => {
                if !matches!(self.content, Content::Idle) {
                    return Err(AmqpError::new(
                        error::UNEXPECTED_FRAME,
                        "expected content header for class 60, got non content header frame instead",
                    ));
                }
                self.method(ctx, method)
            }
            Frame::Header {
                class_id,
                body_size,
                properties,
                ..
            } => {
                let Content::Header(publish, exchange) = std::mem::replace(&mut self.content, Content::Idle)
                else {
                    return Err(AmqpError::new(
                        error::UNEXPECTED_FRAME,
                        "expected method frame, got non method frame instead",
                    ));
                };
                if class_id != 60 {
                    return Err(AmqpError::new(
                        error::FRAME_ERROR,
                        format_args!("content header class {class_id} does not match method class 60"),
                    ));
                }
                let props = Properties::parse(&properties)
                    .map_err(|_| AmqpError::new(error::FRAME_ERROR, "malformed content properties"))?;
                if body_size == 0 {
                    self.publish_complete(ctx, publish, exchange, properties, props, Bytes::new())?;
                } else {
                    self.content = Content::Body {
                        publish,
                        exchange,
                        properties,
                        props,
                        remaining: body_size,
                        body: Body::Empty,
                    };
                }
                Ok(())
            }
            Frame::Body { payload, .. } => {
                let Content::Body { remaining, body, .. } = &mut self.content else {
                    return Err(AmqpError::new(
                        error::UNEXPECTED_FRAME,
                        "expected method frame, got non method frame instead",
                    ));
                };
                let left = remaining.checked_sub(payload.len() as u64).ok_or_else(|| {
                    AmqpError::new(
                        error::FRAME_ERROR,
                        "content body is larger than the declared body size",
                    )
                })?;
                *remaining = left;
                body.push(payload);
                if left == 0 {
                    if let Content::Body {
                        publish,
                        exchange,
                        properties,
                        props,
                        body,
                        ..
                    } = std::mem::replace(&mut self.content, Content::Idle)
                    {
                        self.publish_complete(ctx, publish, exchange, properties, props, body.into_bytes())?;
                    }
                }
                Ok(())
            }
            Frame::Heartbeat { .. } => Err(AmqpError::new(
                error::FRAME_ERROR,
                "heartbeat on a non-zero channel",
            )),
        }
    }

    fn method(&mut self, ctx: &mut Ctx, method: Method) -> Result<(), AmqpError> {
        let reply = match method {
            Method::Publish(p) => return self.basic_publish(ctx, p),
            Method::Ack {
                delivery_tag,
                multiple,
            } => return self.settle(delivery_tag, multiple, Settle::Ack),
            Method::Nack {
                delivery_tag,
                multiple,
                requeue,
            } => {
                let how = if requeue { Settle::Requeue } else { Settle::Drop };
                return self.settle(delivery_tag, multiple, how);
            }
            Method::Reject {
                delivery_tag,
                requeue,
            } => {
                let how = if requeue { Settle::Requeue } else { Settle::Drop };
                return self.settle(delivery_tag, false, how);
            }
            Method::Other(m) => self.other(ctx, *m)?,
        };
        if let Some(reply) = reply {
            let id = self.id();
            ctx.out.write(|b| encode::method(b, id, &reply));
        }
        Ok(())
    }

    fn other(&mut self, ctx: &mut Ctx, m: AMQPClass) -> Result<Option<AMQPClass>, AmqpError> {
        use AMQPClass as C;
        match m {
            C::Channel(channel::AMQPMethod::Flow(f)) => {
                self.shared.state.lock().paused = !f.active;
                if f.active {
                    self.kick_consumers();
                }
                ok(C::Channel(channel::AMQPMethod::FlowOk(channel::FlowOk {
                    active: f.active,
                })))
            }
            C::Channel(channel::AMQPMethod::FlowOk(_)) => Ok(None),
            C::Exchange(m) => self.exchange_method(ctx, m),
            C::Queue(m) => self.queue_method(ctx, m),
            C::Basic(m) => self.basic_method(ctx, m),
            C::Confirm(confirm::AMQPMethod::Select(s)) => {
                if self.tx.is_some() {
                    return Err(AmqpError::precondition("cannot switch from tx to confirm mode"));
                }
                self.confirms.get_or_insert_with(Confirms::default);
                self.shared.mode.store(1, std::sync::atomic::Ordering::Relaxed);
                if s.nowait {
                    Ok(None)
                } else {
                    ok(C::Confirm(confirm::AMQPMethod::SelectOk(confirm::SelectOk {})))
                }
            }
            C::Tx(m) => self.tx_method(ctx, m),
            other => Err(AmqpError::new(
                error::COMMAND_INVALID,
                format_args!(
                    "unexpected method {}.{} on a channel",
                    other.get_amqp_class_id(),
                    other.get_amqp_method_id()
                ),
            )),
        }
    }

    fn exchange_method(
        &mut self,
        ctx: &mut Ctx,
        m: exchange::AMQPMethod,
    ) -> Result<Option<AMQPClass>, AmqpError> {
        use exchange::AMQPMethod as E;
        let vhost = ctx.vhost;
        let perms = ctx.perms;
        let (reply, nowait) = match m {
            E::Declare(d) => {
                if !d.passive {
                    perms.check_exchange_declare(d.exchange.as_str(), &d.arguments)?;
                }
                vhost.declare_exchange(
                    d.exchange.as_str(),
                    d.kind.as_str(),
                    d.passive,
                    ExchangeOptions {
                        durable: d.durable,
                        auto_delete: d.auto_delete,
                        internal: d.internal,
                        arguments: d.arguments,
                    },
                )?;
                (E::DeclareOk(exchange::DeclareOk {}), d.nowait)
            }
            E::Delete(d) => {
                perms.check(Perm::Configure, "exchange", d.exchange.as_str())?;
                vhost.delete_exchange(d.exchange.as_str(), d.if_unused)?;
                (E::DeleteOk(exchange::DeleteOk {}), d.nowait)
            }
            E::Bind(b) => {
                perms.check_bind("exchange", b.destination.as_str(), b.source.as_str())?;
                check_topic_bind(perms, vhost, b.source.as_str(), b.routing_key.as_str())?;
                vhost.bind_exchange(
                    b.destination.as_str(),
                    b.source.as_str(),
                    b.routing_key.as_str(),
                    b.arguments,
                )?;
                (E::BindOk(exchange::BindOk {}), b.nowait)
            }
            E::Unbind(b) => {
                perms.check_bind("exchange", b.destination.as_str(), b.source.as_str())?;
                check_topic_bind(perms, vhost, b.source.as_str(), b.routing_key.as_str())?;
                vhost.unbind_exchange(
                    b.destination.as_str(),
                    b.source.as_str(),
                    b.routing_key.as_str(),
                    &b.arguments,
                )?;
                (E::UnbindOk(exchange::UnbindOk {}), b.nowait)
            }
            _ => {
                return Err(AmqpError::command_invalid(
                    "unexpected exchange method from client",
                ))
            }
        };
        Ok((!nowait).then_some(AMQPClass::Exchange(reply)))
    }

    /// `""` names the queue last declared on this channel, as in RabbitMQ.
    fn queue_name(&self, name: &str) -> Result<String, AmqpError> {
        if !name.is_empty() {
            return Ok(name.to_string());
        }
        self.last_queue
            .clone()
            .ok_or_else(|| AmqpError::not_found("queue", "", "/"))
    }

    fn queue_method(&mut self, ctx: &mut Ctx, m: queue::AMQPMethod) -> Result<Option<AMQPClass>, AmqpError> {
        use queue::AMQPMethod as Q;
        let vhost = ctx.vhost;
        let (reply, nowait) = match m {
            Q::Declare(d) => {
                let name = d.queue.as_str();
                let name = if d.passive && name.is_empty() {
                    self.queue_name(name)?
                } else if name.is_empty() {
                    // Named here so the permission check sees the real name.
                    warren_broker::vhost::server_named()
                } else {
                    if !d.passive {
                        warren_broker::vhost::check_client_queue_name(name)?;
                    }
                    name.to_string()
                };
                if !d.passive {
                    ctx.perms.check_queue_declare(&name, &d.arguments)?;
                }
                let declared = vhost.declare_queue(
                    &name,
                    d.passive,
                    QueueOptions {
                        durable: d.durable,
                        auto_delete: d.auto_delete,
                        exclusive_owner: d.exclusive.then_some(ctx.conn_id),
                        arguments: d.arguments,
                    },
                    ctx.conn_id,
                )?;
                let q = declared.queue;
                if declared.created && q.is_exclusive() {
                    ctx.exclusive_queues.push(q.clone());
                }
                self.last_queue = Some(q.name.to_string());
                (
                    Q::DeclareOk(queue::DeclareOk {
                        queue: truncated(&q.name),
                        message_count: q.message_count(),
                        consumer_count: q.consumer_count(),
                    }),
                    d.nowait,
                )
            }
            Q::Bind(b) => {
                let name = self.queue_name(b.queue.as_str())?;
                ctx.perms.check_bind("queue", &name, b.exchange.as_str())?;
                check_topic_bind(ctx.perms, vhost, b.exchange.as_str(), b.routing_key.as_str())?;
                vhost.bind_queue(
                    &name,
                    b.exchange.as_str(),
                    b.routing_key.as_str(),
                    b.arguments,
                    ctx.conn_id,
                )?;
                (Q::BindOk(queue::BindOk {}), b.nowait)
            }
            Q::Unbind(b) => {
                let name = self.queue_name(b.queue.as_str())?;
                ctx.perms.check_bind("queue", &name, b.exchange.as_str())?;
                check_topic_bind(ctx.perms, vhost, b.exchange.as_str(), b.routing_key.as_str())?;
                vhost.unbind_queue(
                    &name,
                    b.exchange.as_str(),
                    b.routing_key.as_str(),
                    &b.arguments,
                    ctx.conn_id,
                )?;
                (Q::UnbindOk(queue::UnbindOk {}), false)
            }
            Q::Purge(p) => {
                let name = self.queue_name(p.queue.as_str())?;
                ctx.perms.check(Perm::Read, "queue", &name)?;
                let n = vhost.find_queue(&name, ctx.conn_id)?.purge();
                (Q::PurgeOk(queue::PurgeOk { message_count: n }), p.nowait)
            }
            Q::Delete(d) => {
                let name = self.queue_name(d.queue.as_str())?;
                ctx.perms.check(Perm::Configure, "queue", &name)?;
                let n = vhost.delete_queue(&name, d.if_unused, d.if_empty, ctx.conn_id)?;
                ctx.exclusive_queues.retain(|q| *q.name != *name);
                (Q::DeleteOk(queue::DeleteOk { message_count: n }), d.nowait)
            }
            _ => return Err(AmqpError::command_invalid("unexpected queue method from client")),
        };
        Ok((!nowait).then_some(AMQPClass::Queue(reply)))
    }

    fn basic_method(&mut self, ctx: &mut Ctx, m: basic::AMQPMethod) -> Result<Option<AMQPClass>, AmqpError> {
        use basic::AMQPMethod as B;
        match m {
            B::Qos(q) => {
                if q.global {
                    self.shared.state.lock().global_prefetch = u32::from(q.prefetch_count);
                    self.kick_consumers();
                } else {
                    self.prefetch = u32::from(q.prefetch_count);
                    self.shared
                        .prefetch
                        .store(self.prefetch, std::sync::atomic::Ordering::Relaxed);
                }
                ok(AMQPClass::Basic(B::QosOk(basic::QosOk {})))
            }
            B::Consume(c) => self.basic_consume(ctx, c),
            B::Cancel(c) => {
                let tag = c.consumer_tag.as_str();
                if let Some((q, sink)) = self.consumers.remove(tag) {
                    self.consumers_changed();
                    sink.cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
                    self.detach(ctx.vhost, &q, tag, ctx.conn_id);
                }
                if c.nowait {
                    Ok(None)
                } else {
                    ok(AMQPClass::Basic(B::CancelOk(basic::CancelOk {
                        consumer_tag: c.consumer_tag,
                    })))
                }
            }
            B::Get(g) => {
                let name = self.queue_name(g.queue.as_str())?;
                ctx.perms.check(Perm::Read, "queue", &name)?;
                let q = ctx.vhost.find_queue(&name, ctx.conn_id)?;
                self.basic_get(ctx, q, g.no_ack);
                Ok(None)
            }
            B::Recover(_) => {
                // recover-ok goes out before the redeliveries, as clients
                // (lapin) expect. Unacked messages are always requeued:
                // RabbitMQ treats requeue=false the same way.
                let id = self.id();
                let reply = AMQPClass::Basic(B::RecoverOk(basic::RecoverOk {}));
                ctx.out.write(|b| encode::method(b, id, &reply));
                self.recover();
                Ok(None)
            }
            B::RecoverAsync(_) => {
                self.recover();
                Ok(None)
            }
            _ => Err(AmqpError::command_invalid("unexpected basic method from client")),
        }
    }

    fn basic_consume(&mut self, ctx: &mut Ctx, c: basic::Consume) -> Result<Option<AMQPClass>, AmqpError> {
        let q = if c.queue.as_str() == REPLY_TO {
            if !c.no_ack {
                return Err(AmqpError::precondition("reply consumer cannot acknowledge"));
            }
            if self.reply_queue.is_some() {
                return Err(AmqpError::precondition("reply consumer already set"));
            }
            let q = ctx.vhost.add_reply_queue(ctx.conn_id);
            self.reply_queue = Some(q.clone());
            q
        } else {
            let name = self.queue_name(c.queue.as_str())?;
            ctx.perms.check(Perm::Read, "queue", &name)?;
            ctx.vhost.find_queue(&name, ctx.conn_id)?
        };
        let tag: Arc<str> = if c.consumer_tag.as_str().is_empty() {
            format!("amq.ctag-{}", warren_broker::vhost::random_token()).into()
        } else {
            c.consumer_tag.as_str().into()
        };
        if self.consumers.contains_key(&tag) {
            return Err(AmqpError::new(
                error::NOT_ALLOWED,
                format_args!("attempt to reuse consumer tag '{tag}'"),
            ));
        }
        if (c.exclusive && q.consumer_count() > 0) || q.has_exclusive_consumer() {
            return Err(AmqpError::access_refused(format_args!(
                "queue '{}' in vhost '{}' in exclusive use",
                q.name, ctx.vhost.name
            )));
        }
        let priority = match c.arguments.inner().get("x-priority") {
            None => 0,
            Some(v) => warren_broker::args::int(v)
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| {
                    AmqpError::precondition(format_args!(
                        "invalid arg 'x-priority' for consumer '{tag}': {{unacceptable_type,{}}}",
                        warren_broker::args::type_name(v)
                    ))
                })?,
        };
        let sink = Arc::new(ConsumerSink {
            tag: tag.clone(),
            channel: self.shared.clone(),
            no_ack: c.no_ack,
            prefetch: self.prefetch,
            unacked: Arc::new(AtomicU32::new(0)),
            cancelled: AtomicBool::new(false),
        });
        self.consumers.insert(tag.clone(), (q.clone(), sink.clone()));
        self.consumers_changed();
        if !c.nowait {
            let reply = AMQPClass::Basic(basic::AMQPMethod::ConsumeOk(basic::ConsumeOk {
                consumer_tag: truncated(&tag),
            }));
            let id = self.id();
            ctx.out.write(|b| encode::method(b, id, &reply));
        }
        // consume-ok is already in the buffer, so deliveries follow it.
        q.add_consumer(Arc::new(Consumer {
            tag,
            exclusive: c.exclusive,
            priority,
            connection: ctx.conn_id,
            sink,
        }));
        Ok(None)
    }

    fn basic_get(&mut self, ctx: &mut Ctx, q: Arc<Queue>, no_ack: bool) {
        let id = self.id();
        let frame_max = ctx.out.frame_max();
        // The queue's lock is taken before the channel's, as in dispatch.
        let Some((entry, remaining)) = q.get(!no_ack) else {
            self.shared.state.lock().get_empty += 1;
            let empty = AMQPClass::Basic(basic::AMQPMethod::GetEmpty(basic::GetEmpty {}));
            ctx.out.write(|b| encode::method(b, id, &empty));
            return;
        };
        let mut st = self.shared.state.lock();
        st.delivered += 1;
        if no_ack {
            st.get_no_ack += 1;
        } else {
            st.get += 1;
        }
        st.redeliver += u64::from(entry.redelivered);
        let tag = st.tag();
        ctx.out.write(|b| {
            let m = &entry.msg;
            encode::get_ok(
                b,
                id,
                tag,
                entry.redelivered,
                &m.exchange,
                &m.routing_key,
                remaining,
            );
            encode::content(b, id, &m.properties, &m.body, frame_max);
        });
        if !no_ack {
            st.unacked.push_back(Unacked {
                tag,
                queue: q,
                entry,
                consumer: None,
            });
        }
    }

    fn basic_publish(&mut self, ctx: &mut Ctx, p: Publish) -> Result<(), AmqpError> {
        let name = std::str::from_utf8(&p.exchange)
            .map_err(|_| AmqpError::not_found("exchange", &utf8(&p.exchange), &ctx.vhost.name))?;
        // The last exchange that passed the write check is remembered: a
        // publisher usually publishes to one exchange again and again.
        let generation = ctx.perms_generation;
        if self
            .write_allowed
            .as_ref()
            .is_none_or(|(n, g)| **n != *name || *g != generation)
        {
            ctx.perms.check(Perm::Write, "exchange", name)?;
            self.write_allowed = Some((name.into(), generation));
        }
        let x = ctx.vhost.publishable_exchange(name)?;
        // Topic permissions depend on each message's routing key.
        if !ctx.perms.topic.is_empty() {
            let key = String::from_utf8_lossy(&p.routing_key);
            ctx.perms.check_topic(Perm::Write, &x, &key)?;
        }
        if p.immediate {
            return Err(AmqpError::new(error::NOT_IMPLEMENTED, "immediate=true"));
        }
        self.content = Content::Header(p, x);
        Ok(())
    }

    fn publish_complete(
        &mut self,
        ctx: &mut Ctx,
        publish: Publish,
        exchange: Arc<Exchange>,
        mut properties: Bytes,
        props: Properties,
        body: Bytes,
    ) -> Result<(), AmqpError> {
        let expiration_ms = props
            .expiration(&properties)
            .map(warren_broker::message::parse_expiration)
            .transpose()
            .map_err(AmqpError::precondition)?;
        warren_broker::access::check_user_id(props.user_id(&properties), &ctx.perms.user)?;
        if props.reply_to(&properties) == Some(REPLY_TO.as_bytes()) {
            // Direct reply-to: name this channel's pseudo-queue instead.
            let q = self
                .reply_queue
                .as_ref()
                .ok_or_else(|| AmqpError::precondition("fast reply consumer does not exist"))?;
            let name = q.name.to_string();
            if let Some(b) = warren_codec::properties::rewrite(&properties, |p| {
                *p = p.clone().with_reply_to(name.as_str().into());
            }) {
                properties = b;
            }
        }
        let msg = Arc::new(Message {
            exchange: publish.exchange,
            routing_key: publish.routing_key,
            properties,
            body,
            persistent: props.persistent(),
            priority: props.priority.unwrap_or(0),
            expiration_ms,
            has_headers: props.has_headers(),
            store_id: 0,
        });
        let pending = PendingPublish {
            exchange,
            msg,
            mandatory: publish.mandatory,
        };
        match &mut self.tx {
            Some(tx) => tx.publishes.push(pending),
            None => self.enqueue(ctx, pending),
        }
        Ok(())
    }

    /// Routes a message and appends it to every queue it reaches; an
    /// unroutable mandatory message goes back with `basic.return`.
    fn enqueue(&mut self, ctx: &mut Ctx, p: PendingPublish) {
        let routed = ctx.vhost.publish(&p.exchange, p.msg.clone(), &mut self.scratch);
        self.counts.received += 1;
        self.counts.received_confirm += u64::from(self.confirms.is_some());
        let routed_somewhere = u64::from(routed.queues > 0);
        match &mut self.exchange_counts {
            Some((x, published, out)) if Arc::ptr_eq(x, &p.exchange) => {
                *published += 1;
                *out += routed_somewhere;
            }
            other => {
                if let Some((x, published, out)) = other.take() {
                    x.stats.add(published, out);
                }
                *other = Some((p.exchange.clone(), 1, routed_somewhere));
            }
        }
        match (routed.queues, p.mandatory) {
            (0, true) => self.counts.unroutable_returned += 1,
            (0, false) => self.counts.unroutable_dropped += 1,
            _ => self.counts.routed += 1,
        }
        if routed.queues == 0 && p.mandatory {
            let id = self.id();
            let frame_max = ctx.out.frame_max();
            ctx.out.write(|b| {
                encode::basic_return(
                    b,
                    id,
                    error::NO_ROUTE,
                    "NO_ROUTE",
                    &p.msg.exchange,
                    &p.msg.routing_key,
                );
                encode::content(b, id, &p.msg.properties, &p.msg.body, frame_max);
            });
        }
        if let Some(c) = &mut self.confirms {
            c.published += 1;
            if routed.rejected {
                c.nacks.push(c.published);
            }
            if let Some(t) = routed.ticket {
                c.durable.push_back((c.published, t));
            }
        }
        if let Some(t) = routed.ticket {
            self.last_ticket = self.last_ticket.max(t);
        }
        if self.congested.is_none() {
            self.congested = routed.congested;
        }
    }

    /// Sends confirms for everything published since the last flush whose
    /// data is safe: transient messages at once, persistent ones once the
    /// log has synced them. One `basic.ack multiple` covers each run between
    /// nacks. Also completes a `tx.commit` that waited for the log. Returns
    /// the ticket still awaited, if any (the connection waits for it).
    pub fn flush_confirms(&mut self, out: &Outbound, log: Option<&MessageLog>) -> Option<Ticket> {
        let synced = log.map_or(Ticket::MAX, |l| l.synced());
        let id = self.shared.id;
        let mut waiting = None;
        if let Some(t) = self.commit_pending {
            if t <= synced {
                self.commit_pending = None;
                let ok = AMQPClass::Tx(tx::AMQPMethod::CommitOk(tx::CommitOk {}));
                out.write(|b| encode::method(b, id, &ok));
            } else {
                waiting = Some(t);
            }
        }
        let Some(c) = &mut self.confirms else {
            return waiting;
        };
        while c.durable.front().is_some_and(|(_, t)| *t <= synced) {
            c.durable.pop_front();
        }
        let to = match c.durable.front() {
            Some((seq, _)) => seq - 1,
            None => c.published,
        };
        if let Some((_, t)) = c.durable.back() {
            waiting = waiting.max(Some(*t));
        }
        if to <= c.confirmed {
            return waiting;
        }
        let from = c.confirmed;
        c.confirmed = to;
        self.counts.confirmed += to - from;
        let (nacks, later): (Vec<u64>, Vec<u64>) = c.nacks.iter().partition(|n| **n <= to);
        c.nacks = later;
        out.write(|b| {
            // Acks for the runs between nacks, each run with one frame.
            let mut done = from;
            for n in nacks {
                if n > done + 1 {
                    encode::ack(b, id, n - 1, n - 1 - done > 1);
                }
                encode::nack(b, id, n, false);
                done = n;
            }
            if to > done {
                encode::ack(b, id, to, to - done > 1);
            }
        });
        waiting
    }

    fn settle(&mut self, tag: u64, multiple: bool, how: Settle) -> Result<(), AmqpError> {
        if let Some(tx) = &mut self.tx {
            tx.acks.push(PendingAck {
                tag,
                multiple,
                settle: how,
            });
            return Ok(());
        }
        self.settle_now(tag, multiple, how)
    }

    fn settle_now(&mut self, tag: u64, multiple: bool, how: Settle) -> Result<(), AmqpError> {
        let taken = {
            let mut st = self.shared.state.lock();
            let taken = st
                .take(tag, multiple)
                .ok_or_else(|| AmqpError::precondition(format_args!("unknown delivery tag {tag}")))?;
            if matches!(how, Settle::Ack) {
                st.acked += taken.len() as u64;
            }
            taken
        };
        self.apply(taken, how);
        Ok(())
    }

    /// Acknowledges, requeues or drops settled messages, one queue lock per
    /// run of messages from the same queue, then lets consumers use the
    /// credit that came back.
    fn apply(&mut self, taken: Vec<Unacked>, how: Settle) {
        let mut queues: Vec<Arc<Queue>> = Vec::new();
        let mut run: Vec<Unacked> = Vec::new();
        let mut flush = |run: &mut Vec<Unacked>| {
            let Some(first) = run.first() else { return };
            let q = first.queue.clone();
            match how {
                Settle::Requeue => q.requeue(run.drain(..).map(|u| u.entry)),
                Settle::Drop => q.discard(run.drain(..).map(|u| u.entry)),
                Settle::Ack => {
                    q.acked(run.iter().map(|u| &u.entry));
                    run.clear();
                }
            }
            if !queues.iter().any(|x| Arc::ptr_eq(x, &q)) {
                queues.push(q);
            }
        };
        for u in taken {
            if run.first().is_some_and(|f| !Arc::ptr_eq(&f.queue, &u.queue)) {
                flush(&mut run);
            }
            run.push(u);
        }
        flush(&mut run);
        for q in queues {
            q.dispatch();
        }
        if self.shared.state.lock().global_prefetch > 0 {
            self.kick_consumers();
        }
    }

    fn recover(&mut self) {
        let all = self.shared.state.lock().take_all();
        self.apply(all, Settle::Requeue);
    }

    /// Adds the counts gathered since the last call to the broker's and the
    /// exchange's counters (once per batch of frames).
    pub fn flush_counts(&mut self, stats: &warren_broker::stats::GlobalStats) {
        let c = &self.counts;
        let mine = &self.shared.publishing;
        for (total, n) in [
            (&mine.published, c.received),
            (&mine.confirmed, c.confirmed),
            (&mine.returned, c.unroutable_returned),
            (&mine.dropped, c.unroutable_dropped),
        ] {
            if n > 0 {
                total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            }
        }
        stats.add(&mut self.counts);
        if let Some((x, published, out)) = &mut self.exchange_counts {
            if *published > 0 {
                x.stats.add(*published, *out);
                *published = 0;
                *out = 0;
            }
        }
    }

    fn consumers_changed(&self) {
        self.shared
            .consumers
            .store(self.consumers.len() as u32, std::sync::atomic::Ordering::Relaxed);
    }

    fn kick_consumers(&self) {
        for (q, _) in self.consumers.values() {
            q.dispatch();
        }
    }

    fn tx_method(&mut self, ctx: &mut Ctx, m: tx::AMQPMethod) -> Result<Option<AMQPClass>, AmqpError> {
        use tx::AMQPMethod as T;
        let reply = match m {
            T::Select(_) => {
                if self.confirms.is_some() {
                    return Err(AmqpError::precondition("cannot switch from confirm to tx mode"));
                }
                self.tx.get_or_insert_with(Tx::default);
                self.shared.mode.store(2, std::sync::atomic::Ordering::Relaxed);
                T::SelectOk(tx::SelectOk {})
            }
            T::Commit(_) => {
                let tx = self
                    .tx
                    .replace(Tx::default())
                    .ok_or_else(|| AmqpError::precondition("channel is not transactional"))?;
                let before = self.last_ticket;
                for p in tx.publishes {
                    self.enqueue(ctx, p);
                }
                for a in tx.acks {
                    self.settle_now(a.tag, a.multiple, a.settle)?;
                }
                if self.last_ticket > before {
                    // commit-ok once the persistent messages are on disk.
                    self.commit_pending = Some(self.last_ticket);
                    return Ok(None);
                }
                T::CommitOk(tx::CommitOk {})
            }
            T::Rollback(_) => {
                if self.tx.replace(Tx::default()).is_none() {
                    return Err(AmqpError::precondition("channel is not transactional"));
                }
                T::RollbackOk(tx::RollbackOk {})
            }
            _ => return Err(AmqpError::command_invalid("unexpected tx method from client")),
        };
        ok(AMQPClass::Tx(reply))
    }

    /// Takes a consumer off its queue; deletes an auto-delete queue that
    /// lost its last consumer, and the direct reply-to pseudo-queue.
    fn detach(&mut self, vhost: &VHost, q: &Arc<Queue>, tag: &str, conn_id: u64) {
        let last = q.remove_consumer(tag, conn_id);
        if self.reply_queue.as_ref().is_some_and(|r| Arc::ptr_eq(r, q)) {
            self.reply_queue = None;
            vhost.remove_reply_queue(q);
        } else if last {
            vhost.remove_queue(q);
        }
    }

    /// Closes the channel's side: consumers detach, unacked messages go back
    /// to their queues, marked redelivered.
    pub fn teardown(&mut self, vhost: &VHost, conn_id: u64) {
        // The connection adds counts after each batch of frames; a channel
        // closing within the batch adds its own.
        self.flush_counts(&vhost.stats);
        let unacked = {
            let mut st = self.shared.state.lock();
            st.closed = true;
            st.take_all()
        };
        let consumers: Vec<_> = self.consumers.drain().collect();
        self.consumers_changed();
        for (tag, (q, sink)) in consumers {
            sink.cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
            self.detach(vhost, &q, &tag, conn_id);
        }
        self.content = Content::Idle;
        self.tx = None;
        self.apply(unacked, Settle::Requeue);
    }
}

/// Binding to (or unbinding from) a topic exchange needs the topic read
/// permission for the binding key; a missing exchange is left to the bind
/// itself to report.
fn check_topic_bind(perms: &Permissions, vhost: &VHost, source: &str, key: &str) -> Result<(), AmqpError> {
    if perms.topic.is_empty() {
        return Ok(());
    }
    match vhost.exchange(source) {
        Some(x) => perms.check_topic(Perm::Read, &x, key),
        None => Ok(()),
    }
}
