use std::time::Duration;

use crate::support::*;

#[test]
fn keys_headers_and_printed_fields() {
    let b = broker();
    let addr = b.bootstrap_servers();
    create_topic(&b, "kv", 1);
    let input = "a:1\nb:2\nc:with:colons\n";
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "kv", "--property", "parse.key=true", "--property", "key.separator=:", "--acks", "all"]), input).ok();
    let r = run(&with_bootstrap(&addr, &[
        "console-consumer", "--topic", "kv", "--from-beginning", "--max-messages", "3",
        "--property", "print.key=true", "--property", "print.partition=true", "--property", "print.offset=true",
        "--property", "key.separator=|",
    ]))
    .ok();
    assert_eq!(r.lines(), ["Partition:0|Offset:0|a|1", "Partition:0|Offset:1|b|2", "Partition:0|Offset:2|c|with:colons"]);
    assert!(r.stderr.contains("Processed a total of 3 messages"), "{r:?}");

    create_topic(&b, "hdr", 1);
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "hdr", "--property", "parse.headers=true", "--property", "parse.key=true"]), "h1:x,h2:y\tk\tv\n").ok();
    let r = run(&with_bootstrap(&addr, &[
        "console-consumer", "--topic", "hdr", "--from-beginning", "--max-messages", "1",
        "--property", "print.headers=true", "--property", "print.key=true", "--property", "print.timestamp=true",
    ]))
    .ok();
    let fields: Vec<&str> = r.stdout.trim_end().split('\t').collect();
    assert_eq!(fields.len(), 4, "{r:?}");
    assert!(fields[0].strip_prefix("CreateTime:").is_some_and(|t| t.parse::<i64>().unwrap() > 1_600_000_000_000), "{r:?}");
    assert_eq!(&fields[1..], ["h1:x,h2:y", "k", "v"]);
    b.shutdown();
}

#[test]
fn partition_offset_max_messages_and_timeout() {
    let b = broker();
    let addr = b.bootstrap_servers();
    create_topic(&b, "p", 2);
    let lines: String = (0..10).map(|i| format!("v{i}\n")).collect();
    // Spread over both partitions by the round-robin partitioner.
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "p", "--producer-property", "partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner", "--sync"]), &lines).ok();
    let count = |p: &str| {
        let r = run(&with_bootstrap(&addr, &["console-consumer", "--topic", "p", "--partition", p, "--offset", "earliest", "--timeout-ms", "1500"])).ok();
        assert!(r.stderr.contains(&format!("Processed a total of {} messages", r.lines().len())), "{r:?}");
        r.lines().len()
    };
    assert_eq!(count("0") + count("1"), 10);
    let r = run(&with_bootstrap(&addr, &["console-consumer", "--topic", "p", "--partition", "1", "--offset", "2", "--max-messages", "2", "--property", "print.offset=true"])).ok();
    assert_eq!(r.lines().len(), 2, "{r:?}");
    assert!(r.lines()[0].starts_with("Offset:2\t") && r.lines()[1].starts_with("Offset:3\t"), "{r:?}");
    // --offset latest: nothing new arrives, so --timeout-ms ends it with exit 0 and 0 messages.
    let r = run(&with_bootstrap(&addr, &["console-consumer", "--topic", "p", "--partition", "0", "--offset", "latest", "--timeout-ms", "500"])).ok();
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("Processed a total of 0 messages"), "{r:?}");

    run(&with_bootstrap(&addr, &["console-consumer", "--topic", "missing", "--timeout-ms", "500"])).fails(1, "UNKNOWN_TOPIC_OR_PARTITION");
    run(&with_bootstrap(&addr, &["console-consumer", "--topic", "p", "--partition", "7"])).fails(1, "partition 7");
    run(&with_bootstrap(&addr, &["console-consumer", "--topic", "p", "--offset", "3"])).fails(2, "--partition");
    run(&with_bootstrap(&addr, &["console-consumer", "--topic", "p", "--partition", "0", "--offset", "soon"])).fails(2, "--offset");
    run(&with_bootstrap(&addr, &["console-consumer", "--topic", "p", "--isolation-level", "serializable"])).fails(2, "serializable");
    run(&with_bootstrap(&addr, &["console-consumer", "--topic", "p", "--property", "print.everything=true"])).fails(2, "print.everything");
    let r = run(&with_bootstrap(&addr, &["console-consumer", "--topic", "p", "--from-beginning", "--isolation-level", "read_committed", "--max-messages", "10"])).ok();
    assert_eq!(r.lines().len(), 10);
    b.shutdown();
}

#[test]
fn producer_failures_and_options() {
    let b = broker();
    let addr = b.bootstrap_servers();
    run(&with_bootstrap(&addr, &["topics", "--create", "--topic", "small", "--partitions", "1", "--config", "max.message.bytes=300"])).ok();
    let big = "x".repeat(2000);
    // --sync: one batch per line, so only the big one is refused (the producer does not split batches).
    let r = run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "small", "--sync"]), &format!("fine\n{big}\nalso fine\n"));
    r.fails(1, "line 2 was not delivered").fails(1, "MESSAGE_TOO_LARGE");
    // The other lines made it.
    let out = run(&with_bootstrap(&addr, &["console-consumer", "--topic", "small", "--from-beginning", "--max-messages", "2", "--timeout-ms", "10000"])).ok();
    assert_eq!(out.lines(), ["fine", "also fine"]);

    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "small", "--property", "parse.key=true"]), "no separator here\n").fails(1, "line number 1");
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "small", "--compression-codec", "brotli"]), "x\n").fails(2, "compression.type");
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "small", "--acks", "2"]), "x\n").fails(2, "acks");
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "small", "--producer-property", "linger.ms"]), "x\n").fails(2, "KEY=VALUE");
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "small", "--property", "parse.key=maybe"]), "x\n").fails(2, "parse.key");
    // ignore.error: a line without the separator is sent whole as the value.
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "small", "--property", "parse.key=true", "--property", "ignore.error=true"]), "loose\n").ok();
    b.shutdown();
}

#[test]
fn group_commits_exactly_what_was_printed() {
    let b = broker();
    let addr = b.bootstrap_servers();
    create_topic(&b, "g", 1);
    let lines: String = (0..5).map(|i| format!("m{i}\n")).collect();
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "g"]), &lines).ok();
    let consume = |n: &str| run(&with_bootstrap(&addr, &["console-consumer", "--topic", "g", "--group", "readers", "--from-beginning", "--max-messages", n])).ok();
    assert_eq!(consume("2").lines(), ["m0", "m1"]);
    assert_eq!(admin(&b).list_group_offsets("readers").unwrap()[&("g".to_string(), 0)], 2);
    assert_eq!(consume("3").lines(), ["m2", "m3", "m4"]);
    assert_eq!(admin(&b).list_group_offsets("readers").unwrap()[&("g".to_string(), 0)], 5);
    b.shutdown();
}

#[test]
fn sigint_exits_cleanly_and_commits() {
    let b = broker();
    let addr = b.bootstrap_servers();
    create_topic(&b, "s", 1);
    let lines: String = (0..50).map(|i| format!("r{i}\n")).collect();
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "s"]), &lines).ok();

    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.txt");
    let mut cmd = command(&with_bootstrap(&addr, &["console-consumer", "--topic", "s", "--group", "interrupted", "--from-beginning"]));
    cmd.stdout(std::fs::File::create(&out_path).unwrap());
    let mut child = Running::spawn(cmd);
    let printed = || std::fs::read_to_string(&out_path).unwrap_or_default().lines().count();
    wait_until(Duration::from_secs(30), "the consumer to print all 50 records", || printed() == 50);
    child.interrupt();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let code = child.0.wait().unwrap();
    assert!(code.success(), "exit {code:?}, stderr: {stderr}");
    assert!(stderr.contains("Processed a total of 50 messages"), "{stderr}");
    assert_eq!(admin(&b).list_group_offsets("interrupted").unwrap()[&("s".to_string(), 0)], 50);
    b.shutdown();
}

#[test]
fn include_pattern() {
    let b = broker();
    let addr = b.bootstrap_servers();
    for t in ["inc-a", "inc-b", "other"] {
        create_topic(&b, t, 1);
        run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", t]), &format!("from-{t}\n")).ok();
    }
    let r = run(&with_bootstrap(&addr, &["console-consumer", "--include", "inc-.*", "--group", "gi", "--from-beginning", "--max-messages", "2", "--timeout-ms", "20000"])).ok();
    let mut lines = r.lines();
    lines.sort();
    assert_eq!(lines, ["from-inc-a", "from-inc-b"]);
    assert_eq!(admin(&b).list_group_offsets("gi").unwrap().len(), 2);
    // Without --group a group is generated; a bad pattern and --partition are usage errors.
    let r = run(&with_bootstrap(&addr, &["console-consumer", "--include", "oth.*", "--from-beginning", "--max-messages", "1", "--timeout-ms", "20000"])).ok();
    assert_eq!(r.lines(), ["from-other"]);
    run(&with_bootstrap(&addr, &["console-consumer", "--include", "inc-(", "--timeout-ms", "1000"])).fails(2, "inc-(");
    run(&with_bootstrap(&addr, &["console-consumer", "--include", "inc-.*", "--partition", "0"])).fails(2, "cannot be used with");
    run(&with_bootstrap(&addr, &["console-consumer"])).fails(2, "--topic");
    b.shutdown();
}

#[test]
fn rebalance_commits_printed_offsets_of_revoked_partitions() {
    let b = broker();
    let addr = b.bootstrap_servers();
    create_topic(&b, "rb", 2);
    let lines: String = (0..10).map(|i| format!("r{i}\n")).collect();
    run_with_input(&with_bootstrap(&addr, &["console-producer", "--topic", "rb", "--producer-property", "partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner"]), &lines).ok();

    // Periodic commits are pushed out of the way: only the revocation can commit while A runs.
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("a.txt");
    let mut cmd = command(&with_bootstrap(&addr, &["console-consumer", "--topic", "rb", "--group", "rbg", "--from-beginning", "--consumer-property", "auto.commit.interval.ms=600000"]));
    cmd.stdout(std::fs::File::create(&out_path).unwrap());
    let mut a = Running::spawn(cmd);
    wait_until(Duration::from_secs(30), "consumer A to print all 10 records", || std::fs::read_to_string(&out_path).unwrap_or_default().lines().count() == 10);
    assert!(admin(&b).list_group_offsets("rbg").unwrap().is_empty());

    let other = streamlet::client::consumer::Consumer::from_props(&[("bootstrap.servers", addr.as_str()), ("group.id", "rbg")]).unwrap();
    other.subscribe(&["rb"], None).unwrap();
    wait_until(Duration::from_secs(30), "the second member to get a partition", || {
        other.poll(Duration::from_millis(50)).unwrap();
        !other.assignment().is_empty()
    });
    let offsets = admin(&b).list_group_offsets("rbg").unwrap();
    assert_eq!(offsets.values().sum::<i64>(), 10, "{offsets:?}");
    other.close().unwrap();
    a.interrupt();
    assert!(a.0.wait().unwrap().success());
    b.shutdown();
}
