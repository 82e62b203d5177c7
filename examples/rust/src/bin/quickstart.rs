//! The whole thing in one program: start an embedded broker (ephemeral data dir), produce a few records, read
//! them back with a consumer group, shut down. The README's first command runs this.

use std::time::{Duration, Instant};

use streamlet::client::consumer::Consumer;
use streamlet::client::producer::{Producer, ProducerConfig, ProducerRecord};
use streamlet::BrokerBuilder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let broker = BrokerBuilder::new().listen("127.0.0.1:0").config("group.initial.rebalance.delay.ms", "0").start()?;
    let bootstrap = broker.bootstrap_servers();
    println!("embedded broker listening on {bootstrap} (started in {:.1} ms)", started.elapsed().as_secs_f64() * 1000.0);

    let producer = Producer::new(ProducerConfig::from_pairs([("bootstrap.servers", bootstrap.as_str()), ("acks", "all")])?)?;
    for i in 0..5 {
        let md = producer.send(ProducerRecord::new("quickstart").key(format!("key-{i}")).value(format!("hello {i}"))).wait()?;
        println!("produced  key-{i} -> partition {} offset {}", md.partition, md.offset);
    }
    producer.close(Duration::from_secs(10))?;

    let consumer = Consumer::from_props(&[
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", "quickstart-readers"),
        ("auto.offset.reset", "earliest"),
    ])?;
    consumer.subscribe(&["quickstart"], None)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut read = 0;
    while read < 5 {
        if Instant::now() > deadline {
            return Err(format!("only {read} of 5 records came back within 30 s").into());
        }
        for r in consumer.poll(Duration::from_millis(200))? {
            let text = |b: &Option<bytes::Bytes>| b.as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
            println!("consumed  {} = {:?} (partition {} offset {})", text(&r.key), text(&r.value), r.partition, r.offset);
            read += 1;
        }
    }
    consumer.close()?; // commits what was read, leaves the group
    broker.shutdown();
    println!("done: 5 records produced and consumed through an embedded broker");
    Ok(())
}
