//! Manual commits: `enable.auto.commit=false`, then `commit_sync` (blocking) and `commit_async` (the callback
//! runs in a later `poll`). A second consumer in the same group resumes right after the last commit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use streamlet::client::consumer::Consumer;
use streamlet_examples::{check, consumer_props, fail, poll_n, text, unique, Cluster, WAIT};

const COUNT: usize = 10;

fn main() {
    let cluster = Cluster::start();
    let topic = cluster.create_topic("consumer-manual-commit", 1);
    cluster.seed(&topic, COUNT);
    let tp = (topic.clone(), 0);
    let group = unique("manual-commit-group");
    let mut props = consumer_props(cluster.bootstrap(), &group);
    props.push(("enable.auto.commit", "false"));

    let first = Consumer::from_props(&props).unwrap_or_else(|e| fail(format!("consumer: {e}")));
    first.subscribe(&[topic.as_str()], None).unwrap_or_else(|e| fail(format!("subscribe: {e}")));
    let records = poll_n(&first, COUNT);
    println!("first consumer received {} records", records.len());

    // Process the first 6 records, then commit synchronously: committed offsets are the *next* record to read.
    for r in &records[..6] {
        println!("processed offset {}: {}", r.offset, text(&r.value));
    }
    first.commit_sync(Some(BTreeMap::from([(tp.clone(), 6)]))).unwrap_or_else(|e| fail(format!("commit_sync: {e}")));
    println!("commit_sync: committed offset 6");

    // Process two more and commit asynchronously; the callback is served by a later poll.
    for r in &records[6..8] {
        println!("processed offset {}: {}", r.offset, text(&r.value));
    }
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    first
        .commit_async(
            Some(BTreeMap::from([(tp.clone(), 8)])),
            Some(Box::new(move |offsets, result| {
                match &result {
                    Ok(()) => println!("commit_async callback: committed {offsets:?}"),
                    Err(e) => println!("commit_async callback: failed for {offsets:?}: {e}"),
                }
                flag.store(result.is_ok(), Ordering::SeqCst);
            })),
        )
        .unwrap_or_else(|e| fail(format!("commit_async: {e}")));
    let deadline = Instant::now() + WAIT;
    while !done.load(Ordering::SeqCst) {
        check(Instant::now() < deadline, "the commit_async callback did not report success in time");
        first.poll(Duration::from_millis(50)).unwrap_or_else(|e| fail(format!("poll: {e}")));
    }
    let committed = first.committed(std::slice::from_ref(&tp)).unwrap_or_else(|e| fail(format!("committed: {e}")));
    check(committed.get(&tp) == Some(&Some(8)), format!("expected committed offset 8, got {committed:?}"));
    first.close().unwrap_or_else(|e| fail(format!("close: {e}")));
    println!("first consumer closed (records 8 and 9 were received but not committed)");

    // A second member of the group takes over from the committed offset.
    let second = Consumer::from_props(&props).unwrap_or_else(|e| fail(format!("consumer: {e}")));
    second.subscribe(&[topic.as_str()], None).unwrap_or_else(|e| fail(format!("subscribe: {e}")));
    let rest = poll_n(&second, COUNT - 8);
    for r in &rest {
        println!("second consumer: offset {}: {}", r.offset, text(&r.value));
    }
    let offsets: Vec<i64> = rest.iter().map(|r| r.offset).collect();
    check(offsets == vec![8, 9], format!("the second consumer should resume at offset 8, read {offsets:?}"));
    second.close().unwrap_or_else(|e| fail(format!("close: {e}")));
    println!("OK: the group resumed right after the last commit");
}
