//! `streamlet perf produce|consume`: throughput and latency tests with the report shape of Kafka's
//! ProducerPerformance / ConsumerPerformance.

mod consume;
mod produce;
mod stats;

use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct PerfArgs {
    #[command(subcommand)]
    command: PerfCommand,
}

#[derive(Subcommand, Debug)]
enum PerfCommand {
    /// Send records as fast as allowed and report acknowledgement latency (like kafka-producer-perf-test.sh).
    Produce(produce::ProduceArgs),
    /// Read records and report throughput and end-to-end latency (like kafka-consumer-perf-test.sh).
    Consume(consume::ConsumeArgs),
}

pub fn run(args: PerfArgs) -> i32 {
    match args.command {
        PerfCommand::Produce(a) => produce::run(a),
        PerfCommand::Consume(a) => consume::run(a),
    }
}
