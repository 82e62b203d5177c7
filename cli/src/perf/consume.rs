//! `streamlet perf consume`: Kafka's ConsumerPerformance, with end-to-end latency (receive time minus the
//! record's timestamp) reported like the producer test's.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use streamlet::client::consumer::{Consumer, ConsumerConfig, TopicPartition};
use streamlet::config::read_properties_file;

use super::stats::Stats;
use crate::common::{finish, now_ms, parse_kv, stop_flag, ClientArgs, Failure, ToolResult};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  streamlet perf consume --topic perf --messages 1000000
  streamlet perf consume --topic perf --messages 50000 --group perf-readers --timeout 30000

Reads from the beginning (every partition, no group unless --group is given). Prints a progress line every
--reporting-interval, then:
  N records received, R records/sec (M MB/sec), A ms avg latency, X ms max latency, P50 ms 50th, ...
Latency is the receive time minus the record's timestamp. Exit status: 0 all --messages read, 1 --timeout
passed without records first (or the topic does not exist), 2 bad usage, 3 broker unreachable.")]
pub struct ConsumeArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Topic to read.
    #[arg(long)]
    topic: String,
    /// Records to read.
    #[arg(long, value_name = "N")]
    messages: u64,
    /// Join this group (subscribe) instead of reading every partition without one.
    #[arg(long)]
    group: Option<String>,
    /// Fail when no record arrives for this many milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    timeout: u64,
    /// A consumer property, KEY=VALUE (repeatable).
    #[arg(long = "consumer-property", value_name = "KEY=VALUE")]
    consumer_properties: Vec<String>,
    /// A consumer properties file.
    #[arg(long = "consumer.config", alias = "consumer-config", value_name = "FILE")]
    consumer_config: Option<PathBuf>,
    /// Milliseconds between progress lines.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    reporting_interval: u64,
}

pub fn run(args: ConsumeArgs) -> i32 {
    finish(run_inner(&args))
}

fn run_inner(args: &ConsumeArgs) -> ToolResult {
    let mut extra = vec![("auto.offset.reset".to_string(), "earliest".to_string())];
    if let Some(path) = &args.consumer_config {
        extra.extend(read_properties_file(path).map_err(|e| Failure::usage(format!("--consumer.config: {e}")))?);
    }
    for kv in &args.consumer_properties {
        extra.push(parse_kv("--consumer-property", kv)?);
    }
    if let Some(g) = &args.group {
        extra.push(("group.id".into(), g.clone()));
    }
    let consumer = Consumer::new(ConsumerConfig::from_props(&args.client.props(&extra)?)?)?;
    let stop = stop_flag();
    let partitions = consumer.partitions_for(&args.topic)?;
    if partitions.is_empty() {
        return Err(Failure::failed(format!("topic '{}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)", args.topic)));
    }
    if args.group.is_some() {
        consumer.subscribe(&[args.topic.as_str()], None)?;
    } else {
        let tps: Vec<TopicPartition> = partitions.iter().map(|p| (args.topic.clone(), *p)).collect();
        consumer.assign(&tps)?;
        consumer.seek_to_beginning(&tps)?;
    }
    let mut stats = Stats::new(args.messages, "received");
    let every = Duration::from_millis(args.reporting_interval);
    let mut last_record = Instant::now();
    let mut timed_out = false;
    while stats.count() < args.messages && !stop.load(Ordering::SeqCst) {
        if last_record.elapsed() >= Duration::from_millis(args.timeout) {
            timed_out = true;
            break;
        }
        let records = consumer.poll(Duration::from_millis(100))?;
        if !records.is_empty() {
            last_record = Instant::now();
        }
        let now = now_ms();
        for r in records.iter().take((args.messages - stats.count()) as usize) {
            let size = r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len());
            stats.record((now - r.timestamp).max(0) as u64, size);
        }
        if let Some(l) = stats.progress(every) {
            println!("{l}");
        }
    }
    if args.group.is_some() {
        let _ = consumer.commit_sync(None);
    }
    let _ = consumer.close();
    println!("{}", stats.report());
    if timed_out {
        return Err(Failure::failed(format!(
            "no record for {} ms: read {} of {} records (is --messages larger than the topic?)",
            args.timeout,
            stats.count(),
            args.messages
        )));
    }
    Ok(())
}
