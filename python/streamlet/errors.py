"""Exceptions. Every error a client call raises is a KafkaError carrying Kafka's error code and name
(negative codes with an underscore name are client-side conditions, numbered as in librdkafka)."""

from typing import Dict, Optional, Type

__all__ = [
    "KafkaError",
    "InvalidArgumentError",
    "ConfigError",
    "KafkaTimeoutError",
    "KafkaConnectionError",
    "UnknownTopicOrPartitionError",
    "InvalidTopicError",
    "TopicAlreadyExistsError",
    "MessageTooLargeError",
    "CommitFailedError",
    "NoOffsetForPartitionError",
    "IllegalStateError",
    "ClosedError",
    "FatalError",
]


class KafkaError(Exception):
    """An error with a Kafka error code: `.code` (int), `.name` (e.g. "UNKNOWN_TOPIC_OR_PARTITION"),
    `.message`, `.retriable` (worth retrying) and `.fatal` (the client cannot go on)."""

    def __init__(self, code: int, name: str, message: str, retriable: bool = False, fatal: bool = False) -> None:
        super().__init__(code, name, message)
        self.code = code
        self.name = name
        self.message = message
        self.retriable = retriable
        self.fatal = fatal

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, name={self.name!r}, message={self.message!r})"


class InvalidArgumentError(KafkaError, ValueError):
    """An argument Streamlet refuses (_INVALID_ARG)."""


class ConfigError(InvalidArgumentError):
    """An invalid configuration value; `.key` names the property."""

    def __init__(self, code: int, name: str, message: str, retriable: bool = False, fatal: bool = False,
                 key: Optional[str] = None) -> None:
        super().__init__(code, name, message, retriable, fatal)
        self.key = key


class KafkaTimeoutError(KafkaError):
    """A wait ran out (_TIMED_OUT) or the broker timed the request out (REQUEST_TIMED_OUT)."""


class KafkaConnectionError(KafkaError):
    """The broker could not be reached (_TRANSPORT)."""


class UnknownTopicOrPartitionError(KafkaError):
    pass


class InvalidTopicError(KafkaError):
    pass


class TopicAlreadyExistsError(KafkaError):
    pass


class MessageTooLargeError(KafkaError):
    pass


class CommitFailedError(KafkaError):
    """The group rebalanced (or this member was fenced) before the commit reached the coordinator."""


class NoOffsetForPartitionError(KafkaError):
    """No committed offset and auto.offset.reset is none (_AUTO_OFFSET_RESET)."""


class IllegalStateError(KafkaError):
    """The call does not fit the client's state, e.g. poll before subscribe or assign (_STATE)."""


class ClosedError(KafkaError):
    """The client is closed (_DESTROY)."""


class FatalError(KafkaError):
    """The client cannot continue (_FATAL)."""


_BY_CODE: Dict[int, Type[KafkaError]] = {
    -186: InvalidArgumentError,
    -185: KafkaTimeoutError,
    7: KafkaTimeoutError,
    -195: KafkaConnectionError,
    3: UnknownTopicOrPartitionError,
    17: InvalidTopicError,
    36: TopicAlreadyExistsError,
    10: MessageTooLargeError,
    -174: CommitFailedError,
    -140: NoOffsetForPartitionError,
    -172: IllegalStateError,
    -197: ClosedError,
    -150: FatalError,
}


def _make(code: int, name: str, message: str, retriable: bool, fatal: bool, key: Optional[str]) -> KafkaError:
    """Called by the native module to build the exception for an error."""
    if key is not None:
        return ConfigError(code, name, message, retriable, fatal, key)
    cls = _BY_CODE.get(code, FatalError if fatal else KafkaError)
    return cls(code, name, message, retriable, fatal)
