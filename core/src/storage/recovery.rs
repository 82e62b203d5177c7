//! Loading a partition directory: trusting what the recovery point covers, scanning and CRC-checking the rest,
//! cutting the log at the first torn or corrupt batch, and rebuilding producer state.

use std::fs;
use std::io;

use super::leader_epoch::EpochEntry;
use super::log::PartitionLog;
use super::producer_state::ProducerStateManager;
use super::segment::{ScanEnd, Segment};
use super::cleaner::{complete_swap, CLEANED_SUFFIX, SWAP_SUFFIX};
use super::offset_file_name;

impl PartitionLog {
    pub(super) fn load(&mut self, recovery_point: Option<i64>) -> io::Result<()> {
        let interval = self.config.index_interval_bytes as u64;
        let index_bytes = self.config.segment_index_bytes;
        finish_cleaner_swaps(&self.dir)?;
        let mut bases = Vec::new();
        let mut index_files = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let path = e?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(&path); // an interrupted atomic write; the old file is intact
            } else if let Some(base) =
                name.strip_suffix(".index").or(name.strip_suffix(".timeindex")).and_then(|b| b.parse::<i64>().ok())
            {
                index_files.push((base, path));
            } else if let Some(base) = name.strip_suffix(".log").and_then(|b| b.parse::<i64>().ok()) {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        // Indexes whose `.log` is gone (a segment deletion interrupted between the files) are stale.
        for (base, path) in index_files {
            if bases.binary_search(&base).is_err() {
                let _ = fs::remove_file(path);
            }
        }
        let rp = recovery_point.unwrap_or(i64::MIN);
        let mut scanning = false;
        let mut any_recovered = false;
        let mut segments: Vec<Segment> = Vec::new();
        let mut recovered: Vec<bool> = Vec::new();
        for (i, &base) in bases.iter().enumerate() {
            let index_missing = !self.dir.join(offset_file_name(base, ".index")).exists()
                || !self.dir.join(offset_file_name(base, ".timeindex")).exists();
            let mut seg = Segment::open(&self.dir, base)?;
            let loaded = !scanning && !index_missing && seg.load()?;
            let overlaps = segments.last().is_some_and(|p| p.next_offset > base);
            if overlaps {
                tracing::warn!(dir = %self.dir.display(), base, "segment overlaps its predecessor; dropping it and later ones");
                drop_segments(seg, &bases[i + 1..], &self.dir)?;
                break;
            }
            // Scan from the first segment that reaches past the recovery point, and any with a broken index.
            let must_recover = !loaded || seg.next_offset > rp;
            if must_recover {
                any_recovered = true;
                let end = seg.recover(interval, index_bytes)?;
                // A segment below the recovery point only needed its index rebuilt; past it, all later ones
                // are unflushed too.
                scanning |= seg.next_offset > rp;
                if let ScanEnd::Corrupt { position, reason } = end {
                    tracing::warn!(dir = %self.dir.display(), base, position, %reason, "truncating log at corrupt batch");
                    segments.push(seg);
                    recovered.push(true);
                    for &later in &bases[i + 1..] {
                        Segment::open(&self.dir, later)?.delete()?;
                    }
                    break;
                }
            }
            segments.push(seg);
            recovered.push(must_recover);
        }
        if segments.is_empty() {
            segments.push(Segment::create(&self.dir, 0, index_bytes)?);
        }
        // Recovered inactive segments get exact-size indexes; everything recovered is fsynced so the recovery
        // point can honestly move to the end.
        let last = segments.len() - 1;
        for (seg, _) in segments[..last].iter_mut().zip(&recovered).filter(|(_, r)| **r) {
            seg.seal()?;
        }
        segments[last].make_active(index_bytes)?;
        if any_recovered {
            segments[last].flush()?;
        }
        self.segments = segments;
        self.log_start_offset = self.segments[0].base_offset;
        self.cleaner_checkpoint = self.log_start_offset;
        let end = self.log_end_offset();
        self.recovery_point = if any_recovered { end } else { rp.clamp(self.log_start_offset, end) };
        self.rebuild_producer_state()
    }

    /// Brings the leader-epoch cache in line with the recovered log: entries beyond the end (the log was cut) or
    /// before the start go. A missing file on a non-empty log (a log written before the cache existed, or a
    /// lost file) is rebuilt from the batches' `partitionLeaderEpoch` fields, a header scan.
    pub(super) fn load_epochs(&mut self, on_disk: bool) -> io::Result<()> {
        let (start, end) = (self.log_start_offset, self.log_end_offset());
        if !on_disk && end > start {
            let mut entries: Vec<EpochEntry> = Vec::new();
            for seg in &self.segments {
                let mut pos = 0;
                while let Some(h) = seg.header_at(pos)? {
                    let newer = entries.last().is_none_or(|e| h.partition_leader_epoch > e.epoch);
                    if h.partition_leader_epoch >= 0 && newer {
                        entries.push(EpochEntry { epoch: h.partition_leader_epoch, start_offset: h.base_offset });
                    }
                    pos += h.total_size() as u64;
                }
            }
            self.epochs.reset(entries)?;
        }
        self.epochs.truncate_from_end(end)?;
        self.epochs.truncate_from_start(start)
    }

    /// Newest valid snapshot at or below the log end, then every batch header after it.
    pub(super) fn rebuild_producer_state(&mut self) -> io::Result<()> {
        let end = self.log_end_offset();
        let (from, mut state) = match ProducerStateManager::load_snapshot(&self.dir, end)? {
            Some((off, s)) => (off, s),
            None => (self.log_start_offset, ProducerStateManager::new()),
        };
        for seg in self.segments.iter().filter(|s| s.next_offset > from) {
            let Some((mut pos, _)) = seg.find_batch(from)? else { continue };
            while let Some(h) = seg.header_at(pos)? {
                if h.base_offset >= from {
                    state.replay(&h);
                }
                pos += h.total_size() as u64;
            }
        }
        self.producers = state;
        Ok(())
    }
}

/// Kafka's rule for files the cleaner left behind: a `.cleaned` file was never complete (the original is still
/// there), so it goes; a `.swap` file is complete and fsynced, so the replacement is finished.
fn finish_cleaner_swaps(dir: &std::path::Path) -> io::Result<()> {
    for e in fs::read_dir(dir)? {
        let path = e?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if name.ends_with(CLEANED_SUFFIX) {
            tracing::warn!(path = %path.display(), "deleting incomplete cleaned segment");
            fs::remove_file(&path)?;
        } else if let Some(base) = name.strip_suffix(SWAP_SUFFIX).and_then(|b| b.parse::<i64>().ok()) {
            tracing::warn!(path = %path.display(), "completing interrupted cleaner swap");
            complete_swap(dir, base)?;
        }
    }
    Ok(())
}

fn drop_segments(first: Segment, later: &[i64], dir: &std::path::Path) -> io::Result<()> {
    first.delete()?;
    for &b in later {
        Segment::open(dir, b)?.delete()?;
    }
    Ok(())
}
