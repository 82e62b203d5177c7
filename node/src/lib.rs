//! Node.js binding of Streamlet: a thin napi-rs layer over `streamlet` (core). Everything real lives in core; this
//! crate moves values across the JS/Rust boundary and keeps the event loop free: blocking core calls run on
//! libuv's thread pool (`AsyncTask`) or on a per-client worker thread, and results come back through promises
//! and threadsafe functions onto the JS thread. The idiomatic API (classes, events, iterators, interceptors,
//! `KafkaError`) is `index.js` on top of this module.

#![deny(clippy::all)]

mod admin;
mod broker;
mod consumer;
mod error;
mod pack;
mod producer;
mod task;

use std::sync::Once;

/// Core logs go to stderr when `STREAMLET_LOG` is set (e.g. `STREAMLET_LOG=debug`), as with the CLI.
pub(crate) fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("STREAMLET_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .try_init();
        }
    });
}
