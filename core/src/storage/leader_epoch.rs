//! The leader-epoch cache: for each leader epoch the partition has seen, the first offset written in it
//! (KIP-101). A follower and a former leader use it to find where their log diverges from the current leader's:
//! the leader answers "my epoch E ends at offset O" (OffsetForLeaderEpoch, or a Fetch's DivergingEpoch) and the
//! replica truncates what it holds beyond that.
//!
//! Persisted per partition as Kafka's `leader-epoch-checkpoint`: a version line "0", an entry count line, then
//! "epoch startOffset" lines, oldest first, replaced atomically on every change (changes happen only on leader
//! changes and truncations, so the fsync this costs is rare).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::checkpoint::write_atomic;

pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

/// Kafka's "no epoch" / "no offset" answers (`UNDEFINED_EPOCH`, `UNDEFINED_EPOCH_OFFSET`).
pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

#[derive(Debug)]
pub struct LeaderEpochCache {
    path: PathBuf,
    /// Strictly increasing in both epoch and start offset.
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// Reads `<dir>/leader-epoch-checkpoint`; a missing file is an empty cache (`None` tells the caller to rebuild
    /// it from the batches), a malformed one an `InvalidData` error naming the file.
    pub fn open(dir: &Path) -> io::Result<(Self, bool)> {
        let path = dir.join(LEADER_EPOCH_CHECKPOINT);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((LeaderEpochCache { path, entries: Vec::new() }, false)),
            Err(e) => return Err(e),
        };
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {what}", path.display()));
        let mut lines = text.lines();
        if lines.next() != Some("0") {
            return Err(bad("unsupported checkpoint version"));
        }
        let count: usize = lines.next().and_then(|l| l.trim().parse().ok()).ok_or_else(|| bad("bad entry count"))?;
        let mut entries = Vec::with_capacity(count.min(1024));
        for line in lines.by_ref().take(count) {
            let mut parts = line.split(' ');
            let (Some(e), Some(o), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad("malformed entry"));
            };
            let epoch: i32 = e.parse().map_err(|_| bad("bad epoch"))?;
            let start_offset: i64 = o.parse().map_err(|_| bad("bad start offset"))?;
            if entries.last().is_some_and(|l: &EpochEntry| l.epoch >= epoch || l.start_offset > start_offset) {
                return Err(bad("entries out of order"));
            }
            entries.push(EpochEntry { epoch, start_offset });
        }
        if entries.len() != count {
            return Err(bad("entry count mismatch"));
        }
        Ok((LeaderEpochCache { path, entries }, true))
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// The epoch of the last batch at or below `offset`'s entry (what a follower sends as LastFetchedEpoch).
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.entries.iter().rev().find(|e| e.start_offset <= offset).map(|e| e.epoch)
    }

    /// Records that `epoch` starts at `start_offset`, unless it is already the latest epoch. As in Kafka, an
    /// entry that is not newer in both epoch and offset replaces the ones it conflicts with (those with an epoch
    /// or a start offset at least as large), so the cache stays monotonic. Returns whether the file changed.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> io::Result<bool> {
        if epoch < 0 || self.latest_epoch() == Some(epoch) {
            return Ok(false);
        }
        self.entries.retain(|e| e.epoch < epoch && e.start_offset < start_offset);
        self.entries.push(EpochEntry { epoch, start_offset });
        self.flush()?;
        Ok(true)
    }

    /// Kafka's `endOffsetFor`: the largest epoch <= `requested` this log knows, and the offset where it ends
    /// (the start of the next epoch, or `log_end_offset` for the latest). `(UNDEFINED_EPOCH,
    /// UNDEFINED_EPOCH_OFFSET)` when `requested` is undefined or newer than every epoch we know.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        if requested == UNDEFINED_EPOCH {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end_offset);
        }
        let Some(higher) = self.entries.iter().find(|e| e.epoch > requested) else {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        };
        match self.entries.iter().rev().find(|e| e.epoch <= requested) {
            // Older than anything we know: the requested epoch ended where our oldest one starts.
            None => (requested, higher.start_offset),
            Some(floor) => (floor.epoch, higher.start_offset),
        }
    }

    /// After the log was cut at `end_offset`: forget epochs that start at or after it.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> io::Result<()> {
        if self.entries.last().is_some_and(|e| e.start_offset >= end_offset) {
            self.entries.retain(|e| e.start_offset < end_offset);
            self.flush()?;
        }
        Ok(())
    }

    /// After the log start moved to `start_offset`: epochs that ended before it go, and the one it falls in now
    /// starts there.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> io::Result<()> {
        let Some(keep) = self.entries.iter().rposition(|e| e.start_offset <= start_offset) else { return Ok(()) };
        if keep == 0 && self.entries[0].start_offset == start_offset {
            return Ok(());
        }
        self.entries.drain(..keep);
        self.entries[0].start_offset = start_offset;
        self.flush()
    }

    /// Replaces the whole cache (rebuilt from the batches when the file was missing).
    pub fn reset(&mut self, entries: Vec<EpochEntry>) -> io::Result<()> {
        self.entries = entries;
        self.flush()
    }

    fn flush(&self) -> io::Result<()> {
        let mut out = format!("0\n{}\n", self.entries.len());
        for e in &self.entries {
            out.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
        }
        write_atomic(&self.path, out.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> (tempfile::TempDir, LeaderEpochCache) {
        let dir = tempfile::tempdir().unwrap();
        let (c, existed) = LeaderEpochCache::open(dir.path()).unwrap();
        assert!(!existed);
        (dir, c)
    }

    #[test]
    fn file_format_and_reload() {
        let (dir, mut c) = cache();
        assert!(c.assign(0, 0).unwrap());
        assert!(!c.assign(0, 5).unwrap(), "the latest epoch is not re-assigned");
        assert!(c.assign(3, 10).unwrap());
        assert_eq!(fs::read_to_string(dir.path().join(LEADER_EPOCH_CHECKPOINT)).unwrap(), "0\n2\n0 0\n3 10\n");
        let (again, existed) = LeaderEpochCache::open(dir.path()).unwrap();
        assert!(existed);
        assert_eq!(again.entries(), c.entries());
        fs::write(dir.path().join(LEADER_EPOCH_CHECKPOINT), "0\n2\n3 10\n1 4\n").unwrap();
        assert!(LeaderEpochCache::open(dir.path()).is_err());
    }

    #[test]
    fn end_offset_for_follows_kafka() {
        let (_d, mut c) = cache();
        c.assign(1, 0).unwrap();
        c.assign(3, 10).unwrap();
        c.assign(5, 20).unwrap();
        assert_eq!(c.end_offset_for(5, 25), (5, 25), "latest epoch ends at the LEO");
        assert_eq!(c.end_offset_for(3, 25), (3, 20));
        assert_eq!(c.end_offset_for(4, 25), (3, 20), "unknown epoch in between: the floor epoch and its end");
        assert_eq!(c.end_offset_for(0, 25), (0, 0), "older than all: ends where the oldest starts");
        assert_eq!(c.end_offset_for(6, 25), (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET));
        assert_eq!(c.end_offset_for(UNDEFINED_EPOCH, 25), (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET));
        assert_eq!(c.epoch_for_offset(15), Some(3));
    }

    #[test]
    fn truncation_both_ends_and_conflicting_assign() {
        let (_d, mut c) = cache();
        c.assign(1, 0).unwrap();
        c.assign(3, 10).unwrap();
        c.assign(5, 20).unwrap();
        c.truncate_from_end(20).unwrap();
        assert_eq!(c.latest_epoch(), Some(3));
        c.truncate_from_start(12).unwrap();
        assert_eq!(c.entries(), &[EpochEntry { epoch: 3, start_offset: 12 }]);
        // An older epoch at a later offset (a stale leader's batch after truncation) replaces the newer one.
        c.assign(6, 30).unwrap();
        c.assign(4, 15).unwrap();
        assert_eq!(c.entries(), &[EpochEntry { epoch: 3, start_offset: 12 }, EpochEntry { epoch: 4, start_offset: 15 }]);
    }
}
