//! Client-side algorithms: producer partitioners and consumer partition assignors.
//!
//! Depends only on `record` and `protocol` (and the `kafka-protocol` crate), never on broker code.

pub mod assignor;
pub mod partitioner;
