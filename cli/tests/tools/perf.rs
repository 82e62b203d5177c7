use crate::support::*;

/// Kafka's report shape: "N records VERB, R records/sec (M MB/sec), A ms avg latency, X ms max latency, ...".
fn assert_report(line: &str, n: u64, verb: &str) {
    let prefix = format!("{n} records {verb}, ");
    assert!(line.starts_with(&prefix), "{line}");
    let rest = &line[prefix.len()..];
    let parts: Vec<&str> = rest.split(", ").collect();
    assert_eq!(parts.len(), 7, "{line}");
    assert!(parts[0].ends_with(" MB/sec)") && parts[0].contains(" records/sec ("), "{line}");
    assert!(parts[1].ends_with(" ms avg latency") && parts[2].ends_with(" ms max latency"), "{line}");
    for (p, name) in parts[3..].iter().zip(["50th", "95th", "99th", "99.9th."]) {
        let (v, label) = p.split_once(" ms ").unwrap_or_else(|| panic!("{line}"));
        v.parse::<u64>().unwrap_or_else(|_| panic!("{line}"));
        assert_eq!(label, name, "{line}");
    }
}

#[test]
fn produce_then_consume() {
    let b = broker();
    let addr = b.bootstrap_servers();
    create_topic(&b, "perf", 2);
    // 1500 records at 3000/s: half a second, so 100 ms reports give progress lines.
    let r = run(&with_bootstrap(&addr, &["perf", "produce", "--topic", "perf", "--num-records", "1500", "--record-size", "200", "--throughput", "3000", "--reporting-interval", "100"])).ok();
    let lines = r.lines();
    assert!(lines.len() >= 3, "progress lines expected: {r:?}");
    for l in &lines[..lines.len() - 1] {
        assert!(l.contains(" records sent, ") && l.ends_with(" ms max latency."), "{r:?}");
    }
    assert_report(lines.last().unwrap(), 1500, "sent");
    let offsets = admin(&b).list_offsets(&[("perf", 0, streamlet::client::admin::OffsetSpec::Latest), ("perf", 1, streamlet::client::admin::OffsetSpec::Latest)]).unwrap();
    assert_eq!(offsets.iter().map(|(_, o)| o.as_ref().unwrap().offset).sum::<i64>(), 1500);

    let r = run(&with_bootstrap(&addr, &["perf", "consume", "--topic", "perf", "--messages", "1500"])).ok();
    assert_report(r.lines().last().unwrap(), 1500, "received");

    // More than the topic holds: the timeout ends it with a failure, after the report.
    let r = run(&with_bootstrap(&addr, &["perf", "consume", "--topic", "perf", "--messages", "2000", "--timeout", "500"])).fails(1, "no record for 500 ms");
    assert_report(r.lines().last().unwrap(), 1500, "received");

    run(&with_bootstrap(&addr, &["perf", "consume", "--topic", "none", "--messages", "1"])).fails(1, "UNKNOWN_TOPIC_OR_PARTITION");
    run(&with_bootstrap(&addr, &["perf", "produce", "--topic", "perf", "--num-records", "1", "--record-size", "1", "--throughput", "0"])).fails(2, "--throughput");
    run(&with_bootstrap(&addr, &["perf", "produce", "--topic", "perf", "--num-records", "1", "--record-size", "1", "--throughput", "-1", "--producer-property", "acks=most"])).fails(2, "acks");
    b.shutdown();
}
