//! `streamlet broker`: runs a broker until SIGINT or SIGTERM.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use streamlet::config::{read_properties_file, Props};
use streamlet::BrokerBuilder;

#[derive(Args)]
#[command(after_help = "Examples:\n  streamlet broker\n  streamlet broker --listen 127.0.0.1:0 --data-dir /tmp/sl\n  streamlet broker --config server.properties --set num.partitions=3")]
pub struct BrokerArgs {
    /// Directory for the logs and metadata [default: log.dirs, else ./streamlet-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HOST:PORT to listen on (port 0 picks a free port) [default: listeners, else 127.0.0.1:9092].
    #[arg(long)]
    listen: Option<String>,
    /// A Kafka server.properties file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A broker property, key=value (repeatable; wins over --config).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

pub fn run(args: BrokerArgs) -> i32 {
    let mut props = Props::new();
    if let Some(path) = &args.config {
        match read_properties_file(path) {
            Ok(p) => props.extend(p),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    for kv in &args.set {
        let Some((k, v)) = kv.split_once('=') else {
            eprintln!("error: --set expects KEY=VALUE, got '{kv}'");
            return 2;
        };
        props.insert(k.trim().to_string(), v.trim().to_string());
    }
    // A server.properties' listeners and log.dirs apply unless the command line says otherwise.
    let mut builder = BrokerBuilder::new();
    match &args.data_dir {
        Some(d) => builder = builder.data_dir(d),
        None if !props.contains_key("log.dirs") && !props.contains_key("log.dir") => builder = builder.data_dir("./streamlet-data"),
        None => {}
    }
    if let Some(l) = &args.listen {
        builder = builder.listen(l);
    }
    let broker = match builder.configs(props).start() {
        Ok(b) => b,
        Err(e) => return crate::common::start_failure(&e),
    };
    let signals = crate::common::TerminationSignals::install();
    println!("listening on {}", broker.local_addr());
    let _ = std::io::stdout().flush();
    signals.wait();
    tracing::info!("shutting down");
    broker.shutdown();
    0
}
