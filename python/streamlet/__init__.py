"""Streamlet: an embeddable Kafka-protocol-compatible event log.

`Broker` runs an embedded broker; `Producer`, `Consumer` and `Admin` are Kafka clients that work against
Streamlet and Apache Kafka alike. Configuration uses Kafka's property names. Callbacks run on the thread that
calls `poll`/`flush`/`consume`; blocking calls release the GIL and can be interrupted with Ctrl-C.
"""

from ._native import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Broker,
    Consumer,
    DeliveryFuture,
    Message,
    Producer,
    ProducerRecord,
    RecordMetadata,
    TopicPartition,
    __version__,
)
from .admin import (
    Admin,
    ClusterDescription,
    GroupDescription,
    GroupListing,
    ListedOffset,
    MemberDescription,
    NewTopic,
    PartitionDescription,
    TopicDescription,
)
from .errors import (
    ClosedError,
    CommitFailedError,
    ConfigError,
    FatalError,
    IllegalStateError,
    InvalidArgumentError,
    InvalidTopicError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageTooLargeError,
    NoOffsetForPartitionError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
)

__all__ = [
    "Admin", "Broker", "ClosedError", "ClusterDescription", "CommitFailedError", "ConfigError", "Consumer",
    "DeliveryFuture", "FatalError", "GroupDescription", "GroupListing", "IllegalStateError",
    "InvalidArgumentError", "InvalidTopicError", "KafkaConnectionError", "KafkaError", "KafkaTimeoutError",
    "ListedOffset", "MemberDescription", "Message", "MessageTooLargeError", "NewTopic",
    "NoOffsetForPartitionError", "OFFSET_BEGINNING", "OFFSET_END", "OFFSET_INVALID", "PartitionDescription",
    "Producer", "ProducerRecord", "RecordMetadata", "TIMESTAMP_CREATE_TIME", "TIMESTAMP_LOG_APPEND_TIME",
    "TopicAlreadyExistsError", "TopicDescription", "TopicPartition", "UnknownTopicOrPartitionError",
    "__version__",
]
