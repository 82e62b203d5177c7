//! Synchronous sends: block on each record's `DeliveryFuture` with `wait()` and print where it landed.

use streamlet::client::producer::{Producer, ProducerRecord};
use streamlet_examples::{check, fail, Cluster, WAIT};

fn main() {
    let cluster = Cluster::start();
    let topic = cluster.create_topic("producer-sync", 1);
    let producer = Producer::new(cluster.producer_config(&[("acks", "all")])).unwrap_or_else(|e| fail(format!("producer: {e}")));

    for i in 0..5i64 {
        let md = producer
            .send(ProducerRecord::new(topic.as_str()).key(format!("k{i}")).value(format!("synchronous {i}")))
            .wait()
            .unwrap_or_else(|e| fail(format!("send {i}: {e}")));
        println!("record {i} -> {}-{} @ offset {} (timestamp {})", md.topic, md.partition, md.offset, md.timestamp);
        check(md.topic == topic && md.partition == 0 && md.offset == i, format!("record {i}: unexpected metadata {md:?}"));
    }
    producer.close(WAIT).unwrap_or_else(|e| fail(format!("close: {e}")));
    println!("OK");
}
