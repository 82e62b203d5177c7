"""`streamlet.Admin`: topics, partitions, configs, groups and offsets. Per-topic failures raise the first
topic's KafkaError, its message prefixed with the topic."""

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import _native
from .errors import KafkaError

__all__ = [
    "Admin",
    "NewTopic",
    "TopicDescription",
    "PartitionDescription",
    "GroupListing",
    "GroupDescription",
    "MemberDescription",
    "ListedOffset",
    "ClusterDescription",
]

OffsetSpec = Union[str, int]


@dataclass(frozen=True)
class NewTopic:
    name: str
    num_partitions: int = 1
    replication_factor: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartitionDescription:
    partition: int
    leader: int
    replicas: List[int]
    isr: List[int]


@dataclass(frozen=True)
class TopicDescription:
    name: str
    topic_id: str
    internal: bool
    partitions: List[PartitionDescription]


@dataclass(frozen=True)
class GroupListing:
    group_id: str
    protocol_type: str
    state: str


@dataclass(frozen=True)
class MemberDescription:
    member_id: str
    group_instance_id: Optional[str]
    client_id: str
    host: str
    assignment: Optional[List[_native.TopicPartition]]


@dataclass(frozen=True)
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    protocol: str
    members: List[MemberDescription]


@dataclass(frozen=True)
class ListedOffset:
    offset: int
    """-1 when no record matches a timestamp spec."""
    timestamp: int


@dataclass(frozen=True)
class ClusterDescription:
    cluster_id: str
    controller: int
    brokers: Dict[int, str]


def _raise_first(outcomes: List[Tuple[str, Optional[KafkaError]]], what: str) -> None:
    for name, err in outcomes:
        if err is not None:
            err.message = f"{what} '{name}': {err.message}"
            raise err


class Admin:
    """An admin client: `Admin({"bootstrap.servers": ...})`; also a context manager."""

    def __init__(self, config: Mapping[str, Union[str, int, float, bool]]) -> None:
        self._native = _native.Admin(dict(config))

    def create_topics(self, topics: Iterable[Union[NewTopic, str]], validate_only: bool = False) -> None:
        specs = []
        for t in topics:
            t = NewTopic(t) if isinstance(t, str) else t
            specs.append((t.name, t.num_partitions, t.replication_factor, {k: str(v) for k, v in t.config.items()}))
        _raise_first(self._native.create_topics(specs, validate_only), "topic")

    def delete_topics(self, topics: Iterable[str]) -> None:
        _raise_first(self._native.delete_topics(list(topics)), "topic")

    def create_partitions(self, new_totals: Mapping[str, int]) -> None:
        """Grows each topic to its new total partition count."""
        _raise_first(self._native.create_partitions(list(new_totals.items())), "topic")

    def list_topics(self, include_internal: bool = False) -> List[str]:
        return self._native.list_topics(include_internal)

    def describe_topics(self, topics: Iterable[str]) -> List[TopicDescription]:
        return [
            TopicDescription(name, tid, internal, [PartitionDescription(*p) for p in parts])
            for name, tid, internal, parts in self._native.describe_topics(list(topics))
        ]

    def describe_configs(self, topic: str) -> Dict[str, Tuple[str, bool]]:
        """{name: (value, is_default)} of a topic."""
        return self._native.describe_configs(topic)

    def list_groups(self) -> List[GroupListing]:
        return [GroupListing(*g) for g in self._native.list_groups()]

    def describe_groups(self, groups: Iterable[str]) -> List[GroupDescription]:
        out = []
        for gid, state, ptype, protocol, members in self._native.describe_groups(list(groups)):
            ms = [
                MemberDescription(mid, iid, cid, host,
                                  None if a is None else [_native.TopicPartition(t, p) for t, p in a])
                for mid, iid, cid, host, a in members
            ]
            out.append(GroupDescription(gid, state, ptype, protocol, ms))
        return out

    def delete_groups(self, groups: Iterable[str]) -> None:
        _raise_first(self._native.delete_groups(list(groups)), "group")

    def list_group_offsets(self, group: str) -> Dict[_native.TopicPartition, int]:
        return {_native.TopicPartition(t, p): o for (t, p), o in self._native.list_group_offsets(group).items()}

    def list_offsets(self, specs: Mapping[_native.TopicPartition, OffsetSpec]) -> Dict[_native.TopicPartition, ListedOffset]:
        """specs: {TopicPartition: "earliest" | "latest" | "max_timestamp" | timestamp_ms}."""
        answers = self._native.list_offsets([(tp.topic, tp.partition, s) for tp, s in specs.items()])
        out = {}
        for topic, partition, offset, ts, err in answers:
            if err is not None:
                err.message = f"partition {topic}-{partition}: {err.message}"
                raise err
            out[_native.TopicPartition(topic, partition)] = ListedOffset(offset, ts)
        return out

    def describe_cluster(self) -> ClusterDescription:
        cid, controller, brokers = self._native.describe_cluster()
        return ClusterDescription(cid, controller, dict(brokers))

    def close(self) -> None:
        self._native.close()

    def __enter__(self) -> "Admin":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
