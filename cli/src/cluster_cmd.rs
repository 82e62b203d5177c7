//! `streamlet cluster`: a local cluster of N brokers in this process (each a broker and a metadata voter, with
//! its own listener and data dir), for development; stops on Ctrl-C or SIGTERM.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use streamlet::ClusterBuilder;

#[derive(Args)]
#[command(after_help = "Examples:\n  streamlet cluster --brokers 3\n  streamlet cluster --brokers 3 --data-dir /tmp/sl-cluster")]
pub struct ClusterArgs {
    /// How many brokers.
    #[arg(long, default_value_t = 3)]
    brokers: usize,
    /// Node i keeps its data in DIR/node-i (default: a temp dir removed on exit).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A broker property for every node, key=value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

pub fn run(args: ClusterArgs) -> i32 {
    if args.brokers == 0 {
        eprintln!("error: --brokers must be at least 1");
        return 2;
    }
    let mut builder = ClusterBuilder::new(args.brokers);
    if let Some(d) = &args.data_dir {
        builder = builder.data_dir(d);
    }
    for kv in &args.set {
        let Some((k, v)) = kv.split_once('=') else {
            eprintln!("error: --set expects KEY=VALUE, got '{kv}'");
            return 2;
        };
        builder = builder.config(k.trim(), v.trim());
    }
    let mut cluster = match builder.start() {
        Ok(c) => c,
        Err(e) => return crate::common::start_failure(&e),
    };
    let signals = crate::common::TerminationSignals::install();
    println!("bootstrap.servers={}", cluster.bootstrap_servers());
    let _ = std::io::stdout().flush();
    signals.wait();
    tracing::info!("shutting down");
    for i in 0..args.brokers {
        cluster.stop(i);
    }
    0
}
