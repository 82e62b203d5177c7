//! Request decoding and response encoding on top of the `kafka-protocol` crate.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};

use super::versions;

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    pub api_key: ApiKey,
    pub version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    pub body: RequestKind,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("request header truncated ({0} bytes)")]
    TruncatedHeader(usize),
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    /// ApiVersions at a version we do not serve: answered with error 35 and a v0 body (KIP-511), not closed.
    #[error("unsupported ApiVersions version {version}")]
    UnsupportedApiVersions { version: i16, correlation_id: i32 },
    #[error("unsupported version {version} of {api:?}")]
    UnsupportedVersion { api: ApiKey, version: i16 },
    #[error("malformed {api:?} v{version} request: {reason}")]
    Malformed { api: ApiKey, version: i16, reason: String },
}

/// Decodes one frame (without its size prefix). Never panics; hostile element counts are made harmless by
/// [`super::alloc_guard`].
pub fn decode_request(frame: Bytes) -> Result<Request, DecodeError> {
    if frame.len() < 8 {
        return Err(DecodeError::TruncatedHeader(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api_key = ApiKey::try_from(raw_key).map_err(|_| DecodeError::UnknownApi(raw_key))?;
    if api_key == ApiKey::ApiVersions && !versions::is_served(api_key, version) {
        return Err(DecodeError::UnsupportedApiVersions { version, correlation_id });
    }
    if !versions::is_served(api_key, version) {
        return Err(DecodeError::UnsupportedVersion { api: api_key, version });
    }
    let malformed = |reason: String| DecodeError::Malformed { api: api_key, version, reason };
    let result = std::panic::catch_unwind(move || {
        let mut buf = frame;
        let header = RequestHeader::decode(&mut buf, api_key.request_header_version(version))?;
        let body = RequestKind::decode(api_key, &mut buf, version)?;
        Ok::<_, anyhow::Error>((header, body, buf.len()))
    });
    match result {
        Err(_) => Err(malformed("decoder panicked".into())),
        Ok(Err(e)) => Err(malformed(e.to_string())),
        Ok(Ok((header, body, rest))) => {
            if rest != 0 {
                // Kafka parses the fields it knows and ignores what follows a complete body (librdkafka's
                // all-topics Metadata v9+ carries a 4-byte placeholder where the schema has a 1-byte count), so a
                // well-formed body with bytes after it is served, not refused.
                tracing::debug!(api = ?api_key, version, rest, "ignoring trailing bytes after a complete request body");
            }
            Ok(Request {
            api_key,
            version,
            correlation_id,
            client_id: header.client_id.map(|s| s.to_string()),
            body,
            })
        }
    }
}

/// Encodes a response with its header and 4-byte size prefix, ready to write.
pub fn encode_response<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    body: &R,
) -> anyhow::Result<Bytes> {
    encode_with_header_version(correlation_id, R::header_version(version), version, body)
}

/// As [`encode_response`] with an explicit header version (ApiVersions' error answer is always v0).
pub fn encode_with_header_version<R: Encodable>(
    correlation_id: i32,
    header_version: i16,
    version: i16,
    body: &R,
) -> anyhow::Result<Bytes> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    // Sized up front: growing the buffer while encoding a large response would copy it several times.
    let mut buf = BytesMut::with_capacity(4 + header.compute_size(header_version)? + body.compute_size(version)?);
    buf.put_i32(0);
    header.encode(&mut buf, header_version)?;
    body.encode(&mut buf, version)?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// Encodes a request with its header and size prefix (used by tests and the client).
pub fn encode_request<R: Encodable + HeaderVersion>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    body: &R,
) -> anyhow::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    let header = RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(client_id.map(|c| c.to_string().into()));
    header.encode(&mut buf, R::header_version(version))?;
    body.encode(&mut buf, version)?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{MetadataRequest, ProduceRequest};

    fn strip(b: Bytes) -> Bytes {
        b.slice(4..)
    }

    #[test]
    fn round_trip_metadata() {
        let req = MetadataRequest::default();
        let frame = strip(encode_request(ApiKey::Metadata, 12, 42, Some("t"), &req).unwrap());
        let r = decode_request(frame).unwrap();
        assert_eq!(r.correlation_id, 42);
        assert_eq!(r.client_id.as_deref(), Some("t"));
        assert!(matches!(r.body, RequestKind::Metadata(_)));
    }

    #[test]
    fn refuses_unserved_versions() {
        let frame = strip(encode_request(ApiKey::Produce, 3, 1, None, &ProduceRequest::default()).unwrap());
        let mut raw = BytesMut::from(&frame[..]);
        raw[3] = 2; // Produce v2
        assert!(matches!(decode_request(raw.freeze()), Err(DecodeError::UnsupportedVersion { .. })));
        let mut raw = BytesMut::from(&frame[..]);
        raw[0..2].copy_from_slice(&18i16.to_be_bytes());
        raw[2..4].copy_from_slice(&9i16.to_be_bytes());
        assert!(matches!(decode_request(raw.freeze()), Err(DecodeError::UnsupportedApiVersions { version: 9, .. })));
        let raw = Bytes::from_static(&[0x7f, 0, 0, 0, 0, 0, 0, 1]);
        assert!(matches!(decode_request(raw), Err(DecodeError::UnknownApi(0x7f00))));
        assert!(matches!(decode_request(Bytes::from_static(&[0, 3])), Err(DecodeError::TruncatedHeader(2))));
    }

    #[test]
    fn hostile_array_count_is_a_clean_error() {
        // Metadata v0: header (key 3, version 0, correlation 1, client id null) then topics count 0x7fffffff.
        let frame = Bytes::from_static(&[0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0, 1]);
        assert!(matches!(decode_request(frame), Err(DecodeError::Malformed { .. })));
        // Metadata v12 (flexible): compact array count varint 0xffffffff.
        let frame = Bytes::from_static(&[0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 1]);
        assert!(matches!(decode_request(frame), Err(DecodeError::Malformed { .. })));
    }

    #[test]
    fn trailing_bytes_after_a_complete_body_are_ignored() {
        let frame = strip(encode_request(ApiKey::Metadata, 1, 5, None, &MetadataRequest::default()).unwrap());
        let mut raw = BytesMut::from(&frame[..]);
        raw.put_u8(0);
        let r = decode_request(raw.freeze()).unwrap();
        assert_eq!(r.correlation_id, 5);
        // librdkafka's all-topics Metadata v12: topics as a 4-byte placeholder (null compact array 0x00 then
        // three more bytes) before the booleans and tagged fields; Kafka reads the fields it knows and ignores the rest.
        let all_topics = MetadataRequest::default().with_topics(None);
        let frame = strip(encode_request(ApiKey::Metadata, 12, 6, Some("rdkafka"), &all_topics).unwrap());
        let mut raw = BytesMut::from(&frame[..]);
        raw.put_slice(&[0, 0, 0]);
        let r = decode_request(raw.freeze()).unwrap();
        assert!(matches!(r.body, RequestKind::Metadata(ref m) if m.topics.is_none()));
    }

    #[test]
    fn a_short_body_is_still_malformed() {
        let frame = strip(encode_request(ApiKey::Metadata, 12, 7, None, &MetadataRequest::default().with_topics(Some(vec![
            kafka_protocol::messages::metadata_request::MetadataRequestTopic::default().with_name(Some(kafka_protocol::messages::TopicName("abc".into()))),
        ]))).unwrap());
        let cut = frame.slice(..frame.len() - 3);
        assert!(matches!(decode_request(cut), Err(DecodeError::Malformed { .. })));
    }
}
