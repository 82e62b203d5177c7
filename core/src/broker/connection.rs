//! One client connection. The read loop decodes and handles requests one at a time, in arrival order (as Kafka
//! does, so appends keep the order they were sent in); a writer task sends the answers in the same order. An answer
//! that must wait (acks=all waiting for fsync) does not hold up reading and appending the requests behind it, so
//! pipelined produces share one fsync.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::handlers::{dispatch, unsupported_version_answer, Outcome};
use super::state::BrokerState;
use super::ShutdownSignal;
use crate::protocol::codec::{decode_request, DecodeError};
use crate::protocol::frame::{read_frame, FrameError};

const IO_BUFFER: usize = 64 * 1024;
/// Answers queued or in progress per connection; a client pipelining more waits for the oldest to finish.
const MAX_PIPELINE: usize = 32;

enum Slot {
    Ready(Outcome),
    Later(JoinHandle<Outcome>),
}

/// Serves the connection until the peer closes it, it misbehaves, or the broker shuts down. `_alive` is dropped
/// on return, which is how shutdown knows every connection has finished.
pub async fn serve(stream: TcpStream, peer: SocketAddr, state: Arc<BrokerState>, mut shutdown: ShutdownSignal, _alive: mpsc::Sender<()>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(IO_BUFFER, rd);
    let (tx, rx) = mpsc::channel::<Slot>(MAX_PIPELINE);
    let writer = tokio::spawn(write_loop(wr, rx, peer));
    let max = state.config.socket_request_max_bytes;
    loop {
        let frame = tokio::select! {
            f = read_frame(&mut rd, max) => f,
            _ = shutdown.changed() => break,
            // The writer stopped (a close, or the peer went away): stop reading too.
            _ = tx.closed() => break,
        };
        let frame = match frame {
            Ok(f) => f,
            Err(FrameError::Closed) => break,
            Err(e) => {
                tracing::warn!(%peer, "closing connection: {e}");
                break;
            }
        };
        let outcome = match decode_request(frame) {
            Ok(req) => dispatch(&state, req, peer, &shutdown).await,
            Err(DecodeError::UnsupportedApiVersions { correlation_id, version }) => {
                tracing::debug!(%peer, version, "ApiVersions version not served; answering with our range");
                match unsupported_version_answer(correlation_id) {
                    Ok(b) => Outcome::Respond(b),
                    Err(e) => Outcome::Close(e.to_string()),
                }
            }
            Err(e) => Outcome::Close(e.to_string()),
        };
        let closing = matches!(outcome, Outcome::Close(_));
        let slot = match outcome {
            Outcome::Deferred(fut) => Slot::Later(tokio::spawn(fut)),
            other => Slot::Ready(other),
        };
        if tx.send(slot).await.is_err() || closing {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

async fn write_loop(wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Slot>, peer: SocketAddr) {
    let mut wr = BufWriter::with_capacity(IO_BUFFER, wr);
    while let Some(slot) = rx.recv().await {
        let outcome = match slot {
            Slot::Ready(o) => o,
            Slot::Later(handle) => handle.await.unwrap_or_else(|e| Outcome::Close(format!("request handler failed: {e}"))),
        };
        match outcome {
            Outcome::Respond(bytes) => {
                if let Err(e) = wr.write_all(&bytes).await {
                    tracing::debug!(%peer, "write failed: {e}");
                    break;
                }
            }
            Outcome::RespondParts(parts) => {
                // Large parts bypass the buffer (BufWriter writes them straight to the socket).
                let mut failed = None;
                for part in parts {
                    if let Err(e) = wr.write_all(&part).await {
                        failed = Some(e);
                        break;
                    }
                }
                if let Some(e) = failed {
                    tracing::debug!(%peer, "write failed: {e}");
                    break;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                tracing::warn!(%peer, "closing connection: {reason}");
                break;
            }
            Outcome::Deferred(_) => {
                // Deferred answers are spawned by the read loop and never nest; refuse rather than panic.
                tracing::error!(%peer, "closing connection: a deferred answer resolved to another deferred answer");
                break;
            }
        }
        // Answers already queued go out in the same write.
        if rx.is_empty() {
            if let Err(e) = wr.flush().await {
                tracing::debug!(%peer, "write failed: {e}");
                break;
            }
        }
    }
    let _ = wr.flush().await;
    let _ = wr.shutdown().await;
}
