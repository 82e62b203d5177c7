//! `__consumer_offsets` as the group coordinator's log: created on first use (compacted, Kafka's partition count),
//! appended to with durable writes, and replayed into the coordinator on start.

use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;

use crate::config::Props;
use crate::coordinator::{partition_for, BoxFuture, OffsetRecord, OffsetsLog, OFFSETS_TOPIC};
use crate::protocol::ErrorCode;
use crate::record::{BatchBuilder, Compression};

use super::partition::{HwWaitError, LeaderAppendError};
use super::state::{now_ms, BrokerState};

/// Kafka's `offsets.commit.timeout.ms` default: how long a commit waits for the replicas.
const OFFSET_COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(5000);

pub struct OffsetsTopic {
    state: OnceLock<Weak<BrokerState>>,
    partitions: i32,
    segment_bytes: i64,
}

impl OffsetsTopic {
    pub fn new(partitions: i32, segment_bytes: i64) -> Self {
        OffsetsTopic { state: OnceLock::new(), partitions, segment_bytes }
    }

    pub fn attach(&self, state: &Arc<BrokerState>) {
        let _ = self.state.set(Arc::downgrade(state));
    }

    fn state(&self) -> Option<Arc<BrokerState>> {
        self.state.get().and_then(Weak::upgrade)
    }

    /// Creates the topic if needed (Kafka creates it on the first FindCoordinator).
    pub fn ensure_created(state: &BrokerState, partitions: i32, segment_bytes: i64) -> Result<(), ErrorCode> {
        if state.metadata().image().topics.contains_key(OFFSETS_TOPIC) {
            return Ok(());
        }
        let mut configs = Props::new();
        configs.insert("cleanup.policy".into(), "compact".into());
        configs.insert("segment.bytes".into(), segment_bytes.to_string());
        match state.create_topic(OFFSETS_TOPIC, partitions, 1, Vec::new(), configs, false) {
            Ok(_) | Err((ErrorCode::TopicAlreadyExists, _)) => Ok(()),
            Err((code, msg)) => {
                tracing::error!(error = ?code, "cannot create {OFFSETS_TOPIC}: {msg}");
                Err(ErrorCode::CoordinatorNotAvailable)
            }
        }
    }

    /// Every (key, value) record of the topic, partition by partition in offset order.
    pub fn read_all(state: &BrokerState) -> std::io::Result<Vec<(Bytes, Option<Bytes>)>> {
        let mut out = Vec::new();
        let count = state.metadata().image().topics.get(OFFSETS_TOPIC).map(|t| t.partition_count()).unwrap_or(0);
        for p in 0..count {
            let Some(partition) = state.partition(OFFSETS_TOPIC, p) else { continue };
            let (mut offset, end) = {
                let log = partition.log();
                (log.log_start_offset(), log.log_end_offset())
            };
            while offset < end {
                let slice = partition.log().read(offset, 1 << 20, true, end).map_err(std::io::Error::other)?;
                if slice.len == 0 {
                    break;
                }
                let bytes = slice.read_bytes()?;
                for batch in crate::record::batches(bytes) {
                    let (header, batch) = batch.map_err(std::io::Error::other)?;
                    if header.is_control() {
                        continue;
                    }
                    for record in crate::record::records(batch).map_err(std::io::Error::other)? {
                        let record = record.map_err(std::io::Error::other)?;
                        if record.offset < offset {
                            continue;
                        }
                        if let Some(key) = record.key {
                            out.push((key, record.value));
                        }
                    }
                }
                offset = slice.next_offset.max(offset + 1);
            }
        }
        Ok(out)
    }
}

impl OffsetsLog for OffsetsTopic {
    fn append(&self, group: &str, records: Vec<OffsetRecord>) -> BoxFuture<Result<(), ErrorCode>> {
        let state = self.state();
        let partition_index = partition_for(group, self.partitions);
        let (partitions, segment_bytes) = (self.partitions, self.segment_bytes);
        Box::pin(async move {
            let state = state.ok_or(ErrorCode::CoordinatorNotAvailable)?;
            OffsetsTopic::ensure_created(&state, partitions, segment_bytes)?;
            let partition = state.partition(OFFSETS_TOPIC, partition_index).ok_or(ErrorCode::CoordinatorNotAvailable)?;
            let mut builder = BatchBuilder::new(Compression::None);
            let ts = now_ms();
            for (key, value) in &records {
                builder.append(ts, Some(key), value.as_deref(), &[]);
            }
            let mut batch = builder.build().map_err(|_| ErrorCode::UnknownServerError)?;
            let info = partition.append_as_leader(&mut batch, ts, None).map_err(|e| match e {
                LeaderAppendError::NotLeader => ErrorCode::NotCoordinator,
                e => {
                    tracing::error!(error = ?e, "append to {OFFSETS_TOPIC} failed");
                    ErrorCode::KafkaStorageError
                }
            })?;
            // Commits are acknowledged only once committed, as Kafka's coordinator writes with acks=all: durable
            // here, then covered by the high watermark (every in-sync replica has them on disk). Kafka maps a
            // timeout or a lost leadership to the errors that send the client to (re)find its coordinator.
            let epoch = partition.leader_epoch();
            partition.make_durable(info.last_offset + 1).await.map_err(|e| {
                tracing::error!(error = %e, "fsync of {OFFSETS_TOPIC} failed");
                ErrorCode::KafkaStorageError
            })?;
            let deadline = tokio::time::Instant::now() + OFFSET_COMMIT_TIMEOUT;
            partition.wait_for_high_watermark(info.last_offset + 1, epoch, deadline).await.map_err(|e| match e {
                HwWaitError::TimedOut => ErrorCode::CoordinatorNotAvailable,
                HwWaitError::NotLeader => ErrorCode::NotCoordinator,
            })?;
            Ok(())
        })
    }
}
