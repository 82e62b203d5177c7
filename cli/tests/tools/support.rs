//! Running the binary with a deadline, and an embedded broker per test.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use streamlet::client::admin::{Admin, NewTopic};
use streamlet::Broker;

/// No tool run by these tests should take this long; past it the child is killed and the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.code, self.stdout, self.stderr)
    }
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self
    }
    pub fn fails(self, code: i32, stderr_part: &str) -> Run {
        assert_eq!(self.code, code, "expected exit {code}: {self:?}");
        assert!(self.stderr.contains(stderr_part), "stderr should mention '{stderr_part}': {self:?}");
        self
    }
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_streamlet"));
    c.args(args).env_remove("STREAMLET_LOG").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn reader(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

/// Waits for a spawned child (stdout/stderr piped), killing it at the deadline.
pub fn finish(mut child: Child, what: &str) -> Run {
    // A caller may have taken stdout to read it as it comes (waiting for "listening on"): it is then empty here.
    let out = child.stdout.take().map(reader);
    let err = reader(child.stderr.take().unwrap());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`streamlet {what}` did not finish within {DEADLINE:?}; stderr: {}", err.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run { code: status.code().unwrap_or(-1), stdout: out.map(|o| o.join().unwrap()).unwrap_or_default(), stderr: err.join().unwrap() }
}

/// Runs `streamlet ARGS` with `stdin` as its input.
pub fn run_with_input(args: &[&str], stdin: &str) -> Run {
    let mut child = command(args).spawn().expect("spawn streamlet");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let r = finish(child, &args.join(" "));
    writer.join().unwrap();
    r
}

pub fn run(args: &[&str]) -> Run {
    run_with_input(args, "")
}

pub fn broker() -> Broker {
    Broker::builder().listen("127.0.0.1:0").config("group.initial.rebalance.delay.ms", "0").config("offsets.topic.num.partitions", "1").start().expect("broker")
}

pub fn broker_in(dir: &Path) -> Broker {
    Broker::builder().data_dir(dir).listen("127.0.0.1:0").config("group.initial.rebalance.delay.ms", "0").config("offsets.topic.num.partitions", "1").start().expect("broker")
}

pub fn admin(broker: &Broker) -> Admin {
    let props: BTreeMap<String, String> =
        [("bootstrap.servers".to_string(), broker.bootstrap_servers()), ("request.timeout.ms".to_string(), "15000".to_string())].into();
    Admin::new(&props).expect("admin")
}

pub fn create_topic(broker: &Broker, name: &str, partitions: i32) {
    let r = admin(broker).create_topics(&[NewTopic::new(name, partitions, 1)], false).expect("create_topics");
    assert!(r[0].1.is_ok(), "{r:?}");
}

/// `--bootstrap-server ADDR` followed by `args`.
pub fn with_bootstrap<'a>(broker_addr: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--bootstrap-server", broker_addr]);
    v
}

/// A port nothing listens on.
pub fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap().to_string();
    drop(l);
    a
}

/// Polls `cond` until it holds, failing with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A tool left running by a test; killed (and reaped) if the test fails before it ends on its own.
pub struct Running(pub Child);

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        Running(cmd.spawn().expect("spawn streamlet"))
    }

    pub fn interrupt(&self) {
        let status = Command::new("kill").args(["-INT", &self.0.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -INT {} failed", self.0.id());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
