//! A small AMQP 0-9-1 client for load: the handshake and the methods a
//! load test needs, framed with Warren's codec. Deliveries and confirms
//! are read without building amq-protocol's method values, so one client
//! core drives a fast broker.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use warren_codec::protocol::{basic, channel, connection, queue};
use warren_codec::{encode, AMQPClass, AMQPValue, FieldTable, LongString, PROTOCOL_HEADER};

/// Where to connect: `amqp://user:password@host:port/vhost`.
#[derive(Clone, Debug)]
pub struct Uri {
    pub addr: String,
    pub user: String,
    pub password: String,
    pub vhost: String,
}

impl Uri {
    pub fn parse(s: &str) -> Result<Uri> {
        let rest = s
            .strip_prefix("amqp://")
            .ok_or_else(|| anyhow!("not an amqp:// URI: {s}"))?;
        let (auth, rest) = rest.rsplit_once('@').unwrap_or(("guest:guest", rest));
        let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
        let (hostport, vhost) = rest.split_once('/').unwrap_or((rest, ""));
        let decode = |v: &str| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        };
        let addr = if hostport.contains(':') {
            hostport.to_string()
        } else {
            format!(
                "{}:5672",
                if hostport.is_empty() {
                    "127.0.0.1"
                } else {
                    hostport
                }
            )
        };
        Ok(Uri {
            addr,
            user: decode(user),
            password: decode(password),
            vhost: if vhost.is_empty() {
                "/".into()
            } else {
                decode(vhost)
            },
        })
    }
}

/// What a frame read from the broker is, as far as a load test cares.
pub enum Incoming {
    /// `basic.deliver`: its delivery tag.
    Deliver(u64),
    /// A content header: the body size that follows.
    Header(u64),
    /// A body frame: its first bytes (the send time and sequence).
    Body(BytesMut),
    /// Publisher confirms: `basic.ack`/`basic.nack`.
    Confirm {
        tag: u64,
        multiple: bool,
        nack: bool,
    },
    Method(AMQPClass),
    Heartbeat,
}

pub struct Reader {
    rd: OwnedReadHalf,
    buf: BytesMut,
}

pub struct Writer {
    wr: OwnedWriteHalf,
    pub frame_max: u32,
}

/// An open connection with channel 1 open.
pub struct Conn {
    pub reader: Reader,
    pub writer: Writer,
    /// `product version` from the broker's `connection.start`.
    pub server: String,
}

fn text(props: &FieldTable, key: &str) -> String {
    match props.inner().get(key) {
        Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        _ => String::new(),
    }
}

impl Conn {
    pub async fn open(uri: &Uri, timeout: Duration) -> Result<Conn> {
        Conn::open_from(uri, None, timeout).await
    }

    /// Opens a connection from local address `source` (any when `None`):
    /// one source address has about 28,000 ephemeral ports to one broker
    /// port, so more connections than that need several.
    pub async fn open_from(uri: &Uri, source: Option<IpAddr>, timeout: Duration) -> Result<Conn> {
        tokio::time::timeout(timeout, Conn::handshake(uri, source))
            .await
            .map_err(|_| anyhow!("connecting to {} timed out", uri.addr))?
    }

    async fn connect(uri: &Uri, source: Option<IpAddr>) -> Result<TcpStream> {
        let Some(source) = source else {
            return Ok(TcpStream::connect(&uri.addr).await?);
        };
        let addr = tokio::net::lookup_host(&uri.addr)
            .await?
            .find(|a| a.is_ipv4() == source.is_ipv4())
            .ok_or_else(|| anyhow!("{} has no address of {source}'s family", uri.addr))?;
        let sock = if source.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        sock.bind(SocketAddr::new(source, 0))?;
        Ok(sock.connect(addr).await?)
    }

    async fn handshake(uri: &Uri, source: Option<IpAddr>) -> Result<Conn> {
        let sock = Conn::connect(uri, source)
            .await
            .with_context(|| format!("connecting to {}", uri.addr))?;
        sock.set_nodelay(true)?;
        let (rd, wr) = sock.into_split();
        let mut c = Conn {
            reader: Reader {
                rd,
                buf: BytesMut::new(),
            },
            writer: Writer {
                wr,
                frame_max: 131072,
            },
            server: String::new(),
        };
        c.writer.wr.write_all(PROTOCOL_HEADER).await?;
        let AMQPClass::Connection(connection::AMQPMethod::Start(start)) = c.reader.method().await? else {
            bail!("expected connection.start");
        };
        c.server = format!(
            "{} {}",
            text(&start.server_properties, "product"),
            text(&start.server_properties, "version")
        );
        let mut response = vec![0u8];
        response.extend_from_slice(uri.user.as_bytes());
        response.push(0);
        response.extend_from_slice(uri.password.as_bytes());
        let mut props = FieldTable::default();
        props.insert(
            "product".into(),
            AMQPValue::LongString(LongString::from("warren-perf")),
        );
        c.writer
            .send(
                0,
                AMQPClass::Connection(connection::AMQPMethod::StartOk(connection::StartOk {
                    client_properties: props,
                    mechanism: "PLAIN".into(),
                    response: LongString::from(response),
                    locale: "en_US".into(),
                })),
            )
            .await?;
        let tune = match c.reader.method().await? {
            AMQPClass::Connection(connection::AMQPMethod::Tune(t)) => t,
            AMQPClass::Connection(connection::AMQPMethod::Close(close)) => {
                bail!("refused: {}", close.reply_text)
            }
            other => bail!("expected connection.tune, got {other:?}"),
        };
        let frame_max = if tune.frame_max == 0 {
            131072
        } else {
            tune.frame_max.min(131072)
        };
        c.writer.frame_max = frame_max;
        c.writer
            .send(
                0,
                AMQPClass::Connection(connection::AMQPMethod::TuneOk(connection::TuneOk {
                    channel_max: tune.channel_max,
                    frame_max,
                    heartbeat: 0,
                })),
            )
            .await?;
        c.call(
            0,
            AMQPClass::Connection(connection::AMQPMethod::Open(connection::Open {
                virtual_host: uri.vhost.as_str().into(),
            })),
        )
        .await?;
        c.call(1, AMQPClass::Channel(channel::AMQPMethod::Open(channel::Open {})))
            .await?;
        Ok(c)
    }

    /// Sends a method and waits for its answer; a `close` is an error.
    pub async fn call(&mut self, ch: u16, m: AMQPClass) -> Result<AMQPClass> {
        self.writer.send(ch, m).await?;
        match self.reader.method().await? {
            AMQPClass::Channel(channel::AMQPMethod::Close(c)) => {
                bail!("channel closed: {} {}", c.reply_code, c.reply_text)
            }
            AMQPClass::Connection(connection::AMQPMethod::Close(c)) => {
                bail!("connection closed: {} {}", c.reply_code, c.reply_text)
            }
            answer => Ok(answer),
        }
    }

    pub async fn declare(&mut self, name: &str, durable: bool, arguments: &FieldTable) -> Result<()> {
        self.call(1, declare(name, durable, arguments)).await.map(drop)
    }

    pub async fn close(mut self) {
        let close = AMQPClass::Connection(connection::AMQPMethod::Close(connection::Close {
            reply_code: 200,
            reply_text: "bye".into(),
            class_id: 0,
            method_id: 0,
        }));
        let _ = tokio::time::timeout(Duration::from_secs(5), self.call(0, close)).await;
    }
}

pub fn declare(name: &str, durable: bool, arguments: &FieldTable) -> AMQPClass {
    AMQPClass::Queue(queue::AMQPMethod::Declare(queue::Declare {
        queue: name.into(),
        passive: false,
        durable,
        exclusive: false,
        auto_delete: false,
        nowait: false,
        arguments: arguments.clone(),
    }))
}

pub fn delete(name: &str) -> AMQPClass {
    AMQPClass::Queue(queue::AMQPMethod::Delete(queue::Delete {
        queue: name.into(),
        if_unused: false,
        if_empty: false,
        nowait: false,
    }))
}

pub fn consume(queue_name: &str, no_ack: bool) -> AMQPClass {
    AMQPClass::Basic(basic::AMQPMethod::Consume(basic::Consume {
        queue: queue_name.into(),
        consumer_tag: "".into(),
        no_local: false,
        no_ack,
        exclusive: false,
        nowait: false,
        arguments: FieldTable::default(),
    }))
}

pub fn qos(prefetch: u16) -> AMQPClass {
    AMQPClass::Basic(basic::AMQPMethod::Qos(basic::Qos {
        prefetch_count: prefetch,
        global: false,
    }))
}

pub fn confirm_select() -> AMQPClass {
    AMQPClass::Confirm(amq_protocol::protocol::confirm::AMQPMethod::Select(
        amq_protocol::protocol::confirm::Select { nowait: false },
    ))
}

impl Writer {
    pub async fn send(&mut self, ch: u16, m: AMQPClass) -> Result<()> {
        let mut b = BytesMut::new();
        encode::method(&mut b, ch, &m);
        self.write(&b).await
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.wr.write_all(bytes).await.context("writing to the broker")
    }
}

impl Reader {
    /// The next frame; an error when the broker closes the socket.
    pub async fn next(&mut self) -> Result<Incoming> {
        loop {
            if let Some(f) = self.parse()? {
                return Ok(f);
            }
            if self.buf.capacity() - self.buf.len() < 16 * 1024 {
                self.buf.reserve(64 * 1024);
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                bail!("the broker closed the connection");
            }
        }
    }

    /// Whether a whole frame is already buffered (the next `next` will not
    /// wait for the socket).
    pub fn has_frame(&self) -> bool {
        self.buf.len() >= 7 && {
            let size = u32::from_be_bytes([self.buf[3], self.buf[4], self.buf[5], self.buf[6]]) as usize;
            self.buf.len() >= size + 8
        }
    }

    /// Lets go of the read buffer while nothing is buffered: held idle
    /// connections (tens of thousands) then cost the tool little.
    pub fn release(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
    }

    /// The next method, skipping heartbeats.
    pub async fn method(&mut self) -> Result<AMQPClass> {
        loop {
            match self.next().await? {
                Incoming::Method(m) => return Ok(m),
                Incoming::Heartbeat => {}
                _ => bail!("expected a method"),
            }
        }
    }

    fn parse(&mut self) -> Result<Option<Incoming>> {
        if self.buf.len() < 7 {
            return Ok(None);
        }
        let kind = self.buf[0];
        let size = u32::from_be_bytes([self.buf[3], self.buf[4], self.buf[5], self.buf[6]]) as usize;
        if self.buf.len() < size + 8 {
            return Ok(None);
        }
        self.buf.advance(7);
        let mut payload = self.buf.split_to(size);
        self.buf.advance(1);
        let ids = (payload.len() >= 4).then(|| {
            (
                u16::from_be_bytes([payload[0], payload[1]]),
                u16::from_be_bytes([payload[2], payload[3]]),
            )
        });
        Ok(Some(match (kind, ids) {
            (1, Some((60, 60))) => {
                // basic.deliver: consumer tag (short string), then the tag.
                let at = 5 + payload[4] as usize;
                let tag = payload
                    .get(at..at + 8)
                    .ok_or_else(|| anyhow!("short basic.deliver"))?;
                Incoming::Deliver(u64::from_be_bytes(tag.try_into()?))
            }
            (1, Some((60, m @ (80 | 120)))) if payload.len() >= 13 => Incoming::Confirm {
                tag: u64::from_be_bytes(payload[4..12].try_into()?),
                multiple: payload[12] & 1 != 0,
                nack: m == 120,
            },
            (1, _) => match amq_protocol::protocol::parse_class(&payload[..]) {
                Ok((_, m)) => Incoming::Method(m),
                Err(e) => bail!("cannot parse a method from the broker: {e:?}"),
            },
            (2, _) if payload.len() >= 12 => {
                payload.advance(4);
                Incoming::Header(payload.get_u64())
            }
            (3, _) => Incoming::Body(payload),
            (8, _) => Incoming::Heartbeat,
            _ => bail!("unexpected frame type {kind}"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        let u = Uri::parse("amqp://guest:guest@127.0.0.1:5673/%2f").unwrap();
        assert_eq!(
            (u.addr.as_str(), u.user.as_str(), u.vhost.as_str()),
            ("127.0.0.1:5673", "guest", "/")
        );
        let u = Uri::parse("amqp://me:p%40ss@broker/prod").unwrap();
        assert_eq!(
            (u.addr.as_str(), u.password.as_str(), u.vhost.as_str()),
            ("broker:5672", "p@ss", "prod")
        );
        assert!(Uri::parse("http://x").is_err());
    }
}
