//! Core errors as JS errors. napi errors carry only a message, so the message is structured
//! (`KafkaError:<code>:<name>:<retriable>:<fatal>:<text>`) and `index.js` turns it into a `KafkaError`.
//! Local codes and names are the C API's (`_INVALID_ARG` ... below -100), Kafka's keep their number and name.

use streamlet::broker::BrokerError;
use streamlet::client::consumer::ConsumerError;
use streamlet::client::ClientError;
use streamlet::protocol::ErrorCode;

pub(crate) const INVALID_ARG: (i32, &str) = (-100, "_INVALID_ARG");
const INVALID_CONFIG: (i32, &str) = (-101, "_INVALID_CONFIG");
const TIMED_OUT: (i32, &str) = (-103, "_TIMED_OUT");
const TRANSPORT: (i32, &str) = (-104, "_TRANSPORT");
const PROTOCOL: (i32, &str) = (-105, "_PROTOCOL");
const UNSUPPORTED: (i32, &str) = (-106, "_UNSUPPORTED");
pub(crate) const CLOSED: (i32, &str) = (-107, "_CLOSED");
pub(crate) const STATE: (i32, &str) = (-108, "_STATE");
const NO_OFFSET: (i32, &str) = (-109, "_NO_OFFSET");
const COMMIT_FAILED: (i32, &str) = (-110, "_COMMIT_FAILED");
const FATAL: (i32, &str) = (-111, "_FATAL");
const WAKEUP: (i32, &str) = (-112, "_WAKEUP");
const IO: (i32, &str) = (-113, "_IO");
const PANIC: (i32, &str) = (-114, "_PANIC");

/// Kafka's name for an error code: `UnknownTopicOrPartition` -> `UNKNOWN_TOPIC_OR_PARTITION`.
pub(crate) fn kafka_name(code: &ErrorCode) -> String {
    if let ErrorCode::Unknown(_) = code {
        return "UNKNOWN_SERVER_ERROR".into();
    }
    let camel = format!("{code:?}");
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

pub(crate) struct Described {
    pub code: i32,
    pub name: String,
    pub retriable: bool,
    pub fatal: bool,
    pub message: String,
}

impl Described {
    fn local((code, name): (i32, &str), retriable: bool, fatal: bool, message: String) -> Self {
        Described { code, name: name.into(), retriable, fatal, message }
    }

    pub fn into_napi(self) -> napi::Error {
        napi::Error::new(
            napi::Status::GenericFailure,
            format!("KafkaError:{}:{}:{}:{}:{}", self.code, self.name, self.retriable as u8, self.fatal as u8, self.message),
        )
    }
}

pub(crate) fn describe_client(e: &ClientError) -> Described {
    let message = e.to_string();
    match e {
        ClientError::Kafka { code, .. } => Described {
            code: code.code() as i32,
            name: kafka_name(code),
            retriable: code.is_retriable(),
            fatal: false,
            message,
        },
        ClientError::Config(_) => Described::local(INVALID_CONFIG, false, false, message),
        ClientError::Connection { .. } => Described::local(TRANSPORT, true, false, message),
        ClientError::Protocol { .. } => Described::local(PROTOCOL, false, false, message),
        ClientError::UnsupportedApi { .. } => Described::local(UNSUPPORTED, false, false, message),
        ClientError::Timeout(_) => Described::local(TIMED_OUT, true, false, message),
        ClientError::Closed => Described::local(CLOSED, false, false, message),
    }
}

pub(crate) fn describe_consumer(e: &ConsumerError) -> Described {
    let message = e.to_string();
    match e {
        ConsumerError::Client(c) => describe_client(c),
        ConsumerError::NoOffset(..) => Described::local(NO_OFFSET, false, false, message),
        ConsumerError::CommitFailed(_) => Described::local(COMMIT_FAILED, false, false, message),
        ConsumerError::Fatal(_) => Described::local(FATAL, false, true, message),
        ConsumerError::IllegalState(_) => Described::local(STATE, false, false, message),
        ConsumerError::Wakeup => Described::local(WAKEUP, false, false, message),
        ConsumerError::InvalidArgument(_) => Described::local(INVALID_ARG, false, false, message),
    }
}

pub(crate) fn client(e: ClientError) -> napi::Error {
    describe_client(&e).into_napi()
}

pub(crate) fn consumer(e: ConsumerError) -> napi::Error {
    describe_consumer(&e).into_napi()
}

pub(crate) fn broker(e: BrokerError) -> napi::Error {
    match e {
        BrokerError::Config(c) => Described::local(INVALID_CONFIG, false, false, c.to_string()).into_napi(),
        other => Described::local(IO, false, false, other.to_string()).into_napi(),
    }
}

pub(crate) fn local(kind: (i32, &str), message: impl Into<String>) -> napi::Error {
    Described::local(kind, false, false, message.into()).into_napi()
}

pub(crate) fn panicked(what: &str) -> napi::Error {
    Described::local(PANIC, false, false, format!("internal error in {what} (a panic was caught at the API boundary)")).into_napi()
}
