//! Latency and throughput figures: a window for the periodic progress lines, and the whole run (sampled, as
//! Kafka's ProducerPerformance does, to bound memory) for the final report with percentiles.

use std::time::{Duration, Instant};

/// At most this many latencies are kept for the percentiles.
const MAX_SAMPLES: u64 = 500_000;

pub struct Stats {
    start: Instant,
    sampling: u64,
    samples: Vec<u32>,
    count: u64,
    bytes: u64,
    total_latency: u64,
    max_latency: u32,
    window: Window,
    verb: &'static str,
}

struct Window {
    start: Instant,
    count: u64,
    bytes: u64,
    total_latency: u64,
    max_latency: u32,
}

impl Window {
    fn new() -> Window {
        Window { start: Instant::now(), count: 0, bytes: 0, total_latency: 0, max_latency: 0 }
    }
}

fn line(verb: &str, count: u64, bytes: u64, elapsed: Duration, total_latency: u64, max_latency: u32) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let avg = if count == 0 { 0.0 } else { total_latency as f64 / count as f64 };
    format!(
        "{count} records {verb}, {:.1} records/sec ({:.2} MB/sec), {avg:.1} ms avg latency, {:.1} ms max latency",
        count as f64 / secs,
        bytes as f64 / 1024.0 / 1024.0 / secs,
        max_latency as f64,
    )
}

impl Stats {
    /// `expected`: the records the run is meant to see (sizes the sampling); `verb`: "sent" / "received".
    pub fn new(expected: u64, verb: &'static str) -> Stats {
        let sampling = (expected / MAX_SAMPLES).max(1);
        Stats {
            start: Instant::now(),
            sampling,
            samples: Vec::with_capacity((expected / sampling).min(MAX_SAMPLES) as usize + 1),
            count: 0,
            bytes: 0,
            total_latency: 0,
            max_latency: 0,
            window: Window::new(),
            verb,
        }
    }

    pub fn record(&mut self, latency_ms: u64, bytes: usize) {
        let l = latency_ms.min(u32::MAX as u64) as u32;
        // Every `sampling`-th latency (rem_euclid keeps this within the MSRV, unlike is_multiple_of).
        if self.count.rem_euclid(self.sampling) == 0 {
            self.samples.push(l);
        }
        self.count += 1;
        self.bytes += bytes as u64;
        self.total_latency += l as u64;
        self.max_latency = self.max_latency.max(l);
        let w = &mut self.window;
        w.count += 1;
        w.bytes += bytes as u64;
        w.total_latency += l as u64;
        w.max_latency = w.max_latency.max(l);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The progress line for the window since the last call, once `every` has passed (then a new window).
    pub fn progress(&mut self, every: Duration) -> Option<String> {
        if self.window.start.elapsed() < every {
            return None;
        }
        let w = std::mem::replace(&mut self.window, Window::new());
        Some(format!("{}.", line(self.verb, w.count, w.bytes, w.start.elapsed(), w.total_latency, w.max_latency)))
    }

    /// Kafka's final line: totals, then the 50th, 95th, 99th and 99.9th percentiles.
    pub fn report(&mut self) -> String {
        self.samples.sort_unstable();
        let pct = |p: f64| -> u32 {
            if self.samples.is_empty() {
                return 0;
            }
            let i = ((p * self.samples.len() as f64) as usize).min(self.samples.len() - 1);
            self.samples[i]
        };
        format!(
            "{}, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
            line(self.verb, self.count, self.bytes, self.start.elapsed(), self.total_latency, self.max_latency),
            pct(0.5),
            pct(0.95),
            pct(0.99),
            pct(0.999)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Stats;
    use std::time::Duration;

    #[test]
    fn percentiles_and_averages() {
        let mut s = Stats::new(1000, "sent");
        for i in 1..=1000u64 {
            s.record(i, 100);
        }
        let r = s.report();
        assert!(r.starts_with("1000 records sent, "), "{r}");
        assert!(r.contains("500.5 ms avg latency, 1000.0 ms max latency"), "{r}");
        assert!(r.ends_with("501 ms 50th, 951 ms 95th, 991 ms 99th, 1000 ms 99.9th."), "{r}");
        assert!(s.progress(Duration::ZERO).unwrap().starts_with("1000 records sent, "));
        assert!(s.progress(Duration::from_secs(3600)).is_none());
    }
}
