//! The connection class on channel 0: the handshake (`start-ok`,
//! `tune-ok`, `open`), `update-secret`, `blocked`, and closing.

use std::sync::atomic::Ordering;

use warren_broker::error::{self, AmqpError};
use warren_broker::stats::Protocol;
use warren_codec::protocol::connection;
use warren_codec::{AMQPClass, AMQPValue, FieldTable, Frame, LongString, Method};

use super::{Connection, State};
use crate::auth::Proof;

/// `connection.start`, with RabbitMQ's server properties; `cluster_name` is
/// the one `/api/cluster-name` sets.
pub(super) fn start_method(cluster_name: &str, external: bool) -> AMQPClass {
    let mut caps = FieldTable::default();
    for cap in [
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "consumer_priorities",
        "authentication_failure_close",
        "per_consumer_qos",
        "direct_reply_to",
    ] {
        caps.insert(cap.into(), AMQPValue::Boolean(true));
    }
    let mut props = FieldTable::default();
    let text = |s: &str| AMQPValue::LongString(LongString::from(s.to_string()));
    props.insert("product".into(), text("Warren"));
    props.insert("version".into(), text(env!("CARGO_PKG_VERSION")));
    props.insert("platform".into(), text("Rust"));
    props.insert("cluster_name".into(), text(cluster_name));
    props.insert("copyright".into(), text("The Warren authors"));
    props.insert(
        "information".into(),
        text("Licensed under the MIT or Apache-2.0 licence"),
    );
    props.insert("capabilities".into(), AMQPValue::FieldTable(caps));
    AMQPClass::Connection(connection::AMQPMethod::Start(connection::Start {
        version_major: 0,
        version_minor: 9,
        server_properties: props,
        mechanisms: LongString::from(if external {
            format!(
                "{} {}",
                warren_codec::sasl::MECHANISMS,
                warren_codec::sasl::EXTERNAL
            )
        } else {
            warren_codec::sasl::MECHANISMS.to_string()
        }),
        locales: LongString::from("en_US".to_string()),
    }))
}

impl Connection {
    pub(super) fn connection_frame(&mut self, frame: Frame) -> Result<(), AmqpError> {
        let m = match frame {
            Frame::Heartbeat { .. } => return Ok(()),
            Frame::Method {
                method: Method::Other(m),
                ..
            } => *m,
            Frame::Method { .. } => return Err(self.not_a_connection_method()),
            // RabbitMQ's codes for content on channel 0.
            Frame::Header { .. } => {
                return Err(AmqpError::new(
                    error::UNEXPECTED_FRAME,
                    "type 2 frame on channel 0",
                ))
            }
            Frame::Body { .. } => {
                return Err(AmqpError::new(
                    error::UNEXPECTED_FRAME,
                    "type 3 frame on channel 0",
                ))
            }
        };
        use connection::AMQPMethod as C;
        let AMQPClass::Connection(m) = m else {
            return Err(self.not_a_connection_method());
        };
        match (self.state, m) {
            (State::AwaitStartOk, C::StartOk(s)) => {
                let capable = |name: &str| {
                    matches!(
                        s.client_properties.inner().get("capabilities"),
                        Some(AMQPValue::FieldTable(caps)) if caps.inner().get(name) == Some(&AMQPValue::Boolean(true))
                    )
                };
                self.blocked_capable = capable("connection.blocked");
                let failure_close = capable("authentication_failure_close");
                let mech = s.mechanism.as_str();
                *self.info.client_properties.lock() = s.client_properties.clone();
                let peer = self.info.peer.ip();
                let login_from = self.shared.config.cert_login_from;
                let user = if mech == warren_codec::sasl::EXTERNAL {
                    // Only a listener that verified the certificate offers
                    // EXTERNAL; elsewhere there is no certificate to name anyone.
                    let name = self.client_cert.as_ref().and_then(|c| c.login(login_from));
                    if let Some(u) = &name {
                        *self.info.user.lock() = u.clone();
                    }
                    name.filter(|u| self.shared.authenticate(u, Proof::Certificate, peer))
                } else {
                    let creds = warren_codec::sasl::credentials(mech, s.response.as_bytes());
                    if let Some((u, _)) = &creds {
                        *self.info.user.lock() = u.clone();
                    }
                    creds
                        .filter(|(u, p)| self.shared.authenticate(u, Proof::Password(p), peer))
                        .map(|(u, _)| u)
                };
                self.shared.broker.stats.login(Protocol::Amqp, user.is_some());
                let Some(user) = user else {
                    tracing::info!(mechanism = mech, user = %self.info.user.lock(), peer = %peer, "login refused");
                    // As RabbitMQ: only clients that announce
                    // authentication_failure_close are told; the others
                    // see the socket close.
                    let told = failure_close.then(|| {
                        AmqpError::access_refused(format_args!(
                            "Login was refused using authentication mechanism {mech}. For details see the broker logfile."
                        ))
                    });
                    self.refuse_login(told);
                    return Ok(());
                };
                self.user = user;
                self.info.tuning.lock().auth_mechanism = mech.to_string();
                self.state = State::AwaitTuneOk;
                let c = &self.shared.config;
                self.send(
                    0,
                    AMQPClass::Connection(C::Tune(connection::Tune {
                        channel_max: c.channel_max,
                        frame_max: c.frame_max,
                        heartbeat: c.heartbeat,
                    })),
                );
                Ok(())
            }
            (State::AwaitTuneOk, C::TuneOk(t)) => {
                let c = &self.shared.config;
                if t.frame_max != 0 && t.frame_max < warren_codec::FRAME_MIN_SIZE {
                    return Err(AmqpError::new(
                        error::NOT_ALLOWED,
                        format_args!(
                            "frame_max={} < {} min size",
                            t.frame_max,
                            warren_codec::FRAME_MIN_SIZE
                        ),
                    ));
                }
                if t.frame_max > c.frame_max {
                    return Err(AmqpError::new(
                        error::NOT_ALLOWED,
                        format_args!("frame_max={} > {} max size", t.frame_max, c.frame_max),
                    ));
                }
                if t.channel_max > c.channel_max {
                    return Err(AmqpError::new(
                        error::NOT_ALLOWED,
                        format_args!("channel_max={} > {} max", t.channel_max, c.channel_max),
                    ));
                }
                self.frame_max = if t.frame_max == 0 {
                    c.frame_max
                } else {
                    t.frame_max
                };
                self.channel_max = if t.channel_max == 0 {
                    c.channel_max
                } else {
                    t.channel_max
                };
                self.out.frame_max.store(self.frame_max, Ordering::Relaxed);
                {
                    let mut tuning = self.info.tuning.lock();
                    tuning.channel_max = self.channel_max;
                    tuning.frame_max = self.frame_max;
                    tuning.heartbeat = t.heartbeat;
                }
                self.heartbeat.store(u32::from(t.heartbeat), Ordering::Relaxed);
                // The writer picks up the interval when it next wakes.
                self.out.wake();
                self.state = State::AwaitOpen;
                Ok(())
            }
            (State::AwaitOpen, C::Open(o)) => {
                let name = o.virtual_host.as_str();
                let vhost = self.shared.broker.vhost(name).ok_or_else(|| {
                    AmqpError::new(error::NOT_ALLOWED, format_args!("vhost {name} not found"))
                })?;
                self.shared.broker.access.vhost_access(name, &self.user)?;
                // Both places, or neither: a refused connection holds none.
                let vhost_slot = vhost.limits.admit_connection(name, &self.user)?;
                let user = self.shared.broker.access.user_state(&self.user);
                self._user_slot = Some(user.admit_connection(&self.user)?);
                self._vhost_slot = Some(vhost_slot);
                self.user_state = Some(user);
                self.vhost = Some(vhost);
                *self.info.vhost.lock() = name.to_string();
                self.state = State::Open;
                self.handshake_deadline = None;
                self.send(0, AMQPClass::Connection(C::OpenOk(connection::OpenOk {})));
                Ok(())
            }
            (_, C::Close(_)) => {
                self.cleanup();
                self.send(0, AMQPClass::Connection(C::CloseOk(connection::CloseOk {})));
                self.state = State::Done;
                Ok(())
            }
            (State::Open, C::UpdateSecret(u)) => {
                // A certificate login has no secret to replace.
                if self.info.tuning.lock().auth_mechanism != warren_codec::sasl::EXTERNAL {
                    if let Err(why) = self
                        .shared
                        .auth
                        .update_secret(&self.user, u.new_secret.as_bytes())
                    {
                        tracing::info!(id = self.id, user = %self.user, "secret update refused: {why}");
                        return Err(AmqpError::new(
                            error::NOT_ALLOWED,
                            format_args!("Secret update was refused for user '{}': {why}", self.user),
                        ));
                    }
                }
                tracing::debug!(id = self.id, reason = %u.reason, "secret updated");
                self.send(
                    0,
                    AMQPClass::Connection(C::UpdateSecretOk(connection::UpdateSecretOk {})),
                );
                Ok(())
            }
            (State::Open, C::Blocked(_) | C::Unblocked(_) | C::CloseOk(_)) => Ok(()),
            (state, m) => Err(AmqpError::new(
                error::COMMAND_INVALID,
                format_args!("unexpected connection method {m:?} in state {state:?}"),
            )),
        }
    }

    /// A method of another class on channel 0: RabbitMQ's 504 and text.
    fn not_a_connection_method(&self) -> AmqpError {
        let state = match self.state {
            State::AwaitStartOk => "starting",
            State::AwaitTuneOk => "tuning",
            State::AwaitOpen => "opening",
            State::Open => "running",
            State::Closing | State::Done => "closing",
        };
        AmqpError::new(
            error::CHANNEL_ERROR,
            format_args!("unexpected method in connection state {state}"),
        )
    }
}
