//! Choosing the partition: an explicit partition wins; otherwise records with the same key always land on the
//! same partition (Kafka's murmur2 hash of the key).

use std::collections::BTreeMap;

use streamlet::client::producer::{Producer, ProducerRecord};
use streamlet_examples::{check, fail, Cluster, WAIT};

const PARTITIONS: i32 = 4;

fn main() {
    let cluster = Cluster::start();
    let topic = cluster.create_topic("producer-partition-key", PARTITIONS);
    let producer = Producer::new(cluster.producer_config(&[])).unwrap_or_else(|e| fail(format!("producer: {e}")));

    // 1. A fixed partition.
    for i in 0..3 {
        let md = producer
            .send(ProducerRecord::new(topic.as_str()).partition(2).value(format!("pinned {i}")))
            .wait()
            .unwrap_or_else(|e| fail(format!("send: {e}")));
        println!("pinned {i} -> partition {} offset {}", md.partition, md.offset);
        check(md.partition == 2, format!("a record sent to partition 2 landed on {}", md.partition));
    }

    // 2. Keys: each key sticks to one partition.
    let mut where_: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for round in 0..3 {
        for key in ["alice", "bob", "carol", "dave", "erin"] {
            let md = producer
                .send(ProducerRecord::new(topic.as_str()).key(key).value(format!("{key} #{round}")))
                .wait()
                .unwrap_or_else(|e| fail(format!("send: {e}")));
            where_.entry(key.to_string()).or_default().push(md.partition);
        }
    }
    for (key, parts) in &where_ {
        println!("key {key:6} -> partitions {parts:?}");
        check(parts.iter().all(|p| *p == parts[0]), format!("key {key} landed on several partitions: {parts:?}"));
    }
    producer.close(WAIT).unwrap_or_else(|e| fail(format!("close: {e}")));
    println!("OK: the fixed partition was honoured and every key kept its partition");
}
