//! `basic.*` on the consuming side: qos, consume, cancel, get and recover;
//! and settling deliveries (ack, nack, reject), at once or at `tx.commit`.

use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::Arc;

use warren_broker::access::Perm;
use warren_broker::error::{self, AmqpError};
use warren_broker::vhost::REPLY_TO;
use warren_broker::{Consumer, Queue};
use warren_codec::protocol::basic;
use warren_codec::shortstr::truncated;
use warren_codec::{encode, AMQPClass};

use super::{ok, Channel, Ctx, PendingAck, Settle};
use crate::delivery::{ConsumerSink, Unacked};

impl Channel {
    pub(super) fn basic_method(
        &mut self,
        ctx: &mut Ctx,
        m: basic::AMQPMethod,
    ) -> Result<Option<AMQPClass>, AmqpError> {
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
                self.basic_get(ctx, q, g.no_ack)?;
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
            timeout: ctx.config.consumer_timeout,
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

    fn basic_get(&mut self, ctx: &mut Ctx, q: Arc<Queue>, no_ack: bool) -> Result<(), AmqpError> {
        let id = self.id();
        let frame_max = ctx.out.frame_max();
        // The queue's lock is taken before the channel's, as in dispatch.
        let got = q.get(!no_ack).map_err(|_| warren_broker::Unreadable::error(&q))?;
        let Some((entry, remaining)) = got else {
            self.shared.state.lock().get_empty += 1;
            let empty = AMQPClass::Basic(basic::AMQPMethod::GetEmpty(basic::GetEmpty {}));
            ctx.out.write(|b| encode::method(b, id, &empty));
            return Ok(());
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
            let timeout = crate::delivery::consumer_timeout(&q, ctx.config.consumer_timeout);
            let deadline = crate::delivery::deadline(ctx.vhost.clock.now_ms(), timeout);
            st.unacked.push_back(Unacked {
                tag,
                queue: q,
                entry,
                consumer: None,
                timeout,
                deadline,
            });
        }
        Ok(())
    }

    pub(super) fn settle(&mut self, tag: u64, multiple: bool, how: Settle) -> Result<(), AmqpError> {
        if let Some(tx) = &mut self.tx {
            tx.hold(std::mem::size_of::<PendingAck>() as u64)?;
            tx.acks.push(PendingAck {
                tag,
                multiple,
                settle: how,
            });
            return Ok(());
        }
        self.settle_now(tag, multiple, how)
    }

    pub(super) fn settle_now(&mut self, tag: u64, multiple: bool, how: Settle) -> Result<(), AmqpError> {
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
    pub(super) fn apply(&mut self, taken: Vec<Unacked>, how: Settle) {
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
}
