//! Errors a client call can end with.

use crate::protocol::ErrorCode;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("connection to {addr} failed: {reason}")]
    Connection { addr: String, reason: String },
    #[error("protocol error talking to {addr}: {reason}")]
    Protocol { addr: String, reason: String },
    #[error("{api} is not supported by the broker at {addr}")]
    UnsupportedApi { addr: String, api: String },
    #[error("broker error {code:?}{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Kafka { code: ErrorCode, message: Option<String> },
    #[error("timed out after {0} ms")]
    Timeout(u64),
    #[error("the client is closed")]
    Closed,
}

impl ClientError {
    pub fn kafka(code: i16, message: Option<String>) -> Option<ClientError> {
        if code == 0 {
            return None;
        }
        Some(ClientError::Kafka { code: ErrorCode::try_from_code(code).unwrap_or(ErrorCode::Unknown(code)), message })
    }

    /// Worth retrying: a transient broker condition or a broken connection.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Kafka { code, .. } => code.is_retriable(),
            ClientError::Connection { .. } | ClientError::Timeout(_) => true,
            _ => false,
        }
    }
}
