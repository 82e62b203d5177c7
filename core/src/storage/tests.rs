//! Partition log tests on temp dirs: indexes, rolls, reads, recovery, retention, idempotence.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::Bytes;

use super::*;
use crate::record::{batches, records, BatchBuilder, Compression, TimestampType};

fn batch_at(n: usize, ts: i64, value_len: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(Compression::None);
    let v = vec![b'x'; value_len];
    for i in 0..n {
        b.append(ts + i as i64, Some(format!("k{i}").as_bytes()), Some(&v), &[]);
    }
    b.build().unwrap()
}

fn batch(n: usize) -> Vec<u8> {
    batch_at(n, 1_000, 10)
}

fn pbatch(pid: i64, epoch: i16, seq: i32, n: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(Compression::None).producer(pid, epoch, seq);
    for _ in 0..n {
        b.append(1_000, None, Some(b"v"), &[]);
    }
    b.build().unwrap()
}

fn small_config() -> LogConfig {
    LogConfig { index_interval_bytes: 100, ..LogConfig::default() }
}

fn open(dir: &Path, config: LogConfig, rp: Option<i64>) -> PartitionLog {
    PartitionLog::open(dir, "t", 0, config, rp).unwrap()
}

fn seg_file(dir: &Path, base: i64, suffix: &str) -> std::path::PathBuf {
    dir.join("t-0").join(format!("{base:020}{suffix}"))
}

/// Offsets of every record readable from `from`, following `read` across segments.
fn all_offsets(log: &PartitionLog, from: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut at = from;
    while at < log.log_end_offset() {
        let s = log.read(at, 1 << 20, true, i64::MAX).unwrap();
        assert!(!s.is_empty());
        for b in batches(s.read_bytes().unwrap()) {
            let (_, bytes) = b.unwrap();
            out.extend(records(bytes).unwrap().map(|r| r.unwrap().offset));
        }
        at = s.next_offset;
    }
    out
}

#[test]
fn append_assigns_offsets_and_writes_kafka_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), None);
    let mut req = batch(3);
    req.extend(batch(2));
    let info = log.append(&mut req, 7, 50).unwrap();
    assert_eq!((info.base_offset, info.last_offset, info.log_append_time, info.record_count), (0, 4, -1, 5));
    let info = log.append(&mut batch(1), 7, 50).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (5, 5));
    assert_eq!(log.log_end_offset(), 6);
    let on_disk = fs::read(seg_file(dir.path(), 0, ".log")).unwrap();
    assert_eq!(on_disk.len() as u64, log.size_bytes());
    let hs: Vec<_> = batches(Bytes::from(on_disk)).map(|b| b.unwrap().0).collect();
    assert_eq!(hs.iter().map(|h| (h.base_offset, h.partition_leader_epoch)).collect::<Vec<_>>(), vec![(0, 7), (3, 7), (5, 7)]);
    assert!(seg_file(dir.path(), 0, ".index").exists() && seg_file(dir.path(), 0, ".timeindex").exists());
    assert_eq!(all_offsets(&log, 0), (0..6).collect::<Vec<_>>());
}

#[test]
fn sparse_index_lookups_find_every_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), None);
    for _ in 0..50 {
        log.append(&mut batch_at(2, 1_000, 30), 0, 0).unwrap();
    }
    log.close().unwrap();
    // ~100 byte interval over ~50 batches of ~130 bytes: an entry for (almost) every batch but the first.
    let idx = fs::read(seg_file(dir.path(), 0, ".index")).unwrap();
    assert!(idx.len() >= 8 * 40, "index entries: {}", idx.len());
    assert_eq!(idx.len() % 8, 0, "index trimmed to whole entries");
    let first_rel = u32::from_be_bytes(idx[0..4].try_into().unwrap());
    let first_pos = u32::from_be_bytes(idx[4..8].try_into().unwrap());
    assert!(first_rel > 0 && first_pos > 0, "the first batch is never indexed");
    for off in [0, 1, 2, 37, 38, 99] {
        let s = log.read(off, 1, true, i64::MAX).unwrap();
        let h = batches(s.read_bytes().unwrap()).next().unwrap().unwrap().0;
        assert!(h.base_offset <= off && off <= h.last_offset(), "offset {off} in batch {}", h.base_offset);
    }
}

#[test]
fn time_index_and_offset_for_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), None);
    for i in 0..20 {
        // batches of 3 records at ts 100*i, 100*i+1, 100*i+2
        log.append(&mut batch_at(3, 100 * i, 30), 0, 0).unwrap();
    }
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 0)));
    assert_eq!(log.offset_for_timestamp(501).unwrap(), Some((16, 501)), "exact record inside a batch");
    assert_eq!(log.offset_for_timestamp(503).unwrap(), Some((18, 600)));
    assert_eq!(log.offset_for_timestamp(1_903).unwrap(), None);
    assert_eq!(log.max_timestamp().unwrap(), Some((1_902, 59)));
    log.close().unwrap();
    let t = fs::read(seg_file(dir.path(), 0, ".timeindex")).unwrap();
    assert_eq!(t.len() % 12, 0);
    let last = &t[t.len() - 12..];
    assert_eq!(i64::from_be_bytes(last[0..8].try_into().unwrap()), 1_902, "close records the max timestamp");
    let log = open(dir.path(), small_config(), Some(60));
    assert_eq!(log.offset_for_timestamp(501).unwrap(), Some((16, 501)));
    assert_eq!(log.max_timestamp().unwrap(), Some((1_902, 59)));
}

#[test]
fn rolls_by_size_time_and_full_index() {
    let dir = tempfile::tempdir().unwrap();
    let one = batch(1).len() as u64;
    let cfg = LogConfig { segment_bytes: one * 3, ..small_config() };
    let mut log = open(dir.path(), cfg, None);
    for _ in 0..7 {
        log.append(&mut batch(1), 0, 0).unwrap();
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 3, 6]);
    assert_eq!(log.recovery_point(), 6, "rolled segments are fsynced");
    // The sealed segment's indexes are trimmed to their entries.
    assert_eq!(fs::metadata(seg_file(dir.path(), 0, ".index")).unwrap().len() % 8, 0);
    assert!(fs::metadata(seg_file(dir.path(), 0, ".index")).unwrap().len() < 100);
    assert!(seg_file(dir.path(), 6, ".snapshot").exists());
    assert!(matches!(
        log.append(&mut batch(20), 0, 0),
        Err(AppendError::Record(crate::record::RecordError::MessageTooLarge { .. }))
    ), "a batch larger than a segment is refused");

    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig { segment_ms: 1_000, ..small_config() }, None);
    log.append(&mut batch(1), 0, 10_000).unwrap();
    log.append(&mut batch(1), 0, 10_999).unwrap();
    log.append(&mut batch(1), 0, 11_000).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);

    let dir = tempfile::tempdir().unwrap();
    // Room for 3 offset entries / 2 time entries (one reserved): a tiny index forces rolls.
    let mut log = open(dir.path(), LogConfig { segment_index_bytes: 24, index_interval_bytes: 1, ..LogConfig::default() }, None);
    for i in 0..10 {
        log.append(&mut batch_at(1, i, 10), 0, 0).unwrap();
    }
    assert!(log.segment_count() > 2, "segments: {:?}", log.segment_base_offsets());
    assert_eq!(all_offsets(&log, 0), (0..10).collect::<Vec<_>>());
}

#[test]
fn reads_respect_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let one = batch(2).len();
    let mut log = open(dir.path(), LogConfig { segment_bytes: (one * 3) as u64, ..small_config() }, None);
    for _ in 0..7 {
        log.append(&mut batch(2), 0, 0).unwrap(); // offsets 0..14, segments at 0, 6, 12
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 6, 12]);
    let s = log.read(3, one * 10, false, i64::MAX).unwrap();
    assert_eq!((s.first_offset, s.next_offset, s.len), (2, 6, one * 2), "one segment per read, whole batches");
    let s = log.read(6, one * 2 + 5, false, i64::MAX).unwrap();
    assert_eq!((s.first_offset, s.next_offset), (6, 10));
    assert!(log.read(6, one - 1, false, i64::MAX).unwrap().is_empty(), "too small without min_one_batch");
    let s = log.read(6, 1, true, i64::MAX).unwrap();
    assert_eq!((s.len, s.next_offset), (one, 8), "KIP-74: one whole batch");
    let s = log.read(6, one * 10, true, 9).unwrap();
    assert_eq!(s.next_offset, 8, "the batch holding offset 9 is beyond the high watermark");
    assert!(log.read(8, one * 10, true, 8).unwrap().is_empty());
    assert!(log.read(14, 100, true, i64::MAX).unwrap().is_empty(), "log end: empty");
    assert!(matches!(log.read(15, 100, true, i64::MAX), Err(ReadError::OffsetOutOfRange { .. })));
    assert_eq!(all_offsets(&log, 0), (0..14).collect::<Vec<_>>());
    log.delete_records_before(7).unwrap();
    assert!(matches!(log.read(5, 100, true, i64::MAX), Err(ReadError::OffsetOutOfRange { .. })));
}

#[test]
fn recovery_cuts_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = open(dir.path(), small_config(), None);
        for _ in 0..10 {
            log.append(&mut batch(2), 0, 0).unwrap();
        }
    } // dropped without close: a crash
    let path = seg_file(dir.path(), 0, ".log");
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 7).unwrap();
    let mut log = open(dir.path(), small_config(), None);
    assert_eq!(log.log_end_offset(), 18, "the torn last batch is dropped, the nine before it kept");
    assert_eq!(log.recovery_point(), 18);
    assert_eq!(fs::metadata(&path).unwrap().len(), len - batch(2).len() as u64);
    assert_eq!(log.append(&mut batch(1), 0, 0).unwrap().base_offset, 18);
    assert_eq!(all_offsets(&log, 0), (0..19).collect::<Vec<_>>());
}

#[test]
fn recovery_cuts_at_bad_crc_and_drops_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let one = batch(1).len();
    let cfg = LogConfig { segment_bytes: (one * 4) as u64, ..small_config() };
    {
        let mut log = open(dir.path(), cfg.clone(), None);
        for _ in 0..10 {
            log.append(&mut batch(1), 0, 0).unwrap();
        }
        assert_eq!(log.segment_base_offsets(), vec![0, 4, 8]);
    }
    // Corrupt a record byte of the last batch of the middle segment (offset 7).
    let f = OpenOptions::new().write(true).open(seg_file(dir.path(), 4, ".log")).unwrap();
    f.write_all_at(b"Z", (one * 3 + 65) as u64).unwrap();
    let log = open(dir.path(), cfg, Some(2));
    assert_eq!(log.segment_base_offsets(), vec![0, 4]);
    assert_eq!(log.log_end_offset(), 7);
    assert!(!seg_file(dir.path(), 8, ".log").exists());
    assert_eq!(all_offsets(&log, 0), (0..7).collect::<Vec<_>>());
}

#[test]
fn missing_or_garbage_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config();
    {
        let mut log = open(dir.path(), cfg.clone(), None);
        for _ in 0..30 {
            log.append(&mut batch_at(1, 5, 100), 0, 0).unwrap();
        }
        log.close().unwrap();
    }
    let index = seg_file(dir.path(), 0, ".index");
    let good = fs::read(&index).unwrap();
    fs::remove_file(&index).unwrap();
    let log = open(dir.path(), cfg.clone(), Some(30));
    assert_eq!(log.log_end_offset(), 30);
    drop(log);
    assert!(fs::metadata(&index).unwrap().len() > 0);
    let mut garbage = good.clone();
    garbage[4..8].copy_from_slice(&u32::MAX.to_be_bytes()); // position beyond the log
    fs::write(&index, &garbage).unwrap();
    let mut log = open(dir.path(), cfg, Some(30));
    assert_eq!(all_offsets(&log, 0), (0..30).collect::<Vec<_>>());
    log.close().unwrap();
    assert_eq!(fs::read(&index).unwrap(), good, "rebuilt index equals the original");
}

#[test]
fn clean_reopen_trusts_segments_without_scanning() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = open(dir.path(), small_config(), None);
        for _ in 0..5 {
            log.append(&mut batch(2), 0, 0).unwrap();
        }
        log.close().unwrap();
        assert_eq!(log.recovery_point(), 10);
    }
    // A flipped record byte is only noticed by a CRC scan; trusting the recovery point skips it.
    let f = OpenOptions::new().write(true).open(seg_file(dir.path(), 0, ".log")).unwrap();
    f.write_all_at(b"Z", 70).unwrap();
    let log = open(dir.path(), small_config(), Some(10));
    assert_eq!((log.log_end_offset(), log.recovery_point()), (10, 10));
    drop(log);
    let log = open(dir.path(), small_config(), None);
    assert_eq!(log.log_end_offset(), 0, "a full recovery does check the CRC and cuts at the bad batch");
}

#[test]
fn retention_by_time_and_bytes_and_delete_records() {
    let dir = tempfile::tempdir().unwrap();
    let one = batch(1).len() as u64;
    let cfg = LogConfig { segment_bytes: one * 2, retention_ms: 1_000, ..small_config() };
    let mut log = open(dir.path(), cfg, None);
    for i in 0..8 {
        log.append(&mut batch_at(1, 1_000 * i, 10), 0, 0).unwrap(); // segments [0,1] [2,3] [4,5] [6,7]
    }
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 4, 6]);
    // Segments whose largest timestamp is older than now - 1000 = 3500: [0,1] (1000) and [2,3] (3000).
    assert_eq!(log.apply_retention(4_500).unwrap(), 2);
    assert_eq!((log.log_start_offset(), log.segment_base_offsets()), (4, vec![4, 6]));
    assert!(!seg_file(dir.path(), 0, ".log").exists());
    assert_eq!(log.apply_retention(1_000_000).unwrap(), 1, "never the active segment");
    assert_eq!(log.segment_base_offsets(), vec![6]);

    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig { segment_bytes: one * 2, retention_ms: -1, retention_bytes: (one * 3) as i64, ..small_config() };
    let mut log = open(dir.path(), cfg, None);
    for _ in 0..7 {
        log.append(&mut batch(1), 0, 0).unwrap(); // 3.5 segments
    }
    assert_eq!(log.apply_retention(i64::MAX).unwrap(), 2);
    assert_eq!(log.size_bytes(), one * 3);
    assert_eq!(log.log_start_offset(), 4);

    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig { segment_bytes: one * 2, ..small_config() }, None);
    for _ in 0..6 {
        log.append(&mut batch(1), 0, 0).unwrap();
    }
    assert_eq!(log.delete_records_before(3).unwrap(), 3);
    assert_eq!(log.segment_base_offsets(), vec![2, 4], "only whole segments below the start go");
    assert_eq!(all_offsets(&log, 3), vec![3, 4, 5]);
    assert!(log.delete_records_before(7).is_err());
    assert_eq!(log.delete_records_before(1).unwrap(), 3, "never moves back");
}

#[test]
fn idempotent_producer_duplicates_gaps_and_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), None);
    assert_eq!(log.append(&mut pbatch(1, 0, 0, 3), 0, 0).unwrap().base_offset, 0);
    assert_eq!(log.append(&mut pbatch(1, 0, 3, 2), 0, 0).unwrap().base_offset, 3);
    let end = log.log_end_offset();
    match log.append(&mut pbatch(1, 0, 0, 3), 0, 0) {
        Err(AppendError::Duplicate { base_offset: 0, last_offset: 2 }) => {}
        other => panic!("expected duplicate, got {other:?}"),
    }
    assert_eq!(log.log_end_offset(), end, "a duplicate writes nothing");
    assert!(matches!(
        log.append(&mut pbatch(1, 0, 6, 1), 0, 0),
        Err(AppendError::OutOfOrderSequence { expected: 5, found: 6, .. })
    ));
    assert!(matches!(log.append(&mut pbatch(1, 1, 5, 1), 0, 0), Err(AppendError::OutOfOrderSequence { expected: 0, .. })));
    log.append(&mut pbatch(1, 1, 0, 1), 0, 0).unwrap(); // epoch bump restarts at 0
    assert!(matches!(log.append(&mut pbatch(1, 0, 5, 1), 0, 0), Err(AppendError::InvalidProducerEpoch { current: 1, .. })));
    // Unknown producer: Kafka accepts any first sequence since KIP-360.
    log.append(&mut pbatch(2, 0, 42, 1), 0, 0).unwrap();
    // Several batches of one producer in a request are checked in order.
    let mut req = pbatch(3, 0, 0, 2);
    req.extend(pbatch(3, 0, 2, 2));
    log.append(&mut req, 0, 0).unwrap();
    let mut req = pbatch(3, 0, 4, 1);
    req.extend(pbatch(3, 0, 9, 1));
    assert!(matches!(log.append(&mut req, 0, 0), Err(AppendError::OutOfOrderSequence { .. })));
    // Only the last five batches are remembered.
    for s in 4..10 {
        log.append(&mut pbatch(3, 0, s, 1), 0, 0).unwrap();
    }
    assert_eq!(log.producer_state().producer(3).unwrap().1.len(), 5);
}

#[test]
fn producer_state_rebuilt_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let one = pbatch(1, 0, 0, 1).len() as u64;
    let cfg = LogConfig { segment_bytes: one * 2, ..small_config() };
    {
        let mut log = open(dir.path(), cfg.clone(), None);
        for s in 0..5 {
            log.append(&mut pbatch(1, 0, s, 1), 0, 0).unwrap(); // rolls write snapshots at 2 and 4
        }
        log.append(&mut pbatch(7, 3, 0, 2), 0, 0).unwrap();
    } // crash: the tail after the last snapshot is replayed from batch headers
    let mut log = open(dir.path(), cfg.clone(), None);
    assert!(matches!(log.append(&mut pbatch(1, 0, 4, 1), 0, 0), Err(AppendError::Duplicate { base_offset: 4, .. })));
    assert!(matches!(log.append(&mut pbatch(7, 3, 0, 2), 0, 0), Err(AppendError::Duplicate { base_offset: 5, .. })));
    assert!(matches!(log.append(&mut pbatch(7, 2, 2, 1), 0, 0), Err(AppendError::InvalidProducerEpoch { .. })));
    log.append(&mut pbatch(1, 0, 5, 1), 0, 0).unwrap();
    let before = log.producer_state().clone();
    log.close().unwrap();
    let log = open(dir.path(), cfg.clone(), Some(log.recovery_point()));
    assert_eq!(log.producer_state(), &before, "clean close: snapshot alone restores it");
    drop(log);
    // A corrupt newest snapshot falls back to an older one plus replay.
    let newest = fs::read_dir(dir.path().join("t-0")).unwrap().map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "snapshot")).max().unwrap();
    fs::write(&newest, b"garbage").unwrap();
    let log = open(dir.path(), cfg, None);
    assert_eq!(log.producer_state(), &before);
}

#[test]
fn truncate_flush_and_log_append_time() {
    let dir = tempfile::tempdir().unwrap();
    let one = batch(2).len() as u64;
    let cfg = LogConfig { segment_bytes: one * 2, message_timestamp_type: TimestampType::LogAppendTime, ..small_config() };
    let mut log = open(dir.path(), cfg.clone(), None);
    for _ in 0..5 {
        let info = log.append(&mut batch(2), 0, 123_456).unwrap();
        assert_eq!(info.log_append_time, 123_456);
    }
    let s = log.read(0, 1 << 20, true, i64::MAX).unwrap();
    let r = records(s.read_bytes().unwrap()).unwrap().next().unwrap().unwrap();
    assert_eq!(r.timestamp, 123_456);

    let handle = log.flush_handle();
    log.append(&mut batch(2), 0, 0).unwrap(); // arrives during the fsync: rides the next one
    let flushed = handle.sync().unwrap();
    log.mark_flushed(flushed);
    assert_eq!((log.recovery_point(), log.log_end_offset()), (10, 12));

    log.truncate_to(5).unwrap(); // inside batch [4,5]: it goes whole
    assert_eq!(log.log_end_offset(), 4);
    assert_eq!(log.segment_base_offsets(), vec![0, 4]);
    assert_eq!(log.recovery_point(), 4);
    assert_eq!(log.append(&mut batch(1), 0, 0).unwrap().base_offset, 4);
    log.truncate_to(0).unwrap();
    assert_eq!((log.log_end_offset(), log.segment_count()), (0, 1));
    log.close().unwrap();
    let log = open(dir.path(), cfg, None);
    assert_eq!(log.log_end_offset(), 0);
    log.delete().unwrap();
    assert!(!dir.path().join("t-0").exists());
}

#[test]
fn flush_messages_policy_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig { flush_messages: 3, ..small_config() }, None);
    log.append(&mut batch(2), 0, 0).unwrap();
    assert_eq!(log.recovery_point(), 0);
    log.append(&mut batch(2), 0, 0).unwrap();
    assert_eq!(log.recovery_point(), 4);
}

#[test]
fn failed_write_leaves_log_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config(), None);
    log.append(&mut batch(2), 0, 0).unwrap();
    // Swap the active segment's handle for a read-only one: the write fails (EBADF), as ENOSPC/EIO would.
    let rw = log.segments.last().unwrap().file.clone();
    let ro = fs::File::open(seg_file(dir.path(), 0, ".log")).unwrap();
    log.segments.last_mut().unwrap().file = std::sync::Arc::new(ro);
    let mut req = pbatch(9, 0, 0, 1);
    assert!(matches!(log.append(&mut req, 0, 0), Err(AppendError::Io(_))));
    assert_eq!(log.log_end_offset(), 2);
    assert!(log.producer_state().producer(9).is_none(), "producer state untouched by a failed write");
    log.segments.last_mut().unwrap().file = rw;
    assert_eq!(log.append(&mut pbatch(9, 0, 0, 1), 0, 0).unwrap().base_offset, 2, "the retry is not a duplicate");
    drop(log);
    let log = open(dir.path(), small_config(), None);
    assert_eq!(all_offsets(&log, 0), vec![0, 1, 2]);
}

#[test]
fn log_types_can_cross_threads() {
    // The broker keeps logs in Arc<Mutex<_>> shared by tokio tasks and hands slices/handles to blocking threads.
    fn send_sync<T: Send + Sync>() {}
    send_sync::<PartitionLog>();
    send_sync::<LogManager>();
    send_sync::<ReadSlice>();
    send_sync::<FlushHandle>();
}

/// Reads every stored batch's bytes (as a follower would fetch them).
fn stored_bytes(log: &PartitionLog) -> Vec<u8> {
    let s = log.read(log.log_start_offset(), usize::MAX, true, i64::MAX).unwrap();
    s.read_bytes().unwrap().to_vec()
}

#[test]
fn leader_stamps_epochs_and_follower_keeps_the_leaders_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let (ldir, fdir) = (dir.path().join("leader"), dir.path().join("follower"));
    let mut leader = open(&ldir, small_config(), Some(0));
    leader.append(&mut pbatch(7, 0, 0, 3), 0, 10).unwrap();
    leader.append(&mut pbatch(7, 0, 3, 2), 2, 10).unwrap();
    leader.append(&mut batch(4), 5, 10).unwrap();
    let epochs: Vec<_> = leader.leader_epochs().entries().iter().map(|e| (e.epoch, e.start_offset)).collect();
    assert_eq!(epochs, vec![(0, 0), (2, 3), (5, 5)]);
    let bytes = stored_bytes(&leader);
    let stamped: Vec<i32> = batches(Bytes::from(bytes.clone())).map(|b| b.unwrap().0.partition_leader_epoch).collect();
    assert_eq!(stamped, vec![0, 2, 5]);

    let mut follower = open(&fdir, small_config(), Some(0));
    let info = follower.append_as_follower(&bytes, 10).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (0, 8));
    assert_eq!(stored_bytes(&follower), bytes, "byte-identical replica");
    assert_eq!(follower.leader_epochs().entries(), leader.leader_epochs().entries());
    assert_eq!(follower.producer_state().producer(7).unwrap().1.last().unwrap().last_offset, 4);
    // A batch that does not follow the log end, or whose CRC is broken, is refused and nothing is written.
    assert!(follower.append_as_follower(&bytes, 10).is_err());
    let mut corrupt = bytes.clone();
    let n = corrupt.len();
    corrupt[n - 1] ^= 0xff;
    follower.truncate_to(5).unwrap();
    assert!(follower.append_as_follower(&corrupt[stored_bytes(&follower).len()..], 10).is_err());
    assert_eq!(follower.log_end_offset(), 5);
    assert_eq!(follower.leader_epochs().latest_epoch(), Some(2), "truncation drops epoch 5, which started at 5");
    assert_eq!(follower.end_offset_for_epoch(2), (2, 5));
    assert_eq!(leader.end_offset_for_epoch(2), (2, 5));
    assert_eq!(leader.end_offset_for_epoch(5), (5, 9));
}

#[test]
fn epoch_cache_survives_restart_and_is_rebuilt_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = open(dir.path(), small_config(), Some(0));
        log.append(&mut batch(2), 1, 10).unwrap();
        log.append(&mut batch(2), 3, 10).unwrap();
        log.close().unwrap();
    }
    let epoch_file = dir.path().join("t-0").join(LEADER_EPOCH_CHECKPOINT);
    assert_eq!(fs::read_to_string(&epoch_file).unwrap(), "0\n2\n1 0\n3 2\n");
    fs::remove_file(&epoch_file).unwrap();
    let mut log = open(dir.path(), small_config(), Some(i64::MAX));
    let epochs: Vec<_> = log.leader_epochs().entries().iter().map(|e| (e.epoch, e.start_offset)).collect();
    assert_eq!(epochs, vec![(1, 0), (3, 2)], "rebuilt from the batch headers");
    log.assign_leader_epoch(4).unwrap();
    assert_eq!(log.end_offset_for_epoch(3), (3, 4));
    log.delete_records_before(3).unwrap();
    assert_eq!(log.leader_epochs().entries()[0], EpochEntry { epoch: 3, start_offset: 3 });
}
