//! Automatic commits: with `enable.auto.commit=true` the consumer commits what `poll` handed out every
//! `auto.commit.interval.ms` (and on close), so a restarted group member continues where this one stopped.

use std::time::{Duration, Instant};

use streamlet::client::consumer::Consumer;
use streamlet_examples::{check, consumer_props, fail, poll_n, text, unique, Cluster, WAIT};

const COUNT: usize = 20;

fn main() {
    let cluster = Cluster::start();
    let topic = cluster.create_topic("consumer-auto-commit", 2);
    cluster.seed(&topic, COUNT);
    let group = unique("auto-commit-group");
    let mut props = consumer_props(cluster.bootstrap(), &group);
    props.push(("enable.auto.commit", "true"));
    props.push(("auto.commit.interval.ms", "200"));
    let consumer = Consumer::from_props(&props).unwrap_or_else(|e| fail(format!("consumer: {e}")));
    consumer.subscribe(&[topic.as_str()], None).unwrap_or_else(|e| fail(format!("subscribe: {e}")));

    let records = poll_n(&consumer, COUNT);
    for r in &records {
        println!("{}-{} @ {}: {} = {}", r.topic, r.partition, r.offset, text(&r.key), text(&r.value));
    }
    check(records.len() == COUNT, format!("expected {COUNT} records, got {}", records.len()));

    // Keep polling (as a real loop would) until the auto commit covered everything, or give up.
    let parts: Vec<_> = (0..2).map(|p| (topic.clone(), p)).collect();
    let deadline = Instant::now() + WAIT;
    loop {
        let extra = consumer.poll(Duration::from_millis(100)).unwrap_or_else(|e| fail(format!("poll: {e}")));
        check(extra.is_empty(), format!("unexpected extra records: {extra:?}"));
        let committed = consumer.committed(&parts).unwrap_or_else(|e| fail(format!("committed: {e}")));
        let total: i64 = committed.values().map(|o| o.unwrap_or(0)).sum();
        if total == COUNT as i64 {
            println!("auto-committed offsets: {committed:?}");
            break;
        }
        if Instant::now() >= deadline {
            fail(format!("auto commit did not cover the {COUNT} records: {committed:?}"));
        }
    }
    consumer.close().unwrap_or_else(|e| fail(format!("close: {e}")));
    println!("OK: {COUNT} records consumed and committed automatically");
}
