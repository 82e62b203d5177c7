//! The `streamlet` tools run as a user runs them (the built binary), against a broker embedded in the test
//! process on an ephemeral port. One test binary, one module per tool.

mod support;

mod broker;
mod cluster;
mod console;
mod dump_log;
mod groups;
mod perf;
mod topics;
