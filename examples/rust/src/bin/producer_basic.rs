//! Fire-and-forget: send records without looking at their results, then `flush` so that they are all out.

use streamlet::client::producer::{Producer, ProducerRecord};
use streamlet_examples::{check, fail, Cluster, WAIT};

const COUNT: usize = 20;

fn main() {
    let cluster = Cluster::start();
    let topic = cluster.create_topic("producer-basic", 1);
    let producer = Producer::new(cluster.producer_config(&[("linger.ms", "5")])).unwrap_or_else(|e| fail(format!("producer: {e}")));

    for i in 0..COUNT {
        // The returned DeliveryFuture is dropped: nobody waits for this record's outcome.
        // Fire and forget: the record is sent whether or not its delivery future is kept.
        drop(producer.send(ProducerRecord::new(topic.as_str()).value(format!("message {i}"))));
    }
    println!("sent {COUNT} records without waiting");
    producer.flush(WAIT).unwrap_or_else(|e| fail(format!("flush: {e}")));
    println!("flushed: every record is acknowledged");
    producer.close(WAIT).unwrap_or_else(|e| fail(format!("close: {e}")));

    let end = cluster.end_offsets(&topic, 1);
    println!("log end offset of {topic}-0: {}", end[0]);
    check(end[0] == COUNT as i64, format!("expected {COUNT} records in {topic}, found {}", end[0]));
    println!("OK");
}
