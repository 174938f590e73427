//! `tx.*`: select, commit (publishes and acknowledgements held back until
//! then; commit-ok waits for the log to sync persistent messages) and
//! rollback.

use warren_broker::error::AmqpError;
use warren_codec::protocol::tx;
use warren_codec::AMQPClass;

use super::{ok, Channel, Ctx, Tx};

impl Channel {
    pub(super) fn tx_method(
        &mut self,
        ctx: &mut Ctx,
        m: tx::AMQPMethod,
    ) -> Result<Option<AMQPClass>, AmqpError> {
        use tx::AMQPMethod as T;
        let reply = match m {
            T::Select(_) => {
                if self.confirms.is_some() {
                    return Err(AmqpError::precondition("cannot switch from confirm to tx mode"));
                }
                self.tx
                    .get_or_insert_with(|| Tx::new(ctx.config.max_transaction_size));
                self.shared.mode.store(2, std::sync::atomic::Ordering::Relaxed);
                T::SelectOk(tx::SelectOk {})
            }
            T::Commit(_) => {
                let tx = self
                    .tx
                    .as_mut()
                    .map(Tx::take)
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
                self.tx
                    .as_mut()
                    .map(Tx::take)
                    .ok_or_else(|| AmqpError::precondition("channel is not transactional"))?;
                T::RollbackOk(tx::RollbackOk {})
            }
            _ => return Err(AmqpError::command_invalid("unexpected tx method from client")),
        };
        ok(AMQPClass::Tx(reply))
    }
}
