//! Where the replicas of new partitions go: striped over the usable (registered, unfenced, not shutting down)
//! brokers in id order, from a start that depends on the topic, so that leaders (the first replica) spread
//! evenly and consecutive topics do not all start on the same broker. Kafka's `StripedReplicaPlacer` also
//! stripes across racks; Streamlet places without rack awareness for now.

use crate::protocol::ErrorCode;

use super::ApiError;

/// Replica lists for partitions `first..first + count`.
pub fn place(usable: &[i32], first: i32, count: i32, rf: i16, seed: u64) -> Result<Vec<Vec<i32>>, ApiError> {
    if rf <= 0 {
        return Err((ErrorCode::InvalidReplicationFactor, format!("replication factor must be larger than 0, got {rf}")));
    }
    let n = usable.len();
    if rf as usize > n {
        return Err((
            ErrorCode::InvalidReplicationFactor,
            format!(
                "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be \
                 reached because only {n} broker(s) are registered."
            ),
        ));
    }
    let start = (seed % n as u64) as usize;
    Ok((first..first + count)
        .map(|p| (0..rf as usize).map(|j| usable[(start + p as usize + j) % n]).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_distinct_and_leaders_spread() {
        let a = place(&[1, 2, 3], 0, 6, 3, 0).unwrap();
        for r in &a {
            let mut s = r.clone();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), 3);
        }
        let mut leaders: Vec<i32> = a.iter().map(|r| r[0]).collect();
        leaders.sort();
        assert_eq!(leaders, vec![1, 1, 2, 2, 3, 3]);
        assert_eq!(place(&[1, 2, 3], 0, 1, 1, 4).unwrap(), vec![vec![2]]);
        let e = place(&[1], 0, 1, 3, 0).unwrap_err();
        assert_eq!(e.0, ErrorCode::InvalidReplicationFactor);
        assert!(e.1.contains("only 1 broker(s)"), "{}", e.1);
    }
}
