//! A consumer-group member built on Streamlet's Rust consumer, for `tests/interop/test_groups.py` (not a user
//! example: those live in `examples/rust/`). It speaks the JSON-lines protocol of `tests/interop/group_member.py`:
//!
//!     interop_group_member BOOTSTRAP TOPIC GROUP ASSIGNOR SESSION_TIMEOUT_MS
//!
//! stdout: {"ev":"assign","parts":[..]} on every assignment change, {"ev":"rec","p":P,"o":O,"v":VALUE} per record,
//! {"ev":"committed","offsets":{"P":NEXT}} after a synchronous commit, {"ev":"closed"} after close,
//! {"ev":"error","msg":..}. stdin: "commit" | "close" (EOF = close).

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::Duration;

use streamlet::client::consumer::Consumer;

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn emit(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bootstrap, topic, group, assignor, session_ms] = args.as_slice() else {
        eprintln!("usage: interop_group_member BOOTSTRAP TOPIC GROUP ASSIGNOR SESSION_TIMEOUT_MS");
        std::process::exit(2);
    };
    let consumer = Consumer::from_props(&[
        ("bootstrap.servers", bootstrap.as_str()),
        ("group.id", group.as_str()),
        ("partition.assignment.strategy", assignor.as_str()),
        ("session.timeout.ms", session_ms.as_str()),
        ("heartbeat.interval.ms", "1000"),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        ("client.id", "streamlet-interop-member"),
    ])
    .unwrap_or_else(|e| {
        eprintln!("consumer: {e}");
        std::process::exit(2);
    });
    consumer.subscribe(&[topic.as_str()], None).expect("subscribe");

    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line.trim().to_string()).is_err() {
                return;
            }
        }
        let _ = tx.send("close".into());
    });

    let mut last: Option<Vec<i32>> = None;
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            Ok(records) => {
                for r in records {
                    let v = r.value.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                    emit(format!("{{\"ev\":\"rec\",\"p\":{},\"o\":{},\"v\":{}}}", r.partition, r.offset, json_str(&v)));
                }
            }
            Err(e) => emit(format!("{{\"ev\":\"error\",\"msg\":{}}}", json_str(&e.to_string()))),
        }
        let mut parts: Vec<i32> = consumer.assignment().into_iter().filter(|(t, _)| t == topic).map(|(_, p)| p).collect();
        parts.sort_unstable();
        if last.as_ref() != Some(&parts) {
            emit(format!("{{\"ev\":\"assign\",\"parts\":{parts:?}}}"));
            last = Some(parts);
        }
        while let Ok(cmd) = rx.try_recv() {
            match cmd.as_str() {
                "commit" => {
                    let positions: Vec<(i32, i64)> = consumer
                        .assignment()
                        .into_iter()
                        .filter_map(|tp| consumer.position(&tp).ok().map(|o| (tp.1, o)))
                        .collect();
                    match consumer.commit_sync(None) {
                        Ok(()) => {
                            let body: Vec<String> = positions.iter().map(|(p, o)| format!("\"{p}\":{o}")).collect();
                            emit(format!("{{\"ev\":\"committed\",\"offsets\":{{{}}}}}", body.join(",")));
                        }
                        Err(e) => emit(format!("{{\"ev\":\"error\",\"msg\":{}}}", json_str(&format!("commit: {e}")))),
                    }
                }
                "close" => {
                    if let Err(e) = consumer.close() {
                        emit(format!("{{\"ev\":\"error\",\"msg\":{}}}", json_str(&format!("close: {e}"))));
                    }
                    emit("{\"ev\":\"closed\"}".into());
                    return;
                }
                "" => {}
                other => emit(format!("{{\"ev\":\"error\",\"msg\":{}}}", json_str(&format!("unknown command {other}")))),
            }
        }
    }
}
