//! Reading a client: a read buffer sized by what the client sends, and
//! when a streaming client lets others take a turn.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;
use warren_broker::memory::Share;

/// Bytes a streaming client's task reads in full reads before it lets
/// others run, when streaming clients hold every worker (see [`Turn`]).
const SLICE: usize = 4 * READ_LARGE;

/// How many connections stream: their last read filled the room it had,
/// so their clients are likely to have more waiting and their tasks would
/// read on. Shared by every connection.
#[derive(Default)]
pub struct Streaming(AtomicUsize);

/// One connection's turn on its worker.
///
/// tokio's cooperative budget counts socket reads (128 per turn), and one
/// read here is up to 64 KiB of frames, so a publisher streaming flat out
/// would keep its worker for 8 MiB of input. With more streaming clients
/// than workers, others (connections that wait their turn, new clients'
/// handshakes) would wait behind them: then a streaming task lets others
/// run after every [`SLICE`] of full reads. With fewer, a worker is free
/// for the others, and a yield would only move the publisher's task to
/// the other worker, where it contends with its queue's consumer for the
/// queue's lock (measured: the ack scenario lost 15% and spent 15% more
/// CPU per message, in the lock's spinning and `sched_yield`). Reads that
/// do not fill the room never count: a client that waits for answers
/// (confirms) already yields at its reads, and an extra yield there
/// halved confirm throughput.
pub(super) struct Turn<'a> {
    streaming: &'a Streaming,
    workers: usize,
    /// Bytes read in full reads since the task last let others run.
    in_slice: usize,
    /// Counted in `streaming`.
    counted: bool,
}

impl<'a> Turn<'a> {
    pub(super) fn new(streaming: &'a Streaming) -> Turn<'a> {
        let workers = tokio::runtime::Handle::try_current().map_or(1, |h| h.metrics().num_workers());
        Turn::sharing(streaming, workers)
    }

    fn sharing(streaming: &'a Streaming, workers: usize) -> Turn<'a> {
        Turn {
            streaming,
            workers,
            in_slice: 0,
            counted: false,
        }
    }

    /// After a read of `n` bytes that did or did not fill its room.
    pub(super) fn read(&mut self, n: usize, full: bool) {
        if full {
            self.in_slice += n;
        }
        if full != self.counted {
            self.counted = full;
            if full {
                self.streaming.0.fetch_add(1, Ordering::Relaxed);
            } else {
                self.streaming.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Whether the task should let others run before it reads on.
    pub(super) fn over(&mut self) -> bool {
        if self.in_slice < SLICE {
            return false;
        }
        self.in_slice = 0;
        self.streaming.0.load(Ordering::Relaxed) >= self.workers
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.streaming.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(turn: &mut Turn, bytes: usize) -> bool {
        let mut over = false;
        for _ in 0..bytes / READ_LARGE {
            turn.read(READ_LARGE, true);
            over |= turn.over();
        }
        over
    }

    #[test]
    fn streaming_clients_take_turns_when_they_hold_every_worker() {
        let streaming = Streaming::default();
        let mut a = Turn::sharing(&streaming, 2);
        assert!(!stream(&mut a, 4 * SLICE), "one streaming client, a worker free");
        let mut b = Turn::sharing(&streaming, 2);
        b.read(READ_LARGE, true);
        assert!(stream(&mut a, SLICE), "two streaming clients on two workers");
        b.read(100, false);
        assert!(!stream(&mut a, 4 * SLICE), "b waits for answers again");
        b.read(READ_LARGE, true);
        drop(b);
        assert_eq!(
            streaming.0.load(Ordering::Relaxed),
            1,
            "a closed connection stops counting"
        );
        assert!(!stream(&mut a, 4 * SLICE));
    }

    #[test]
    fn reads_that_do_not_fill_the_room_never_count() {
        let streaming = Streaming::default();
        let mut a = Turn::sharing(&streaming, 1);
        for _ in 0..1000 {
            a.read(READ_LARGE - 1, false);
            assert!(!a.over());
        }
        a.read(READ_LARGE, true);
        assert!(!a.over(), "the slice is not read yet");
        assert!(
            stream(&mut a, SLICE),
            "alone on one worker, a streaming client still lets others in"
        );
    }
}
