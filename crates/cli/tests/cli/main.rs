//! warrenctl against an in-process Warren, in one test binary (one link
//! instead of one per file).

mod common;

mod admin;
mod bindings;
mod connections;
mod exit_codes;
mod parameters;
mod queues;
