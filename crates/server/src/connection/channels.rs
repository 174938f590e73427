//! Channels on a connection: opening, routing each frame to its
//! channel, closing in both directions, and a channel's failure.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use warren_broker::access::Permissions;
use warren_broker::error::{self, AmqpError};
use warren_broker::stats::GlobalStats;
use warren_codec::protocol::channel;
use warren_codec::shortstr::truncated;
use warren_codec::{AMQPClass, Frame, Method};

use super::{Connection, State};
use crate::channel::{Channel, Ctx};

impl Connection {
    pub(super) fn channel_frame(&mut self, frame: Frame) -> Result<(), AmqpError> {
        let id = frame.channel();
        if let Frame::Heartbeat { .. } = frame {
            // Also on a channel that is not open.
            return Err(crate::channel::heartbeat_on_channel());
        }
        let Some(vhost) = self.vhost.clone().filter(|_| self.state == State::Open) else {
            return Err(AmqpError::new(
                error::CHANNEL_ERROR,
                "channel used before connection.open",
            ));
        };
        self.refresh_permissions(&vhost.name);
        let (is_open, is_close, is_close_ok) = match &frame {
            Frame::Method {
                method: Method::Other(m),
                ..
            } => (
                matches!(**m, AMQPClass::Channel(channel::AMQPMethod::Open(_))),
                matches!(**m, AMQPClass::Channel(channel::AMQPMethod::Close(_))),
                matches!(**m, AMQPClass::Channel(channel::AMQPMethod::CloseOk(_))),
            ),
            _ => (false, false, false),
        };
        let Some(ch) = self.channels.get_mut(&id) else {
            if !matches!(frame, Frame::Method { .. }) {
                return Err(AmqpError::new(
                    error::UNEXPECTED_FRAME,
                    "expected method frame, got non method frame instead",
                ));
            }
            if !is_open {
                return Err(AmqpError::new(
                    error::CHANNEL_ERROR,
                    format_args!("expected 'channel.open' on channel {id}"),
                ));
            }
            if id > self.channel_max {
                return Err(AmqpError::new(
                    error::NOT_ALLOWED,
                    format_args!("channel id {id} exceeds channel_max {}", self.channel_max),
                ));
            }
            if let Some(user) = &self.user_state {
                self.channel_slots.insert(id, user.admit_channel(&self.user)?);
            }
            let ch = Channel::new(id, self.out.clone(), self.faults.clone());
            self.info.channel_views.lock().insert(id, ch.shared.clone());
            self.channels.insert(id, Box::new(ch));
            GlobalStats::count(&self.shared.broker.stats.channels_opened);
            self.channels_changed();
            self.send(
                id,
                AMQPClass::Channel(channel::AMQPMethod::OpenOk(channel::OpenOk {})),
            );
            return Ok(());
        };
        if ch.closing {
            // After we closed the channel, only its close handshake counts.
            if is_close_ok || is_close {
                if is_close {
                    self.send(
                        id,
                        AMQPClass::Channel(channel::AMQPMethod::CloseOk(channel::CloseOk {})),
                    );
                }
                self.channel_closed(id);
            }
            return Ok(());
        }
        if is_open {
            return Err(AmqpError::new(error::CHANNEL_ERROR, "second 'channel.open' seen"));
        }
        if is_close {
            ch.teardown(&vhost, self.id);
            self.channel_closed(id);
            self.send(
                id,
                AMQPClass::Channel(channel::AMQPMethod::CloseOk(channel::CloseOk {})),
            );
            return Ok(());
        }
        if is_close_ok {
            return Ok(());
        }
        let ids = match &frame {
            Frame::Method { method, .. } => method.ids(),
            _ => (0, 0),
        };
        let mut ctx = Ctx {
            perms: &self.perms,
            perms_generation: self.perms_generation,
            vhost: &vhost,
            conn_id: self.id,
            out: &self.out,
            exclusive_queues: &mut self.exclusive_queues,
            config: &self.shared.config,
        };
        match ch.handle(&mut ctx, frame) {
            Ok(()) => Ok(()),
            Err(e) if e.is_connection_error() => Err(e),
            Err(e) => {
                self.fail_channel(id, e, ids);
                Ok(())
            }
        }
    }

    /// Closes channel `id` with error `e` (caused by method `ids`): what it
    /// published so far is confirmed or refused, its consumers detach, its
    /// unacknowledged messages go back, and `channel.close` is sent.
    pub(super) fn fail_channel(&mut self, id: u16, e: AmqpError, ids: (u16, u16)) {
        let (Some(vhost), Some(ch)) = (self.vhost.clone(), self.channels.get_mut(&id)) else {
            return;
        };
        if ch.closing {
            return;
        }
        tracing::debug!(conn = self.id, channel = id, "channel error: {}", e.text);
        // A refused commit has nothing more to say: its error is `e`.
        let _ = ch.flush_confirms(&self.out, self.shared.broker.store.as_ref().map(|s| &s.log));
        ch.teardown(&vhost, self.id);
        ch.closing = true;
        self.send(
            id,
            AMQPClass::Channel(channel::AMQPMethod::Close(channel::Close {
                reply_code: e.code,
                reply_text: truncated(&e.text),
                class_id: ids.0,
                method_id: ids.1,
            })),
        );
    }

    /// Picks up permission changes made since the last frame.
    pub(super) fn refresh_permissions(&mut self, vhost: &str) {
        let access = &self.shared.broker.access;
        let generation = access.generation();
        if generation != self.perms_generation {
            self.perms = access
                .permission(vhost, &self.user)
                .unwrap_or_else(|| Arc::new(Permissions::none(&self.user, vhost)));
            self.perms_generation = generation;
        }
    }

    /// Tells management how many channels are open (the views themselves
    /// are added and removed with the channels).
    pub(super) fn channels_changed(&self) {
        self.info
            .channels
            .store(self.channels.len() as u32, Ordering::Relaxed);
    }

    /// Forgets a closed channel and gives back its place under the user's
    /// `max-channels`.
    pub(super) fn channel_closed(&mut self, id: u16) {
        self.channel_slots.remove(&id);
        if self.channels.remove(&id).is_some() {
            GlobalStats::count(&self.shared.broker.stats.channels_closed);
        }
        self.info.channel_views.lock().remove(&id);
        self.channels_changed();
    }
}
