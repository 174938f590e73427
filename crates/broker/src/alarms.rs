//! The state of the resource alarms (memory watermark, free-disk limit):
//! raised by the server's monitor, read by connections (which stop reading
//! publishers) and by management's health checks. The disk alarm is also
//! raised while the message store cannot write or sync (a full or failing
//! disk, whatever the free-disk limit says).

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

#[derive(Default)]
pub struct Alarms {
    memory: AtomicBool,
    disk: AtomicBool,
    /// The message store's writes or syncs fail.
    store: AtomicBool,
    cleared: Notify,
}

impl Alarms {
    pub fn active(&self) -> bool {
        self.memory.load(Ordering::Acquire) || self.disk()
    }

    fn disk(&self) -> bool {
        self.disk.load(Ordering::Acquire) || self.store.load(Ordering::Acquire)
    }

    /// Which alarm is raised, for `connection.blocked`'s reason.
    pub fn reason(&self) -> &'static str {
        if self.memory.load(Ordering::Acquire) {
            "low on memory"
        } else {
            "low on disk"
        }
    }

    pub fn set_memory(&self, on: bool) {
        self.memory.store(on, Ordering::Release);
        self.changed();
    }

    pub fn set_disk(&self, on: bool) {
        self.disk.store(on, Ordering::Release);
        self.changed();
    }

    /// The message store faulted (`true`) or writes and syncs again.
    pub fn set_store_fault(&self, on: bool) {
        self.store.store(on, Ordering::Release);
        self.changed();
    }

    fn changed(&self) {
        if !self.active() {
            self.cleared.notify_waiters();
        }
    }

    /// The raised alarms by RabbitMQ's resource names (`memory`, `disk`).
    pub fn raised(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.memory.load(Ordering::Acquire) {
            out.push("memory");
        }
        if self.disk() {
            out.push("disk");
        }
        out
    }

    /// Waits until no alarm is raised.
    pub async fn wait_clear(&self) {
        loop {
            let notified = self.cleared.notified();
            if !self.active() {
                return;
            }
            notified.await;
        }
    }
}
