//! Log cleaner tests on temp dirs: compaction results, tombstones, offsets and gaps, crash recovery of the
//! swap, compression, producer state, retention interplay, dirty ratio, config parsing.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use bytes::Bytes;

use super::cleaner::CRASH_AFTER_STEP;
use super::*;
use crate::record::{batches, records, BatchBuilder, BatchHeader, Compression};

type Entry<'a> = (&'a str, Option<&'a str>);

fn kv(entries: &[Entry], ts: i64, c: Compression) -> Vec<u8> {
    let mut b = BatchBuilder::new(c);
    for (k, v) in entries {
        b.append(ts, Some(k.as_bytes()), v.map(|v| v.as_bytes()), &[]);
    }
    b.build().unwrap()
}

fn compact_config() -> LogConfig {
    LogConfig {
        index_interval_bytes: 100,
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: 1_000,
        ..LogConfig::default()
    }
}

fn open(dir: &Path, config: LogConfig, rp: Option<i64>) -> PartitionLog {
    PartitionLog::open(dir, "t", 0, config, rp).unwrap()
}

fn put(log: &mut PartitionLog, entries: &[Entry]) {
    log.append(&mut kv(entries, 1_000, Compression::None), 0, 1_000).unwrap();
}

/// (offset, key, value) of every record, read through `read` from the log start, plus the batch headers.
type Dumped = Vec<(i64, String, Option<String>)>;

fn dump(log: &PartitionLog) -> (Dumped, Vec<BatchHeader>) {
    let (mut out, mut hs) = (Vec::new(), Vec::new());
    let mut at = log.log_start_offset();
    while at < log.log_end_offset() {
        let s = log.read(at, 1 << 20, true, i64::MAX).unwrap();
        if s.is_empty() {
            break;
        }
        for b in batches(s.read_bytes().unwrap()) {
            let (h, bytes) = b.unwrap();
            hs.push(h);
            for r in records(bytes).unwrap() {
                let r = r.unwrap();
                let s = |b: Option<Bytes>| b.map(|b| String::from_utf8(b.to_vec()).unwrap());
                out.push((r.offset, s(r.key).unwrap_or_default(), s(r.value)));
            }
        }
        at = s.next_offset;
    }
    (out, hs)
}

fn latest(log: &PartitionLog) -> BTreeMap<String, Option<String>> {
    dump(log).0.into_iter().map(|(_, k, v)| (k, v)).collect()
}

/// Offsets 0..=2 (a,b,c) | 3..=4 (a,b) | 5 (tombstone c) | active: 6 (a).
fn sample_log(dir: &Path, config: LogConfig) -> PartitionLog {
    let mut log = open(dir, config, Some(0));
    put(&mut log, &[("a", Some("a0")), ("b", Some("b0")), ("c", Some("c0"))]);
    log.roll().unwrap();
    put(&mut log, &[("a", Some("a1")), ("b", Some("b1"))]);
    log.roll().unwrap();
    put(&mut log, &[("c", None)]);
    log.roll().unwrap();
    put(&mut log, &[("a", Some("a2"))]);
    log
}

#[test]
fn latest_value_per_key_survives_offsets_kept_with_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = sample_log(dir.path(), compact_config());
    let before = latest(&log);
    let active_path = dir.path().join("t-0").join(format!("{:020}.log", 6));
    let active_bytes = fs::read(&active_path).unwrap();
    let stats = log.clean(10_000).unwrap();
    assert_eq!(stats.clean_point, 6);
    assert_eq!((stats.segments_rewritten, stats.segments_deleted), (2, 0), "segment 3 had nothing to drop");
    let (recs, _) = dump(&log);
    // Segment 0 loses a0, b0, c0 (all superseded in the cleanable range) -> kept as an empty first segment.
    // Segment 3 keeps a1, b1; segment 5 keeps the tombstone (horizon not yet passed); active a2 untouched.
    let offs: Vec<i64> = recs.iter().map(|r| r.0).collect();
    assert_eq!(offs, vec![3, 4, 5, 6]);
    assert_eq!(recs[2], (5, "c".into(), None));
    assert_eq!(latest(&log), before, "the latest value of every key is unchanged");
    assert_eq!(fs::read(&active_path).unwrap(), active_bytes, "active segment never rewritten");
    assert_eq!(log.segment_base_offsets(), vec![0, 3, 5, 6]);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 7));
    // A fetch into the gap returns the next batch.
    let s = log.read(1, 1 << 20, true, i64::MAX).unwrap();
    assert_eq!(s.first_offset, 3);
    let s = log.read(0, 1 << 20, true, i64::MAX).unwrap();
    assert_eq!(s.first_offset, 3);
    // Reopening (clean shutdown or full recovery) sees the same log.
    log.close().unwrap();
    drop(log);
    for rp in [Some(i64::MAX), None] {
        let log = open(dir.path(), compact_config(), rp);
        assert_eq!(offs, dump(&log).0.iter().map(|r| r.0).collect::<Vec<_>>());
        assert_eq!(log.log_end_offset(), 7);
    }
}

#[test]
fn gaps_inside_a_segment_and_index_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compact_config(), Some(0));
    for i in 0..60 {
        let k = format!("k{}", i % 3);
        let v = format!("v{i}");
        put(&mut log, &[(&k, Some(&v))]);
    }
    log.roll().unwrap();
    put(&mut log, &[("z", Some("z"))]);
    log.clean(10_000).unwrap();
    let (recs, _) = dump(&log);
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![57, 58, 59, 60]);
    for off in [0, 10, 56, 57] {
        assert_eq!(log.read(off, 1 << 20, true, i64::MAX).unwrap().first_offset, 57, "fetch at {off}");
    }
    assert_eq!(log.read(59, 1 << 20, true, i64::MAX).unwrap().first_offset, 59);
}

#[test]
fn tombstones_removed_only_after_delete_retention() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = sample_log(dir.path(), compact_config());
    log.clean(10_000).unwrap();
    let hs = dump(&log).1;
    let t = hs.iter().find(|h| h.base_offset == 5).unwrap();
    assert!(t.has_delete_horizon());
    assert_eq!(t.base_timestamp, 11_000, "horizon = clean time + delete.retention.ms");
    assert!(!log.needs_cleaning(10_999), "nothing dirty and the horizon not reached");
    let s = log.clean(10_999).unwrap();
    assert_eq!(s.tombstones_removed, 0);
    assert!(latest(&log).contains_key("c"));
    assert!(log.needs_cleaning(11_000), "a passed horizon makes the log cleanable");
    let s = log.clean(11_000).unwrap();
    assert_eq!(s.tombstones_removed, 1);
    assert!(!latest(&log).contains_key("c"));
    assert!(!log.needs_cleaning(20_000));
}

#[test]
fn keyless_records_dropped_and_min_compaction_lag_respected() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { min_compaction_lag_ms: 5_000, ..compact_config() };
    let mut log = open(dir.path(), config, Some(0));
    let mut b = BatchBuilder::new(Compression::None);
    b.append(1_000, None, Some(b"nokey"), &[]);
    b.append(1_000, Some(b"a"), Some(b"a0"), &[]);
    log.append(&mut b.build().unwrap(), 0, 1_000).unwrap();
    log.roll().unwrap();
    log.append(&mut kv(&[("a", Some("a1"))], 9_000, Compression::None), 0, 9_000).unwrap();
    log.roll().unwrap();
    put(&mut log, &[("x", Some("x"))]);
    // At 10_000 the second segment (max ts 9_000) is within the lag: only the first one is cleanable.
    let s = log.clean(10_000).unwrap();
    assert_eq!(s.clean_point, 2);
    assert_eq!(dump(&log).0.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3], "only the keyless record went");
    let s = log.clean(14_000).unwrap();
    assert_eq!(s.clean_point, 3);
    assert_eq!(dump(&log).0.iter().map(|r| r.0).collect::<Vec<_>>(), vec![2, 3]);
}

fn files_with_suffix(dir: &Path, suffix: &str) -> usize {
    fs::read_dir(dir.join("t-0")).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_str().unwrap().ends_with(suffix)).count()
}

#[test]
fn crash_at_each_swap_step_leaves_a_valid_log() {
    for step in 1..=3u8 {
        let dir = tempfile::tempdir().unwrap();
        let mut log = sample_log(dir.path(), compact_config());
        let want = latest(&log);
        CRASH_AFTER_STEP.with(|c| c.set(step));
        let err = log.clean(10_000).unwrap_err();
        CRASH_AFTER_STEP.with(|c| c.set(0));
        assert!(err.to_string().contains("injected"), "{err}");
        let leftover = if step == 1 { CLEANED } else { SWAP };
        assert_eq!(files_with_suffix(dir.path(), leftover), 1, "step {step}");
        drop(log); // crash: no close
        for rp in [None, Some(3)] {
            let log = open(dir.path(), compact_config(), rp);
            assert_eq!(files_with_suffix(dir.path(), CLEANED) + files_with_suffix(dir.path(), SWAP), 0);
            assert_eq!(latest(&log), want, "step {step}, recovery point {rp:?}");
            assert_eq!(log.log_end_offset(), 7);
            let offs: Vec<i64> = dump(&log).0.iter().map(|r| r.0).collect();
            if step == 1 {
                assert_eq!(offs, vec![0, 1, 2, 3, 4, 5, 6], "unfinished .cleaned dropped, original intact");
            } else {
                assert_eq!(offs[0], 3, "completed swap: first segment is the cleaned (empty) one");
            }
        }
        // The log can be cleaned to the end after recovery.
        let mut log = open(dir.path(), compact_config(), None);
        log.clean(10_000).unwrap();
        assert_eq!(dump(&log).0.iter().map(|r| r.0).collect::<Vec<_>>(), vec![3, 4, 5, 6]);
    }
}

const CLEANED: &str = ".log.cleaned";
const SWAP: &str = ".log.swap";

#[test]
fn stray_cleaned_file_is_deleted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = sample_log(dir.path(), compact_config());
    drop(log);
    fs::write(dir.path().join("t-0").join(format!("{:020}{CLEANED}", 3)), b"garbage").unwrap();
    let log = open(dir.path(), compact_config(), None);
    assert_eq!(files_with_suffix(dir.path(), CLEANED), 0);
    assert_eq!(dump(&log).0.len(), 7);
}

#[test]
fn compression_codec_preserved() {
    for c in [Compression::Gzip, Compression::Lz4, Compression::Zstd, Compression::Snappy] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), compact_config(), Some(0));
        log.append(&mut kv(&[("a", Some("a0")), ("b", Some("b0")), ("c", Some("c0"))], 1_000, c), 0, 1_000).unwrap();
        log.append(&mut kv(&[("a", Some("a1"))], 1_000, c), 0, 1_000).unwrap();
        log.roll().unwrap();
        put(&mut log, &[("z", Some("z"))]);
        log.clean(10_000).unwrap();
        let (recs, hs) = dump(&log);
        assert_eq!(recs.iter().map(|r| (r.0, r.1.as_str())).collect::<Vec<_>>(), vec![(1, "b"), (2, "c"), (3, "a"), (4, "z")]);
        assert_eq!(hs[0].compression().unwrap(), c);
        assert_eq!((hs[0].base_offset, hs[0].last_offset(), hs[0].records_count), (0, 2, 2));
        assert_eq!(crate::record::batch_crc(&log.read(0, 1 << 20, true, i64::MAX).unwrap().read_bytes().unwrap()[..hs[0].total_size()]), hs[0].crc);
    }
}

fn pkv(pid: i64, seq: i32, key: &str, value: &str) -> Vec<u8> {
    let mut b = BatchBuilder::new(Compression::None).producer(pid, 0, seq);
    b.append(1_000, Some(key.as_bytes()), Some(value.as_bytes()), &[]);
    b.build().unwrap()
}

#[test]
fn producer_state_rebuilds_after_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compact_config(), Some(0));
    log.append(&mut pkv(7, 0, "a", "p0"), 0, 1_000).unwrap();
    log.append(&mut pkv(7, 1, "a", "p1"), 0, 1_000).unwrap();
    log.roll().unwrap();
    put(&mut log, &[("a", Some("plain"))]);
    log.roll().unwrap();
    put(&mut log, &[("z", Some("z"))]);
    let before = log.producer_state().producer(7).unwrap();
    log.clean(10_000).unwrap();
    let (recs, hs) = dump(&log);
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![2, 3]);
    // Producer 7's first batch went; its last one stays as an empty batch with its sequence range.
    let empty = hs.iter().find(|h| h.producer_id == 7).unwrap();
    assert_eq!((empty.base_offset, empty.records_count, empty.base_sequence, empty.last_sequence()), (1, 0, 1, 1));
    log.close().unwrap();
    drop(log);
    for e in fs::read_dir(dir.path().join("t-0")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "snapshot") {
            fs::remove_file(p).unwrap();
        }
    }
    let mut log = open(dir.path(), compact_config(), None);
    let (epoch, rebuilt) = log.producer_state().producer(7).unwrap();
    assert_eq!(epoch, 0);
    assert_eq!(rebuilt.last(), before.1.last());
    // A retry of seq 1 is still a duplicate; seq 2 is next in line.
    assert!(matches!(log.append(&mut pkv(7, 1, "a", "p1"), 0, 2_000), Err(AppendError::Duplicate { base_offset: 1, .. })));
    log.append(&mut pkv(7, 2, "a", "p2"), 0, 2_000).unwrap();
    log.roll().unwrap();
    put(&mut log, &[("y", Some("y"))]);
    // Now producer 7's last batch is at offset 4: the empty batch at 1 is no longer needed and goes.
    log.clean(10_000).unwrap();
    let (recs, hs) = dump(&log);
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), vec![3, 4, 5]);
    assert!(hs.iter().all(|h| h.records_count > 0));
    assert_eq!(log.producer_state().producer(7).unwrap().1.last().unwrap().last_seq, 2);
}

#[test]
fn retention_skips_compact_only_topics() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { retention_ms: 10, retention_bytes: 1, ..compact_config() };
    let mut log = sample_log(dir.path(), config.clone());
    assert_eq!(log.apply_retention(1_000_000).unwrap(), 0);
    assert_eq!(log.segment_count(), 4);
    log.set_config(LogConfig { cleanup_policy: CleanupPolicy::CompactDelete, ..config });
    assert_eq!(log.apply_retention(1_000_000).unwrap(), 3);
}

#[test]
fn dirty_ratio_threshold_and_checkpoint_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { min_cleanable_dirty_ratio: 0.9, ..compact_config() };
    {
        let m = LogManager::new(dir.path()).unwrap();
        let log = m.create_partition("t", 0, config.clone()).unwrap();
        let plain = m.create_partition("d", 0, LogConfig::default()).unwrap();
        {
            let mut l = log.lock().unwrap();
            put(&mut l, &[("a", Some("a0")), ("b", Some("b0"))]);
            l.roll().unwrap();
            put(&mut l, &[("a", Some("a1"))]);
            l.roll().unwrap();
            put(&mut l, &[("x", Some("x"))]);
            assert_eq!(l.dirty_ratio(0), 1.0);
            let mut p = plain.lock().unwrap();
            put(&mut p, &[("a", Some("a0"))]);
            p.roll().unwrap();
            put(&mut p, &[("a", Some("a1"))]);
        }
        assert_eq!(m.run_cleaner(10_000).unwrap(), 1, "only the compacted log is cleaned");
        assert_eq!(log.lock().unwrap().cleaner_checkpoint(), 3);
        assert_eq!(dump(&plain.lock().unwrap()).0.len(), 2, "delete-policy log untouched");
        assert_eq!(log.lock().unwrap().dirty_ratio(10_000), 0.0);
        {
            let mut l = log.lock().unwrap();
            put(&mut l, &[("b", Some("b1"))]);
            l.roll().unwrap();
            put(&mut l, &[("y", Some("y"))]);
            let r = l.dirty_ratio(10_000);
            assert!(r > 0.3 && r < 0.9, "{r}");
        }
        assert_eq!(m.run_cleaner(10_000).unwrap(), 0, "below min.cleanable.dirty.ratio");
        log.lock().unwrap().set_config(LogConfig { min_cleanable_dirty_ratio: 0.3, ..config.clone() });
        assert_eq!(m.run_cleaner(10_000).unwrap(), 1);
        assert_eq!(log.lock().unwrap().cleaner_checkpoint(), 5);
        m.shutdown().unwrap();
    }
    let text = fs::read_to_string(dir.path().join(manager::CLEANER_CHECKPOINT)).unwrap();
    assert_eq!(text, "0\n1\nt 0 5\n");
    let m = LogManager::new(dir.path()).unwrap();
    m.open_all(|t| if t == "t" { config.clone() } else { LogConfig::default() }).unwrap();
    let log = m.get("t", 0).unwrap();
    assert_eq!(log.lock().unwrap().cleaner_checkpoint(), 5);
    assert_eq!(log.lock().unwrap().dirty_ratio(10_000), 0.0);
}

#[test]
fn config_keys_parse_and_errors_name_the_key() {
    use crate::config::{effective_topic_config, topic_log_config, BrokerConfig, Props};
    let props = |pairs: &[(&str, &str)]| -> Props { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
    let b = BrokerConfig::from_props(&props(&[
        ("log.cleanup.policy", "compact"),
        ("log.cleaner.delete.retention.ms", "5000"),
        ("log.cleaner.min.cleanable.ratio", "0.25"),
        ("log.cleaner.min.compaction.lag.ms", "7"),
        ("log.cleaner.backoff.ms", "100"),
    ]))
    .unwrap();
    let d = &b.log_defaults;
    assert_eq!((d.cleanup_policy, d.delete_retention_ms, d.min_cleanable_dirty_ratio, d.min_compaction_lag_ms), (CleanupPolicy::Compact, 5000, 0.25, 7));
    let d0 = BrokerConfig::default().log_defaults;
    assert_eq!((d0.cleanup_policy, d0.delete_retention_ms, d0.min_cleanable_dirty_ratio, d0.min_compaction_lag_ms), (CleanupPolicy::Delete, 86_400_000, 0.5, 0));
    for (key, value) in [
        ("log.cleanup.policy", "shred"),
        ("log.cleaner.min.cleanable.ratio", "1.5"),
        ("log.cleaner.min.cleanable.ratio", "half"),
        ("log.cleaner.delete.retention.ms", "-1"),
        ("log.cleaner.min.compaction.lag.ms", "soon"),
        ("log.cleaner.backoff.ms", "x"),
    ] {
        let e = BrokerConfig::from_props(&props(&[(key, value)])).unwrap_err();
        assert_eq!(e.key, key);
        assert!(e.to_string().contains(key) && e.to_string().contains(value.trim_start_matches('-')), "{e}");
    }
    let t = topic_log_config(d, &props(&[("cleanup.policy", "Delete, compact"), ("min.cleanable.dirty.ratio", "0.1"), ("delete.retention.ms", "3"), ("min.compaction.lag.ms", "4")])).unwrap();
    assert_eq!((t.cleanup_policy, t.min_cleanable_dirty_ratio, t.delete_retention_ms, t.min_compaction_lag_ms), (CleanupPolicy::CompactDelete, 0.1, 3, 4));
    assert_eq!(topic_log_config(&d0, &props(&[])).unwrap().cleanup_policy, CleanupPolicy::Delete);
    assert_eq!(topic_log_config(d, &props(&[])).unwrap().cleanup_policy, CleanupPolicy::Compact, "broker default applies");
    for (key, value) in [("cleanup.policy", "compact,shred"), ("cleanup.policy", ""), ("min.cleanable.dirty.ratio", "-0.1"), ("delete.retention.ms", "-5"), ("min.compaction.lag.ms", "x")] {
        let e = topic_log_config(d, &props(&[(key, value)])).unwrap_err();
        assert_eq!(e.key, key, "{e}");
    }
    assert_eq!(effective_topic_config(&b, &Props::new(), "cleanup.policy"), ("compact".into(), true));
    assert_eq!(effective_topic_config(&b, &Props::new(), "min.cleanable.dirty.ratio"), ("0.25".into(), true));
    assert_eq!(effective_topic_config(&b, &Props::new(), "delete.retention.ms"), ("5000".into(), true));
    assert_eq!(effective_topic_config(&b, &Props::new(), "min.compaction.lag.ms"), ("7".into(), true));
    let over = props(&[("delete.retention.ms", "9")]);
    assert_eq!(effective_topic_config(&b, &over, "delete.retention.ms"), ("9".into(), false));
}

#[test]
fn emptied_segment_is_deleted_and_orphan_indexes_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), compact_config(), Some(0));
    put(&mut log, &[("a", Some("a0"))]);
    log.roll().unwrap();
    put(&mut log, &[("b", Some("b0"))]);
    log.roll().unwrap();
    put(&mut log, &[("b", Some("b1"))]);
    log.roll().unwrap();
    put(&mut log, &[("z", Some("z"))]);
    let s = log.clean(10_000).unwrap();
    assert_eq!(s.segments_deleted, 1, "segment 1 held only a superseded record");
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 3]);
    assert_eq!(latest(&log).get("b"), Some(&Some("b1".to_string())));
    drop(log);
    // A deletion interrupted between the .log and its indexes leaves stale index files behind.
    for suffix in [".index", ".timeindex"] {
        fs::write(dir.path().join("t-0").join(format!("{:020}{suffix}", 1)), [0u8; 24]).unwrap();
    }
    let log = open(dir.path(), compact_config(), None);
    assert!(!dir.path().join("t-0").join(format!("{:020}.index", 1)).exists());
    assert!(!dir.path().join("t-0").join(format!("{:020}.timeindex", 1)).exists());
    assert_eq!(dump(&log).0.iter().map(|r| r.0).collect::<Vec<_>>(), vec![0, 2, 3]);
}
