import pytest

import streamlet
from streamlet import NewTopic, TopicPartition
from conftest import consumer_config, drain, produce


def test_topics_lifecycle(admin, unique):
    name = unique("adm")
    admin.create_topics([NewTopic(name, 2, 1, {"retention.ms": "60000"})])
    assert name in admin.list_topics()
    (d,) = admin.describe_topics([name])
    assert d.name == name and not d.internal and len(d.topic_id) == 36
    assert [(p.partition, p.leader, p.replicas, p.isr) for p in d.partitions] == [(0, 0, [0], [0]), (1, 0, [0], [0])]
    assert admin.describe_configs(name)["retention.ms"] == ("60000", False)
    with pytest.raises(streamlet.TopicAlreadyExistsError, match=name) as e:
        admin.create_topics([name])
    assert e.value.code == 36 and e.value.name == "TOPIC_ALREADY_EXISTS"
    admin.create_partitions({name: 4})
    assert len(admin.describe_topics([name])[0].partitions) == 4
    admin.delete_topics([name])
    assert name not in admin.list_topics()
    with pytest.raises(streamlet.UnknownTopicOrPartitionError):
        admin.delete_topics([name])


def test_validate_only_creates_nothing(admin, unique):
    name = unique("val")
    admin.create_topics([NewTopic(name, 1)], validate_only=True)
    assert name not in admin.list_topics()
    with pytest.raises(streamlet.KafkaError):
        admin.create_topics([NewTopic(name, 0)])


def test_include_internal(admin, bootstrap, topic, unique):
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        c.subscribe([topic])
        c.poll(1)
        c.commit(offsets=[TopicPartition(topic, 0, 0)])
    assert "__consumer_offsets" in admin.list_topics(include_internal=True)
    assert "__consumer_offsets" not in admin.list_topics()


def test_groups(admin, bootstrap, topic, unique):
    produce(bootstrap, topic, 3)
    group = unique("grp")
    with streamlet.Consumer(consumer_config(bootstrap, group, client_id="me")) as c:
        c.subscribe([topic])
        drain(c, 3)
        c.commit()
        listing = {g.group_id: g for g in admin.list_groups()}
        assert listing[group].protocol_type == "consumer" and listing[group].state == "Stable"
        (d,) = admin.describe_groups([group])
        assert d.state == "Stable" and d.protocol_type == "consumer"
        (m,) = d.members
        assert m.client_id == "me" and m.assignment == [TopicPartition(topic, 0)]
        assert admin.list_group_offsets(group) == {TopicPartition(topic, 0): 3}
    admin.delete_groups([group])
    assert group not in {g.group_id for g in admin.list_groups()}


def test_list_offsets(admin, bootstrap, topic):
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        for ts in (1000, 2000, 3000):
            p.send(topic, b"x", timestamp=ts)
        p.flush(10)
    tp = TopicPartition(topic, 0)
    assert admin.list_offsets({tp: "earliest"})[tp] == streamlet.ListedOffset(0, -1)
    assert admin.list_offsets({tp: "latest"})[tp].offset == 3
    assert admin.list_offsets({tp: 1500})[tp] == streamlet.ListedOffset(1, 2000)
    assert admin.list_offsets({tp: "max_timestamp"})[tp] == streamlet.ListedOffset(2, 3000)
    with pytest.raises(ValueError, match="offset spec"):
        admin.list_offsets({tp: "soonest"})
    with pytest.raises(streamlet.UnknownTopicOrPartitionError, match=f"{topic}-9"):
        admin.list_offsets({TopicPartition(topic, 9): "latest"})


def test_describe_cluster(admin, broker):
    d = admin.describe_cluster()
    assert d.controller == 0 and d.brokers == {0: broker.bootstrap_servers} and d.cluster_id


def test_closed_admin_and_bad_config(bootstrap):
    a = streamlet.Admin({"bootstrap.servers": bootstrap})
    a.close()
    a.close()
    with pytest.raises(streamlet.ClosedError):
        a.list_topics()
    with pytest.raises(streamlet.ConfigError, match="request.timeout.ms"):
        streamlet.Admin({"bootstrap.servers": bootstrap, "request.timeout.ms": "x"})
    with pytest.raises(streamlet.ConfigError, match="bootstrap.servers"):
        streamlet.Admin({"bootstrap.servers": "nohostport"})
