use std::path::PathBuf;

use crate::support::*;

fn segment(dir: &std::path::Path, topic: &str, suffix: &str) -> PathBuf {
    dir.join(format!("{topic}-0")).join(format!("{:020}{suffix}", 0))
}

#[test]
fn batches_records_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker_in(dir.path());
    let addr = b.bootstrap_servers();
    run(&with_bootstrap(&addr, &["topics", "--create", "--topic", "d", "--partitions", "1", "--config", "index.interval.bytes=1"])).ok();
    // One batch per line (--sync), gzip, keys and a header.
    let lines: String = (0..3).map(|i| format!("h:x\tk{i}\tvalue-{i}\n")).collect();
    run_with_input(
        &with_bootstrap(&addr, &["console-producer", "--topic", "d", "--sync", "--compression-codec", "--property", "parse.key=true", "--property", "parse.headers=true"]),
        &lines,
    )
    .ok();
    b.shutdown();

    let log = segment(dir.path(), "d", ".log");
    let r = run(&["dump-log", log.to_str().unwrap()]).ok();
    let batches: Vec<&str> = r.lines().into_iter().filter(|l| l.starts_with("baseOffset:")).collect();
    assert_eq!(batches.len(), 3, "{r:?}");
    for (i, l) in batches.iter().enumerate() {
        assert!(l.starts_with(&format!("baseOffset: {i} lastOffset: {i} count: 1 baseSequence: {i} lastSequence: {i} producerId: ")), "{l}");
        assert!(l.contains("compresscodec: gzip") && l.contains("isvalid: true") && l.contains("magic: 2") && l.contains(" CreateTime: "), "{l}");
    }
    assert!(r.lines()[0].starts_with("Dumping ") && r.lines()[1] == "Log starting offset: 0", "{r:?}");
    assert!(!r.stdout.contains("| offset:"), "{r:?}");

    let r = run(&["dump-log", "--print-data-log", log.to_str().unwrap()]).ok();
    let records: Vec<&str> = r.lines().into_iter().filter(|l| l.starts_with("| offset:")).collect();
    assert_eq!(records.len(), 3, "{r:?}");
    assert!(records[1].starts_with("| offset: 1 CreateTime: "), "{}", records[1]);
    assert!(records[1].ends_with("keySize: 2 valueSize: 7 sequence: 1 headerKeys: [h] key: k1 payload: value-1"), "{}", records[1]);

    // With index.interval.bytes=1 every batch after the first is indexed.
    let index = segment(dir.path(), "d", ".index");
    let timeindex = segment(dir.path(), "d", ".timeindex");
    let r = run(&["dump-log", index.to_str().unwrap(), timeindex.to_str().unwrap()]).ok();
    let entries: Vec<&str> = r.lines().into_iter().filter(|l| l.starts_with("offset: ")).collect();
    assert!(!entries.is_empty(), "{r:?}");
    assert!(entries.iter().all(|e| e.split_whitespace().nth(3).unwrap().parse::<u64>().unwrap() > 0), "{r:?}");
    let stamps: Vec<&str> = r.lines().into_iter().filter(|l| l.starts_with("timestamp: ")).collect();
    assert!(!stamps.is_empty(), "{r:?}");

    // A flipped byte in the second batch's records: its CRC no longer holds; reported, exit 1.
    let mut bytes = std::fs::read(&log).unwrap();
    let second = batch_size(&bytes, 0);
    let at = second + 70;
    bytes[at] ^= 0xff;
    let corrupt = dir.path().join("00000000000000000000.log");
    std::fs::write(&corrupt, &bytes).unwrap();
    let r = run(&["dump-log", corrupt.to_str().unwrap()]).fails(1, "fails its CRC check");
    assert_eq!(r.stdout.matches("isvalid: false").count(), 1, "{r:?}");
    assert_eq!(r.stdout.matches("isvalid: true").count(), 2, "{r:?}");

    run(&["dump-log", "/nonexistent/00000000000000000000.log"]).fails(1, "No such file");
    run(&["dump-log", "notes.txt"]).fails(2, "not a .log, .index or .timeindex");
    run(&["dump-log"]).fails(2, "FILE");
}

/// The size of the batch starting at `pos` (length field + 12).
fn batch_size(bytes: &[u8], pos: usize) -> usize {
    i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize + 12
}
