//! A hand-driven AMQP client for protocol edge cases lapin will not produce.

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warren_codec::protocol::{channel, connection};
use warren_codec::{decode_frame, encode, AMQPClass, FieldTable, Frame, LongString, Method};

pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
}

/// A frame's bytes: type, channel, payload, frame end.
pub fn frame(kind: u8, channel: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&channel.to_be_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f.push(0xCE);
    f
}

/// A method frame's bytes, from its payload (class, method, arguments).
pub fn method_frame(channel: u16, payload: &[u8]) -> Vec<u8> {
    frame(1, channel, payload)
}

impl Raw {
    /// Opens a socket and answers connection.start with PLAIN
    /// credentials and these client properties.
    pub async fn start_ok(addr: std::net::SocketAddr, user: &str, password: &str, props: FieldTable) -> Raw {
        Raw::socket(addr).await.start_ok_as(user, password, props).await
    }

    /// On this socket, answers connection.start with PLAIN credentials.
    async fn start_ok_as(mut self, user: &str, password: &str, props: FieldTable) -> Raw {
        let raw = &mut self;
        raw.send_bytes(warren_codec::PROTOCOL_HEADER).await;
        let start = raw.recv().await.expect("connection.start");
        assert!(matches!(start, Frame::Method { channel: 0, .. }), "{start:?}");
        raw.send(
            0,
            AMQPClass::Connection(connection::AMQPMethod::StartOk(connection::StartOk {
                client_properties: props,
                mechanism: "PLAIN".into(),
                response: LongString::from(format!("\0{user}\0{password}").into_bytes()),
                locale: "en_US".into(),
            })),
        )
        .await;
        self
    }

    /// Opens a socket, logs in as guest and returns the server's `tune`.
    pub async fn login(addr: std::net::SocketAddr) -> (Raw, connection::Tune) {
        Raw::socket(addr).await.login_on().await
    }

    async fn login_on(self) -> (Raw, connection::Tune) {
        let mut raw = self.start_ok_as("guest", "guest", client_properties()).await;
        let tune = raw.recv().await.expect("connection.tune");
        let Frame::Method {
            method: Method::Other(m),
            ..
        } = tune
        else {
            panic!("expected tune, got {tune:?}")
        };
        let AMQPClass::Connection(connection::AMQPMethod::Tune(t)) = *m else {
            panic!("expected tune, got {m:?}")
        };
        (raw, t)
    }

    /// Sends `tune-ok` with these values.
    pub async fn tune_ok(&mut self, channel_max: u16, frame_max: u32, heartbeat: u16) {
        self.send(
            0,
            AMQPClass::Connection(connection::AMQPMethod::TuneOk(connection::TuneOk {
                channel_max,
                frame_max,
                heartbeat,
            })),
        )
        .await;
    }

    /// Opens a socket and completes the handshake up to `open-ok`.
    pub async fn connect(addr: std::net::SocketAddr) -> Raw {
        Raw::socket(addr).await.connect_on().await
    }

    /// Like [`Raw::connect`], on a socket whose receive buffer is only 4 KiB:
    /// a client that does not read holds back almost nothing in its kernel,
    /// so what the server cannot send stays with the server.
    pub async fn connect_small_window(addr: std::net::SocketAddr) -> Raw {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        Raw {
            stream: socket.connect(addr).await.expect("connect"),
            buf: BytesMut::with_capacity(64 * 1024),
        }
        .connect_on()
        .await
    }

    async fn connect_on(self) -> Raw {
        let (mut raw, t) = self.login_on().await;
        raw.tune_ok(t.channel_max, t.frame_max, 0).await;
        raw.send(
            0,
            AMQPClass::Connection(connection::AMQPMethod::Open(connection::Open {
                virtual_host: "/".into(),
            })),
        )
        .await;
        let ok = raw.recv().await.expect("open-ok");
        assert!(matches!(ok, Frame::Method { channel: 0, .. }), "{ok:?}");
        raw
    }

    pub async fn socket(addr: std::net::SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: BytesMut::with_capacity(64 * 1024),
        }
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    pub async fn send(&mut self, channel: u16, m: AMQPClass) {
        let mut b = BytesMut::new();
        encode::method(&mut b, channel, &m);
        self.send_bytes(&b).await;
    }

    pub async fn open_channel(&mut self, id: u16) {
        self.send(
            id,
            AMQPClass::Channel(channel::AMQPMethod::Open(channel::Open {})),
        )
        .await;
        let ok = self.recv().await.expect("channel.open-ok");
        assert!(matches!(ok, Frame::Method { .. }), "{ok:?}");
    }

    /// The next frame, or `None` when the server closed the socket.
    pub async fn recv(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = decode_frame(&mut self.buf, 0).expect("server frames decode") {
                return Some(f);
            }
            self.buf.reserve(4096);
            let n = tokio::time::timeout(crate::PATIENCE, self.stream.read_buf(&mut self.buf))
                .await
                .expect("the server answers")
                .ok()?;
            if n == 0 {
                return None;
            }
        }
    }

    /// Reads until a connection-class method on channel 0 that `pick` accepts.
    pub async fn expect_connection_method<T>(
        &mut self,
        pick: impl Fn(connection::AMQPMethod) -> Option<T>,
    ) -> T {
        while let Some(f) = self.recv().await {
            if let Frame::Method {
                channel: 0,
                method: Method::Other(m),
            } = f
            {
                if let AMQPClass::Connection(c) = *m {
                    if let Some(t) = pick(c) {
                        return t;
                    }
                }
            }
        }
        panic!("socket closed before the expected connection method");
    }

    /// Publishes a small message through the default exchange.
    pub async fn publish(&mut self, channel: u16, routing_key: &str, body: &[u8]) {
        use warren_codec::protocol::basic;
        self.send(
            channel,
            AMQPClass::Basic(basic::AMQPMethod::Publish(basic::Publish {
                exchange: "".into(),
                routing_key: routing_key.into(),
                mandatory: false,
                immediate: false,
            })),
        )
        .await;
        let mut content = BytesMut::new();
        encode::content(&mut content, channel, &[0, 0], body, 131072);
        self.send_bytes(&content).await;
    }

    /// Reads until `channel.close` on `channel`, answers `close-ok`, and
    /// returns its code and text.
    pub async fn expect_channel_close(&mut self, channel: u16) -> (u16, String) {
        use warren_codec::protocol::channel as ch;
        while let Some(f) = self.recv().await {
            if let Frame::Method {
                channel: on,
                method: Method::Other(m),
            } = f
            {
                if let (true, AMQPClass::Channel(ch::AMQPMethod::Close(c))) = (on == channel, *m) {
                    self.send(
                        channel,
                        AMQPClass::Channel(ch::AMQPMethod::CloseOk(ch::CloseOk {})),
                    )
                    .await;
                    return (c.reply_code, c.reply_text.to_string());
                }
            }
        }
        panic!("socket closed without channel.close");
    }

    /// Reads until `connection.close`, answers `close-ok`, and returns its code and text.
    pub async fn expect_connection_close(&mut self) -> (u16, String) {
        while let Some(f) = self.recv().await {
            if let Frame::Method {
                method: Method::Other(m),
                ..
            } = f
            {
                if let AMQPClass::Connection(connection::AMQPMethod::Close(c)) = *m {
                    self.send(
                        0,
                        AMQPClass::Connection(connection::AMQPMethod::CloseOk(connection::CloseOk {})),
                    )
                    .await;
                    return (c.reply_code, c.reply_text.to_string());
                }
            }
        }
        panic!("socket closed without connection.close");
    }

    /// Reads raw bytes until the server closes the socket.
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        let mut out = self.buf.to_vec();
        let _ = tokio::time::timeout(crate::PATIENCE, self.stream.read_to_end(&mut out)).await;
        out
    }
}

/// What the raw client announces: the `connection.blocked` capability.
pub fn client_properties() -> FieldTable {
    let mut caps = FieldTable::default();
    caps.insert(
        "connection.blocked".into(),
        warren_codec::AMQPValue::Boolean(true),
    );
    let mut props = FieldTable::default();
    props.insert("capabilities".into(), warren_codec::AMQPValue::FieldTable(caps));
    props
}

/// `queue.declare` payload with a raw (possibly malformed) arguments table.
pub fn queue_declare_payload(name: &str, table: &[u8]) -> Vec<u8> {
    let mut p = BytesMut::new();
    p.put_u16(50);
    p.put_u16(10);
    p.put_u16(0);
    p.put_u8(name.len() as u8);
    p.put_slice(name.as_bytes());
    p.put_u8(0);
    p.put_slice(table);
    p.to_vec()
}

/// A field table (with its length) nested `levels` deep, itself counted
/// (each level but the innermost holds one table): what a hostile client
/// sends to overflow a recursive parser. A level is a name, a tag and a
/// length: 7 bytes.
pub fn deeply_nested_table(levels: usize) -> Vec<u8> {
    let inner = levels - 1;
    let mut t = ((7 * inner) as u32).to_be_bytes().to_vec();
    for level in 1..=inner {
        t.extend_from_slice(&[1, b'n', b'F']);
        t.extend_from_slice(&((7 * (inner - level)) as u32).to_be_bytes());
    }
    t
}
