//! One connection to a broker: ApiVersions negotiation, then pipelined requests matched to responses by
//! correlation id (a broker answers a connection's requests in order).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::error::ClientError;
use crate::protocol::codec::encode_request;
use crate::protocol::frame::read_frame;
use crate::protocol::versions::SERVED;

/// APIs the client uses that the Streamlet broker does not (yet) serve, with the versions the client speaks:
/// negotiated like `SERVED`'s (an entry there wins). OffsetForLeaderEpoch v2+ carries CurrentLeaderEpoch (the
/// consumer's KIP-320 position validation); Kafka 4 serves v2-v4.
const CLIENT_ONLY: &[(ApiKey, i16, i16)] = &[(ApiKey::OffsetForLeaderEpoch, 2, 4)];

/// Responses larger than this are refused (a broker sending more is broken or hostile).
const MAX_RESPONSE: usize = 512 * 1024 * 1024;

struct Pending {
    correlation: i32,
    header_version: i16,
    reply: oneshot::Sender<Result<Bytes, ClientError>>,
}

pub struct Connection {
    pub addr: String,
    client_id: String,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Arc<Mutex<VecDeque<Pending>>>,
    correlation: AtomicI32,
    /// api key -> the highest version both sides speak.
    versions: HashMap<i16, i16>,
    closed: Arc<AtomicBool>,
}

impl Connection {
    /// Connects and negotiates API versions.
    pub async fn connect(addr: &str, client_id: &str, timeout: Duration) -> Result<Arc<Connection>, ClientError> {
        let fail = |reason: String| ClientError::Connection { addr: addr.to_string(), reason };
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| fail(format!("no connection within {} ms", timeout.as_millis())))?
            .map_err(|e| fail(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let pending: Arc<Mutex<VecDeque<Pending>>> = Arc::new(Mutex::new(VecDeque::new()));
        let closed = Arc::new(AtomicBool::new(false));
        tokio::spawn(read_loop(BufReader::with_capacity(256 * 1024, rd), pending.clone(), closed.clone(), addr.to_string()));
        let mut conn = Connection {
            addr: addr.to_string(),
            client_id: client_id.to_string(),
            writer: tokio::sync::Mutex::new(wr),
            pending,
            correlation: AtomicI32::new(0),
            versions: HashMap::new(),
            closed,
        };
        let theirs = tokio::time::timeout(timeout, conn.api_versions()).await.map_err(|_| fail("ApiVersions timed out".into()))??;
        let client_only = CLIENT_ONLY.iter().filter(|(api, _, _)| !SERVED.iter().any(|(s, _, _)| s == api));
        for (api, min, max) in SERVED.iter().chain(client_only) {
            if let Some((their_min, their_max)) = theirs.get(&(*api as i16)) {
                let (lo, hi) = ((*min).max(*their_min), (*max).min(*their_max));
                if lo <= hi {
                    conn.versions.insert(*api as i16, hi);
                }
            }
        }
        Ok(Arc::new(conn))
    }

    /// ApiVersions v3, falling back to v0 when the broker answers UNSUPPORTED_VERSION (KIP-511).
    async fn api_versions(&self) -> Result<HashMap<i16, (i16, i16)>, ClientError> {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("streamlet"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let mut resp: ApiVersionsResponse = self.send_versioned(ApiKey::ApiVersions, 3, &req).await?;
        if resp.error_code == 35 {
            resp = self.send_versioned(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default()).await?;
        }
        if let Some(e) = ClientError::kafka(resp.error_code, None) {
            return Err(e);
        }
        Ok(resp.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect())
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The version to use for `api`, or None when the broker does not serve it.
    pub fn version(&self, api: ApiKey) -> Option<i16> {
        self.versions.get(&(api as i16)).copied()
    }

    /// The version to use for `api`, or UnsupportedApi naming the broker.
    pub fn negotiated(&self, api: ApiKey) -> Result<i16, ClientError> {
        self.version(api).ok_or_else(|| ClientError::UnsupportedApi { addr: self.addr.clone(), api: format!("{api:?}") })
    }

    /// Sends at the negotiated version; returns the response and the version used.
    pub async fn send<Req, Resp>(&self, api: ApiKey, req: &Req) -> Result<(Resp, i16), ClientError>
    where
        Req: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion + Send + 'static,
    {
        let version = self.negotiated(api)?;
        Ok((self.send_versioned(api, version, req).await?, version))
    }

    pub async fn send_versioned<Req, Resp>(&self, api: ApiKey, version: i16, req: &Req) -> Result<Resp, ClientError>
    where
        Req: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion + Send + 'static,
    {
        self.start_versioned(api, version, req).await?.await
    }

    /// Writes the request now and returns its response to await later, at the negotiated version: requests a
    /// caller starts one after another go on the wire in that order even when their responses are awaited
    /// concurrently (the producer relies on it for per-partition order with several batches in flight).
    pub async fn start<Req, Resp>(&self, api: ApiKey, req: &Req) -> Result<impl std::future::Future<Output = Result<Resp, ClientError>> + Send + 'static, ClientError>
    where
        Req: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion + Send + 'static,
    {
        let version = self.negotiated(api)?;
        self.start_versioned(api, version, req).await
    }

    async fn start_versioned<Req, Resp>(
        &self,
        api: ApiKey,
        version: i16,
        req: &Req,
    ) -> Result<impl std::future::Future<Output = Result<Resp, ClientError>> + Send + 'static, ClientError>
    where
        Req: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion + Send + 'static,
    {
        let rx = self.submit::<Req>(api, version, req, Some(Resp::header_version(version))).await?.expect("a response is expected");
        let addr = self.addr.clone();
        Ok(async move {
            let mut body = rx.await.map_err(|_| ClientError::Connection { addr: addr.clone(), reason: "connection closed".into() })??;
            Resp::decode(&mut body, version).map_err(|e| ClientError::Protocol { addr, reason: format!("cannot decode {api:?} v{version}: {e}") })
        })
    }

    /// Sends a request that gets no response (Produce with acks=0).
    pub async fn send_no_response<Req: Encodable + HeaderVersion>(&self, api: ApiKey, version: i16, req: &Req) -> Result<(), ClientError> {
        self.submit(api, version, req, None).await.map(|_| ())
    }

    async fn submit<Req: Encodable + HeaderVersion>(
        &self,
        api: ApiKey,
        version: i16,
        req: &Req,
        response_header: Option<i16>,
    ) -> Result<Option<oneshot::Receiver<Result<Bytes, ClientError>>>, ClientError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let mut writer = self.writer.lock().await;
        let correlation = self.correlation.fetch_add(1, Ordering::Relaxed);
        let frame = encode_request(api, version, correlation, Some(&self.client_id), req)
            .map_err(|e| ClientError::Protocol { addr: self.addr.clone(), reason: format!("cannot encode {api:?} v{version}: {e}") })?;
        // Registered before writing, under the writer lock, so the pending queue is in wire order.
        let rx = response_header.map(|header_version| {
            let (tx, rx) = oneshot::channel();
            self.pending.lock().unwrap_or_else(|e| e.into_inner()).push_back(Pending { correlation, header_version, reply: tx });
            rx
        });
        // The reader sets `closed` before failing everything pending: a request queued after that would wait
        // forever, so look again now that ours is queued.
        if self.is_closed() {
            self.pending.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p.correlation != correlation);
            return Err(self.closed_error());
        }
        if let Err(e) = writer.write_all(&frame).await {
            self.closed.store(true, Ordering::Release);
            return Err(ClientError::Connection { addr: self.addr.clone(), reason: e.to_string() });
        }
        Ok(rx)
    }

    fn closed_error(&self) -> ClientError {
        ClientError::Connection { addr: self.addr.clone(), reason: "connection closed".into() }
    }
}

async fn read_loop(mut rd: BufReader<tokio::net::tcp::OwnedReadHalf>, pending: Arc<Mutex<VecDeque<Pending>>>, closed: Arc<AtomicBool>, addr: String) {
    let reason = loop {
        let frame = match read_frame(&mut rd, MAX_RESPONSE).await {
            Ok(f) => f,
            Err(e) => break e.to_string(),
        };
        let Some(p) = pending.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else {
            break "a response nobody asked for".to_string();
        };
        let mut body = frame;
        match ResponseHeader::decode(&mut body, p.header_version) {
            Ok(h) if h.correlation_id == p.correlation => {
                let _ = p.reply.send(Ok(body));
            }
            Ok(h) => {
                let reason = format!("correlation id {} where {} was expected", h.correlation_id, p.correlation);
                let _ = p.reply.send(Err(ClientError::Protocol { addr: addr.clone(), reason: reason.clone() }));
                break reason;
            }
            Err(e) => break format!("bad response header: {e}"),
        }
    };
    closed.store(true, Ordering::Release);
    let drained: Vec<Pending> = pending.lock().unwrap_or_else(|e| e.into_inner()).drain(..).collect();
    for p in drained {
        let _ = p.reply.send(Err(ClientError::Connection { addr: addr.clone(), reason: reason.clone() }));
    }
}
