//! The metadata log behind a small trait, so that the quorum replicating it stays replaceable: the metadata
//! store appends the controller's records and reads back, in order and with their offsets, what was committed.
//! The implementation is [`super::quorum::RaftMetadataLog`] (openraft); a single node is its one-voter case.

use std::io;

use super::image::MetadataImage;
use super::records::MetadataRecord;

/// What a node must apply to catch up.
pub enum Committed {
    /// The records after the asked offset, in order.
    Records(Vec<(i64, MetadataRecord)>),
    /// Those records are no longer kept (a snapshot replaced them): the whole image instead.
    Image(MetadataImage),
}

pub trait MetadataLog: Send {
    /// Appends `records` as one batch; returns once it is committed (durable on a majority of the voters) and
    /// applied on this node, with the offset of its last record. Fails on a node that is not the leader.
    fn append(&mut self, records: &[MetadataRecord]) -> io::Result<i64>;
    /// The committed records after `offset` (see [`Committed`]).
    fn committed_after(&self, offset: i64) -> Committed;
    /// The node id of the quorum's leader (the active controller), when one is known.
    fn leader(&self) -> Option<i32>;
}
