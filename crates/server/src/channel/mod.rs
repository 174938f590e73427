//! A channel's state machine: content assembly, one handler per AMQP method,
//! confirms and transactions. Owned by its connection's task.
//!
//! The `Channel` struct, frame handling with content assembly, the method
//! dispatch and teardown live here; the handlers are split by method group,
//! each file adding an `impl Channel` block:
//!
//! * `exchange`: `exchange.*`.
//! * `queue`: `queue.*`.
//! * `basic`: `basic.*` on the consuming side (qos, consume, cancel, get,
//!   recover) and settling deliveries (ack, nack, reject).
//! * `publish`: `basic.publish`, routing the message, publisher confirms
//!   and the publishing counters.
//! * `tx`: `tx.*`.

mod basic;
mod exchange;
mod publish;
mod queue;
mod tx;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use warren_broker::access::{Perm, Permissions};
use warren_broker::error::{self, AmqpError};
use warren_broker::stats::Counts;
use warren_broker::vhost::RouteScratch;
use warren_broker::{Exchange, Message, Queue, VHost};
use warren_codec::protocol::{channel, confirm};
use warren_codec::{encode, AMQPClass, Frame, Method, Properties, Publish};
use warren_store::Ticket;

use crate::delivery::{ChannelFaults, ChannelShared, ConsumerSink};
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
    /// The broker's settings: `max_message_size` and
    /// `max_transaction_size` are checked at content headers.
    pub config: &'a crate::Config,
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

/// A heartbeat frame on a channel other than 0: RabbitMQ's code and text
/// (the spec would say 501).
pub fn heartbeat_on_channel() -> AmqpError {
    AmqpError::new(error::UNEXPECTED_FRAME, "type 8, all octets = <<>>")
}

/// What an open transaction holds until commit, and how much it may hold.
struct Tx {
    publishes: Vec<PendingPublish>,
    acks: Vec<PendingAck>,
    /// Bytes held: bodies and properties, and each acknowledgement's entry.
    held: u64,
    /// [`crate::Config::max_transaction_size`].
    limit: u64,
}

impl Tx {
    fn new(limit: u64) -> Tx {
        Tx {
            publishes: Vec::new(),
            acks: Vec::new(),
            held: 0,
            limit,
        }
    }

    /// What the transaction holds, leaving it empty (commit, rollback).
    fn take(&mut self) -> Tx {
        std::mem::replace(self, Tx::new(self.limit))
    }

    /// Counts `bytes` more against the limit; past it the channel is
    /// closed (406), which discards the transaction.
    fn hold(&mut self, bytes: u64) -> Result<(), AmqpError> {
        self.held = self.held.saturating_add(bytes);
        if self.held > self.limit {
            return Err(AmqpError::precondition(format_args!(
                "transaction size {} is larger than configured max transaction size {}",
                self.held, self.limit
            )));
        }
        Ok(())
    }
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
    pub fn new(id: u16, out: Arc<Outbound>, faults: Arc<ChannelFaults>) -> Channel {
        Channel {
            shared: ChannelShared::new(id, out, faults),
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
                // Refused from the declared size, before any body byte is
                // buffered (RabbitMQ reads the whole body first).
                if body_size > ctx.config.max_message_size {
                    return Err(AmqpError::precondition(format_args!(
                        "message size {body_size} is larger than configured max size {}",
                        ctx.config.max_message_size
                    )));
                }
                if let Some(tx) = &mut self.tx {
                    // Before the body is buffered, like the size check.
                    tx.hold(body_size + properties.len() as u64)?;
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
            Frame::Heartbeat { .. } => Err(heartbeat_on_channel()),
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
