//! One client connection: frames in, responses out, in order. Like Kafka, a connection's requests are handled one
//! at a time; responses to pipelined requests are written together.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::handlers::{dispatch, unsupported_version_answer, Outcome};
use super::state::BrokerState;
use super::ShutdownSignal;
use crate::protocol::codec::{decode_request, DecodeError};
use crate::protocol::frame::{read_frame, FrameError};

const IO_BUFFER: usize = 64 * 1024;

/// Serves the connection until the peer closes it, it misbehaves, or the broker shuts down. `_alive` is dropped
/// on return, which is how shutdown knows every connection has finished.
pub async fn serve(stream: TcpStream, peer: SocketAddr, state: Arc<BrokerState>, mut shutdown: ShutdownSignal, _alive: mpsc::Sender<()>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(IO_BUFFER, rd);
    let mut wr = BufWriter::with_capacity(IO_BUFFER, wr);
    let max = state.config.socket_request_max_bytes;
    loop {
        let frame = tokio::select! {
            f = read_frame(&mut rd, max) => f,
            _ = shutdown.changed() => break,
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
        match outcome {
            Outcome::Respond(bytes) => {
                if let Err(e) = wr.write_all(&bytes).await {
                    tracing::debug!(%peer, "write failed: {e}");
                    break;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                tracing::warn!(%peer, "closing connection: {reason}");
                break;
            }
        }
        // Hold the flush while another whole request is already buffered: pipelined answers go out together.
        if !has_complete_frame(rd.buffer()) {
            if let Err(e) = wr.flush().await {
                tracing::debug!(%peer, "write failed: {e}");
                break;
            }
        }
    }
    let _ = wr.flush().await;
}

fn has_complete_frame(buf: &[u8]) -> bool {
    buf.len() >= 4 && buf.len() - 4 >= i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]).max(0) as usize
}
