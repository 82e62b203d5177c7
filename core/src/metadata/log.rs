//! The metadata log behind a small trait, so that the quorum that replicates it is replaceable: the controller
//! side appends records and gets them back committed, in order, with their offsets.
//!
//! [`LocalMetadataLog`] is the one-voter quorum: a record is committed once it is fsynced in the data dir, so
//! `append` returns only after the fsync. Its file (`__cluster_metadata.log`) holds entries
//! `[u32 len][u32 crc32c(rest)][i64 offset][Kafka record frame]`; a torn or corrupt tail (a crash mid-append) is
//! cut off on open, so a crash never leaves an unreadable log, and nothing acknowledged is lost because nothing
//! is acknowledged before its fsync. When the log holds many more records than the image needs, it is rewritten
//! as a snapshot (the image's records, all at the image's offset) through a temp file and an atomic rename.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut};

use super::records::MetadataRecord;

pub const LOG_FILE: &str = "__cluster_metadata.log";

pub trait MetadataLog: Send {
    /// Makes `records` durable and committed, in order; returns the offset of the last one.
    fn append(&mut self, records: &[MetadataRecord]) -> io::Result<i64>;
    /// The node id of the quorum's leader (the active controller), when one is known.
    fn leader(&self) -> Option<i32>;
    /// The offset of the last committed record (-1 when empty).
    fn last_offset(&self) -> i64;
    /// Replaces the log's prefix by a snapshot: records that rebuild the image as of `offset`.
    fn compact(&mut self, snapshot: &[MetadataRecord], offset: i64) -> io::Result<()>;
}

pub struct LocalMetadataLog {
    path: PathBuf,
    file: File,
    node_id: i32,
    last_offset: i64,
    /// Records in the file, to decide when a snapshot is worth it.
    pub entries: usize,
}

fn encode_entry(out: &mut Vec<u8>, offset: i64, record: &MetadataRecord) {
    let mut body = Vec::with_capacity(64);
    body.put_i64(offset);
    body.extend_from_slice(&record.encode());
    out.put_u32(body.len() as u32);
    out.put_u32(crc32c::crc32c(&body));
    out.extend_from_slice(&body);
}

/// Entries from the start of `data` and the length of the valid prefix.
fn decode_entries(data: &[u8]) -> (Vec<(i64, MetadataRecord)>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while data.len() - pos >= 8 {
        let mut head = &data[pos..pos + 8];
        let len = head.get_u32() as usize;
        let crc = head.get_u32();
        let Some(body) = data.get(pos + 8..pos + 8 + len) else { break };
        if len < 8 || crc32c::crc32c(body) != crc {
            break;
        }
        let offset = i64::from_be_bytes(body[..8].try_into().expect("8 bytes"));
        match MetadataRecord::decode(&body[8..]) {
            Ok(r) => out.push((offset, r)),
            Err(e) => {
                // A record this version cannot read behind a valid checksum is not a torn write: stop here
                // rather than cut it, so that nothing is destroyed.
                tracing::error!(error = %e, offset, "unreadable metadata record");
                break;
            }
        }
        pos += 8 + len;
    }
    (out, pos)
}

impl LocalMetadataLog {
    /// Opens (or creates) the log in `dir`; returns it and its committed records.
    pub fn open(dir: &Path, node_id: i32) -> io::Result<(Self, Vec<(i64, MetadataRecord)>)> {
        let path = dir.join(LOG_FILE);
        let mut data = Vec::new();
        if path.exists() {
            File::open(&path)?.read_to_end(&mut data)?;
        }
        let (records, valid) = decode_entries(&data);
        if valid < data.len() {
            tracing::warn!(path = %path.display(), valid, len = data.len(), "truncating torn metadata log tail");
        }
        let file = OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path)?;
        file.set_len(valid as u64)?;
        file.sync_all()?;
        let last_offset = records.last().map_or(-1, |(o, _)| *o);
        let log = LocalMetadataLog { path, file, node_id, last_offset, entries: records.len() };
        Ok((log, records))
    }

    fn write_all_synced(&mut self, bytes: &[u8]) -> io::Result<()> {
        let start = self.file.seek(io::SeekFrom::End(0))?;
        if let Err(e) = self.file.write_all(bytes).and_then(|_| self.file.sync_data()) {
            // Leave no torn entry behind a failed write (a full disk): cut back to the last good length.
            let _ = self.file.set_len(start);
            return Err(e);
        }
        Ok(())
    }
}

impl MetadataLog for LocalMetadataLog {
    fn append(&mut self, records: &[MetadataRecord]) -> io::Result<i64> {
        if records.is_empty() {
            return Ok(self.last_offset);
        }
        let mut bytes = Vec::new();
        for (i, r) in records.iter().enumerate() {
            encode_entry(&mut bytes, self.last_offset + 1 + i as i64, r);
        }
        self.write_all_synced(&bytes)?;
        self.last_offset += records.len() as i64;
        self.entries += records.len();
        Ok(self.last_offset)
    }

    fn leader(&self) -> Option<i32> {
        Some(self.node_id)
    }

    fn last_offset(&self) -> i64 {
        self.last_offset
    }

    fn compact(&mut self, snapshot: &[MetadataRecord], offset: i64) -> io::Result<()> {
        let tmp = self.path.with_extension("log.tmp");
        let mut bytes = Vec::new();
        for r in snapshot {
            encode_entry(&mut bytes, offset, r);
        }
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(parent) = self.path.parent() {
            File::open(parent)?.sync_all()?;
        }
        self.file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        self.entries = snapshot.len();
        self.last_offset = self.last_offset.max(offset);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::records::{NoOpRecord, TopicRecord};

    #[test]
    fn appends_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let t: MetadataRecord = TopicRecord { name: "a".into(), topic_id: uuid::Uuid::from_u128(1) }.into();
        {
            let (mut log, recs) = LocalMetadataLog::open(dir.path(), 1).unwrap();
            assert!(recs.is_empty());
            assert_eq!(log.append(&[t.clone(), NoOpRecord {}.into()]).unwrap(), 1);
            assert_eq!(log.append(&[NoOpRecord {}.into()]).unwrap(), 2);
        }
        // A crash mid-append: half an entry at the end.
        let path = dir.path().join(LOG_FILE);
        let mut data = std::fs::read(&path).unwrap();
        let whole = data.len();
        data.extend_from_slice(&data[..10].to_vec());
        std::fs::write(&path, &data).unwrap();
        let (mut log, recs) = LocalMetadataLog::open(dir.path(), 1).unwrap();
        assert_eq!(recs.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(recs[0].1, t);
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, whole);
        assert_eq!(log.append(&[NoOpRecord {}.into()]).unwrap(), 3);
        // A snapshot keeps the offsets moving forward.
        log.compact(&[t.clone()], 3).unwrap();
        assert_eq!(log.append(&[NoOpRecord {}.into()]).unwrap(), 4);
        drop(log);
        let (_, recs) = LocalMetadataLog::open(dir.path(), 1).unwrap();
        assert_eq!(recs.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![3, 4]);
    }
}
