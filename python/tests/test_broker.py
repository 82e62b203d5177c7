import os

import pytest

import streamlet
from streamlet import TopicPartition
from conftest import consumer_config, drain


def test_ephemeral_broker_context_manager():
    with streamlet.Broker() as b:
        host, port = b.bootstrap_servers.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0 and not b.closed
        assert "streamlet.Broker" in repr(b)
    assert b.closed
    b.close()


def test_data_dir_survives_restart(tmp_path):
    cfg = {"auto.create.topics.enable": "false"}
    with streamlet.Broker(data_dir=str(tmp_path), config=cfg) as b:
        with streamlet.Admin({"bootstrap.servers": b.bootstrap_servers}) as a:
            a.create_topics(["kept"])
        with streamlet.Producer({"bootstrap.servers": b.bootstrap_servers}) as p:
            p.send("kept", b"durable").result(10)
    assert any(n.startswith("kept-0") for n in os.listdir(tmp_path))
    with streamlet.Broker(data_dir=tmp_path, config=cfg) as b:
        with streamlet.Consumer(consumer_config(b.bootstrap_servers, "g")) as c:
            c.assign([TopicPartition("kept", 0, streamlet.OFFSET_BEGINNING)])
            assert drain(c, 1)[0].value == b"durable"


def test_broker_config_errors_name_the_key():
    with pytest.raises(streamlet.ConfigError) as e:
        streamlet.Broker(config={"num.partitions": "many"})
    assert e.value.key == "num.partitions" and isinstance(e.value, ValueError)
    with pytest.raises(streamlet.ConfigError, match="expected str, int, float or bool"):
        streamlet.Broker(config={"num.partitions": [1]})


def test_listen_address_in_use():
    with streamlet.Broker() as b:
        with pytest.raises(streamlet.KafkaError):
            streamlet.Broker(listen=b.bootstrap_servers)
