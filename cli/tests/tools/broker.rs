//! `streamlet broker`: exit codes for bad settings and data dirs, and what its log looks like in a file or a pipe.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::{command, finish, run};

#[test]
fn an_invalid_setting_is_bad_usage_and_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    run(&["broker", "--listen", "127.0.0.1:0", "--data-dir", d, "--set", "num.partitions=lots"])
        .fails(2, "invalid value 'lots' for configuration 'num.partitions'");
}

#[test]
fn a_data_dir_that_is_a_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let r = run(&["broker", "--listen", "127.0.0.1:0", "--data-dir", file.to_str().unwrap()]).fails(1, "not a directory");
    assert!(!r.stderr.contains("File exists"), "{r:?}");
}

/// Starts a broker with `env`, waits for it to listen, stops it with SIGTERM and returns what it logged.
fn log_of_a_broker_run(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(&["broker", "--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap()]);
    cmd.stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn streamlet broker");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    // SIGTERM, as a service manager stops it (the CLI has no libc dependency to send it directly).
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let r = finish(child, "broker");
    assert_eq!(r.code, 0, "{r:?}");
    r.stderr
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let log = log_of_a_broker_run(&[]);
    assert!(log.contains("broker started"), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI escape in a piped log: {log:?}");
}

#[test]
fn json_log_format_gives_one_object_per_line() {
    let log = log_of_a_broker_run(&[("STREAMLET_LOG_FORMAT", "json")]);
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(l.starts_with('{') && l.ends_with('}'), "not a JSON object: {l}");
        assert!(l.contains("\"level\":") && l.contains("\"fields\":"), "{l}");
    }
    assert!(lines.iter().any(|l| l.contains("broker started")), "{log}");
}
