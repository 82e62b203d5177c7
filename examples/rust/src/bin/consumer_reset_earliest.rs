//! `auto.offset.reset=earliest`: a brand new group has no committed offsets, so it starts from the beginning of
//! every partition and reads everything already in the topic.

use std::collections::BTreeSet;

use streamlet::client::consumer::Consumer;
use streamlet_examples::{check, consumer_props, fail, poll_n, text, unique, Cluster};

const COUNT: usize = 15;

fn main() {
    let cluster = Cluster::start();
    let topic = cluster.create_topic("consumer-reset-earliest", 3);
    cluster.seed(&topic, COUNT);

    let group = unique("fresh-group");
    let mut props = consumer_props(cluster.bootstrap(), &group);
    props.retain(|(k, _)| *k != "auto.offset.reset");
    props.push(("auto.offset.reset", "earliest"));
    props.push(("enable.auto.commit", "false"));
    let consumer = Consumer::from_props(&props).unwrap_or_else(|e| fail(format!("consumer: {e}")));
    consumer.subscribe(&[topic.as_str()], None).unwrap_or_else(|e| fail(format!("subscribe: {e}")));
    println!("new group {group} subscribed to {topic}");

    let records = poll_n(&consumer, COUNT);
    for r in &records {
        println!("partition {} offset {}: {}", r.partition, r.offset, text(&r.value));
    }
    let values: BTreeSet<String> = records.iter().map(|r| text(&r.value)).collect();
    let want: BTreeSet<String> = (0..COUNT).map(|i| format!("value-{i}")).collect();
    check(records.len() == COUNT && values == want, format!("expected every value-0..{COUNT} exactly once, got {} records", records.len()));
    check(records.iter().any(|r| r.offset == 0), "no record at offset 0: the group did not start at the beginning");
    consumer.close().unwrap_or_else(|e| fail(format!("close: {e}")));
    println!("OK: the new group read all {COUNT} records from the beginning");
}
