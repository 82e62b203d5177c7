//! The fetcher task (Fetch per leader, no fetch sessions), position validation after leader changes
//! (OffsetForLeaderEpoch, see `validation`) and ListOffsets lookups.
//!
//! Fetch and ListOffsets carry the partition leader's epoch as the client knows it (CurrentLeaderEpoch): a
//! broker that is no longer leader, or is leader at another epoch, answers NOT_LEADER_OR_FOLLOWER,
//! FENCED_LEADER_EPOCH (the client is behind) or UNKNOWN_LEADER_EPOCH (the broker is behind) instead of
//! serving from a log that may have diverged; the client refreshes metadata and asks again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{
    fetch_request, list_offsets_request, offset_for_leader_epoch_request, ApiKey, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::validation::{self, Checked};
use super::{ConsumerError, ConsumerRecord, IsolationLevel, OffsetReset, PartState, Pos, Shared, TopicPartition};
use crate::client::error::ClientError;
use crate::record::{batches, records, TimestampType};

const OFFSET_OUT_OF_RANGE: i16 = 1;

fn topic_name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_string()))
}

/// Errors after which the partition's leader must be looked up again.
fn needs_metadata(code: i16) -> bool {
    // UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR,
    // FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_ID
    matches!(code, 3 | 5 | 6 | 56 | 74 | 75 | 100)
}

fn isolation(shared: &Shared) -> i8 {
    match shared.cfg.isolation_level {
        IsolationLevel::ReadUncommitted => 0,
        IsolationLevel::ReadCommitted => 1,
    }
}

/// The fetch loop: fetches every assigned, unpaused partition with a known position that holds less than
/// `max.partition.fetch.bytes` of fetched records, so that the next records are there before `poll` needs them.
///
/// A broker holds a request up to `fetch.max.wait.ms` when none of its partitions has new data, and answers a
/// connection's requests in order. So partitions that are at their end are not asked for alone while another
/// partition's buffer is full: that one would run dry behind the parked request. They wait until the full one
/// can be topped up and go in the same request, which the full one's data answers at once.
pub(crate) async fn run(shared: Arc<Shared>) {
    let top_up = shared.cfg.top_up_bytes();
    loop {
        if shared.is_closed() {
            return;
        }
        let md = shared.cluster.metadata();
        let (wanted, to_validate): (Vec<(TopicPartition, i64, u64)>, Vec<Validate>) = {
            let mut st = shared.lock();
            for (tp, ps) in st.parts.iter_mut() {
                validation::observe_leader(ps, md.leader_epoch(&tp.0, tp.1));
            }
            let to_validate: Vec<Validate> = st
                .parts
                .iter_mut()
                .filter(|(_, ps)| ps.validating && !ps.inflight && ps.fetch_offset().is_some())
                .map(|(tp, ps)| {
                    ps.inflight = true;
                    Validate {
                        tp: tp.clone(),
                        offset: ps.fetch_offset().expect("filtered"),
                        epoch: ps.epoch,
                        fetch_epoch: ps.fetch_epoch.unwrap_or(-1),
                        leader_epoch: ps.leader_epoch.unwrap_or(-1),
                    }
                })
                .collect();
            let fetchable = |ps: &PartState| ps.fetch_offset().is_some() && !ps.paused && !ps.inflight && !ps.validating;
            let full = st.parts.values().any(|ps| fetchable(ps) && ps.buffered >= top_up);
            let due = |ps: &PartState| fetchable(ps) && ps.buffered < top_up;
            let wanted = if full && st.parts.values().filter(|ps| due(ps)).all(|ps| ps.caught_up) {
                Vec::new()
            } else {
                st.parts
                    .iter_mut()
                    .filter(|(_, ps)| due(ps))
                    .map(|(tp, ps)| {
                        ps.inflight = true;
                        (tp.clone(), ps.fetch_offset().expect("fetchable"), ps.epoch)
                    })
                    .collect()
            };
            (wanted, to_validate)
        };
        if !to_validate.is_empty() {
            validate_positions(&shared, &md, to_validate).await;
        }
        if wanted.is_empty() {
            let _ = tokio::time::timeout(Duration::from_millis(200), shared.fetch_wake.notified()).await;
            continue;
        }
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64, u64)>> = BTreeMap::new();
        let mut missing: BTreeSet<String> = BTreeSet::new();
        for w in wanted {
            match md.leader(&w.0 .0, w.0 .1) {
                Some(l) => by_leader.entry(l).or_default().push(w),
                None => {
                    missing.insert(w.0 .0.clone());
                    release(&shared, &[w]);
                }
            }
        }
        if !missing.is_empty() {
            let topics: Vec<String> = missing.into_iter().collect();
            if let Err(e) = shared.cluster.refresh(Some(&topics), false).await {
                tracing::debug!("metadata refresh for fetching failed: {e}");
            }
            if by_leader.is_empty() {
                tokio::time::sleep(shared.cfg.retry_backoff).await;
                continue;
            }
        }
        let mut set = tokio::task::JoinSet::new();
        for (leader, parts) in by_leader {
            let shared = shared.clone();
            set.spawn(async move {
                let refresh = fetch_one(&shared, leader, &parts).await;
                release(&shared, &parts);
                if refresh {
                    let topics: Vec<String> = parts.iter().map(|p| p.0 .0.clone()).collect::<BTreeSet<_>>().into_iter().collect();
                    let _ = shared.cluster.refresh(Some(&topics), false).await;
                    tokio::time::sleep(shared.cfg.retry_backoff).await;
                }
            });
        }
        while set.join_next().await.is_some() {}
    }
}

/// A partition whose position waits for validation, as it was when the request was prepared.
struct Validate {
    tp: TopicPartition,
    offset: i64,
    /// `PartState::epoch` (seeks and resets): an answer for an older one is dropped.
    epoch: u64,
    fetch_epoch: i32,
    leader_epoch: i32,
}

/// OffsetForLeaderEpoch for every partition in validation, one request per leader (KIP-320, `validation`).
/// Partitions whose leader is unknown or answers a leader error stay in validation for the next round, after a
/// metadata refresh.
async fn validate_positions(shared: &Shared, md: &crate::client::cluster::Metadata, parts: Vec<Validate>) {
    let mut by_leader: BTreeMap<i32, Vec<Validate>> = BTreeMap::new();
    let mut refresh = false;
    let mut unreleased = Vec::new();
    for v in parts {
        match md.leader(&v.tp.0, v.tp.1) {
            Some(l) => by_leader.entry(l).or_default().push(v),
            None => {
                refresh = true;
                unreleased.push(v);
            }
        }
    }
    let reset_none = shared.cfg.auto_offset_reset == OffsetReset::None;
    for (leader, parts) in by_leader {
        tracing::debug!("validating {} position(s) with broker {leader} after a leader change", parts.len());
        let outcome = offsets_for_leader_epoch(shared, leader, &parts).await;
        let mut st = shared.lock();
        for v in &parts {
            let Some(ps) = st.parts.get_mut(&v.tp).filter(|ps| ps.validating && ps.answers(v.epoch, v.offset)) else { continue };
            match &outcome {
                // The broker cannot validate (it does not serve OffsetForLeaderEpoch): fetch on, as Kafka does.
                Ok(None) => ps.validating = false,
                Ok(Some(answers)) => match answers.get(&v.tp) {
                    Some(Ok((end_offset, end_epoch))) => {
                        let checked = validation::check(v.offset, *end_offset, *end_epoch);
                        if checked != Checked::Valid {
                            tracing::info!("{}-{}: the log diverges from the fetched one ({checked:?}) at fetch offset {}", v.tp.0, v.tp.1, v.offset);
                        }
                        if validation::apply(ps, checked, reset_none).is_err() {
                            st.poll_errors.push_back(ConsumerError::NoOffset(v.tp.0.clone(), v.tp.1));
                        }
                    }
                    Some(Err(code)) => {
                        refresh |= needs_metadata(*code);
                        tracing::debug!("OffsetForLeaderEpoch {}-{}: error {code}", v.tp.0, v.tp.1);
                    }
                    None => refresh = true,
                },
                Err(e) => {
                    refresh = true;
                    tracing::debug!("OffsetForLeaderEpoch to broker {leader} failed: {e}");
                }
            }
        }
        drop(st);
        unreleased.extend(parts);
    }
    {
        let mut st = shared.lock();
        for v in &unreleased {
            if let Some(ps) = st.parts.get_mut(&v.tp) {
                ps.inflight = false;
            }
        }
    }
    shared.poll_wake.notify_one();
    if refresh {
        let topics: Vec<String> = unreleased.iter().map(|v| v.tp.0.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let _ = shared.cluster.refresh(Some(&topics), false).await;
        tokio::time::sleep(shared.cfg.retry_backoff).await;
    }
}

/// Where each partition's fetched epoch ends in `leader`'s log: (end offset, its epoch) or the error code per
/// partition; None when the broker does not serve OffsetForLeaderEpoch.
async fn offsets_for_leader_epoch(
    shared: &Shared,
    leader: i32,
    parts: &[Validate],
) -> Result<Option<HashMap<TopicPartition, Result<(i64, i32), i16>>>, ClientError> {
    let conn = shared.cluster.broker(leader).await?;
    if conn.version(ApiKey::OffsetForLeaderEpoch).is_none() {
        return Ok(None);
    }
    let mut topics: Vec<offset_for_leader_epoch_request::OffsetForLeaderTopic> = Vec::new();
    for v in parts {
        let p = offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
            .with_partition(v.tp.1)
            .with_current_leader_epoch(v.leader_epoch)
            .with_leader_epoch(v.fetch_epoch);
        match topics.iter_mut().find(|t| t.topic.0.as_str() == v.tp.0) {
            Some(t) => t.partitions.push(p),
            None => topics.push(offset_for_leader_epoch_request::OffsetForLeaderTopic::default().with_topic(topic_name(&v.tp.0)).with_partitions(vec![p])),
        }
    }
    // replica_id -1: a consumer, not a follower (v3+; Kafka's CONSUMER_REPLICA_ID).
    let req = OffsetForLeaderEpochRequest::default().with_replica_id(BrokerId(-1)).with_topics(topics);
    let timeout = shared.cfg.request_timeout;
    let (resp, _): (OffsetForLeaderEpochResponse, i16) =
        tokio::time::timeout(timeout, conn.send(ApiKey::OffsetForLeaderEpoch, &req)).await.map_err(|_| ClientError::Timeout(timeout.as_millis() as u64))??;
    let mut out = HashMap::new();
    for t in resp.topics {
        for p in t.partitions {
            let r = if p.error_code == 0 { Ok((p.end_offset, p.leader_epoch)) } else { Err(p.error_code) };
            out.insert((t.topic.0.to_string(), p.partition), r);
        }
    }
    Ok(Some(out))
}

fn release(shared: &Shared, parts: &[(TopicPartition, i64, u64)]) {
    let mut st = shared.lock();
    for (tp, _, _) in parts {
        if let Some(ps) = st.parts.get_mut(tp) {
            ps.inflight = false;
        }
    }
}

/// One Fetch to `leader`; returns whether metadata should be refreshed.
async fn fetch_one(shared: &Shared, leader: i32, parts: &[(TopicPartition, i64, u64)]) -> bool {
    let cfg = &shared.cfg;
    let conn = match shared.cluster.broker(leader).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("fetch: cannot reach broker {leader}: {e}");
            return true;
        }
    };
    let md = shared.cluster.metadata();
    let mut topics: Vec<fetch_request::FetchTopic> = Vec::new();
    for ((t, p), offset, _) in parts {
        let fp = fetch_request::FetchPartition::default()
            .with_partition(*p)
            .with_current_leader_epoch(md.leader_epoch(t, *p).unwrap_or(-1))
            .with_fetch_offset(*offset)
            .with_last_fetched_epoch(-1)
            .with_log_start_offset(-1)
            .with_partition_max_bytes(cfg.max_partition_fetch_bytes);
        match topics.iter_mut().find(|ft| ft.topic.0.as_str() == t) {
            Some(ft) => ft.partitions.push(fp),
            None => topics.push(fetch_request::FetchTopic::default().with_topic(topic_name(t)).with_partitions(vec![fp])),
        }
    }
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(cfg.fetch_max_wait.as_millis() as i32)
        .with_min_bytes(cfg.fetch_min_bytes)
        .with_max_bytes(cfg.fetch_max_bytes)
        .with_isolation_level(isolation(shared))
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics);
    let timeout = cfg.request_timeout + cfg.fetch_max_wait;
    let resp: FetchResponse = match tokio::time::timeout(timeout, conn.send(ApiKey::Fetch, &req)).await {
        Ok(Ok((r, _))) => r,
        Ok(Err(e)) => {
            tracing::debug!("fetch from broker {leader} failed: {e}");
            return true;
        }
        Err(_) => return true,
    };
    if resp.error_code != 0 {
        tracing::debug!("fetch from broker {leader}: error {}", resp.error_code);
        return true;
    }
    let asked: HashMap<&TopicPartition, (i64, u64)> = parts.iter().map(|(tp, o, e)| (tp, (*o, *e))).collect();
    let mut refresh = false;
    let mut delivered = false;
    for t in resp.responses {
        let topic = t.topic.0.to_string();
        for p in t.partitions {
            let tp = (topic.clone(), p.partition_index);
            let Some((offset, epoch)) = asked.get(&tp).copied() else { continue };
            if p.error_code == OFFSET_OUT_OF_RANGE {
                let mut st = shared.lock();
                if let Some(ps) = st.parts.get_mut(&tp).filter(|ps| ps.answers(epoch, offset)) {
                    tracing::info!("fetch offset {offset} of {}-{} is out of range; resetting", tp.0, tp.1);
                    ps.restart(Pos::Reset(None));
                    delivered = true;
                }
                continue;
            }
            if p.error_code != 0 {
                refresh |= needs_metadata(p.error_code);
                if !needs_metadata(p.error_code) {
                    tracing::warn!("fetch {}-{}: {}", tp.0, tp.1, ClientError::kafka(p.error_code, None).map(|e| e.to_string()).unwrap_or_default());
                }
                continue;
            }
            let Some(bytes) = p.records.filter(|b| !b.is_empty()) else {
                let mut st = shared.lock();
                if let Some(ps) = st.parts.get_mut(&tp).filter(|ps| ps.answers(epoch, offset)) {
                    ps.caught_up = true;
                }
                continue;
            };
            let aborted: Vec<(i64, i64)> = if shared.cfg.isolation_level == IsolationLevel::ReadCommitted {
                let mut a: Vec<(i64, i64)> = p.aborted_transactions.unwrap_or_default().iter().map(|a| (a.first_offset, a.producer_id.0)).collect();
                a.sort();
                a
            } else {
                Vec::new()
            };
            match decode(&tp, bytes, offset, &aborted) {
                Ok((recs, epochs, next, last_epoch)) => {
                    let mut st = shared.lock();
                    let Some(ps) = st.parts.get_mut(&tp).filter(|ps| ps.answers(epoch, offset)) else {
                        continue;
                    };
                    ps.caught_up = false;
                    if last_epoch.is_some() {
                        ps.fetch_epoch = last_epoch;
                    }
                    if recs.is_empty() {
                        // Only control batches, aborted data or records below the position: skip past them.
                        if next > offset {
                            ps.fetch_next = Some(next);
                            if ps.buf.is_empty() {
                                ps.pos = Pos::At(next);
                            }
                        }
                    } else {
                        ps.push(recs, epochs, next);
                        delivered = true;
                    }
                }
                Err(e) => {
                    let mut st = shared.lock();
                    st.poll_errors.push_back(ConsumerError::Client(ClientError::Protocol {
                        addr: conn.addr.clone(),
                        reason: format!("corrupt records in {}-{} at offset {offset}: {e}", tp.0, tp.1),
                    }));
                    delivered = true;
                }
            }
        }
    }
    if delivered {
        shared.poll_wake.notify_one();
    }
    refresh
}

/// Decodes a partition's fetched batches: records at or above `offset`, skipping control batches and (under
/// read_committed) aborted transactions. Returns the records with each one's leader epoch, the offset after the
/// last whole batch and that batch's partition leader epoch (None when no batch reached `offset`).
fn decode(tp: &TopicPartition, bytes: Bytes, offset: i64, aborted: &[(i64, i64)]) -> Result<Decoded, crate::record::RecordError> {
    let mut out = Vec::new();
    let mut epochs = Vec::new();
    let mut next = offset;
    let mut last_epoch = None;
    let mut aborted_iter = aborted.iter().peekable();
    let mut aborting: HashSet<i64> = HashSet::new();
    for batch in batches(bytes) {
        let (h, batch) = batch?;
        next = next.max(h.next_offset());
        if h.last_offset() < offset {
            continue;
        }
        if h.partition_leader_epoch >= 0 {
            last_epoch = Some(h.partition_leader_epoch);
        }
        while let Some((first, pid)) = aborted_iter.peek() {
            if *first > h.last_offset() {
                break;
            }
            aborting.insert(*pid);
            aborted_iter.next();
        }
        if h.is_control() {
            if aborting.contains(&h.producer_id) {
                // An ABORT marker (control type 0) ends the producer's aborted transaction.
                let mut it = records(batch)?;
                if let Some(r) = it.next() {
                    let r = r?;
                    let kind = r.key.as_ref().filter(|k| k.len() >= 4).map(|k| i16::from_be_bytes([k[2], k[3]]));
                    if kind == Some(0) {
                        aborting.remove(&h.producer_id);
                    }
                }
            }
            continue;
        }
        if h.is_transactional() && aborting.contains(&h.producer_id) {
            continue;
        }
        let log_append = h.timestamp_type() == TimestampType::LogAppendTime;
        for r in records(batch)? {
            let r = r?;
            if r.offset < offset {
                continue;
            }
            epochs.push(h.partition_leader_epoch);
            out.push(ConsumerRecord {
                topic: tp.0.clone(),
                partition: tp.1,
                offset: r.offset,
                timestamp: if log_append { h.max_timestamp } else { r.timestamp },
                timestamp_type: h.timestamp_type(),
                key: r.key,
                value: r.value,
                headers: r.headers,
            });
        }
    }
    Ok((out, epochs, next, last_epoch))
}

/// What `decode` found: records, their leader epochs, the next fetch offset, the last batch's leader epoch.
type Decoded = (Vec<ConsumerRecord>, Vec<i32>, i64, Option<i32>);

/// ListOffsets for each `(partition, timestamp)` (-2 earliest, -1 latest), grouped by leader, retrying leader
/// moves until `request.timeout.ms`. Returns `(offset, timestamp)` per partition.
pub(crate) async fn list_offsets(shared: &Shared, targets: &[(TopicPartition, i64)]) -> Result<BTreeMap<TopicPartition, (i64, i64)>, ConsumerError> {
    let deadline = Instant::now() + shared.cfg.request_timeout;
    let mut out = BTreeMap::new();
    let mut todo: Vec<(TopicPartition, i64)> = targets.to_vec();
    loop {
        let md = {
            let md = shared.cluster.metadata();
            let missing: BTreeSet<String> = todo.iter().filter(|(tp, _)| md.leader(&tp.0, tp.1).is_none()).map(|(tp, _)| tp.0.clone()).collect();
            if missing.is_empty() {
                md
            } else {
                let topics: Vec<String> = todo.iter().map(|(tp, _)| tp.0.clone()).collect::<BTreeSet<_>>().into_iter().collect();
                shared.cluster.refresh(Some(&topics), false).await?
            }
        };
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        let mut retry: Vec<(TopicPartition, i64)> = Vec::new();
        let mut last_err: Option<ClientError> = None;
        for (tp, ts) in todo.drain(..) {
            match md.leader(&tp.0, tp.1) {
                Some(l) => by_leader.entry(l).or_default().push((tp, ts)),
                None => {
                    match md.topics.get(&tp.0).map(|t| t.error) {
                        Some(code) if code != 0 && !needs_metadata(code) => return Err(ClientError::kafka(code, None).unwrap().into()),
                        _ => {}
                    }
                    last_err = Some(ClientError::kafka(3, Some(format!("no leader for {}-{}", tp.0, tp.1))).unwrap());
                    retry.push((tp, ts));
                }
            }
        }
        for (leader, parts) in by_leader {
            let conn = match shared.cluster.broker(leader).await {
                Ok(c) => c,
                Err(e) => {
                    last_err = Some(e);
                    retry.extend(parts);
                    continue;
                }
            };
            let mut topics: Vec<list_offsets_request::ListOffsetsTopic> = Vec::new();
            for ((t, p), ts) in &parts {
                let lp = list_offsets_request::ListOffsetsPartition::default()
                    .with_partition_index(*p)
                    .with_current_leader_epoch(md.leader_epoch(t, *p).unwrap_or(-1))
                    .with_timestamp(*ts);
                match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
                    Some(x) => x.partitions.push(lp),
                    None => topics.push(list_offsets_request::ListOffsetsTopic::default().with_name(topic_name(t)).with_partitions(vec![lp])),
                }
            }
            let req = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_isolation_level(isolation(shared))
                .with_timeout_ms(shared.cfg.request_timeout.as_millis() as i32)
                .with_topics(topics);
            let resp: ListOffsetsResponse = match tokio::time::timeout(shared.cfg.request_timeout, conn.send(ApiKey::ListOffsets, &req)).await {
                Ok(Ok((r, _))) => r,
                Ok(Err(e)) if e.is_retriable() => {
                    last_err = Some(e);
                    retry.extend(parts);
                    continue;
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(ClientError::Timeout(shared.cfg.request_timeout.as_millis() as u64).into()),
            };
            let asked: HashMap<TopicPartition, i64> = parts.into_iter().collect();
            for t in resp.topics {
                for p in t.partitions {
                    let tp = (t.name.0.to_string(), p.partition_index);
                    let Some(ts) = asked.get(&tp).copied() else { continue };
                    match p.error_code {
                        0 => {
                            out.insert(tp, (p.offset, p.timestamp));
                        }
                        c => {
                            let e = ClientError::kafka(c, None).unwrap();
                            if needs_metadata(c) || e.is_retriable() {
                                last_err = Some(e);
                                retry.push((tp, ts));
                            } else {
                                return Err(e.into());
                            }
                        }
                    }
                }
            }
        }
        if retry.is_empty() {
            return Ok(out);
        }
        if Instant::now() + shared.cfg.retry_backoff >= deadline {
            return Err(last_err.unwrap_or(ClientError::Timeout(shared.cfg.request_timeout.as_millis() as u64)).into());
        }
        tokio::time::sleep(shared.cfg.retry_backoff).await;
        let topics: Vec<String> = retry.iter().map(|(tp, _)| tp.0.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let _ = shared.cluster.refresh(Some(&topics), false).await;
        todo = retry;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BatchBuilder, Compression};

    fn batch(base: i64, n: usize, codec: Compression) -> Vec<u8> {
        let mut b = BatchBuilder::new(codec).base_offset(base);
        for i in 0..n {
            b.append(1000 + i as i64, Some(b"k"), Some(format!("v{}", base + i as i64).as_bytes()), &[]);
        }
        b.build().unwrap()
    }

    #[test]
    fn decode_skips_records_below_the_position_and_reports_the_next_offset() {
        let mut bytes = batch(0, 5, Compression::Lz4);
        bytes.extend(batch(5, 5, Compression::None));
        // A partial trailing batch (a fetch response cut at max bytes) is ignored.
        let third = batch(10, 5, Compression::None);
        bytes.extend(&third[..third.len() - 3]);
        let tp = ("t".to_string(), 0);
        let (recs, _, next, _) = decode(&tp, Bytes::from(bytes), 3, &[]).unwrap();
        assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), (3..10).collect::<Vec<_>>());
        assert_eq!(recs[0].value.as_deref(), Some(&b"v3"[..]));
        assert_eq!(next, 10);
        let (recs, _, next, _) = decode(&tp, Bytes::from(batch(0, 5, Compression::None)), 7, &[]).unwrap();
        assert!(recs.is_empty());
        assert_eq!(next, 7, "never behind the position");
    }

    /// `batch` written by a leader at `epoch` (the broker stamps it at bytes 12..16, outside the CRC).
    fn batch_at_epoch(base: i64, n: usize, epoch: i32) -> Vec<u8> {
        let mut v = batch(base, n, Compression::None);
        v[12..16].copy_from_slice(&epoch.to_be_bytes());
        v
    }

    #[test]
    fn decode_reports_the_leader_epoch_of_the_last_batch_it_reached() {
        let tp = ("t".to_string(), 0);
        let mut bytes = batch_at_epoch(0, 5, 3);
        bytes.extend(batch_at_epoch(5, 5, 4));
        let (_, epochs, next, epoch) = decode(&tp, Bytes::from(bytes.clone()), 0, &[]).unwrap();
        assert_eq!((next, epoch), (10, Some(4)), "the fetch position continues epoch 4's history");
        assert_eq!(epochs, [3, 3, 3, 3, 3, 4, 4, 4, 4, 4]);
        // Below the position only: no history reached, nothing to validate against.
        let (recs, _, _, epoch) = decode(&tp, Bytes::from(batch_at_epoch(0, 5, 3)), 7, &[]).unwrap();
        assert!(recs.is_empty());
        assert_eq!(epoch, None);
        // A batch without an epoch (-1: an old broker) does not replace a known one.
        let mut bytes = batch_at_epoch(0, 5, 3);
        bytes.extend(batch(5, 5, Compression::None));
        assert_eq!(decode(&tp, Bytes::from(bytes), 0, &[]).unwrap().3, Some(3));
    }

    fn txn_batch(base: i64, n: usize, pid: i64) -> Vec<u8> {
        let mut b = BatchBuilder::new(Compression::None).base_offset(base).producer(pid, 0, 0).transactional(true);
        for i in 0..n {
            b.append(1000, None, Some(format!("v{}", base + i as i64).as_bytes()), &[]);
        }
        b.build().unwrap()
    }

    /// A control batch (marker type 0 = ABORT, 1 = COMMIT) of `pid`, made by flipping the control bit of a
    /// transactional batch holding one control record (decoding does not check the CRC).
    fn marker(base: i64, pid: i64, kind: i16) -> Vec<u8> {
        let mut b = BatchBuilder::new(Compression::None).base_offset(base).producer(pid, 0, 0).transactional(true);
        let mut key = 0i16.to_be_bytes().to_vec();
        key.extend(kind.to_be_bytes());
        b.append(1000, Some(&key), Some(&[0, 0, 0, 0, 0, 0]), &[]);
        let mut v = b.build().unwrap();
        let at = 21; // attributes, after base offset, length, leader epoch, magic and CRC
        let attrs = i16::from_be_bytes([v[at], v[at + 1]]) | crate::record::ATTR_CONTROL;
        v[at..at + 2].copy_from_slice(&attrs.to_be_bytes());
        v
    }

    #[test]
    fn read_committed_skips_aborted_transactions_and_markers() {
        let mut bytes = txn_batch(0, 3, 7); // aborted below
        bytes.extend(batch(3, 2, Compression::None)); // not transactional
        bytes.extend(marker(5, 7, 0)); // ABORT for producer 7
        bytes.extend(txn_batch(6, 2, 7)); // a later transaction of 7, committed
        bytes.extend(marker(8, 7, 1)); // COMMIT
        let tp = ("t".to_string(), 0);
        let (recs, _, next, _) = decode(&tp, Bytes::from(bytes.clone()), 0, &[(0, 7)]).unwrap();
        assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![3, 4, 6, 7]);
        assert_eq!(next, 9);
        // read_uncommitted (no aborted list): everything but the markers.
        let (recs, _, _, _) = decode(&tp, Bytes::from(bytes), 0, &[]).unwrap();
        assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 6, 7]);
    }
}
