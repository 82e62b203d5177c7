//! `streamlet console-consumer`: prints records to stdout (kafka-console-consumer.sh with Kafka's
//! DefaultMessageFormatter properties).
//!
//! With --group, offsets are committed for exactly what was printed (not for what `poll` fetched beyond
//! --max-messages): automatic commits are replaced by explicit ones, every auto.commit.interval.ms and on exit,
//! including exit by SIGINT/SIGTERM, and for partitions a rebalance takes away, before they go (so a new owner
//! never sees its commits overwritten by stale ones from here).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use streamlet::client::consumer::{Consumer, ConsumerConfig, ConsumerRecord, RebalanceListener, TopicPartition};
use streamlet::config::{read_properties_file, Props};
use streamlet::record::TimestampType;

use crate::common::{finish, parse_kv, stop_flag, ClientArgs, Failure, ToolResult};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  streamlet console-consumer --topic greetings --from-beginning --max-messages 10
  streamlet console-consumer --topic orders --group audit --property print.key=true --property print.offset=true
  streamlet console-consumer --topic orders --partition 2 --offset 100 --timeout-ms 5000
  streamlet console-consumer --topic tx --isolation-level read_committed --from-beginning
  streamlet console-consumer --include 'orders-.*' --group audit --property print.key=true

Formatter properties (--property): print.key, print.value (true), print.partition, print.offset,
print.timestamp, print.headers, key.separator (TAB), line.separator (newline), headers.separator (,),
headers.key.separator (:), null.literal (null).

Ctrl-C (or SIGTERM) stops cleanly: with --group the offsets of what was printed are committed.
At the end, 'Processed a total of N messages' is printed on stderr.
Exit status: 0 done (also when --timeout-ms passed without records), 1 failed (e.g. unknown topic),
2 bad usage, 3 broker unreachable.")]
pub struct ConsumerArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Topic to read.
    #[arg(long, required_unless_present = "include", conflicts_with = "include")]
    topic: Option<String>,
    /// Read every topic whose whole name matches this regular expression (a group is joined: --group, or a
    /// generated console-consumer-NNNN).
    #[arg(long, value_name = "REGEX", conflicts_with = "partition")]
    include: Option<String>,
    /// Consumer group to join (and commit offsets to). Without it, every partition is read with no group.
    #[arg(long)]
    group: Option<String>,
    /// Start at the earliest offset when there is no committed offset (instead of the latest).
    #[arg(long)]
    from_beginning: bool,
    /// Read only this partition.
    #[arg(long)]
    partition: Option<i32>,
    /// With --partition: earliest, latest, or an offset.
    #[arg(long, requires = "partition", conflicts_with = "from_beginning")]
    offset: Option<String>,
    /// Exit after printing this many records.
    #[arg(long, value_name = "N")]
    max_messages: Option<u64>,
    /// Exit when no record arrived for this long.
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// read_uncommitted (default) or read_committed.
    #[arg(long, value_parser = ["read_uncommitted", "read_committed"])]
    isolation_level: Option<String>,
    /// A formatter property, KEY=VALUE (repeatable).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// A consumer property, KEY=VALUE (repeatable; wins over --consumer.config and --command-config).
    #[arg(long = "consumer-property", value_name = "KEY=VALUE")]
    consumer_properties: Vec<String>,
    /// A consumer properties file.
    #[arg(long = "consumer.config", alias = "consumer-config", value_name = "FILE")]
    consumer_config: Option<PathBuf>,
}

pub fn run(args: ConsumerArgs) -> i32 {
    finish(run_inner(&args))
}

struct Formatter {
    key: bool,
    value: bool,
    partition: bool,
    offset: bool,
    timestamp: bool,
    headers: bool,
    key_separator: Vec<u8>,
    line_separator: Vec<u8>,
    headers_separator: Vec<u8>,
    headers_key_separator: Vec<u8>,
    null_literal: Vec<u8>,
}

fn flag(props: &Props, key: &str, default: bool) -> Result<bool, Failure> {
    match props.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(Failure::usage(format!("invalid value '{v}' for property {key}: expected true or false"))),
    }
}

impl Formatter {
    fn from_props(props: &Props) -> Result<Formatter, Failure> {
        const KNOWN: &[&str] = &[
            "print.key",
            "print.value",
            "print.partition",
            "print.offset",
            "print.timestamp",
            "print.headers",
            "key.separator",
            "line.separator",
            "headers.separator",
            "headers.key.separator",
            "null.literal",
        ];
        if let Some(k) = props.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(Failure::usage(format!("unknown --property '{k}' (known: {})", KNOWN.join(", "))));
        }
        let s = |k: &str, d: &str| props.get(k).cloned().unwrap_or_else(|| d.to_string()).into_bytes();
        Ok(Formatter {
            key: flag(props, "print.key", false)?,
            value: flag(props, "print.value", true)?,
            partition: flag(props, "print.partition", false)?,
            offset: flag(props, "print.offset", false)?,
            timestamp: flag(props, "print.timestamp", false)?,
            headers: flag(props, "print.headers", false)?,
            key_separator: s("key.separator", "\t"),
            line_separator: s("line.separator", "\n"),
            headers_separator: s("headers.separator", ","),
            headers_key_separator: s("headers.key.separator", ":"),
            null_literal: s("null.literal", "null"),
        })
    }

    /// Kafka's field order: timestamp, partition, offset, headers, key, value; fields joined by key.separator.
    fn format(&self, r: &ConsumerRecord) -> Vec<u8> {
        let mut fields: Vec<Vec<u8>> = Vec::new();
        if self.timestamp {
            let kind = match r.timestamp_type {
                TimestampType::CreateTime => "CreateTime",
                TimestampType::LogAppendTime => "LogAppendTime",
            };
            fields.push(format!("{kind}:{}", r.timestamp).into_bytes());
        }
        if self.partition {
            fields.push(format!("Partition:{}", r.partition).into_bytes());
        }
        if self.offset {
            fields.push(format!("Offset:{}", r.offset).into_bytes());
        }
        if self.headers {
            if r.headers.is_empty() {
                fields.push(b"NO_HEADERS".to_vec());
            } else {
                let mut h = Vec::new();
                for (i, (k, v)) in r.headers.iter().enumerate() {
                    if i > 0 {
                        h.extend_from_slice(&self.headers_separator);
                    }
                    h.extend_from_slice(k.as_bytes());
                    h.extend_from_slice(&self.headers_key_separator);
                    h.extend_from_slice(v.as_deref().unwrap_or(&self.null_literal));
                }
                fields.push(h);
            }
        }
        if self.key {
            fields.push(r.key.as_deref().unwrap_or(&self.null_literal).to_vec());
        }
        if self.value {
            fields.push(r.value.as_deref().unwrap_or(&self.null_literal).to_vec());
        }
        let mut line = fields.join(&self.key_separator[..]);
        line.extend_from_slice(&self.line_separator);
        line
    }
}

/// --group, or for --include without one a generated group (as Kafka's tool does: a pattern needs a group).
fn group(args: &ConsumerArgs) -> Option<String> {
    match (&args.group, &args.include) {
        (Some(g), _) => Some(g.clone()),
        (None, Some(_)) => Some(format!("console-consumer-{}", std::process::id() as u64 * 1000 + crate::common::now_ms() as u64 % 1000)),
        (None, None) => None,
    }
}

fn consumer_props(args: &ConsumerArgs) -> Result<Props, Failure> {
    let mut extra: Vec<(String, String)> = Vec::new();
    if let Some(path) = &args.consumer_config {
        extra.extend(read_properties_file(path).map_err(|e| Failure::usage(format!("--consumer.config: {e}")))?);
    }
    for kv in &args.consumer_properties {
        extra.push(parse_kv("--consumer-property", kv)?);
    }
    let mut props = args.client.props(&extra)?;
    if let Some(g) = group(args) {
        props.insert("group.id".into(), g);
    }
    if args.from_beginning {
        props.insert("auto.offset.reset".into(), "earliest".into());
    } else {
        props.entry("auto.offset.reset".into()).or_insert_with(|| "latest".into());
    }
    if let Some(i) = &args.isolation_level {
        props.insert("isolation.level".into(), i.clone());
    }
    // Commits are explicit (see the module comment).
    props.insert("enable.auto.commit".into(), "false".into());
    Ok(props)
}

fn run_inner(args: &ConsumerArgs) -> ToolResult {
    let fmt = Formatter::from_props(&args.properties.iter().map(|kv| parse_kv("--property", kv)).collect::<Result<_, _>>()?)?;
    let start = match args.offset.as_deref() {
        None => None,
        Some("earliest") => Some(-2),
        Some("latest") => Some(-1),
        Some(o) => match o.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(Failure::usage(format!("--offset expects earliest, latest or a non-negative offset, got '{o}'"))),
        },
    };
    let props = consumer_props(args)?;
    let commit_interval = props.get("auto.commit.interval.ms").and_then(|v| v.parse::<u64>().ok()).unwrap_or(5_000);
    let consumer = Consumer::new(ConsumerConfig::from_props(&props)?)?;
    let stop = stop_flag();

    let grouped = props.contains_key("group.id");
    let printed: Printed = Arc::new(Mutex::new(BTreeMap::new()));
    let listener = || Some(Box::new(CommitOnRevoke(printed.clone())) as Box<dyn RebalanceListener>);
    if let Some(pattern) = &args.include {
        consumer.subscribe_pattern(pattern, listener())?;
    } else {
        let topic = args.topic.clone().expect("clap requires --topic without --include");
        subscribe_or_assign(&consumer, args, &topic, start, listener())?;
    }

    let mut count: u64 = 0;
    let mut last_record = Instant::now();
    let mut last_commit = Instant::now();
    let mut failure: Option<Failure> = None;
    let mut stdout = std::io::stdout().lock();
    let wants_more = |count: u64| match args.max_messages {
        Some(m) => count < m,
        None => true,
    };
    'outer: while !stop.load(Ordering::SeqCst) && wants_more(count) {
        if args.timeout_ms.is_some_and(|t| last_record.elapsed() >= Duration::from_millis(t)) {
            break;
        }
        let records = match consumer.poll(Duration::from_millis(100)) {
            Ok(r) => r,
            Err(e) => {
                failure = Some(e.into());
                break;
            }
        };
        if !records.is_empty() {
            last_record = Instant::now();
        }
        for r in records {
            if let Err(e) = stdout.write_all(&fmt.format(&r)) {
                // A closed pipe (`| head`) is a normal end; anything else a failure.
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    failure = Some(e.into());
                }
                break 'outer;
            }
            lock(&printed).insert((r.topic.clone(), r.partition), r.offset + 1);
            count += 1;
            if args.max_messages.is_some_and(|m| count >= m) {
                break;
            }
        }
        let _ = stdout.flush();
        if grouped && !lock(&printed).is_empty() && last_commit.elapsed() >= Duration::from_millis(commit_interval) {
            consumer.commit_async(Some(lock(&printed).clone()), None)?;
            last_commit = Instant::now();
        }
    }
    let _ = stdout.flush();
    let last = std::mem::take(&mut *lock(&printed));
    if grouped && !last.is_empty() {
        if let Err(e) = consumer.commit_sync(Some(last)) {
            eprintln!("error: committing the printed offsets failed: {e}");
            failure.get_or_insert(Failure { code: crate::common::EXIT_FAILED, message: String::new() });
        }
    }
    let _ = consumer.close();
    eprintln!("Processed a total of {count} messages");
    failure.map_or(Ok(()), Err)
}

/// --topic: subscribe with a group (unless --partition), otherwise assign and position by --offset /
/// --from-beginning.
fn subscribe_or_assign(consumer: &Consumer, args: &ConsumerArgs, topic: &str, start: Option<i64>, listener: Option<Box<dyn RebalanceListener>>) -> ToolResult {
    let partitions = consumer.partitions_for(topic)?;
    if partitions.is_empty() {
        return Err(Failure::failed(format!("topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)")));
    }
    if let Some(p) = args.partition {
        if !partitions.contains(&p) {
            return Err(Failure::failed(format!(
                "partition {p} of topic '{topic}' does not exist: it has {} partitions (UNKNOWN_TOPIC_OR_PARTITION)",
                partitions.len()
            )));
        }
    }
    if args.group.is_some() && args.partition.is_none() {
        consumer.subscribe(&[topic], listener)?;
        return Ok(());
    }
    let tps: Vec<TopicPartition> = match args.partition {
        Some(p) => vec![(topic.to_string(), p)],
        None => partitions.iter().map(|p| (topic.to_string(), *p)).collect(),
    };
    consumer.assign(&tps)?;
    match start {
        Some(-2) => consumer.seek_to_beginning(&tps)?,
        Some(-1) => consumer.seek_to_end(&tps)?,
        Some(n) => consumer.seek(&tps[0], n)?,
        // With a group, committed offsets (then auto.offset.reset) decide.
        None if args.group.is_some() => {}
        None if args.from_beginning => consumer.seek_to_beginning(&tps)?,
        None => consumer.seek_to_end(&tps)?,
    }
    Ok(())
}

/// Next offset to commit per partition: one past the last record printed.
type Printed = Arc<Mutex<BTreeMap<TopicPartition, i64>>>;

fn lock(p: &Printed) -> std::sync::MutexGuard<'_, BTreeMap<TopicPartition, i64>> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// Commits what was printed from partitions a rebalance revokes, and forgets partitions that were lost.
struct CommitOnRevoke(Printed);

impl RebalanceListener for CommitOnRevoke {
    fn on_partitions_revoked(&mut self, consumer: &Consumer, partitions: &[TopicPartition]) {
        let revoked: BTreeMap<TopicPartition, i64> = {
            let mut p = lock(&self.0);
            partitions.iter().filter_map(|tp| p.remove(tp).map(|o| (tp.clone(), o))).collect()
        };
        if !revoked.is_empty() {
            if let Err(e) = consumer.commit_sync(Some(revoked)) {
                eprintln!("warning: committing the printed offsets of revoked partitions failed: {e}");
            }
        }
    }

    fn on_partitions_assigned(&mut self, _consumer: &Consumer, _partitions: &[TopicPartition]) {}

    fn on_partitions_lost(&mut self, _consumer: &Consumer, partitions: &[TopicPartition]) {
        let mut p = lock(&self.0);
        for tp in partitions {
            p.remove(tp);
        }
    }
}
