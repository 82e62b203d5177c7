//! How the producer picks a partition for a record without an explicit one.
//!
//! `PartitionChooser` is the hook that `client::partitioner` (murmur2 / sticky / round-robin, written on another
//! branch) will implement. Until that lands, `DefaultChooser` hashes keys with a PLACEHOLDER hash (see
//! `placeholder_key_hash`) and spreads keyless records round-robin over partitions with a leader.

use std::collections::HashMap;
use std::sync::Mutex;

/// Picks a partition in `0..partition_count`. `available` lists the partitions that have a leader (it may be
/// empty when none does). Runs on the caller's thread inside `Producer::send`.
pub trait PartitionChooser: Send + Sync {
    fn partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, partition_count: i32, available: &[i32]) -> i32;
}

#[derive(Default)]
pub struct DefaultChooser {
    next: Mutex<HashMap<String, u32>>,
}

/// PLACEHOLDER, to be replaced by `client::partitioner`'s murmur2 (Kafka's `Utils.murmur2(key) & 0x7fffffff`).
/// FNV-1a: stable, so the same key always lands on the same partition, but NOT Kafka-compatible.
pub fn placeholder_key_hash(key: &[u8]) -> u32 {
    key.iter().fold(0x811c_9dc5u32, |h, b| (h ^ *b as u32).wrapping_mul(0x0100_0193)) & 0x7fff_ffff
}

impl PartitionChooser for DefaultChooser {
    fn partition(&self, topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>, partition_count: i32, available: &[i32]) -> i32 {
        if let Some(k) = key {
            return (placeholder_key_hash(k) % partition_count.max(1) as u32) as i32;
        }
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let n = next.entry(topic.to_string()).or_insert(0);
        let i = *n;
        *n = n.wrapping_add(1);
        if available.is_empty() {
            (i % partition_count.max(1) as u32) as i32
        } else {
            available[i as usize % available.len()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_is_stable_and_keyless_rotates() {
        let c = DefaultChooser::default();
        let a = c.partition("t", Some(b"k1"), None, 4, &[0, 1, 2, 3]);
        for _ in 0..10 {
            assert_eq!(c.partition("t", Some(b"k1"), None, 4, &[0, 1, 2, 3]), a);
        }
        let picks: Vec<i32> = (0..4).map(|_| c.partition("t", None, None, 4, &[1, 3])).collect();
        assert_eq!(picks, vec![1, 3, 1, 3]);
    }
}
