//! Warren's integration tests in one binary: each module starts real Warrens
//! on port 0 and drives them with lapin, raw frames or HTTP. One binary links
//! once instead of thirty times (the debug build of each was ~160 MB).

mod alarms;
mod auto_delete;
mod backlog;
mod basic_get;
mod confirms;
mod consumer_extensions;
mod consumer_timeout;
mod dead_letter;
mod definitions;
mod durability;
mod errors;
mod exchange_extensions;
mod exclusive;
mod handshake;
mod hostile;
mod limits;
mod management_313;
mod management_access;
mod management_api;
mod mandatory;
mod max_length;
mod memory;
mod metrics;
mod parameters;
mod permissions;
mod priority;
mod pubsub;
mod qos;
mod queue_args;
mod queue_browse;
mod quorum;
mod raw_frames;
mod removal;
mod routing;
mod rpc;
mod shutdown;
mod store_faults;
mod tls;
mod topic_permissions;
mod ttl;
mod tx;
mod web_ui;
mod work_queue;
