//! openraft's log storage on disk: the entries in `raft.log` (`[u32 length][u32 crc32c][JSON entry]`, fsynced
//! before openraft is told they are written), the vote in `vote.json` and the purge point in `purged.json`
//! (each replaced atomically: temp file, fsync, rename, fsync of the directory). A torn tail (a crash mid-append)
//! fails its checksum and is cut off on open; it was never acknowledged. After openraft purges entries below a
//! snapshot, the file is rewritten without them once they make up most of it.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{Entry, LogId, LogState, RaftLogId, RaftLogReader, StorageError, StorageIOError, Vote};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;

use super::{io_other, NodeId, TypeConfig};

const LOG_FILE: &str = "raft.log";
const VOTE_FILE: &str = "vote.json";
const PURGED_FILE: &str = "purged.json";
const COMMITTED_FILE: &str = "committed.json";

struct Inner {
    dir: PathBuf,
    file: File,
    /// index -> (entry, position of its frame in the file).
    entries: BTreeMap<u64, (Entry<TypeConfig>, u64)>,
    end: u64,
    vote: Option<Vote<NodeId>>,
    purged: Option<LogId<NodeId>>,
    committed: Option<LogId<NodeId>>,
}

#[derive(Clone)]
pub struct RaftLogStore {
    inner: Arc<Mutex<Inner>>,
    empty: bool,
}

fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(io_other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_json_atomic<T: Serialize>(dir: &Path, name: &str, value: &T) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(value).map_err(io_other)?)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

fn frame(entry: &Entry<TypeConfig>) -> io::Result<Vec<u8>> {
    let body = serde_json::to_vec(entry).map_err(io_other)?;
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

impl Inner {
    /// Rewrites the log file with the entries still held.
    fn rewrite(&mut self) -> io::Result<()> {
        let tmp = self.dir.join(format!("{LOG_FILE}.tmp"));
        let mut bytes = Vec::new();
        let mut positions = Vec::with_capacity(self.entries.len());
        for (index, (entry, _)) in &self.entries {
            positions.push((*index, bytes.len() as u64));
            bytes.extend_from_slice(&frame(entry)?);
        }
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.dir.join(LOG_FILE))?;
        File::open(&self.dir)?.sync_all()?;
        self.file = OpenOptions::new().read(true).write(true).open(self.dir.join(LOG_FILE))?;
        self.end = bytes.len() as u64;
        for (index, pos) in positions {
            if let Some(e) = self.entries.get_mut(&index) {
                e.1 = pos;
            }
        }
        Ok(())
    }
}

impl RaftLogStore {
    pub fn open(dir: &Path) -> io::Result<Self> {
        let path = dir.join(LOG_FILE);
        let mut data = Vec::new();
        if path.exists() {
            File::open(&path)?.read_to_end(&mut data)?;
        }
        let purged: Option<LogId<NodeId>> = read_json(&dir.join(PURGED_FILE))?;
        let mut entries = BTreeMap::new();
        let mut pos = 0usize;
        while data.len() - pos >= 8 {
            let len = u32::from_be_bytes(data[pos..pos + 4].try_into().expect("4 bytes")) as usize;
            let crc = u32::from_be_bytes(data[pos + 4..pos + 8].try_into().expect("4 bytes"));
            let Some(body) = data.get(pos + 8..pos + 8 + len) else { break };
            if crc32c::crc32c(body) != crc {
                break;
            }
            let entry: Entry<TypeConfig> = serde_json::from_slice(body).map_err(io_other)?;
            let index = entry.get_log_id().index;
            // A truncation rewrote the tail: a later frame for an index replaces the earlier one and whatever
            // followed it.
            let stale: Vec<u64> = entries.range(index..).map(|(k, _)| *k).collect();
            for k in stale {
                entries.remove(&k);
            }
            entries.insert(index, (entry, pos as u64));
            pos += 8 + len;
        }
        if pos < data.len() {
            tracing::warn!(path = %path.display(), valid = pos, len = data.len(), "truncating torn raft log tail");
        }
        let file = OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path)?;
        file.set_len(pos as u64)?;
        file.sync_all()?;
        if let Some(p) = purged {
            entries.retain(|&i, _| i > p.index);
        }
        let vote = read_json(&dir.join(VOTE_FILE))?;
        let committed = read_json(&dir.join(COMMITTED_FILE))?;
        let empty = entries.is_empty() && purged.is_none() && vote.is_none();
        let inner = Inner { dir: dir.to_path_buf(), file, entries, end: pos as u64, vote, purged, committed };
        Ok(RaftLogStore { inner: Arc::new(Mutex::new(inner)), empty })
    }

    /// Nothing was ever written: a fresh member.
    pub fn is_empty(&self) -> bool {
        self.empty
    }
}

fn write_err(e: io::Error) -> StorageError<NodeId> {
    StorageIOError::write_logs(&e).into()
}

impl RaftLogReader<TypeConfig> for RaftLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        let inner = self.inner.lock().await;
        Ok(inner.entries.range(range).map(|(_, (e, _))| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for RaftLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let inner = self.inner.lock().await;
        let last = inner.entries.values().next_back().map(|(e, _)| *e.get_log_id()).or(inner.purged);
        Ok(LogState { last_purged_log_id: inner.purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut inner = self.inner.lock().await;
        write_json_atomic(&inner.dir, VOTE_FILE, vote).map_err(|e| StorageError::from(StorageIOError::write_vote(&e)))?;
        inner.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.inner.lock().await.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), StorageError<NodeId>> {
        let mut inner = self.inner.lock().await;
        // Only a hint for a faster restart (the leader re-establishes it), so no fsync ordering is needed beyond
        // the atomic replace.
        write_json_atomic(&inner.dir, COMMITTED_FILE, &committed).map_err(write_err)?;
        inner.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self.inner.lock().await.committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
    {
        let mut inner = self.inner.lock().await;
        let mut bytes = Vec::new();
        let mut added = Vec::new();
        for entry in entries {
            let pos = inner.end + bytes.len() as u64;
            bytes.extend_from_slice(&frame(&entry).map_err(write_err)?);
            added.push((entry, pos));
        }
        let start = inner.end;
        let written = inner
            .file
            .seek(io::SeekFrom::Start(start))
            .and_then(|_| inner.file.write_all(&bytes))
            .and_then(|_| inner.file.sync_data());
        if let Err(e) = written {
            let _ = inner.file.set_len(start);
            callback.log_io_completed(Err(io_other(&e)));
            return Err(write_err(e));
        }
        inner.end += bytes.len() as u64;
        for (entry, pos) in added {
            inner.entries.insert(entry.get_log_id().index, (entry, pos));
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut inner = self.inner.lock().await;
        let Some(&(_, pos)) = inner.entries.get(&log_id.index) else { return Ok(()) };
        inner.file.set_len(pos).and_then(|_| inner.file.sync_all()).map_err(write_err)?;
        inner.end = pos;
        let gone: Vec<u64> = inner.entries.range(log_id.index..).map(|(k, _)| *k).collect();
        for k in gone {
            inner.entries.remove(&k);
        }
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut inner = self.inner.lock().await;
        // The purge point is durable before entries are forgotten (entries at or below it are skipped on open).
        write_json_atomic(&inner.dir, PURGED_FILE, &log_id).map_err(write_err)?;
        inner.purged = Some(log_id);
        let gone: Vec<u64> = inner.entries.range(..=log_id.index).map(|(k, _)| *k).collect();
        for k in gone {
            inner.entries.remove(&k);
        }
        // Once most of the file is purged entries, rewrite it with the live ones (temp file, fsync, rename), so
        // that it does not grow forever nor slow every start.
        let live_start = inner.entries.values().next().map_or(inner.end, |(_, pos)| *pos);
        if live_start > inner.end / 2 && live_start > 1 << 20 {
            inner.rewrite().map_err(write_err)?;
        }
        Ok(())
    }
}
