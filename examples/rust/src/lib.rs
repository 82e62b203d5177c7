//! Shared helpers for the examples: where the cluster is (`BOOTSTRAP`, or an embedded broker), topic creation,
//! and a way to fail with a clear message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use streamlet::client::admin::{Admin, NewTopic, OffsetSpec};
use streamlet::Broker;

/// Upper bound for any single wait in the examples.
pub const WAIT: Duration = Duration::from_secs(10);

/// The cluster an example talks to. Holds the embedded broker (if one was started) and shuts it down on drop.
pub struct Cluster {
    bootstrap: String,
    broker: Option<Broker>,
}

impl Cluster {
    /// `BOOTSTRAP` from the environment, or a fresh embedded broker on a free local port.
    pub fn start() -> Cluster {
        if let Ok(b) = std::env::var("BOOTSTRAP") {
            if !b.trim().is_empty() {
                println!("using the cluster at {b}");
                return Cluster { bootstrap: b, broker: None };
            }
        }
        let broker = streamlet::BrokerBuilder::new()
            .listen("127.0.0.1:0")
            .config("group.initial.rebalance.delay.ms", "0")
            .start()
            .unwrap_or_else(|e| fail(format!("cannot start the embedded broker: {e}")));
        let bootstrap = broker.bootstrap_servers();
        println!("started an embedded broker at {bootstrap}");
        Cluster { bootstrap, broker: Some(broker) }
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Creates a topic whose name is `prefix` plus a unique suffix, and returns the name.
    pub fn create_topic(&self, prefix: &str, partitions: i32) -> String {
        let name = unique(prefix);
        let mut props = streamlet::config::Props::new();
        props.insert("bootstrap.servers".into(), self.bootstrap.clone());
        let admin = Admin::new(&props).unwrap_or_else(|e| fail(format!("admin client: {e}")));
        let results = admin
            .create_topics(&[NewTopic::new(name.clone(), partitions, 1)], false)
            .unwrap_or_else(|e| fail(format!("create topic {name}: {e}")));
        for (t, r) in results {
            if let Err(e) = r {
                fail(format!("create topic {t}: {e}"));
            }
        }
        println!("created topic {name} with {partitions} partition(s)");
        name
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(b) = self.broker.take() {
            b.shutdown();
        }
    }
}

/// `prefix-<millis>-<pid>`: unique enough for examples run against a shared cluster.
pub fn unique(prefix: &str) -> String {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    format!("{prefix}-{ms}-{}", std::process::id())
}

/// Prints the message and exits with status 1.
pub fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("FAILED: {msg}");
    std::process::exit(1)
}

/// Fails unless `cond` holds.
pub fn check(cond: bool, msg: impl std::fmt::Display) {
    if !cond {
        fail(msg);
    }
}

/// The bytes as text (lossy), or "" for none.
pub fn text(b: &Option<bytes::Bytes>) -> String {
    b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
}

/// Properties for a consumer in `group` with short timeouts suited to a demo.
pub fn consumer_props<'a>(bootstrap: &'a str, group: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("bootstrap.servers", bootstrap),
        ("group.id", group),
        ("auto.offset.reset", "earliest"),
        ("heartbeat.interval.ms", "100"),
        ("session.timeout.ms", "6000"),
        ("fetch.max.wait.ms", "100"),
    ]
}

impl Cluster {
    /// A producer with `bootstrap.servers` set plus `extra` properties.
    pub fn producer_config(&self, extra: &[(&str, &str)]) -> streamlet::client::producer::ProducerConfig {
        let mut all = vec![("bootstrap.servers", self.bootstrap.as_str())];
        all.extend_from_slice(extra);
        streamlet::client::producer::ProducerConfig::from_pairs(all).unwrap_or_else(|e| fail(format!("producer config: {e}")))
    }

    /// The log-end offset (number of records, for a fresh topic) of each partition `0..partitions`.
    pub fn end_offsets(&self, topic: &str, partitions: i32) -> Vec<i64> {
        let mut props = streamlet::config::Props::new();
        props.insert("bootstrap.servers".into(), self.bootstrap.clone());
        let admin = Admin::new(&props).unwrap_or_else(|e| fail(format!("admin client: {e}")));
        let query: Vec<(&str, i32, OffsetSpec)> = (0..partitions).map(|p| (topic, p, OffsetSpec::Latest)).collect();
        let listed = admin.list_offsets(&query).unwrap_or_else(|e| fail(format!("list offsets of {topic}: {e}")));
        let mut out = vec![-1; partitions as usize];
        for ((_, p), r) in listed {
            let o = r.unwrap_or_else(|e| fail(format!("list offsets of {topic}-{p}: {e}")));
            out[p as usize] = o.offset;
        }
        out
    }

    /// Produces `n` records `key-i`/`value-i` (round robin over partitions by key hash) and waits for all of them.
    pub fn seed(&self, topic: &str, n: usize) {
        let p = streamlet::client::producer::Producer::new(self.producer_config(&[])).unwrap_or_else(|e| fail(format!("producer: {e}")));
        let futs: Vec<_> = (0..n)
            .map(|i| p.send(streamlet::client::producer::ProducerRecord::new(topic).key(format!("key-{i}")).value(format!("value-{i}"))))
            .collect();
        for f in futs {
            f.wait().unwrap_or_else(|e| fail(format!("seeding {topic}: {e}")));
        }
        p.close(WAIT).unwrap_or_else(|e| fail(format!("closing the seeding producer: {e}")));
        println!("produced {n} records to {topic}");
    }
}

/// Polls `c` until `n` records arrived in total, or fails after `WAIT`.
pub fn poll_n(c: &streamlet::client::consumer::Consumer, n: usize) -> Vec<streamlet::client::consumer::ConsumerRecord> {
    let deadline = std::time::Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < n {
        if std::time::Instant::now() >= deadline {
            fail(format!("only {} of {n} records arrived within {WAIT:?}", out.len()));
        }
        out.extend(c.poll(Duration::from_millis(100)).unwrap_or_else(|e| fail(format!("poll: {e}"))));
    }
    out
}
