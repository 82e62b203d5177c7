use crate::support::*;

#[test]
fn create_list_describe_alter_delete() {
    let b = broker();
    let addr = b.bootstrap_servers();
    let t = |args: &[&str]| run(&with_bootstrap(&addr, args));

    let r = t(&["topics", "--create", "--topic", "orders", "--partitions", "2", "--replication-factor", "1", "--config", "retention.ms=86400000"]).ok();
    assert_eq!(r.stdout.trim(), "Created topic orders.");
    t(&["topics", "--create", "--topic", "orders", "--partitions", "2"]).fails(1, "TOPIC_ALREADY_EXISTS");
    let r = t(&["topics", "--create", "--topic", "orders", "--partitions", "2", "--if-not-exists"]).ok();
    assert_eq!(r.stdout, "");
    t(&["topics", "--create", "--topic", "other"]).ok();

    let r = t(&["topics", "--list", "--exclude-internal"]).ok();
    assert_eq!(r.lines(), ["orders", "other"]);

    let r = t(&["topics", "--describe", "--topic", "orders"]).ok();
    let lines = r.lines();
    assert_eq!(lines.len(), 3, "{r:?}");
    assert!(lines[0].starts_with("Topic: orders\tTopicId: "), "{r:?}");
    assert!(lines[0].contains("\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: retention.ms=86400000"), "{r:?}");
    assert_eq!(lines[1], "\tTopic: orders\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0");
    assert_eq!(lines[2], "\tTopic: orders\tPartition: 1\tLeader: 0\tReplicas: 0\tIsr: 0");
    t(&["topics", "--describe", "--topic", "missing"]).fails(1, "UNKNOWN_TOPIC_OR_PARTITION");
    t(&["topics", "--describe", "--topic", "missing", "--if-exists"]).ok();

    let r = t(&["topics", "--alter", "--topic", "orders", "--partitions", "4"]).ok();
    assert!(r.stdout.contains("now has 4 partitions"), "{r:?}");
    t(&["topics", "--alter", "--topic", "orders", "--partitions", "3"]).fails(1, "INVALID_PARTITIONS");
    assert_eq!(admin(&b).describe_topics(&["orders"]).unwrap()[0].partitions.len(), 4);

    let r = t(&["topics", "--delete", "--topic", "orders"]).ok();
    assert_eq!(r.stdout.trim(), "Deleted topic orders.");
    t(&["topics", "--delete", "--topic", "orders"]).fails(1, "UNKNOWN_TOPIC_OR_PARTITION");
    t(&["topics", "--delete", "--topic", "orders", "--if-exists"]).ok();
    assert_eq!(t(&["topics", "--list", "--exclude-internal"]).ok().lines(), ["other"]);
    b.shutdown();
}

#[test]
fn bad_usage_exits_2() {
    let b = broker();
    let addr = b.bootstrap_servers();
    // No action, two actions, an unknown option, a malformed --config, --create without --topic.
    run(&["topics"]).fails(2, "--create");
    run(&["topics", "--list", "--delete"]).fails(2, "cannot be used with");
    run(&["topics", "--list", "--frobnicate"]).fails(2, "--frobnicate");
    run(&with_bootstrap(&addr, &["topics", "--create", "--topic", "x", "--config", "retention.ms"])).fails(2, "KEY=VALUE");
    run(&with_bootstrap(&addr, &["topics", "--create"])).fails(2, "--create needs --topic");
    // The broker names an invalid topic config.
    run(&with_bootstrap(&addr, &["topics", "--create", "--topic", "x", "--config", "retention.ms=soon"])).fails(1, "retention.ms");
    b.shutdown();
}

#[test]
fn unreachable_broker_exits_3() {
    let dead = dead_address();
    run(&["topics", "--list", "--bootstrap-server", &dead]).fails(3, "cannot reach the broker");
    run(&["consumer-groups", "--list", "--bootstrap-server", &dead]).fails(3, "cannot reach the broker");
    run(&["console-consumer", "--topic", "t", "--bootstrap-server", &dead, "--consumer-property", "request.timeout.ms=3000"])
        .fails(3, "cannot reach the broker");
    run_with_input(&["console-producer", "--topic", "t", "--bootstrap-server", &dead, "--max-block-ms", "1000"], "x\n").fails(1, "not delivered");
}

#[test]
fn command_config_file() {
    let b = broker();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("client.properties");
    std::fs::write(&good, "# shared client settings\nbootstrap.servers=ignored:1\nclient.id=cli-test\nrequest.timeout.ms=5000\nlinger.ms=1\n").unwrap();
    let bad = dir.path().join("bad.properties");
    std::fs::write(&bad, "request.timeout.ms=never\n").unwrap();
    let addr = b.bootstrap_servers();
    // --bootstrap-server wins over the file's bootstrap.servers.
    run(&["topics", "--create", "--topic", "cfg", "--bootstrap-server", &addr, "--command-config", good.to_str().unwrap()]).ok();
    run(&["topics", "--list", "--bootstrap-server", &addr, "--command-config", bad.to_str().unwrap()]).fails(2, "request.timeout.ms");
    run(&["topics", "--list", "--bootstrap-server", &addr, "--command-config", "/nonexistent/file"]).fails(2, "--command-config");
    run_with_input(&["console-producer", "--topic", "cfg", "--bootstrap-server", &addr, "--command-config", good.to_str().unwrap()], "v\n").ok();
    b.shutdown();
}

#[test]
fn every_tool_has_help_with_examples() {
    for tool in [&["topics"][..], &["console-producer"], &["console-consumer"], &["consumer-groups"], &["perf", "produce"], &["perf", "consume"], &["dump-log"]] {
        let mut args = tool.to_vec();
        args.push("--help");
        let r = run(&args).ok();
        assert!(r.stdout.contains("Examples:"), "{tool:?}: {r:?}");
        assert!(r.stdout.contains(&format!("streamlet {}", tool.join(" "))), "{tool:?}: {r:?}");
    }
    let r = run(&["topics", "--help"]).ok();
    assert!(r.stdout.contains("[default: localhost:9092]"), "{r:?}");
}
