//! ApiVersions: the served version table, and KIP-511's answer to a version we do not know.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};

use crate::protocol::codec::encode_with_header_version;
use crate::protocol::versions::{advertised_range, SERVED};
use crate::protocol::ErrorCode;

pub fn handle(_version: i16) -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.api_keys = SERVED
        .iter()
        .map(|(api, _, _)| {
            let (min, max) = advertised_range(*api).expect("served");
            ApiVersion::default().with_api_key(*api as i16).with_min_version(min).with_max_version(max)
        })
        .collect();
    resp
}

/// Error 35 with a v0 body that lists ApiVersions' own range, so the client retries with a version we serve.
/// The response header is v0 whatever the request's version.
pub fn unsupported_version_answer(correlation_id: i32) -> anyhow::Result<bytes::Bytes> {
    let (min, max) = advertised_range(ApiKey::ApiVersions).expect("served");
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = ErrorCode::UnsupportedVersion.code();
    resp.api_keys = vec![ApiVersion::default()
        .with_api_key(ApiKey::ApiVersions as i16)
        .with_min_version(min)
        .with_max_version(max)];
    encode_with_header_version(correlation_id, 0, 0, &resp)
}
