//! Delivery callbacks: each record carries a callback that prints its partition and offset. Callbacks run only
//! inside `poll`/`flush`, on the thread that calls them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use streamlet::client::producer::{Producer, ProducerRecord};
use streamlet_examples::{check, fail, Cluster, WAIT};

const COUNT: usize = 10;

fn main() {
    let cluster = Cluster::start();
    let topic = cluster.create_topic("producer-callback", 3);
    let producer = Producer::new(cluster.producer_config(&[])).unwrap_or_else(|e| fail(format!("producer: {e}")));
    let acked: Arc<Mutex<Vec<(i32, i64)>>> = Arc::default();
    let failed: Arc<Mutex<Vec<String>>> = Arc::default();

    for i in 0..COUNT {
        let (acked, failed) = (acked.clone(), failed.clone());
        let rec = ProducerRecord::new(topic.as_str()).key(format!("user-{i}")).value(format!("event {i}"));
        producer.send_with_callback(rec, move |result| match result {
            Ok(md) => {
                println!("callback: user-{i} delivered to partition {} at offset {}", md.partition, md.offset);
                acked.lock().unwrap().push((md.partition, md.offset));
            }
            Err(e) => {
                println!("callback: user-{i} failed: {e}");
                failed.lock().unwrap().push(e.to_string());
            }
        });
    }

    // Serve callbacks from poll for a while, as an application's main loop would...
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut served = 0;
    while served < COUNT && Instant::now() < deadline {
        served += producer.poll(Duration::from_millis(50));
    }
    println!("poll served {served} callback(s)");
    // ...and flush serves whatever is left.
    producer.flush(WAIT).unwrap_or_else(|e| fail(format!("flush: {e}")));
    producer.close(WAIT).unwrap_or_else(|e| fail(format!("close: {e}")));

    let failed = failed.lock().unwrap();
    check(failed.is_empty(), format!("{} deliveries failed: {failed:?}", failed.len()));
    let acked = acked.lock().unwrap();
    check(acked.len() == COUNT, format!("expected {COUNT} callbacks, got {}", acked.len()));
    let end: i64 = cluster.end_offsets(&topic, 3).iter().sum();
    check(end == COUNT as i64, format!("expected {COUNT} records in {topic}, found {end}"));
    println!("OK: {COUNT} callbacks, {end} records in the topic");
}
