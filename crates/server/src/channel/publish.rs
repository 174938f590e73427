//! `basic.publish`: the write checks, the completed message (direct
//! reply-to), routing it into queues (or holding it for `tx.commit`),
//! `basic.return`, publisher confirms, and the publishing counters.

use std::sync::Arc;

use bytes::Bytes;
use warren_broker::access::Perm;
use warren_broker::error::{self, AmqpError};
use warren_broker::vhost::REPLY_TO;
use warren_broker::{Exchange, Message};
use warren_codec::protocol::tx;
use warren_codec::{encode, AMQPClass, Properties, Publish};
use warren_store::{MessageLog, Ticket};

use super::{utf8, Channel, Content, Ctx, PendingPublish};
use crate::outbound::Outbound;

impl Channel {
    pub(super) fn basic_publish(&mut self, ctx: &mut Ctx, p: Publish) -> Result<(), AmqpError> {
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

    pub(super) fn publish_complete(
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
        if !ctx.perms.topic.is_empty() && props.has_headers() {
            // CC and BCC keys route like the routing key, so RabbitMQ
            // checks them against topic permissions too.
            let headers = props.headers(&properties).unwrap_or_default();
            for key in warren_broker::vhost::sender_selected_keys(&headers) {
                ctx.perms.check_topic(Perm::Write, &exchange, &key)?;
            }
        }
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
    pub(super) fn enqueue(&mut self, ctx: &mut Ctx, p: PendingPublish) {
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
    /// nacks. Persistent ones the log failed to write or sync are nacked:
    /// they may still reach their queues, but no confirm promises it. Also
    /// completes a `tx.commit` that waited for the log, or refuses it (the
    /// error closes the channel). Returns the ticket still awaited, if any
    /// (the connection waits for it).
    pub fn flush_confirms(
        &mut self,
        out: &Outbound,
        log: Option<&MessageLog>,
    ) -> Result<Option<Ticket>, AmqpError> {
        let (synced, failed) = log.map_or((Ticket::MAX, 0), |l| (l.synced(), l.failed()));
        let id = self.shared.id;
        let mut waiting = None;
        if let Some(t) = self.commit_pending {
            if t <= synced {
                self.commit_pending = None;
                let ok = AMQPClass::Tx(tx::AMQPMethod::CommitOk(tx::CommitOk {}));
                out.write(|b| encode::method(b, id, &ok));
            } else if t <= failed {
                self.commit_pending = None;
                return Err(AmqpError::new(
                    error::INTERNAL_ERROR,
                    "the message store could not write the transaction's messages to disk",
                ));
            } else {
                waiting = Some(t);
            }
        }
        let Some(c) = &mut self.confirms else {
            return Ok(waiting);
        };
        while c.durable.front().is_some_and(|(_, t)| *t <= synced) {
            c.durable.pop_front();
        }
        // Tickets are in publish order, so the refused ones come next.
        let refused_from = c.nacks.len();
        while let Some(&(seq, _)) = c.durable.front().filter(|(_, t)| *t <= failed) {
            c.nacks.push(seq);
            c.durable.pop_front();
        }
        if c.nacks.len() > refused_from {
            c.nacks.sort_unstable();
        }
        let to = match c.durable.front() {
            Some((seq, _)) => seq - 1,
            None => c.published,
        };
        if let Some((_, t)) = c.durable.back() {
            waiting = waiting.max(Some(*t));
        }
        if to <= c.confirmed {
            return Ok(waiting);
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
        Ok(waiting)
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
}
