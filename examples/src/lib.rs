//! Examples live beside this crate as `cargo run -p warren-examples --example NAME`.
