//! The Raft state machine: the metadata image. Committed batches are decoded and applied in log order, each
//! record at the next metadata offset; a snapshot is the image's records (what rebuilds it) with the offset it
//! stands for and openraft's bookkeeping (last applied log id, membership), kept in `snapshot.json` so that a
//! restarted node whose log was purged below the snapshot still rebuilds its image.

use std::collections::VecDeque;
use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{BasicNode, Entry, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError, StoredMembership};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{io_other, NodeId, TypeConfig};
use crate::metadata::image::MetadataImage;
use crate::metadata::records::MetadataRecord;

const SNAPSHOT_FILE: &str = "snapshot.json";
/// Batches kept for observers that replay incrementally; one further behind reloads the whole image.
const RECENT_BATCHES: usize = 4096;

/// Records applied together, from `first_offset` on.
#[derive(Debug, Clone)]
pub struct AppliedBatch {
    pub first_offset: i64,
    pub records: Vec<MetadataRecord>,
}

pub struct Applied {
    pub image: MetadataImage,
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    recent: VecDeque<AppliedBatch>,
}

impl Applied {
    pub fn since(&self, after: i64) -> Vec<AppliedBatch> {
        self.recent.iter().filter(|b| b.first_offset + b.records.len() as i64 - 1 > after).cloned().collect()
    }
}

#[derive(Serialize, Deserialize)]
struct SnapshotData {
    /// The metadata offset of the last record the snapshot covers.
    offset: i64,
    records: Vec<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    data: Vec<u8>,
}

#[derive(Clone)]
pub struct MetadataStateMachine {
    dir: PathBuf,
    cluster_id: String,
    state: Arc<Mutex<Applied>>,
    applied_tx: Arc<watch::Sender<i64>>,
}

fn image_from(cluster_id: &str, data: &SnapshotData) -> io::Result<MetadataImage> {
    let mut image = MetadataImage::new(cluster_id);
    for bytes in &data.records {
        image.apply(data.offset, &MetadataRecord::decode(bytes).map_err(io_other)?);
    }
    image.offset = data.offset;
    Ok(image)
}

impl MetadataStateMachine {
    pub fn open(dir: &Path, cluster_id: &str) -> io::Result<(Self, Arc<Mutex<Applied>>, watch::Receiver<i64>)> {
        let mut applied = Applied {
            image: MetadataImage::new(cluster_id),
            last_applied: None,
            membership: StoredMembership::default(),
            recent: VecDeque::new(),
        };
        if let Ok(bytes) = std::fs::read(dir.join(SNAPSHOT_FILE)) {
            let stored: StoredSnapshot = serde_json::from_slice(&bytes).map_err(io_other)?;
            let data: SnapshotData = serde_json::from_slice(&stored.data).map_err(io_other)?;
            applied.image = image_from(cluster_id, &data)?;
            applied.last_applied = stored.meta.last_log_id;
            applied.membership = stored.meta.last_membership.clone();
        }
        let (tx, rx) = watch::channel(applied.image.offset);
        let state = Arc::new(Mutex::new(applied));
        let sm = MetadataStateMachine { dir: dir.to_path_buf(), cluster_id: cluster_id.to_string(), state: state.clone(), applied_tx: Arc::new(tx) };
        Ok((sm, state, rx))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Applied> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self, stored: &StoredSnapshot) -> io::Result<()> {
        let tmp = self.dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec(stored).map_err(io_other)?)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, self.dir.join(SNAPSHOT_FILE))?;
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

impl RaftSnapshotBuilder<TypeConfig> for MetadataStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let (meta, data) = {
            let st = self.lock();
            let data = SnapshotData { offset: st.image.offset, records: st.image.to_records().iter().map(MetadataRecord::encode).collect() };
            let id = match st.last_applied {
                Some(l) => format!("{}-{}-{}", l.leader_id, l.index, st.image.offset),
                None => format!("--{}", st.image.offset),
            };
            let meta = SnapshotMeta { last_log_id: st.last_applied, last_membership: st.membership.clone(), snapshot_id: id };
            (meta, serde_json::to_vec(&data).map_err(|e| StorageError::from(StorageIOError::write_snapshot(None, &e)))?)
        };
        let stored = StoredSnapshot { meta: meta.clone(), data: data.clone() };
        self.save(&stored).map_err(|e| StorageError::from(StorageIOError::write_snapshot(Some(meta.signature()), &e)))?;
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}

impl RaftStateMachine<TypeConfig> for MetadataStateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>> {
        let st = self.lock();
        Ok((st.last_applied, st.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<i64>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
    {
        let mut answers = Vec::new();
        let mut last = None;
        {
            let mut st = self.lock();
            for entry in entries {
                st.last_applied = Some(entry.log_id);
                match entry.payload {
                    EntryPayload::Blank => {}
                    EntryPayload::Membership(m) => st.membership = StoredMembership::new(Some(entry.log_id), m),
                    EntryPayload::Normal(batch) => {
                        let mut records = Vec::with_capacity(batch.0.len());
                        for bytes in &batch.0 {
                            let r = MetadataRecord::decode(bytes).map_err(|e| StorageError::from(StorageIOError::apply(entry.log_id, &e)))?;
                            records.push(r);
                        }
                        let first_offset = st.image.offset + 1;
                        for (i, r) in records.iter().enumerate() {
                            st.image.apply(first_offset + i as i64, r);
                        }
                        if !records.is_empty() {
                            st.recent.push_back(AppliedBatch { first_offset, records });
                            if st.recent.len() > RECENT_BATCHES {
                                st.recent.pop_front();
                            }
                        }
                    }
                }
                answers.push(st.image.offset);
                last = Some(st.image.offset);
            }
        }
        if let Some(o) = last {
            self.applied_tx.send_replace(o);
        }
        Ok(answers)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta<NodeId, BasicNode>, snapshot: Box<Cursor<Vec<u8>>>) -> Result<(), StorageError<NodeId>> {
        let bytes = snapshot.into_inner();
        let read_err = |e: &dyn std::fmt::Display| StorageError::from(StorageIOError::read_snapshot(Some(meta.signature()), &io_other(e)));
        let data: SnapshotData = serde_json::from_slice(&bytes).map_err(|e| read_err(&e))?;
        let image = image_from(&self.cluster_id, &data).map_err(|e| read_err(&e))?;
        let stored = StoredSnapshot { meta: meta.clone(), data: bytes };
        self.save(&stored).map_err(|e| StorageError::from(StorageIOError::write_snapshot(Some(meta.signature()), &e)))?;
        let offset = image.offset;
        {
            let mut st = self.lock();
            st.image = image;
            st.last_applied = meta.last_log_id;
            st.membership = meta.last_membership.clone();
            // Observers further behind than the snapshot reload the whole image.
            st.recent.clear();
        }
        self.applied_tx.send_replace(offset);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let Ok(bytes) = std::fs::read(self.dir.join(SNAPSHOT_FILE)) else { return Ok(None) };
        let stored: StoredSnapshot = serde_json::from_slice(&bytes).map_err(|e| StorageError::from(StorageIOError::read_snapshot(None, &io_other(e))))?;
        Ok(Some(Snapshot { meta: stored.meta, snapshot: Box::new(Cursor::new(stored.data)) }))
    }
}
