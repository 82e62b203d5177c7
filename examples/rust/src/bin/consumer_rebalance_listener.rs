//! A rebalance listener with an offset store of its own (as when offsets live in the same database as the
//! results): nothing is committed to the group. On revocation the listener saves each partition's position; on
//! assignment it seeks to the saved position, so a partition moving to another member is not read twice.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use streamlet::client::consumer::{Consumer, ConsumerRecord, RebalanceListener, TopicPartition};
use streamlet_examples::{check, consumer_props, fail, unique, Cluster, WAIT};

type Store = Arc<Mutex<BTreeMap<TopicPartition, i64>>>;

struct SaveAndRestore {
    name: &'static str,
    store: Store,
}

impl RebalanceListener for SaveAndRestore {
    fn on_partitions_revoked(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let mut store = self.store.lock().unwrap();
        for tp in partitions {
            match consumer.position(tp) {
                Ok(pos) => {
                    println!("[{}] revoked {}-{}: saving position {pos}", self.name, tp.0, tp.1);
                    store.insert(tp.clone(), pos);
                }
                Err(e) => println!("[{}] revoked {}-{}: no position ({e})", self.name, tp.0, tp.1),
            }
        }
    }

    fn on_partitions_assigned(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let store = self.store.lock().unwrap();
        for tp in partitions {
            match store.get(tp) {
                Some(&pos) => {
                    println!("[{}] assigned {}-{}: seeking to saved position {pos}", self.name, tp.0, tp.1);
                    consumer.seek(tp, pos).unwrap_or_else(|e| fail(format!("seek: {e}")));
                }
                None => println!("[{}] assigned {}-{}: nothing saved, auto.offset.reset applies", self.name, tp.0, tp.1),
            }
        }
    }
}

/// Polls every consumer (on this thread) until `done` holds; returns the records each one received.
fn poll_until(cs: &[&Consumer], what: &str, mut done: impl FnMut(&[&Consumer], usize) -> bool) -> Vec<ConsumerRecord> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    loop {
        for c in cs {
            got.extend(c.poll(Duration::from_millis(20)).unwrap_or_else(|e| fail(format!("poll: {e}"))));
        }
        if done(cs, got.len()) {
            return got;
        }
        check(Instant::now() < deadline, format!("timed out waiting for {what}"));
    }
}

fn main() {
    let cluster = Cluster::start();
    let topic = cluster.create_topic("consumer-rebalance-listener", 2);
    cluster.seed(&topic, 20);
    let group = unique("listener-group");
    let mut props = consumer_props(cluster.bootstrap(), &group);
    props.push(("enable.auto.commit", "false"));
    let store: Store = Arc::default();

    let a = Consumer::from_props(&props).unwrap_or_else(|e| fail(format!("consumer: {e}")));
    a.subscribe(&[topic.as_str()], Some(Box::new(SaveAndRestore { name: "A", store: store.clone() })))
        .unwrap_or_else(|e| fail(format!("subscribe: {e}")));
    let first = poll_until(&[&a], "A to read the 20 seeded records", |_, n| n >= 20);
    println!("A read {} records from both partitions", first.len());
    check(first.len() == 20, format!("A read {} records, expected 20", first.len()));

    // B joins: A's partitions are revoked (positions saved), then split; each member seeks to the saved position.
    let b = Consumer::from_props(&props).unwrap_or_else(|e| fail(format!("consumer: {e}")));
    b.subscribe(&[topic.as_str()], Some(Box::new(SaveAndRestore { name: "B", store: store.clone() })))
        .unwrap_or_else(|e| fail(format!("subscribe: {e}")));
    let during = poll_until(&[&a, &b], "the group to split the partitions", |cs, _| {
        let (x, y) = (cs[0].assignment(), cs[1].assignment());
        x.len() == 1 && y.len() == 1 && x != y
    });
    println!("after the rebalance: A has {:?}, B has {:?}; saved positions {:?}", a.assignment(), b.assignment(), store.lock().unwrap());
    let saved: i64 = store.lock().unwrap().values().sum();
    check(saved == 20, format!("the saved positions should add up to 20, got {saved}"));

    // New records are read exactly once; nothing from before the rebalance is read again.
    cluster.seed(&topic, 6);
    let mut after = during;
    let before = after.len();
    after.extend(poll_until(&[&a, &b], "the 6 new records", |_, n| n + before >= 6));
    // A short grace period to catch any duplicate that would still arrive.
    after.extend(poll_until(&[&a, &b], "a grace period", {
        let until = Instant::now() + Duration::from_millis(300);
        move |_, _| Instant::now() >= until
    }));
    for r in &after {
        println!("after the rebalance: {}-{} @ {}", r.topic, r.partition, r.offset);
    }
    check(after.len() == 6, format!("expected exactly the 6 new records after the rebalance, got {}", after.len()));
    a.close().unwrap_or_else(|e| fail(format!("close: {e}")));
    b.close().unwrap_or_else(|e| fail(format!("close: {e}")));
    println!("OK: the listener's own offset store carried the positions across the rebalance");
}
