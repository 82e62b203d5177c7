//! Producer partitioners, compatible with the Java client's.
//!
//! * [`murmur2`] / [`to_positive`] / [`partition_for_key`]: the key hash of Java's `Utils.murmur2` and the
//!   built-in key partitioning `toPositive(murmur2(key)) % numPartitions`, so that a keyed record lands on the
//!   same partition whichever client produced it.
//! * [`Partitioner`]: the user-pluggable strategy. The producer calls it synchronously on the caller's thread
//!   inside `send`; an explicit partition on the record wins before it is consulted, and `None` from
//!   [`Partitioner::partition`] means "let the built-in logic decide" (keyed: murmur2; keyless: sticky).
//! * [`StickyPartitioner`]: the built-in keyless logic (KIP-480 / KIP-794): stick to one partition of a topic
//!   until enough bytes went to it (or its batch was closed), then switch to another one at random.
//! * [`DefaultPartitioner`] (keyed -> murmur2, keyless -> sticky) and [`RoundRobinPartitioner`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Java's `Utils.murmur2`: 32-bit MurmurHash2 with seed `0x9747b28c`, returning the same (signed) value.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`: clears the sign bit (not `abs`, so `i32::MIN` maps to 0).
pub fn to_positive(x: i32) -> i32 {
    x & 0x7fff_ffff
}

/// The partition of a keyed record: `toPositive(murmur2(key)) % partition_count`.
///
/// Panics if `partition_count <= 0`.
pub fn partition_for_key(key: &[u8], partition_count: i32) -> i32 {
    assert!(partition_count > 0, "partition_count must be positive, got {partition_count}");
    to_positive(murmur2(key)) % partition_count
}

/// A producer partitioner. Implementations must be cheap and thread-safe: `send` calls them on the caller's
/// thread, possibly from many threads at once.
pub trait Partitioner: Send + Sync {
    /// The partition for a record without an explicit partition, in `0..partition_count`, or `None` to let the
    /// producer's built-in logic decide (keyed: [`partition_for_key`], keyless: [`StickyPartitioner`]).
    fn partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, partition_count: i32)
        -> Option<i32>;

    /// Called by the record accumulator when it had to open a new batch for `prev_partition` of `topic` (the
    /// previous one was full or already sent): KIP-480's `onNewBatch`. A sticky partitioner switches partition.
    fn on_new_batch(&self, _topic: &str, _prev_partition: i32, _partition_count: i32) {}

    /// Called by the record accumulator after it appended `appended_bytes` to `partition` of `topic` on behalf of
    /// a record this partitioner placed (KIP-794 byte accounting). `enable_switch` is false while the partition's
    /// batch is not ready to be sent yet (a high `linger.ms`), which delays a switch up to twice the sticky size.
    fn on_append(
        &self,
        _topic: &str,
        _partition: i32,
        _appended_bytes: usize,
        _partition_count: i32,
        _enable_switch: bool,
    ) {
    }
}

/// A small thread-safe pseudo-random generator (SplitMix64) seeded from a v4 UUID; good enough to spread
/// partitions, not for anything secret.
#[derive(Debug)]
pub(crate) struct SplitMix {
    state: AtomicU64,
}

impl SplitMix {
    pub(crate) fn new() -> Self {
        let seed = uuid::Uuid::new_v4().as_u64_pair();
        Self::with_seed(seed.0 ^ seed.1.rotate_left(17))
    }

    pub(crate) fn with_seed(seed: u64) -> Self {
        SplitMix { state: AtomicU64::new(seed) }
    }

    pub(crate) fn next_u64(&self) -> u64 {
        let mut z = self.state.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Like Java's `Utils.toPositive(random.nextInt())`.
    pub(crate) fn next_positive_i32(&self) -> i32 {
        to_positive((self.next_u64() >> 32) as i32)
    }
}

#[derive(Debug, Clone, Copy)]
struct StickyState {
    partition: i32,
    produced_bytes: usize,
}

/// The built-in partitioner for keyless records (KIP-480 and KIP-794's uniform sticky partitioning).
///
/// All keyless records of a topic go to one partition until `sticky_batch_size` bytes (the producer's
/// `batch.size`) were appended to it — or until the accumulator reports a new batch for it — and then a new
/// partition is chosen uniformly at random (different from the current one when there are several).
/// The adaptive, queue-size weighted choice of KIP-794 is not implemented: switching is uniform.
#[derive(Debug)]
pub struct StickyPartitioner {
    sticky_batch_size: usize,
    rng: SplitMix,
    topics: Mutex<HashMap<String, StickyState>>,
}

impl Default for StickyPartitioner {
    fn default() -> Self {
        Self::new(16384)
    }
}

impl StickyPartitioner {
    /// `sticky_batch_size` is how many bytes go to a partition before switching (Java uses `batch.size`).
    pub fn new(sticky_batch_size: usize) -> Self {
        Self::with_rng(sticky_batch_size, SplitMix::new())
    }

    fn with_rng(sticky_batch_size: usize, rng: SplitMix) -> Self {
        StickyPartitioner { sticky_batch_size: sticky_batch_size.max(1), rng, topics: Mutex::new(HashMap::new()) }
    }

    /// A partition chosen at random, avoiding `avoid` when there is another choice.
    fn next_partition(&self, partition_count: i32, avoid: Option<i32>) -> i32 {
        let r = self.rng.next_positive_i32();
        match avoid {
            Some(prev) if partition_count > 1 && (0..partition_count).contains(&prev) => {
                // Pick among the other partition_count - 1 partitions.
                let p = r % (partition_count - 1);
                if p >= prev {
                    p + 1
                } else {
                    p
                }
            }
            _ => r % partition_count,
        }
    }

    /// The current sticky partition of `topic` (chosen at random on first use or after the topic's partition
    /// count shrank below it). Panics if `partition_count <= 0`.
    pub fn partition(&self, topic: &str, partition_count: i32) -> i32 {
        assert!(partition_count > 0, "partition_count must be positive, got {partition_count}");
        self.current(&mut self.topics.lock().unwrap(), topic, partition_count).partition
    }

    /// `topic`'s state, with a new random partition on first use or when the partition count shrank below it.
    fn current<'a>(&self, topics: &'a mut HashMap<String, StickyState>, topic: &str, partition_count: i32) -> &'a mut StickyState {
        if !topics.get(topic).is_some_and(|s| s.partition < partition_count) {
            let partition = self.next_partition(partition_count, None);
            topics.insert(topic.to_string(), StickyState { partition, produced_bytes: 0 });
        }
        topics.get_mut(topic).expect("ensured above")
    }

    /// KIP-794's byte count: switches once `limit` bytes went to the current partition.
    fn account(&self, s: &mut StickyState, appended_bytes: usize, limit: usize, partition_count: i32) {
        s.produced_bytes = s.produced_bytes.saturating_add(appended_bytes);
        if s.produced_bytes >= limit {
            let next = self.next_partition(partition_count, Some(s.partition));
            *s = StickyState { partition: next, produced_bytes: 0 };
        }
    }

    /// `partition` then `on_append(.., enable_switch = true)` in one step (one lock and one lookup per record):
    /// the current sticky partition, with `appended_bytes` accounted to it.
    pub fn partition_and_append(&self, topic: &str, appended_bytes: usize, partition_count: i32) -> i32 {
        assert!(partition_count > 0, "partition_count must be positive, got {partition_count}");
        let mut topics = self.topics.lock().unwrap();
        let s = self.current(&mut topics, topic, partition_count);
        let partition = s.partition;
        self.account(s, appended_bytes, self.sticky_batch_size, partition_count);
        partition
    }

    /// KIP-480: a new batch was opened for `prev_partition`; if that is the current sticky partition, switch to
    /// another one. A stale call (the sticky partition already moved on) changes nothing.
    pub fn on_new_batch(&self, topic: &str, prev_partition: i32, partition_count: i32) {
        if partition_count <= 0 {
            return;
        }
        let mut topics = self.topics.lock().unwrap();
        let switch = match topics.get(topic) {
            Some(s) => s.partition == prev_partition,
            None => true,
        };
        if switch {
            let partition = self.next_partition(partition_count, Some(prev_partition));
            topics.insert(topic.to_string(), StickyState { partition, produced_bytes: 0 });
        }
    }

    /// KIP-794: account `appended_bytes` to `partition`; switch once `sticky_batch_size` bytes were produced to it
    /// (when `enable_switch`) or `2 * sticky_batch_size` bytes (always). Appends to a partition that is not the
    /// current sticky one (a race, or a keyed record) are ignored.
    pub fn on_append(
        &self,
        topic: &str,
        partition: i32,
        appended_bytes: usize,
        partition_count: i32,
        enable_switch: bool,
    ) {
        if partition_count <= 0 {
            return;
        }
        let mut topics = self.topics.lock().unwrap();
        let Some(s) = topics.get_mut(topic) else { return };
        if s.partition != partition {
            return;
        }
        let limit = if enable_switch { self.sticky_batch_size } else { self.sticky_batch_size.saturating_mul(2) };
        self.account(s, appended_bytes, limit, partition_count);
    }
}

/// Java's default behaviour: keyed records by murmur2 of the key, keyless records sticky (KIP-480/794).
/// (An explicit partition on the record is honoured by the producer before any partitioner runs.)
#[derive(Debug, Default)]
pub struct DefaultPartitioner {
    sticky: StickyPartitioner,
}

impl DefaultPartitioner {
    /// `sticky_batch_size`: bytes per sticky partition before switching (the producer's `batch.size`).
    pub fn new(sticky_batch_size: usize) -> Self {
        DefaultPartitioner { sticky: StickyPartitioner::new(sticky_batch_size) }
    }

    /// The sticky state used for keyless records.
    pub fn sticky(&self) -> &StickyPartitioner {
        &self.sticky
    }
}

impl Partitioner for DefaultPartitioner {
    fn partition(&self, topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>, partition_count: i32)
        -> Option<i32> {
        if partition_count <= 0 {
            return None;
        }
        Some(match key {
            Some(k) => partition_for_key(k, partition_count),
            None => self.sticky.partition(topic, partition_count),
        })
    }

    fn on_new_batch(&self, topic: &str, prev_partition: i32, partition_count: i32) {
        self.sticky.on_new_batch(topic, prev_partition, partition_count);
    }

    fn on_append(&self, topic: &str, partition: i32, appended_bytes: usize, partition_count: i32, enable_switch: bool) {
        self.sticky.on_append(topic, partition, appended_bytes, partition_count, enable_switch);
    }
}

/// Java's `RoundRobinPartitioner`: ignores keys; each topic has a counter that starts at a random value and is
/// incremented for every record, the partition being `toPositive(counter) % partition_count`.
#[derive(Debug)]
pub struct RoundRobinPartitioner {
    rng: SplitMix,
    counters: Mutex<HashMap<String, i32>>,
}

impl Default for RoundRobinPartitioner {
    fn default() -> Self {
        Self::new()
    }
}

impl RoundRobinPartitioner {
    pub fn new() -> Self {
        RoundRobinPartitioner { rng: SplitMix::new(), counters: Mutex::new(HashMap::new()) }
    }

    fn next_value(&self, topic: &str) -> i32 {
        let mut counters = self.counters.lock().unwrap();
        if !counters.contains_key(topic) {
            counters.insert(topic.to_string(), self.rng.next_positive_i32());
        }
        let counter = counters.get_mut(topic).expect("inserted");
        let v = *counter;
        *counter = counter.wrapping_add(1);
        v
    }
}

impl Partitioner for RoundRobinPartitioner {
    fn partition(&self, topic: &str, _key: Option<&[u8]>, _value: Option<&[u8]>, partition_count: i32)
        -> Option<i32> {
        if partition_count <= 0 {
            return None;
        }
        Some(to_positive(self.next_value(topic)) % partition_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn murmur2_matches_java_utils_test() {
        // Kafka's UtilsTest.testMurmur2.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            (b"abc", 479470107),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input), expected, "murmur2({:?})", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn murmur2_covers_every_tail_length() {
        // Lengths 0..=7 exercise the 0/1/2/3-byte tails; the values are stable (regression), and distinct.
        let mut seen = HashSet::new();
        for n in 0..8 {
            let data: Vec<u8> = (0..n).map(|i| 0x80 + i as u8).collect(); // bytes >= 0x80: sign handling
            assert!(seen.insert(murmur2(&data)), "collision at length {n}");
        }
        assert_eq!(murmur2(b""), murmur2(&[]));
    }

    #[test]
    fn to_positive_clears_sign_bit() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(-10), 0x7fff_fff6);
        assert_eq!(to_positive(0), 0);
        assert_eq!(to_positive(10), 10);
    }

    #[test]
    fn key_partition_is_java_formula_and_stable() {
        // toPositive(-973932308) = 1173551340; 1173551340 % 3 = 0, % 10 = 0, % 7 = 2
        assert_eq!(to_positive(-973932308), 1173551340);
        assert_eq!(partition_for_key(b"21", 3), 1173551340 % 3);
        assert_eq!(partition_for_key(b"21", 7), 1173551340 % 7);
        // "foobar": toPositive(-790332482) = 1357151166
        assert_eq!(partition_for_key(b"foobar", 10), 1357151166 % 10);
        assert_eq!(partition_for_key(b"abc", 4), 479470107 % 4);
        let p = DefaultPartitioner::default();
        for _ in 0..10 {
            assert_eq!(p.partition("t", Some(b"foobar"), None, 10), Some(6));
        }
    }

    #[test]
    fn default_partitioner_sticks_until_new_batch() {
        let p = DefaultPartitioner::new(1000);
        let first = p.partition("t", None, Some(b"v"), 5).unwrap();
        for _ in 0..100 {
            assert_eq!(p.partition("t", None, Some(b"v"), 5), Some(first));
        }
        // A stale new-batch notification for another partition changes nothing.
        p.on_new_batch("t", (first + 1) % 5, 5);
        assert_eq!(p.partition("t", None, None, 5), Some(first));
        // A new batch for the sticky partition switches to a different one.
        p.on_new_batch("t", first, 5);
        let second = p.partition("t", None, None, 5).unwrap();
        assert_ne!(first, second);
        assert!((0..5).contains(&second));
        // Keyed records are unaffected by the sticky state.
        assert_eq!(p.partition("t", Some(b"21"), None, 5), Some(1173551340 % 5));
        // Topics are independent.
        let other = p.partition("u", None, None, 1).unwrap();
        assert_eq!(other, 0);
    }

    #[test]
    fn sticky_switches_after_batch_size_bytes() {
        let s = StickyPartitioner::new(100);
        let p0 = s.partition("t", 4);
        s.on_append("t", p0, 60, 4, true);
        assert_eq!(s.partition("t", 4), p0);
        s.on_append("t", p0, 40, 4, true);
        let p1 = s.partition("t", 4);
        assert_ne!(p0, p1);
        // Switching disabled (batch not ready): keep going up to twice the size.
        s.on_append("t", p1, 150, 4, false);
        assert_eq!(s.partition("t", 4), p1);
        s.on_append("t", p1, 50, 4, false);
        assert_ne!(s.partition("t", 4), p1);
        // Appends to a non-sticky partition (keyed records) are ignored.
        let p2 = s.partition("t", 4);
        s.on_append("t", (p2 + 1) % 4, 10_000, 4, true);
        assert_eq!(s.partition("t", 4), p2);
    }

    #[test]
    fn partition_and_append_is_partition_then_on_append() {
        let one_step = StickyPartitioner::with_rng(100, SplitMix::with_seed(3));
        let two_steps = StickyPartitioner::with_rng(100, SplitMix::with_seed(3));
        for bytes in [60, 40, 10, 90, 200, 1, 99, 5] {
            let p = two_steps.partition("t", 4);
            two_steps.on_append("t", p, bytes, 4, true);
            assert_eq!(one_step.partition_and_append("t", bytes, 4), p);
        }
        // A shrunk topic gets a new sticky partition within range.
        assert!(one_step.partition_and_append("t", 1, 1) == 0);
    }

    #[test]
    fn sticky_spreads_over_all_partitions_and_handles_shrink() {
        let s = StickyPartitioner::new(1);
        let mut seen = HashSet::new();
        for _ in 0..500 {
            let p = s.partition("t", 6);
            assert!((0..6).contains(&p));
            seen.insert(p);
            s.on_append("t", p, 1, 6, true);
        }
        assert_eq!(seen.len(), 6);
        // Single partition: always 0, switching is a no-op.
        let p = s.partition("single", 1);
        s.on_new_batch("single", p, 1);
        assert_eq!(s.partition("single", 1), 0);
        // Partition count shrank below the sticky partition: a valid one is chosen.
        let s = StickyPartitioner::with_rng(10, SplitMix::with_seed(7));
        let mut t = 0;
        while s.partition("t", 100) < 50 {
            s.on_new_batch("t", s.partition("t", 100), 100);
            t += 1;
            assert!(t < 1000);
        }
        assert!(s.partition("t", 50) < 50);
    }

    #[test]
    fn round_robin_cycles_from_random_start() {
        let p = RoundRobinPartitioner::new();
        let start = p.partition("t", Some(b"k"), None, 4).unwrap();
        for i in 1..=12 {
            assert_eq!(p.partition("t", Some(b"k"), None, 4), Some((start + i) % 4));
        }
        // Per-topic counters.
        let u0 = p.partition("u", None, None, 3).unwrap();
        assert_eq!(p.partition("u", None, None, 3), Some((u0 + 1) % 3));
        assert_eq!(p.partition("t", None, None, 4), Some((start + 13) % 4));
        // Distribution is even over a full number of cycles.
        let p = RoundRobinPartitioner::new();
        let mut counts = [0; 5];
        for _ in 0..50 {
            counts[p.partition("x", None, None, 5).unwrap() as usize] += 1;
        }
        assert_eq!(counts, [10; 5]);
        assert_eq!(p.partition("x", None, None, 0), None);
    }

    #[test]
    fn round_robin_counter_wraps_like_java() {
        let p = RoundRobinPartitioner::new();
        p.counters.lock().unwrap().insert("t".into(), i32::MAX);
        assert_eq!(p.partition("t", None, None, 7), Some(i32::MAX % 7));
        // i32::MIN -> toPositive -> 0
        assert_eq!(p.partition("t", None, None, 7), Some(0));
        assert_eq!(p.partition("t", None, None, 7), Some(1));
    }

    #[test]
    fn partitioners_are_send_sync_objects() {
        let ps: Vec<Box<dyn Partitioner>> =
            vec![Box::new(DefaultPartitioner::default()), Box::new(RoundRobinPartitioner::default())];
        std::thread::scope(|s| {
            for p in &ps {
                s.spawn(move || {
                    for _ in 0..100 {
                        let v = p.partition("t", None, None, 3).unwrap();
                        assert!((0..3).contains(&v));
                    }
                });
            }
        });
    }
}
