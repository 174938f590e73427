//! Warren's persistence.
//!
//! * [`definitions`]: durable vhosts, exchanges, queues and bindings in sled
//!   trees, written when they change and read back at start.
//! * [`log`]: persistent messages in an append-only log of pre-allocated
//!   segment files. Each message is written once, however many durable queues
//!   it reaches; acknowledgements and deliveries are small records in the same
//!   log. One persister thread writes what publishers appended and runs one
//!   `fdatasync` for everything a confirm waits on.

pub mod definitions;
pub mod error;
pub mod log;
pub mod record;

pub use definitions::Definitions;
pub use error::StoreError;
pub use log::{
    Damage, Disk, DiskOp, FailingDisk, FaultHook, FileDisk, MessageLog, Recovered, RecoveredMessage, Ticket,
};
