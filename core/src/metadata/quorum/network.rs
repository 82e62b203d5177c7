//! openraft's RPCs between voters, on the controller listener, in Streamlet's internal framing (see the module
//! doc of [`super`] for why not KRaft's own RPCs): a request is `[u32 length][u8 kind][JSON body]`, its answer
//! `[u32 length][JSON Result]`, in order on one connection. A frame that is too large or does not decode closes
//! that connection only.

use std::io;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest, VoteResponse};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{MetadataRaft, NodeId, TypeConfig};

const APPEND_ENTRIES: u8 = 1;
const VOTE: u8 = 2;
const INSTALL_SNAPSHOT: u8 = 3;
/// Larger frames are refused before anything is allocated (openraft sends snapshots in chunks below this).
const MAX_FRAME: usize = 64 << 20;

async fn read_frame(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let len = stream.read_u32().await? as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("raft frame of {len} bytes")));
    }
    let mut buf = vec![0; len];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame(stream: &mut TcpStream, parts: &[&[u8]]) -> io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 4);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
    stream.write_all(&out).await
}

/// Serves openraft's RPCs for `raft` on `listener` until aborted.
pub async fn serve(listener: TcpListener, raft: MetadataRaft) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let raft = raft.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, raft).await {
                tracing::debug!(%peer, error = %e, "raft connection closed");
            }
        });
    }
}

fn json<T: Serialize>(v: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(io::Error::other)
}

fn parse<T: DeserializeOwned>(b: &[u8]) -> io::Result<T> {
    serde_json::from_slice(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

async fn serve_connection(mut stream: TcpStream, raft: MetadataRaft) -> io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        let frame = read_frame(&mut stream).await?;
        let Some((&kind, body)) = frame.split_first() else {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "empty raft frame"));
        };
        let answer = match kind {
            APPEND_ENTRIES => json(&raft.append_entries(parse::<AppendEntriesRequest<TypeConfig>>(body)?).await)?,
            VOTE => json(&raft.vote(parse::<VoteRequest<NodeId>>(body)?).await)?,
            INSTALL_SNAPSHOT => json(&raft.install_snapshot(parse::<InstallSnapshotRequest<TypeConfig>>(body)?).await)?,
            other => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("unknown raft message kind {other}"))),
        };
        write_frame(&mut stream, &[&answer]).await?;
    }
}

/// Connects to voters by the address in their membership entry.
pub struct TcpNetwork;

impl RaftNetworkFactory<TypeConfig> for TcpNetwork {
    type Network = TcpConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> TcpConnection {
        TcpConnection { target, addr: node.addr.clone(), stream: None }
    }
}

pub struct TcpConnection {
    target: NodeId,
    addr: String,
    stream: Option<TcpStream>,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl TcpConnection {
    async fn call<Req, Resp, E>(&mut self, kind: u8, req: &Req, option: &RPCOption) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body = json(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        if self.stream.is_none() {
            let connect = tokio::time::timeout(option.hard_ttl(), TcpStream::connect(&self.addr)).await;
            let stream = match connect {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(RPCError::Unreachable(Unreachable::new(&e))),
                Err(_) => return Err(RPCError::Unreachable(Unreachable::new(&io::Error::from(io::ErrorKind::TimedOut)))),
            };
            let _ = stream.set_nodelay(true);
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        let exchange = async {
            write_frame(stream, &[&[kind], &body]).await?;
            read_frame(stream).await
        };
        let answer = match tokio::time::timeout(option.hard_ttl(), exchange).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                // The connection's state is unknown after a failure: reconnect next time.
                self.stream = None;
                return Err(RPCError::Network(NetworkError::new(&e)));
            }
            Err(_) => {
                self.stream = None;
                return Err(RPCError::Network(NetworkError::new(&io::Error::from(io::ErrorKind::TimedOut))));
            }
        };
        let result: Result<Resp, RaftError<NodeId, E>> = parse(&answer).map_err(|e| {
            self.stream = None;
            RPCError::Network(NetworkError::new(&e))
        })?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for TcpConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        self.call(APPEND_ENTRIES, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(INSTALL_SNAPSHOT, &rpc, &option).await
    }

    async fn vote(&mut self, rpc: VoteRequest<NodeId>, option: RPCOption) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        self.call(VOTE, &rpc, &option).await
    }
}
