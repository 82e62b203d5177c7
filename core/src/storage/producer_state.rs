//! Idempotent producer state: per producer id, its epoch and its last five batches on this partition, enough
//! to recognise a retried batch (duplicate) and to detect lost ones (sequence gap), as Kafka's
//! ProducerStateManager does. Transactions are not tracked here yet.
//!
//! Semantics follow Kafka's current `ProducerAppendInfo` for client appends:
//! - lower epoch than known -> InvalidProducerEpoch;
//! - new (higher) epoch must start at sequence 0 -> else OutOfOrderSequence;
//! - same epoch: first sequence must follow the last one (wrapping at i32::MAX) -> else OutOfOrderSequence;
//! - unknown producer: any sequence is accepted (Kafka stopped answering UNKNOWN_PRODUCER_ID here after
//!   KIP-360, because the state may legitimately be gone after retention or DeleteRecords).

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::record::BatchHeader;

use super::checkpoint::write_atomic;
use super::{offset_file_name, AppendError};

/// Batches remembered per producer: the Java producer has at most five in flight per partition.
pub const RETAINED_BATCHES: usize = 5;
const SNAPSHOT_MAGIC: &[u8; 4] = b"SLPS";
const SNAPSHOT_VERSION: u16 = 1;
const SNAPSHOT_SUFFIX: &str = ".snapshot";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMetadata>,
}

impl ProducerEntry {
    fn add(&mut self, epoch: i16, meta: BatchMetadata) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
        if self.batches.len() == RETAINED_BATCHES {
            self.batches.pop_front();
        }
        self.batches.push_back(meta);
    }
}

/// Updates computed by `prepare`, applied by `commit` once the bytes are on disk.
#[derive(Debug, Default)]
pub struct StagedProducers(HashMap<i64, ProducerEntry>);

#[derive(Debug)]
pub enum Prepared {
    Append(StagedProducers),
    Duplicate(BatchMetadata),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
}

fn in_sequence(last: i32, next: i32) -> bool {
    next as i64 == last as i64 + 1 || (next == 0 && last == i32::MAX)
}

impl ProducerStateManager {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Epoch and remembered batches of one producer.
    pub fn producer(&self, producer_id: i64) -> Option<(i16, Vec<BatchMetadata>)> {
        self.producers.get(&producer_id).map(|e| (e.epoch, e.batches.iter().copied().collect()))
    }

    /// Checks a request's batches in order, as if each earlier one had been appended, with offsets assigned
    /// from `first_offset`. Nothing changes until `commit`.
    pub fn prepare(&self, headers: &[BatchHeader], first_offset: i64) -> Result<Prepared, AppendError> {
        let mut staged: HashMap<i64, ProducerEntry> = HashMap::new();
        let mut offset = first_offset;
        for h in headers {
            let (base, last) = (offset, offset + h.last_offset_delta as i64);
            offset = last + 1;
            if !h.has_producer_id() {
                continue;
            }
            let pid = h.producer_id;
            let known = self.producers.get(&pid);
            let entry = staged.entry(pid).or_insert_with(|| known.cloned().unwrap_or_default());
            let exists = known.is_some() || !entry.batches.is_empty();
            if exists {
                if h.producer_epoch < entry.epoch {
                    return Err(AppendError::InvalidProducerEpoch {
                        producer_id: pid,
                        current: entry.epoch,
                        found: h.producer_epoch,
                    });
                }
                if h.producer_epoch == entry.epoch {
                    if let Some(dup) =
                        entry.batches.iter().find(|b| b.first_seq == h.base_sequence && b.last_seq == h.last_sequence())
                    {
                        return Ok(Prepared::Duplicate(*dup));
                    }
                    let last_seq = entry.batches.back().map_or(-1, |b| b.last_seq);
                    if !in_sequence(last_seq, h.base_sequence) {
                        return Err(AppendError::OutOfOrderSequence {
                            producer_id: pid,
                            expected: last_seq.wrapping_add(1).max(0),
                            found: h.base_sequence,
                        });
                    }
                } else if h.base_sequence != 0 {
                    return Err(AppendError::OutOfOrderSequence { producer_id: pid, expected: 0, found: h.base_sequence });
                }
            }
            let meta = BatchMetadata { first_seq: h.base_sequence, last_seq: h.last_sequence(), first_offset: base, last_offset: last };
            entry.add(h.producer_epoch, meta);
        }
        Ok(Prepared::Append(StagedProducers(staged)))
    }

    pub fn commit(&mut self, staged: StagedProducers) {
        self.producers.extend(staged.0);
    }

    /// Replays a batch already in the log (rebuild after restart): no validation, like Kafka's replication path.
    pub fn replay(&mut self, h: &BatchHeader) {
        if !h.has_producer_id() {
            return;
        }
        let meta = BatchMetadata {
            first_seq: h.base_sequence,
            last_seq: h.last_sequence(),
            first_offset: h.base_offset,
            last_offset: h.last_offset(),
        };
        self.producers.entry(h.producer_id).or_default().add(h.producer_epoch, meta);
    }

    /// Forgets batches at or after `offset` (log truncation). A producer left with none keeps its epoch.
    pub fn truncate_to(&mut self, offset: i64) {
        for e in self.producers.values_mut() {
            e.batches.retain(|b| b.last_offset < offset);
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&(self.producers.len() as u32).to_be_bytes());
        let mut ids: Vec<_> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        for pid in ids {
            let e = &self.producers[&pid];
            out.extend_from_slice(&pid.to_be_bytes());
            out.extend_from_slice(&e.epoch.to_be_bytes());
            out.push(e.batches.len() as u8);
            for b in &e.batches {
                out.extend_from_slice(&b.first_seq.to_be_bytes());
                out.extend_from_slice(&b.last_seq.to_be_bytes());
                out.extend_from_slice(&b.first_offset.to_be_bytes());
                out.extend_from_slice(&b.last_offset.to_be_bytes());
            }
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    fn decode(buf: &[u8]) -> Option<Self> {
        let (body, crc) = buf.split_at(buf.len().checked_sub(4)?);
        if crc32c::crc32c(body).to_be_bytes() != crc || body.get(..4)? != SNAPSHOT_MAGIC {
            return None;
        }
        let mut r = Reader { buf: body, pos: 4 };
        if u16::from_be_bytes(r.take()?) != SNAPSHOT_VERSION {
            return None;
        }
        let n = u32::from_be_bytes(r.take()?);
        let mut producers = HashMap::new();
        for _ in 0..n {
            let pid = i64::from_be_bytes(r.take()?);
            let epoch = i16::from_be_bytes(r.take()?);
            let [count] = r.take::<1>()?;
            let mut batches = VecDeque::new();
            for _ in 0..count {
                batches.push_back(BatchMetadata {
                    first_seq: i32::from_be_bytes(r.take()?),
                    last_seq: i32::from_be_bytes(r.take()?),
                    first_offset: i64::from_be_bytes(r.take()?),
                    last_offset: i64::from_be_bytes(r.take()?),
                });
            }
            producers.insert(pid, ProducerEntry { epoch, batches });
        }
        (r.pos == body.len()).then_some(ProducerStateManager { producers })
    }

    /// Writes `<offset>.snapshot` (state as of log end `offset`) atomically, keeping only the newest two.
    pub fn write_snapshot(&self, dir: &Path, offset: i64) -> io::Result<()> {
        write_atomic(&dir.join(offset_file_name(offset, SNAPSHOT_SUFFIX)), &self.encode())?;
        let snaps = list_snapshots(dir)?;
        for (_, p) in snaps.iter().rev().skip(2) {
            let _ = fs::remove_file(p);
        }
        Ok(())
    }

    /// Newest readable snapshot taken at or before `max_offset`, and its offset. Snapshots beyond it (from a
    /// log that was since truncated) and unreadable ones are deleted.
    pub fn load_snapshot(dir: &Path, max_offset: i64) -> io::Result<Option<(i64, Self)>> {
        for (off, path) in list_snapshots(dir)?.into_iter().rev() {
            if off <= max_offset {
                if let Some(state) = Self::decode(&fs::read(&path)?) {
                    return Ok(Some((off, state)));
                }
                tracing::warn!(path = %path.display(), "ignoring corrupt producer state snapshot");
            }
            let _ = fs::remove_file(&path);
        }
        Ok(None)
    }
}

/// Snapshot files of a partition directory, sorted by offset.
fn list_snapshots(dir: &Path) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let path = e?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(off) = name.strip_suffix(SNAPSHOT_SUFFIX).and_then(|s| s.parse::<i64>().ok()) {
            out.push((off, path));
        }
    }
    out.sort();
    Ok(out)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.buf.get(self.pos..self.pos + N)?.try_into().ok()?;
        self.pos += N;
        Some(b)
    }
}
