use std::time::Duration;

use streamlet::client::consumer::Consumer;

use crate::support::*;

/// Produces `n` records to partition 0 of `topic` (1 partition) and commits `committed` for `group`.
fn setup(addr: &str, topic: &str, n: usize, group: &str, committed: &str) {
    let lines: String = (0..n).map(|i| format!("v{i}\n")).collect();
    run_with_input(&with_bootstrap(addr, &["console-producer", "--topic", topic]), &lines).ok();
    run(&with_bootstrap(addr, &["console-consumer", "--topic", topic, "--group", group, "--from-beginning", "--max-messages", committed])).ok();
}

#[test]
fn list_describe_and_delete() {
    let b = broker();
    let addr = b.bootstrap_servers();
    create_topic(&b, "orders", 1);
    setup(&addr, "orders", 5, "audit", "3");
    let g = |args: &[&str]| run(&with_bootstrap(&addr, args));

    assert_eq!(g(&["consumer-groups", "--list"]).ok().lines(), ["audit"]);
    let r = g(&["consumer-groups", "--describe", "--group", "audit"]).ok();
    assert!(r.stdout.contains("Consumer group 'audit' has no active members."), "{r:?}");
    let row: Vec<&str> = r.lines().into_iter().find(|l| l.starts_with("audit ")).expect("a row").split_whitespace().collect();
    assert_eq!(row, ["audit", "orders", "0", "3", "5", "2", "-", "-", "-"]);
    g(&["consumer-groups", "--describe", "--group", "nobody"]).fails(1, "GROUP_ID_NOT_FOUND");

    // An active member shows up with its partition; the group cannot be deleted meanwhile.
    let consumer = Consumer::from_props(&[("bootstrap.servers", addr.as_str()), ("group.id", "audit"), ("client.id", "live-one")]).unwrap();
    consumer.subscribe(&["orders"], None).unwrap();
    wait_until(Duration::from_secs(20), "the member to get its assignment", || {
        consumer.poll(Duration::from_millis(50)).unwrap();
        !consumer.assignment().is_empty()
    });
    let r = g(&["consumer-groups", "--describe", "--group", "audit"]).ok();
    let row = r.lines().into_iter().find(|l| l.starts_with("audit ")).expect("a row").to_string();
    assert!(row.contains("live-one") && row.contains("127.0.0.1"), "{r:?}");
    g(&["consumer-groups", "--delete", "--group", "audit"]).fails(1, "NON_EMPTY_GROUP");
    let r = g(&["consumer-groups", "--describe", "--group", "audit", "--members"]).ok();
    let member: Vec<&str> = r.lines().last().unwrap().split_whitespace().collect();
    assert_eq!((member[0], member[3], member[4]), ("audit", "live-one", "1"), "{r:?}");
    let r = g(&["consumer-groups", "--describe", "--group", "audit", "--state"]).ok();
    assert_eq!(r.lines().last().unwrap().split_whitespace().collect::<Vec<_>>(), ["audit", "range", "Stable", "1"], "{r:?}");
    consumer.close().unwrap();
    let r = g(&["consumer-groups", "--describe", "--group", "audit", "--state"]).ok();
    assert_eq!(r.lines().last().unwrap().split_whitespace().collect::<Vec<_>>(), ["audit", "-", "Empty", "0"], "{r:?}");

    let r = g(&["consumer-groups", "--delete", "--group", "audit"]).ok();
    assert!(r.stdout.contains("Deletion of requested consumer groups ('audit') was successful."), "{r:?}");
    g(&["consumer-groups", "--delete", "--group", "audit"]).fails(1, "GROUP_ID_NOT_FOUND");
    assert!(g(&["consumer-groups", "--list"]).ok().stdout.is_empty());
    g(&["consumer-groups", "--describe"]).fails(2, "--group");
    b.shutdown();
}

fn committed(b: &streamlet::Broker, group: &str, topic: &str) -> i64 {
    admin(b).list_group_offsets(group).unwrap()[&(topic.to_string(), 0)]
}

#[test]
fn reset_offsets() {
    let b = broker();
    let addr = b.bootstrap_servers();
    create_topic(&b, "r", 1);
    setup(&addr, "r", 10, "rg", "4");
    let reset = |spec: &[&str]| {
        let mut args = vec!["consumer-groups", "--reset-offsets", "--group", "rg", "--topic", "r"];
        args.extend(spec);
        run(&with_bootstrap(&addr, &args))
    };
    let new_offset = |r: &Run| -> i64 { r.lines().last().unwrap().split_whitespace().last().unwrap().parse().unwrap() };

    // Without --execute nothing changes.
    let r = reset(&["--to-earliest"]).ok();
    assert_eq!(new_offset(&r), 0);
    assert!(r.stderr.contains("dry run"), "{r:?}");
    assert_eq!(committed(&b, "rg", "r"), 4);
    let r = reset(&["--to-earliest", "--dry-run"]).ok();
    assert_eq!(new_offset(&r), 0);
    assert_eq!(committed(&b, "rg", "r"), 4);

    assert_eq!(new_offset(&reset(&["--to-earliest", "--execute"]).ok()), 0);
    assert_eq!(committed(&b, "rg", "r"), 0);
    assert_eq!(new_offset(&reset(&["--to-latest", "--execute"]).ok()), 10);
    assert_eq!(committed(&b, "rg", "r"), 10);
    assert_eq!(new_offset(&reset(&["--to-offset", "6", "--execute"]).ok()), 6);
    assert_eq!(new_offset(&reset(&["--shift-by", "-2", "--execute"]).ok()), 4);
    assert_eq!(committed(&b, "rg", "r"), 4);
    // Kept within earliest..latest.
    assert_eq!(new_offset(&reset(&["--shift-by", "100", "--execute"]).ok()), 10);
    assert_eq!(new_offset(&reset(&["--to-offset", "-5", "--execute"]).ok()), 0);

    // --to-datetime: the first record at or after the time; after every record, the log end.
    let all = run(&with_bootstrap(&addr, &["console-consumer", "--topic", "r", "--from-beginning", "--max-messages", "10", "--property", "print.timestamp=true"])).ok();
    let stamps: Vec<i64> = all.lines().iter().map(|l| l.split('\t').next().unwrap()["CreateTime:".len()..].parse().unwrap()).collect();
    let expected = stamps.iter().position(|t| *t >= stamps[7]).unwrap() as i64;
    let at = new_offset(&reset(&["--to-datetime", &iso8601(stamps[7]), "--execute"]).ok());
    assert_eq!(at, expected, "timestamps {stamps:?}");
    assert_eq!(new_offset(&reset(&["--to-datetime", "2999-01-01T00:00:00Z", "--execute"]).ok()), 10);
    reset(&["--to-datetime", "yesterday"]).fails(2, "--to-datetime");

    // Refused while the group has a member.
    let consumer = Consumer::from_props(&[("bootstrap.servers", addr.as_str()), ("group.id", "rg")]).unwrap();
    consumer.subscribe(&["r"], None).unwrap();
    wait_until(Duration::from_secs(20), "the member to get its assignment", || {
        consumer.poll(Duration::from_millis(50)).unwrap();
        !consumer.assignment().is_empty()
    });
    reset(&["--to-earliest", "--execute"]).fails(1, "inactive");
    consumer.close().unwrap();

    // --all-topics covers what the group committed; usage errors.
    assert_eq!(new_offset(&run(&with_bootstrap(&addr, &["consumer-groups", "--reset-offsets", "--group", "rg", "--all-topics", "--to-earliest", "--execute"])).ok()), 0);
    reset(&[]).fails(2, "--to-earliest");
    reset(&["--to-earliest", "--to-latest"]).fails(2, "cannot be used with");
    reset(&["--to-earliest", "--dry-run", "--execute"]).fails(2, "cannot be used with");
    run(&with_bootstrap(&addr, &["consumer-groups", "--reset-offsets", "--group", "rg", "--topic", "nope", "--to-earliest"])).fails(1, "UNKNOWN_TOPIC_OR_PARTITION");
    b.shutdown();
}

/// Milliseconds since the epoch as YYYY-MM-DDTHH:mm:SS.sssZ (civil date from days, Hinnant's algorithm).
fn iso8601(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000)
}
