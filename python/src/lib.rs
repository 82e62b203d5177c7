//! The `streamlet._native` extension module: thin PyO3 wrappers over the `streamlet` core crate. The
//! pure-Python package `streamlet` re-exports these classes and adds errors, the admin helpers and `aio`.

mod admin;
mod broker;
mod consumer;
mod convert;
mod config;
mod errors;
mod future;
mod message;
mod producer;
mod records;
mod wait;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<broker::Broker>()?;
    m.add_class::<producer::Producer>()?;
    m.add_class::<future::DeliveryFuture>()?;
    m.add_class::<consumer::Consumer>()?;
    m.add_class::<message::Message>()?;
    m.add_class::<records::ProducerRecord>()?;
    m.add_class::<records::RecordMetadata>()?;
    m.add_class::<records::TopicPartition>()?;
    m.add_class::<admin::Admin>()?;
    m.add("OFFSET_BEGINNING", records::OFFSET_BEGINNING)?;
    m.add("OFFSET_END", records::OFFSET_END)?;
    m.add("OFFSET_INVALID", records::OFFSET_INVALID)?;
    m.add("TIMESTAMP_CREATE_TIME", message::TIMESTAMP_CREATE_TIME)?;
    m.add("TIMESTAMP_LOG_APPEND_TIME", message::TIMESTAMP_LOG_APPEND_TIME)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
