//! `streamlet`: the broker and the everyday Kafka tools.

mod broker_cmd;
mod cluster_cmd;
mod common;
mod console_consumer;
mod console_producer;
mod consumer_groups;
mod dump_log;
mod perf;
mod topics_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "streamlet", version, about = "Embeddable Kafka-compatible event log")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker that speaks the Kafka protocol.
    Broker(broker_cmd::BrokerArgs),
    /// Run a local cluster of several brokers in one process (development).
    Cluster(cluster_cmd::ClusterArgs),
    /// Create, list, describe, grow and delete topics (like kafka-topics.sh).
    Topics(topics_cmd::TopicsArgs),
    /// Send stdin lines as records (like kafka-console-producer.sh).
    ConsoleProducer(console_producer::ProducerArgs),
    /// Print records to stdout (like kafka-console-consumer.sh).
    ConsoleConsumer(console_consumer::ConsumerArgs),
    /// List, describe, reset the offsets of and delete consumer groups (like kafka-consumer-groups.sh).
    ConsumerGroups(consumer_groups::GroupsArgs),
    /// Producer and consumer throughput and latency tests (like kafka-*-perf-test.sh).
    Perf(perf::PerfArgs),
    /// Print the batches of .log segments and the entries of .index/.timeindex files (like kafka-dump-log.sh).
    DumpLog(dump_log::DumpLogArgs),
}

/// Logs go to stderr: coloured only on a terminal (a file or a pipe gets plain text), and one JSON object per line
/// with `STREAMLET_LOG_FORMAT=json`, for log shippers. `STREAMLET_LOG` filters (`info`, `streamlet=debug`, ...).
fn init_logging(default_level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("STREAMLET_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    match std::env::var("STREAMLET_LOG_FORMAT").as_deref() {
        Ok("json") => builder.json().with_current_span(false).init(),
        Ok("text") | Err(_) => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        Ok(other) => {
            builder.with_ansi(std::io::stderr().is_terminal()).init();
            tracing::warn!("STREAMLET_LOG_FORMAT={other} is not a log format (json or text); using text");
        }
    }
}

fn main() {
    let cli = Cli::parse();
    // The tools keep stderr for their own messages: only the client's warnings unless STREAMLET_LOG says more.
    let default_level = if matches!(cli.command, Command::Broker(_) | Command::Cluster(_)) { "info" } else { "warn" };
    init_logging(default_level);
    let code = match cli.command {
        Command::Broker(args) => broker_cmd::run(args),
        Command::Cluster(args) => cluster_cmd::run(args),
        Command::Topics(args) => topics_cmd::run(args),
        Command::ConsoleProducer(args) => console_producer::run(args),
        Command::ConsoleConsumer(args) => console_consumer::run(args),
        Command::ConsumerGroups(args) => consumer_groups::run(args),
        Command::Perf(args) => perf::run(args),
        Command::DumpLog(args) => dump_log::run(args),
    };
    std::process::exit(code);
}
