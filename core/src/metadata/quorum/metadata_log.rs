//! The quorum behind the [`MetadataLog`] trait, for the synchronous metadata store: the quorum runs on its own
//! small runtime (one worker, `streamlet-metadata`), so that it keeps electing and replicating whatever the
//! broker's runtime is doing, and so that a store call may wait for a commit from any thread — a broker handler
//! on a runtime worker included — without blocking on a runtime from inside another.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{NodeId, QuorumError, QuorumTiming, RaftQuorum};
use crate::metadata::log::{Committed, MetadataLog};
use crate::metadata::records::MetadataRecord;

pub struct RaftMetadataLog {
    runtime: Option<tokio::runtime::Runtime>,
    quorum: Arc<RaftQuorum>,
}

impl RaftMetadataLog {
    /// Starts this node's quorum member. `listener`: the controller listener (None for a single voter).
    pub fn open(
        dir: &Path,
        node_id: i32,
        cluster_id: &str,
        voters: BTreeMap<NodeId, String>,
        listener: Option<std::net::TcpListener>,
        timing: QuorumTiming,
    ) -> io::Result<Self> {
        let node = NodeId::try_from(node_id).map_err(|_| io::Error::other(format!("node.id {node_id} must not be negative")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("streamlet-metadata")
            .enable_all()
            .build()?;
        // On a plain thread: the caller may itself be on a runtime, where blocking on another is not allowed.
        let started = std::thread::scope(|s| {
            s.spawn(|| {
                runtime.block_on(async {
                    let listener = match listener {
                        Some(l) => {
                            l.set_nonblocking(true).map_err(|e| QuorumError::Other(e.to_string()))?;
                            Some(tokio::net::TcpListener::from_std(l).map_err(|e| QuorumError::Other(e.to_string()))?)
                        }
                        None => None,
                    };
                    RaftQuorum::start(node, dir, cluster_id, listener, voters, timing).await
                })
            })
            .join()
        });
        let quorum = match started {
            Ok(Ok(q)) => Arc::new(q),
            Ok(Err(e)) => {
                runtime.shutdown_background();
                return Err(io::Error::other(e.to_string()));
            }
            Err(_) => {
                runtime.shutdown_background();
                return Err(io::Error::other("the metadata quorum failed to start"));
            }
        };
        Ok(RaftMetadataLog { runtime: Some(runtime), quorum })
    }

    /// Runs `f` on the quorum's runtime and waits for it from this thread.
    fn block<T: Send + 'static>(&self, f: impl std::future::Future<Output = T> + Send + 'static) -> io::Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let runtime = self.runtime.as_ref().ok_or_else(|| io::Error::other("the metadata quorum is stopped"))?;
        runtime.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| io::Error::other("the metadata quorum stopped"))
    }

    pub fn quorum(&self) -> &Arc<RaftQuorum> {
        &self.quorum
    }
}

impl MetadataLog for RaftMetadataLog {
    fn append(&mut self, records: &[MetadataRecord]) -> io::Result<i64> {
        let q = self.quorum.clone();
        let records = records.to_vec();
        match self.block(async move { q.append(&records).await })? {
            Ok(offset) => Ok(offset),
            Err(QuorumError::NotLeader(l)) => Err(io::Error::other(format!("not the active controller (leader: {l:?})"))),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }

    fn committed_after(&self, offset: i64) -> Committed {
        let batches = self.quorum.applied_since(offset);
        let contiguous = batches.first().is_none_or(|b| b.first_offset <= offset + 1);
        let image = self.quorum.image();
        if !contiguous || (batches.is_empty() && image.offset > offset) {
            return Committed::Image(image);
        }
        let mut out = Vec::new();
        for b in batches {
            for (i, r) in b.records.into_iter().enumerate() {
                let o = b.first_offset + i as i64;
                if o > offset {
                    out.push((o, r));
                }
            }
        }
        Committed::Records(out)
    }

    fn leader(&self) -> Option<i32> {
        let q = self.quorum.clone();
        self.block(async move { q.leader().await }).ok().flatten().and_then(|l| i32::try_from(l).ok())
    }
}

impl Drop for RaftMetadataLog {
    fn drop(&mut self) {
        // Everything acknowledged is already on disk; stop the tasks without waiting (this may run on a runtime).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
