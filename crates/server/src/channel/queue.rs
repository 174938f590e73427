//! `queue.*`: declare, bind, unbind, purge and delete, and the channel's
//! last declared queue that `""` names.

use warren_broker::access::Perm;
use warren_broker::error::{self, AmqpError};
use warren_broker::queue::QueueOptions;
use warren_codec::protocol::queue;
use warren_codec::shortstr::truncated;
use warren_codec::AMQPClass;

use super::{check_topic_bind, Channel, Ctx};

impl Channel {
    /// `""` names the queue last declared on this channel, as in RabbitMQ.
    pub(super) fn queue_name(&self, name: &str) -> Result<String, AmqpError> {
        if !name.is_empty() {
            return Ok(name.to_string());
        }
        self.last_queue
            .clone()
            .ok_or_else(|| AmqpError::new(error::NOT_FOUND, "no previously declared queue"))
    }

    pub(super) fn queue_method(
        &mut self,
        ctx: &mut Ctx,
        m: queue::AMQPMethod,
    ) -> Result<Option<AMQPClass>, AmqpError> {
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
                if ctx.config.panic_on_declare.as_deref() == Some(name.as_str()) {
                    panic!("fault injected: queue.declare of '{name}'");
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
}
