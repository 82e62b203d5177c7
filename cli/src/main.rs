//! `streamlet`: the broker and the everyday Kafka tools.

mod broker_cmd;

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
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STREAMLET_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Broker(args) => broker_cmd::run(args),
    };
    std::process::exit(code);
}
