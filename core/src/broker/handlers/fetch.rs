//! Fetch: return stored batches as they are on disk; park the request on its partitions (no thread, no polling)
//! until an append (or a high-watermark move) brings `min_bytes` or `max_wait_ms` runs out.
//!
//! Two kinds of fetchers, as in Kafka: consumers (replica id -1) read up to the high watermark only; followers
//! (replica id = their broker id) read up to the log end, and their fetch offset tells the leader how far they
//! have durably replicated (`Partition::follower_fetched`). Only the leader serves either. CurrentLeaderEpoch
//! fences fetchers whose view of the leadership is older (FENCED_LEADER_EPOCH) or newer (UNKNOWN_LEADER_EPOCH)
//! than ours; LastFetchedEpoch is checked against the leader-epoch cache and a divergence is answered with the
//! DivergingEpoch the fetcher truncates to (KIP-320).

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use tokio::sync::Notify;

use crate::broker::partition::Partition;
use crate::broker::state::{now_ms, BrokerState};
use crate::broker::ShutdownSignal;
use crate::protocol::ErrorCode;
use crate::storage::ReadError;

/// Kafka's fetch-session ids start at 1; we never create sessions (always answer 0 = "full fetches"), so a client
/// that sends a non-zero id is out of date.
const NO_SESSION: i32 = 0;

pub async fn handle(state: &Arc<BrokerState>, version: i16, req: &FetchRequest, shutdown: &ShutdownSignal) -> FetchResponse {
    if req.session_id != NO_SESSION {
        return FetchResponse::default().with_error_code(ErrorCode::FetchSessionIdNotFound.code()).with_session_id(0);
    }
    let max_wait = Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let deadline = tokio::time::Instant::now() + max_wait;
    let min_bytes = req.min_bytes.max(0) as usize;
    let mut shutdown = shutdown.clone();
    // Parked only once there is reason to wait: a fetch that finds data (the common case) touches no waiter list.
    let mut parked: Option<Arc<Notify>> = None;
    // A follower's fetch offset is its progress report: counted once per request, after the first read found
    // the partition led here in the epoch it names and its log not diverging from ours (Kafka's order).
    let mut progress = Vec::new();
    let mut first = true;
    loop {
        let (resp, bytes, has_error) = read_all(state, version, req, parked.as_ref(), first.then_some(&mut progress));
        if std::mem::take(&mut first) {
            record_follower_progress(state, req.replica_id.0, std::mem::take(&mut progress));
        }
        let expired = tokio::time::Instant::now() >= deadline;
        if bytes >= min_bytes.max(1) || has_error || expired || min_bytes == 0 || *shutdown.borrow() {
            return resp;
        }
        let Some(notify) = parked.take() else {
            // Park, then read again: an append between the first read and the parking is not missed.
            parked = Some(Arc::new(Notify::new()));
            continue;
        };
        tokio::select! {
            _ = tokio::time::timeout_at(deadline, notify.notified()) => {}
            _ = shutdown.changed() => {}
        }
        // A wake-up empties the partitions' waiter lists: park anew for the next read.
        parked = Some(Arc::new(Notify::new()));
    }
}

/// A follower's fetch of one partition that passed the checks: (partition, fetch offset, our leader epoch then).
type Progress = (Arc<Partition>, i64, i32);

/// Feeds each partition's leader the follower's fetch offset (its durable log end); proposes ISR expansions.
/// Called with no lock held: `follower_fetched` takes the partition's role and log locks.
fn record_follower_progress(state: &BrokerState, replica: i32, progress: Vec<Progress>) {
    let now = now_ms();
    for (partition, fetch_offset, leader_epoch) in progress {
        if let Some(change) = partition.follower_fetched(replica, fetch_offset, leader_epoch, now) {
            state.propose_isr(&partition, change);
        }
    }
}

/// Reads every requested partition once. Parks `notify` on each partition before reading, so an append that
/// lands after the read still wakes us.
fn read_all(
    state: &BrokerState,
    version: i16,
    req: &FetchRequest,
    notify: Option<&Arc<Notify>>,
    mut progress: Option<&mut Vec<Progress>>,
) -> (FetchResponse, usize, bool) {
    let is_follower = req.replica_id.0 >= 0;
    let mut remaining = if req.max_bytes <= 0 { usize::MAX } else { req.max_bytes as usize };
    let mut total = 0usize;
    let mut has_error = false;
    let mut responses = Vec::with_capacity(req.topics.len());
    for topic in &req.topics {
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for fp in &topic.partitions {
            let mut pd = PartitionData::default().with_partition_index(fp.partition);
            let Some(partition) = state.partition(topic.topic.as_str(), fp.partition) else {
                has_error = true;
                pd.error_code = ErrorCode::UnknownTopicOrPartition.code();
                pd.high_watermark = -1;
                pd.last_stable_offset = -1;
                pd.log_start_offset = -1;
                partitions.push(pd);
                continue;
            };
            if let Some(n) = notify {
                partition.park(n);
            }
            // The snapshot before the log: the HW never exceeds the log end read after it.
            let snap = partition.snapshot();
            if let Err(code) = snap.check_leader(fp.current_leader_epoch) {
                has_error = true;
                pd.error_code = code.code();
                pd.high_watermark = -1;
                pd.last_stable_offset = -1;
                pd.log_start_offset = -1;
                partitions.push(pd);
                continue;
            }
            let log = partition.log();
            let start = log.log_start_offset();
            pd.high_watermark = snap.high_watermark;
            // No transactions are served yet: the last stable offset is the high watermark.
            pd.last_stable_offset = snap.high_watermark;
            pd.log_start_offset = start;
            if version >= 12 && fp.last_fetched_epoch >= 0 {
                let (epoch, epoch_end) = log.end_offset_for_epoch(fp.last_fetched_epoch);
                if epoch < fp.last_fetched_epoch || epoch_end < fp.fetch_offset {
                    // The fetcher's log diverges from ours: it must truncate before reading on.
                    has_error = true;
                    pd.diverging_epoch = pd.diverging_epoch.with_epoch(epoch).with_end_offset(epoch_end);
                    partitions.push(pd);
                    continue;
                }
            }
            // A fetch offset beyond our log end is not progress (the read below answers OFFSET_OUT_OF_RANGE).
            if is_follower && fp.fetch_offset <= log.log_end_offset() {
                if let Some(p) = progress.as_deref_mut() {
                    p.push((partition.clone(), fp.fetch_offset, snap.leader_epoch));
                }
            }
            // Consumers never see what is not yet committed; followers replicate up to the log end.
            let end = if is_follower { log.log_end_offset() } else { snap.high_watermark };
            let limit = (fp.partition_max_bytes.max(0) as usize).min(remaining);
            // KIP-74: the first non-empty partition returns at least one whole batch even above the limits, so a
            // consumer can always make progress.
            let min_one = total == 0;
            match log.read(fp.fetch_offset, limit, min_one, end) {
                Ok(slice) => {
                    drop(log);
                    if slice.len > 0 {
                        match slice.read_bytes() {
                            Ok(bytes) => {
                                total += bytes.len();
                                remaining = remaining.saturating_sub(bytes.len());
                                pd.records = Some(bytes);
                            }
                            Err(e) => {
                                tracing::error!(topic = %topic.topic.as_str(), partition = fp.partition, error = %e, "read failed");
                                has_error = true;
                                pd.error_code = ErrorCode::KafkaStorageError.code();
                            }
                        }
                    }
                }
                Err(ReadError::OffsetOutOfRange { .. }) => {
                    has_error = true;
                    pd.error_code = ErrorCode::OffsetOutOfRange.code();
                }
                Err(e) => {
                    tracing::error!(topic = %topic.topic.as_str(), partition = fp.partition, error = %e, "read failed");
                    has_error = true;
                    pd.error_code = ErrorCode::KafkaStorageError.code();
                }
            }
            partitions.push(pd);
        }
        responses.push(FetchableTopicResponse::default().with_topic(topic.topic.clone()).with_topic_id(topic.topic_id).with_partitions(partitions));
    }
    (FetchResponse::default().with_responses(responses).with_session_id(NO_SESSION), total, has_error)
}
