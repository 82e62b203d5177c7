//! `streamlet console-producer`: one record per stdin line (kafka-console-producer.sh and its LineMessageReader
//! properties).

use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use streamlet::client::producer::{Producer, ProducerConfig, ProducerRecord};
use streamlet::config::{read_properties_file, Props};

use crate::common::{describe_error, describe_send_error, finish, parse_kv, ClientArgs, Failure, ToolResult, EXIT_FAILED};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  echo hello | streamlet console-producer --topic greetings
  streamlet console-producer --topic orders --property parse.key=true --property key.separator=:   # k1:v1
  streamlet console-producer --topic t --acks all --compression-codec zstd --producer-property linger.ms=20
  streamlet console-producer --topic t --property parse.headers=true   # h1:v1,h2:v2<TAB>value

Reader properties (--property): parse.key (false), key.separator (TAB), parse.headers (false),
headers.delimiter (TAB), headers.separator (,), headers.key.separator (:), null.marker (none),
ignore.error (false: a line without a separator is an error).

Exit status: 0 every line was acknowledged, 1 a record failed (each failure is on stderr), 2 bad usage,
3 broker unreachable.")]
pub struct ProducerArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Topic to produce to.
    #[arg(long)]
    topic: String,
    /// A line-reader property, KEY=VALUE (repeatable).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// A producer property, KEY=VALUE (repeatable; wins over --producer.config and --command-config).
    #[arg(long = "producer-property", value_name = "KEY=VALUE")]
    producer_properties: Vec<String>,
    /// A producer properties file.
    #[arg(long = "producer.config", alias = "producer-config", value_name = "FILE")]
    producer_config: Option<PathBuf>,
    /// acks: all, -1, 0 or 1.
    #[arg(long, alias = "request-required-acks", value_name = "ACKS")]
    acks: Option<String>,
    /// none, gzip (when given without a value), snappy, lz4 or zstd.
    #[arg(long, num_args = 0..=1, default_missing_value = "gzip", value_name = "CODEC")]
    compression_codec: Option<String>,
    /// Wait for each record's acknowledgement before reading the next line.
    #[arg(long)]
    sync: bool,
    /// How long a send may wait for metadata or buffer space (max.block.ms).
    #[arg(long, value_name = "MS")]
    max_block_ms: Option<u64>,
}

pub fn run(args: ProducerArgs) -> i32 {
    finish(run_inner(&args))
}

/// How a line becomes a record.
struct LineReader {
    parse_key: bool,
    key_separator: String,
    parse_headers: bool,
    headers_delimiter: String,
    headers_separator: String,
    headers_key_separator: String,
    null_marker: Option<String>,
    ignore_error: bool,
}

fn flag(props: &Props, key: &str) -> Result<bool, Failure> {
    match props.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(Failure::usage(format!("invalid value '{v}' for property {key}: expected true or false"))),
    }
}

impl LineReader {
    fn from_props(props: &Props) -> Result<LineReader, Failure> {
        const KNOWN: &[&str] =
            &["parse.key", "key.separator", "parse.headers", "headers.delimiter", "headers.separator", "headers.key.separator", "null.marker", "ignore.error"];
        if let Some(k) = props.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(Failure::usage(format!("unknown --property '{k}' (known: {})", KNOWN.join(", "))));
        }
        let s = |k: &str, d: &str| props.get(k).cloned().unwrap_or_else(|| d.to_string());
        let r = LineReader {
            parse_key: flag(props, "parse.key")?,
            key_separator: s("key.separator", "\t"),
            parse_headers: flag(props, "parse.headers")?,
            headers_delimiter: s("headers.delimiter", "\t"),
            headers_separator: s("headers.separator", ","),
            headers_key_separator: s("headers.key.separator", ":"),
            null_marker: props.get("null.marker").cloned(),
            ignore_error: flag(props, "ignore.error")?,
        };
        for (k, v) in [("key.separator", &r.key_separator), ("headers.delimiter", &r.headers_delimiter), ("headers.separator", &r.headers_separator)] {
            if v.is_empty() {
                return Err(Failure::usage(format!("invalid value '' for property {k}: must not be empty")));
            }
        }
        Ok(r)
    }

    fn bytes(&self, s: &str) -> Option<Bytes> {
        match &self.null_marker {
            Some(m) if m == s => None,
            _ => Some(Bytes::copy_from_slice(s.as_bytes())),
        }
    }

    /// The record for `line` (number `n`, from 1); Err names the line.
    fn record(&self, topic: &str, line: &str, n: usize) -> Result<ProducerRecord, String> {
        let mut rec = ProducerRecord::new(topic);
        let mut rest = line;
        if self.parse_headers {
            match rest.split_once(self.headers_delimiter.as_str()) {
                Some((headers, after)) => {
                    for h in headers.split(self.headers_separator.as_str()).filter(|h| !h.is_empty()) {
                        let (k, v) = match h.split_once(self.headers_key_separator.as_str()) {
                            Some((k, v)) => (k, self.bytes(v)),
                            None => (h, None),
                        };
                        rec = rec.header(k, v);
                    }
                    rest = after;
                }
                None if self.ignore_error => {}
                None => return Err(format!("no headers delimiter found on line number {n}: '{line}'")),
            }
        }
        if self.parse_key {
            match rest.split_once(self.key_separator.as_str()) {
                Some((k, v)) => {
                    rec.key = self.bytes(k);
                    rest = v;
                }
                None if self.ignore_error => {}
                None => return Err(format!("no key separator found on line number {n}: '{line}'")),
            }
        }
        rec.value = self.bytes(rest);
        Ok(rec)
    }
}

fn producer_props(args: &ProducerArgs) -> Result<Props, Failure> {
    let mut extra: Vec<(String, String)> = vec![("linger.ms".into(), "5".into())];
    if let Some(path) = &args.producer_config {
        extra.extend(read_properties_file(path).map_err(|e| Failure::usage(format!("--producer.config: {e}")))?);
    }
    if let Some(a) = &args.acks {
        extra.push(("acks".into(), a.clone()));
    }
    if let Some(c) = &args.compression_codec {
        extra.push(("compression.type".into(), c.clone()));
    }
    if let Some(ms) = args.max_block_ms {
        extra.push(("max.block.ms".into(), ms.to_string()));
    }
    for kv in &args.producer_properties {
        extra.push(parse_kv("--producer-property", kv)?);
    }
    args.client.props(&extra)
}

fn run_inner(args: &ProducerArgs) -> ToolResult {
    let reader_props: Props = args.properties.iter().map(|kv| parse_kv("--property", kv)).collect::<Result<_, _>>()?;
    let reader = LineReader::from_props(&reader_props)?;
    let config = ProducerConfig::from_props(&producer_props(args)?)?;
    let producer = Arc::new(Producer::new(config)?);

    // Ctrl-C: what was read is still delivered (flushed) before exiting, as Kafka's tool does on shutdown.
    let failures = Arc::new(AtomicUsize::new(0));
    let topic: Arc<str> = args.topic.as_str().into();
    {
        let (p, f) = (producer.clone(), failures.clone());
        crate::common::on_signal(move || {
            let _ = p.flush(Duration::from_secs(30));
            std::process::exit(if f.load(Ordering::SeqCst) > 0 { EXIT_FAILED } else { 130 });
        });
    }

    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        if input.by_ref().read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        n += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let line = String::from_utf8_lossy(&buf);
        let rec = match reader.record(&args.topic, &line, n) {
            Ok(r) => r,
            Err(msg) => {
                let _ = producer.flush(Duration::from_secs(30));
                return Err(Failure::failed(msg));
            }
        };
        let f = failures.clone();
        let topic = topic.clone();
        let fut = producer.send_with_callback(rec, move |r| {
            if let Err(e) = r {
                f.fetch_add(1, Ordering::SeqCst);
                eprintln!("error: record from line {n} was not delivered: {}", describe_send_error(&e, &topic));
            }
        });
        if args.sync {
            let _ = fut.wait();
        }
        producer.poll(Duration::ZERO);
    }
    // Waits as long as a record may take (delivery.timeout.ms) so that every failure is reported.
    let wait = producer.config().delivery_timeout + Duration::from_secs(5);
    if let Err(e) = producer.flush(wait) {
        return Err(Failure::failed(format!("not every record was delivered: {}", describe_error(&e))));
    }
    let failed = failures.load(Ordering::SeqCst);
    let _ = producer.close(Duration::from_secs(5));
    if failed > 0 {
        return Err(Failure::failed(format!("{failed} of {n} records were not delivered")));
    }
    Ok(())
}
