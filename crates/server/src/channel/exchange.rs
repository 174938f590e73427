//! `exchange.*`: declare, delete, bind and unbind.

use warren_broker::access::Perm;
use warren_broker::error::AmqpError;
use warren_broker::exchange::ExchangeOptions;
use warren_codec::protocol::exchange;
use warren_codec::AMQPClass;

use super::{check_topic_bind, Channel, Ctx};

impl Channel {
    pub(super) fn exchange_method(
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
}
