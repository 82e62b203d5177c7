//! How the producer picks a partition for a record without an explicit one: Kafka's built-in partitioning
//! (`client::partitioner`): keyed records by murmur2 exactly as the Java client, keyless records sticky
//! (KIP-480/794), or round-robin when `partitioner.class` asks for it. A user partitioner implements
//! [`PartitionChooser`].

use crate::client::partitioner::{partition_for_key, Partitioner, RoundRobinPartitioner, StickyPartitioner};

/// Picks a partition in `0..partition_count`. `available` lists the partitions that have a leader (it may be
/// empty when none does). Runs on the caller's thread inside `Producer::send`.
pub trait PartitionChooser: Send + Sync {
    fn partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, partition_count: i32, available: &[i32]) -> i32;
}

/// The Java client's default: murmur2 for keys, sticky for keyless records (switching after `batch.size` bytes).
pub struct DefaultChooser {
    sticky: StickyPartitioner,
}

impl DefaultChooser {
    pub fn new(batch_size: usize) -> Self {
        DefaultChooser { sticky: StickyPartitioner::new(batch_size) }
    }
}

impl Default for DefaultChooser {
    fn default() -> Self {
        DefaultChooser::new(16384)
    }
}

/// A record's approximate size in a batch, for the sticky partitioner's byte count (as Kafka counts appends).
fn approx_size(key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
    key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len) + 16
}

impl PartitionChooser for DefaultChooser {
    fn partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, partition_count: i32, _available: &[i32]) -> i32 {
        let n = partition_count.max(1);
        if let Some(k) = key {
            return partition_for_key(k, n);
        }
        self.sticky.partition_and_append(topic, approx_size(key, value), n)
    }
}

/// `partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner`: every record (keyed or not) goes
/// to the next partition, starting at a random one.
#[derive(Default)]
pub struct RoundRobinChooser {
    inner: RoundRobinPartitioner,
}

impl PartitionChooser for RoundRobinChooser {
    fn partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, partition_count: i32, _available: &[i32]) -> i32 {
        self.inner.partition(topic, key, value, partition_count.max(1)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_records_match_the_java_client() {
        let c = DefaultChooser::default();
        // Java: Utils.toPositive(Utils.murmur2("k1".getBytes())) % 4, via client::partitioner's vectors.
        let expected = partition_for_key(b"k1", 4);
        for _ in 0..10 {
            assert_eq!(c.partition("t", Some(b"k1"), None, 4, &[0, 1, 2, 3]), expected);
        }
    }

    #[test]
    fn keyless_records_stick_then_move_on() {
        let c = DefaultChooser::new(1000);
        let first = c.partition("t", None, Some(&[0u8; 100]), 4, &[]);
        // Stays for about batch.size bytes (100 + 16 per record), then switches.
        let run: Vec<i32> = (0..7).map(|_| c.partition("t", None, Some(&[0u8; 100]), 4, &[])).collect();
        assert!(run.iter().all(|p| *p == first), "{run:?}");
        let later: Vec<i32> = (0..20).map(|_| c.partition("t", None, Some(&[0u8; 100]), 4, &[])).collect();
        assert!(later.iter().any(|p| *p != first), "{later:?}");
    }

    #[test]
    fn round_robin_rotates() {
        let c = RoundRobinChooser::default();
        let picks: Vec<i32> = (0..8).map(|_| c.partition("t", Some(b"same"), None, 4, &[])).collect();
        for w in picks.windows(2) {
            assert_eq!(w[1], (w[0] + 1) % 4);
        }
    }
}
