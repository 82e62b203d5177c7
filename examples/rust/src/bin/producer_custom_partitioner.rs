//! A custom partitioner: keys look like `region:id`; all of a region's records go to that region's partition,
//! and keys without a known region go to the last partition.

use std::collections::BTreeMap;

use streamlet::client::producer::{PartitionChooser, Producer, ProducerRecord};
use streamlet_examples::{check, fail, Cluster, WAIT};

const REGIONS: [&str; 3] = ["eu", "us", "asia"];

struct RegionPartitioner;

impl PartitionChooser for RegionPartitioner {
    fn partition(&self, _topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>, partition_count: i32, _available: &[i32]) -> i32 {
        let prefix = key.and_then(|k| std::str::from_utf8(k).ok()).and_then(|k| k.split(':').next()).unwrap_or("");
        match REGIONS.iter().position(|r| *r == prefix) {
            Some(i) => i as i32 % partition_count,
            None => partition_count - 1,
        }
    }
}

fn expected(key: &str) -> i32 {
    let prefix = key.split(':').next().unwrap();
    REGIONS.iter().position(|r| *r == prefix).map(|i| i as i32).unwrap_or(3)
}

fn main() {
    let cluster = Cluster::start();
    let topic = cluster.create_topic("producer-custom-partitioner", 4);
    let producer = Producer::builder(cluster.producer_config(&[]))
        .partitioner(RegionPartitioner)
        .build()
        .unwrap_or_else(|e| fail(format!("producer: {e}")));

    let keys = ["eu:1", "us:1", "asia:1", "eu:2", "mars:1", "us:2", "eu:3", "asia:2", "moon:7"];
    let mut per_partition: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
    for key in keys {
        let md = producer
            .send(ProducerRecord::new(topic.as_str()).key(key).value(format!("order {key}")))
            .wait()
            .unwrap_or_else(|e| fail(format!("send {key}: {e}")));
        println!("{key:7} -> partition {} offset {}", md.partition, md.offset);
        check(md.partition == expected(key), format!("{key} landed on partition {}, expected {}", md.partition, expected(key)));
        per_partition.entry(md.partition).or_default().push(key);
    }
    producer.close(WAIT).unwrap_or_else(|e| fail(format!("close: {e}")));
    for (p, ks) in &per_partition {
        println!("partition {p}: {ks:?}");
    }
    let end = cluster.end_offsets(&topic, 4);
    let want: Vec<i64> = (0..4).map(|p| per_partition.get(&p).map_or(0, |v| v.len() as i64)).collect();
    check(end == want, format!("log end offsets {end:?}, expected {want:?}"));
    println!("OK: every record was routed by its key prefix");
}
