//! What every client tool shares: `--bootstrap-server` and `--command-config`, `k=v` properties, exit codes,
//! and error reporting.

use std::fmt::Display;
use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use streamlet::client::consumer::ConsumerError;
use streamlet::client::ClientError;
use streamlet::config::{read_properties_file, ConfigError, Props};
use streamlet::protocol::ErrorCode;

/// Exit codes: 0 done; 1 the operation failed (a broker error such as an unknown topic); 2 bad usage (clap
/// uses 2 as well); 3 the broker could not be reached or did not answer in time.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_UNREACHABLE: i32 = 3;

#[derive(Args, Clone, Debug)]
pub struct ClientArgs {
    /// Kafka broker(s) to connect to, HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT", default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// A properties file of client settings (Kafka property names); --bootstrap-server wins over it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<PathBuf>,
}

/// A tool's failure: the message for stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Display) -> Failure {
        Failure { code: EXIT_USAGE, message: message.to_string() }
    }
    pub fn failed(message: impl Display) -> Failure {
        Failure { code: EXIT_FAILED, message: message.to_string() }
    }

    /// Prefixes the message: "cannot create topic 'x': ...".
    pub fn with_context(self, context: &str) -> Failure {
        Failure { code: self.code, message: format!("{context}: {}", self.message) }
    }
}

/// Kafka's name of an error code, as its tools print it (TOPIC_ALREADY_EXISTS).
pub fn error_name(code: ErrorCode) -> String {
    if let ErrorCode::Unknown(n) = code {
        return format!("UNKNOWN_ERROR_CODE_{n}");
    }
    let camel = format!("{code:?}");
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// A client error as one line: Kafka's error name and meaning for broker errors.
pub fn describe_error(e: &ClientError) -> String {
    match e {
        ClientError::Kafka { code, message } => {
            let detail = message.as_deref().filter(|m| !m.is_empty()).map(|m| format!(": {m}")).unwrap_or_default();
            format!("{}{detail}", error_name(*code))
        }
        ClientError::Connection { .. } => format!("cannot reach the broker: {e}"),
        ClientError::Timeout(_) => format!("no answer in time: {e}"),
        e => e.to_string(),
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        let code = match &e {
            ClientError::Connection { .. } | ClientError::Timeout(_) => EXIT_UNREACHABLE,
            ClientError::Config(_) => EXIT_USAGE,
            _ => EXIT_FAILED,
        };
        Failure { code, message: describe_error(&e) }
    }
}

impl From<ConsumerError> for Failure {
    fn from(e: ConsumerError) -> Failure {
        match e {
            ConsumerError::Client(c) => c.into(),
            e @ ConsumerError::InvalidArgument(_) => Failure::usage(e),
            e => Failure::failed(e),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        Failure::usage(format!("invalid configuration: {e}"))
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::failed(e)
    }
}

pub type ToolResult = Result<(), Failure>;

/// A producer's send error; a timeout there means metadata for the topic never came.
pub fn describe_send_error(e: &ClientError, topic: &str) -> String {
    match e {
        ClientError::Timeout(ms) => format!(
            "no metadata for topic '{topic}' after {ms} ms: it does not exist and the broker does not create it, or the broker is unreachable"
        ),
        e => describe_error(e),
    }
}

/// Runs a tool and turns its outcome into the process exit code, the error on stderr.
pub fn finish(r: ToolResult) -> i32 {
    match r {
        Ok(()) => 0,
        Err(f) if f.message.is_empty() => f.code,
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.code
        }
    }
}

/// `KEY=VALUE` as given to `--config`, `--property`, `--producer-property`...
pub fn parse_kv(option: &str, kv: &str) -> Result<(String, String), Failure> {
    match kv.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(Failure::usage(format!("{option} expects KEY=VALUE, got '{kv}'"))),
    }
}

impl ClientArgs {
    /// Client properties: the --command-config file, then `extra` (tool options), then bootstrap.servers.
    pub fn props(&self, extra: &[(String, String)]) -> Result<Props, Failure> {
        let mut props = Props::new();
        if let Some(path) = &self.command_config {
            props.extend(read_properties_file(path).map_err(|e| Failure::usage(format!("--command-config: {e}")))?);
        }
        for (k, v) in extra {
            props.insert(k.clone(), v.clone());
        }
        props.insert("bootstrap.servers".into(), self.bootstrap_server.clone());
        Ok(props)
    }

    pub fn admin(&self) -> Result<streamlet::client::admin::Admin, Failure> {
        // Only the admin's own keys: a shared client.properties may hold producer or consumer settings too.
        let props: Props = self.props(&[])?.into_iter().filter(|(k, _)| ["bootstrap.servers", "client.id", "request.timeout.ms"].contains(&k.as_str())).collect();
        Ok(streamlet::client::admin::Admin::new(&props)?)
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends the tool quietly instead of panicking.
pub fn out(line: impl AsRef<[u8]>) -> io::Result<()> {
    let mut o = io::stdout().lock();
    o.write_all(line.as_ref())?;
    o.write_all(b"\n")
}

/// Ends the process on a closed stdout (exit 0, as `head` closing the pipe is not a failure); other write
/// errors become failures.
pub fn out_or_exit(r: io::Result<()>) -> ToolResult {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        r => Ok(r?),
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Runs `f` on the first SIGINT/SIGTERM, from a small signal thread (handlers are in place when this returns).
/// A second signal ends the process at once (exit 130), should the clean-up hang on an unreachable broker.
pub fn on_signal(f: impl FnOnce() + Send + 'static) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            use tokio::signal::unix::{signal, SignalKind};
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("signal runtime");
            let (mut int, mut term) = rt.block_on(async {
                (signal(SignalKind::interrupt()).expect("SIGINT handler"), signal(SignalKind::terminate()).expect("SIGTERM handler"))
            });
            let _ = ready_tx.send(());
            let next = |int: &mut tokio::signal::unix::Signal, term: &mut tokio::signal::unix::Signal| {
                rt.block_on(async {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                })
            };
            next(&mut int, &mut term);
            std::thread::spawn(f);
            next(&mut int, &mut term);
            std::process::exit(130);
        })
        .expect("signal thread");
    let _ = ready_rx.recv();
}

/// SIGINT and SIGTERM caught, so that `wait` can block until one comes: how `streamlet broker` and
/// `streamlet cluster` wait to shut down. Installed before they print their address, so that a signal sent as soon
/// as the address appears (by a test or a service manager) shuts down cleanly instead of killing the process.
pub struct TerminationSignals {
    rt: tokio::runtime::Runtime,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl TerminationSignals {
    pub fn install() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("signal runtime");
        let (term, int) = rt.block_on(async {
            (signal(SignalKind::terminate()).expect("SIGTERM handler"), signal(SignalKind::interrupt()).expect("SIGINT handler"))
        });
        TerminationSignals { rt, term, int }
    }

    pub fn wait(mut self) {
        self.rt.block_on(async {
            tokio::select! {
                _ = self.int.recv() => {}
                _ = self.term.recv() => {}
            }
        });
    }
}

/// Exit status for a broker or cluster that failed to start: an invalid setting is bad usage (2, as the README
/// promises); anything else is a failure (1).
pub fn start_failure(e: &streamlet::broker::BrokerError) -> i32 {
    eprintln!("error: {e}");
    if matches!(e, streamlet::broker::BrokerError::Config(_)) { 2 } else { 1 }
}

/// A flag set on SIGINT/SIGTERM, for tools whose loop stops and cleans up.
pub fn stop_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = flag.clone();
    on_signal(move || f.store(true, std::sync::atomic::Ordering::SeqCst));
    flag
}
