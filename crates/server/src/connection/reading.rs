//! Reading a client: a read buffer sized by what the client sends, and
//! when a streaming client lets others take a turn.

use bytes::BytesMut;
use warren_broker::memory::Share;

/// Bytes read from one client before its task lets others run.
pub(super) const YIELD_AFTER: usize = 4 * READ_LARGE;

/// Room for the next read when the client sends little (handshakes,
/// heartbeats, an idle or slow client): an idle connection holds this much.
const READ_SMALL: usize = 512;
/// Room for the next read when the client streams (a publisher): one read
/// takes many frames.
const READ_LARGE: usize = 64 * 1024;

/// A connection's read buffer, sized by what the client sends: reads that
/// fill it make the next one large, reads that use little make it small
/// again, and a large buffer is let go as soon as it is empty. So a
/// publisher reads in large batches, and ten thousand idle connections do
/// not each keep a publisher's buffer.
///
/// Frames are split off the buffer without a copy; a body kept by a queue
/// holds its part of the allocation until the message goes, and the
/// buffer moves on to a new one.
pub(super) struct ReadBuffer {
    pub(super) bytes: BytesMut,
    /// The room the next read gets.
    want: usize,
    /// Room there was when the read started.
    room: usize,
    counted: Share,
}

impl ReadBuffer {
    pub(super) fn new(counted: Share) -> ReadBuffer {
        ReadBuffer {
            bytes: BytesMut::new(),
            want: READ_SMALL,
            room: 0,
            counted,
        }
    }

    /// Before a read: lets a large empty buffer go when the client sends
    /// little, and makes room for what the client is likely to send.
    pub(super) fn prepare(&mut self) {
        if self.bytes.is_empty() && self.bytes.capacity() > 2 * self.want {
            self.bytes = BytesMut::new();
        }
        if self.bytes.capacity() - self.bytes.len() < self.want / 2 {
            self.bytes.reserve(self.want);
        }
        self.room = self.bytes.capacity() - self.bytes.len();
        self.counted.set(self.bytes.capacity());
    }

    /// Whether it holds more than a quiet client needs.
    pub(super) fn grown(&self) -> bool {
        self.bytes.capacity() > (2 * READ_SMALL).max(2 * self.bytes.len())
    }

    /// The client has gone quiet: keeps only what is unread, in a buffer
    /// of its size.
    pub(super) fn release(&mut self) {
        self.bytes = BytesMut::from(&self.bytes[..]);
        self.want = READ_SMALL;
        self.counted.set(self.bytes.capacity());
    }

    /// After a read of `n` bytes; whether it filled the room it had (the
    /// client is likely to have more waiting).
    pub(super) fn filled(&mut self, n: usize) -> bool {
        if n >= self.room {
            self.want = READ_LARGE;
            return true;
        }
        if n < self.want / 8 {
            self.want = (self.want / 2).max(READ_SMALL);
        }
        false
    }
}
