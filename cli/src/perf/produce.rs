//! `streamlet perf produce`: Kafka's ProducerPerformance.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use streamlet::client::producer::{Producer, ProducerConfig, ProducerRecord};
use streamlet::config::read_properties_file;

use super::stats::Stats;
use crate::common::{describe_error, describe_send_error, finish, parse_kv, stop_flag, ClientArgs, Failure, ToolResult};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  streamlet perf produce --topic perf --num-records 1000000 --record-size 100 --throughput -1
  streamlet perf produce --topic perf --num-records 50000 --record-size 1024 --throughput 10000 \\
      --producer-property acks=all --producer-property linger.ms=5

Prints a progress line every --reporting-interval, then:
  N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, P50 ms 50th, P95 ms 95th, ...
Latency is from send to acknowledgement. Exit status: 0 every record acknowledged, 1 some failed, 2 bad usage,
3 broker unreachable.")]
pub struct ProduceArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Topic to produce to.
    #[arg(long)]
    topic: String,
    /// Records to send.
    #[arg(long, value_name = "N")]
    num_records: u64,
    /// Value size in bytes.
    #[arg(long, value_name = "BYTES")]
    record_size: usize,
    /// Records per second at most; -1: no limit.
    #[arg(long, value_name = "R", allow_hyphen_values = true)]
    throughput: f64,
    /// A producer property, KEY=VALUE (repeatable).
    #[arg(long = "producer-property", alias = "producer-props", value_name = "KEY=VALUE")]
    producer_properties: Vec<String>,
    /// A producer properties file.
    #[arg(long = "producer.config", alias = "producer-config", value_name = "FILE")]
    producer_config: Option<PathBuf>,
    /// Milliseconds between progress lines.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    reporting_interval: u64,
}

pub fn run(args: ProduceArgs) -> i32 {
    finish(run_inner(&args))
}

struct Shared {
    stats: Stats,
    failures: u64,
    first_error: Option<String>,
}

fn run_inner(args: &ProduceArgs) -> ToolResult {
    if args.throughput == 0.0 {
        return Err(Failure::usage("--throughput must be positive, or -1 for no limit"));
    }
    let mut extra = Vec::new();
    if let Some(path) = &args.producer_config {
        extra.extend(read_properties_file(path).map_err(|e| Failure::usage(format!("--producer.config: {e}")))?);
    }
    for kv in &args.producer_properties {
        extra.push(parse_kv("--producer-property", kv)?);
    }
    let producer = Producer::new(ProducerConfig::from_props(&args.client.props(&extra)?)?)?;
    let stop = stop_flag();
    // A fixed pseudo-random payload (not all zeros, so compression figures mean something).
    let payload: Bytes = (0..args.record_size).map(|i| b'A' + ((i * 7919 + 13) % 26) as u8).collect::<Vec<u8>>().into();
    let shared = Arc::new(Mutex::new(Shared { stats: Stats::new(args.num_records, "sent"), failures: 0, first_error: None }));
    let every = Duration::from_millis(args.reporting_interval);
    let progress = |shared: &Mutex<Shared>| {
        if let Some(l) = shared.lock().unwrap_or_else(|e| e.into_inner()).stats.progress(every) {
            println!("{l}");
        }
    };
    let topic: Arc<str> = args.topic.as_str().into();
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < args.num_records && !stop.load(Ordering::SeqCst) {
        if args.throughput > 0.0 {
            let due = start + Duration::from_secs_f64(sent as f64 / args.throughput);
            let now = Instant::now();
            if due > now {
                producer.poll(due - now);
                progress(&shared);
                continue;
            }
        }
        let s = shared.clone();
        let cb_topic = topic.clone();
        let t0 = Instant::now();
        let size = args.record_size;
        let fut = producer.send_with_callback(ProducerRecord::new(&args.topic).value(payload.clone()), move |r| {
            let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
            match r {
                Ok(_) => s.stats.record(t0.elapsed().as_millis() as u64, size),
                Err(e) => {
                    s.failures += 1;
                    s.first_error.get_or_insert_with(|| describe_send_error(&e, &cb_topic));
                }
            }
        });
        // A first send that cannot even start (metadata or buffer wait timed out) is a failure now.
        if sent == 0 {
            if let Some(Err(e)) = fut.try_result() {
                let message = describe_send_error(&e, &topic);
                return Err(Failure { message, ..Failure::from(e) });
            }
        }
        sent += 1;
        // Unthrottled, callbacks are served (and latencies taken) in runs of 64 sends and the progress clock is
        // read every 1024; a throttled run has time for both after every send.
        let throttled = args.throughput > 0.0;
        if throttled || sent % 64 == 0 {
            producer.poll(Duration::ZERO);
        }
        if throttled || sent % 1024 == 0 {
            progress(&shared);
        }
    }
    let wait = producer.config().delivery_timeout + Duration::from_secs(5);
    let flushed = producer.flush(wait);
    let _ = producer.close(Duration::from_secs(5));
    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
    println!("{}", s.stats.report());
    if let Err(e) = flushed {
        return Err(Failure::failed(format!("not every record was acknowledged: {}", describe_error(&e))));
    }
    if s.failures > 0 {
        return Err(Failure::failed(format!("{} of {sent} records failed, first: {}", s.failures, s.first_error.clone().unwrap_or_default())));
    }
    Ok(())
}
