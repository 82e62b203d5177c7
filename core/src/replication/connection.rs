//! A fetcher's connection to a leader: one request at a time, Kafka's framing, bounded by a timeout.

use std::time::Duration;

use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, ResponseHeader};
use kafka_protocol::protocol::{Decodable, HeaderVersion};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::metadata::cluster::BrokerEndpoint;
use crate::protocol::codec::encode_request;
use crate::protocol::frame::read_frame;

/// Fetch v12: the last version addressing topics by name, with LastFetchedEpoch and DivergingEpoch (KIP-320).
pub const FETCH_VERSION: i16 = 12;
/// A response larger than this is a broken peer (`replica.fetch.response.max.bytes` is far below it).
const MAX_RESPONSE: usize = 1 << 30;

pub struct LeaderConnection {
    stream: BufReader<TcpStream>,
    correlation_id: i32,
    client_id: String,
}

impl LeaderConnection {
    pub async fn connect(endpoint: &BrokerEndpoint, local: i32, timeout: Duration) -> std::io::Result<Self> {
        let addr = format!("{}:{}", endpoint.host, endpoint.port);
        let stream = tokio::time::timeout(timeout, TcpStream::connect(&addr))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, format!("connecting to {addr} timed out")))??;
        stream.set_nodelay(true)?;
        Ok(LeaderConnection {
            stream: BufReader::with_capacity(64 * 1024, stream),
            correlation_id: 0,
            client_id: format!("broker-{local}-fetcher-{}", endpoint.node_id),
        })
    }

    /// Sends one Fetch and waits for its answer, at most `timeout`.
    pub async fn fetch(&mut self, req: &FetchRequest, timeout: Duration) -> anyhow::Result<FetchResponse> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let frame = encode_request(ApiKey::Fetch, FETCH_VERSION, self.correlation_id, Some(&self.client_id), req)?;
        let exchange = async {
            self.stream.get_mut().write_all(&frame).await?;
            let body = read_frame(&mut self.stream, MAX_RESPONSE).await?;
            // A peer's bytes are input like any other: a decoder panic becomes an error on this connection.
            let decoded = std::panic::catch_unwind(move || {
                let mut body = body;
                let header = ResponseHeader::decode(&mut body, FetchResponse::header_version(FETCH_VERSION))?;
                Ok::<_, anyhow::Error>((header, FetchResponse::decode(&mut body, FETCH_VERSION)?))
            })
            .map_err(|_| anyhow::anyhow!("malformed Fetch response"))?;
            let (header, resp) = decoded?;
            anyhow::ensure!(
                header.correlation_id == self.correlation_id,
                "response correlation id {} does not match request {}",
                header.correlation_id,
                self.correlation_id
            );
            Ok(resp)
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| anyhow::anyhow!("fetch timed out after {timeout:?}"))?
    }
}
