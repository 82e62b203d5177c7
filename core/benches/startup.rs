//! How long an empty embedded broker takes to start (to accepting connections) and to stop cleanly.
//! Run: `cargo bench -p streamlet --bench startup`. Prints median and p99 over 50 runs.

use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let runs = 50;
    let (mut starts, mut stops) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let broker = streamlet::BrokerBuilder::new().listen("127.0.0.1:0").start().expect("start");
        std::net::TcpStream::connect(broker.local_addr()).expect("accepts connections");
        starts.push(t.elapsed());
        let t = Instant::now();
        broker.shutdown();
        stops.push(t.elapsed());
    }
    starts.sort();
    stops.sort();
    println!("embedded broker start (empty, ephemeral dir): median {:.2} ms, p99 {:.2} ms over {runs} runs",
        percentile(&starts, 0.5).as_secs_f64() * 1e3, percentile(&starts, 0.99).as_secs_f64() * 1e3);
    println!("embedded broker clean shutdown: median {:.2} ms, p99 {:.2} ms",
        percentile(&stops, 0.5).as_secs_f64() * 1e3, percentile(&stops, 0.99).as_secs_f64() * 1e3);
}
