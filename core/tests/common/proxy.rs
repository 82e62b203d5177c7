//! A TCP proxy in front of a broker that counts a connection's Produce requests waiting for their response, so
//! that tests can see how many a client pipelines. It holds each response `delay` before passing it on, which
//! gives a client time to send more. Start the broker with `advertised.listeners` set to the proxy's address
//! so that clients stay on it after bootstrap. Not for acks=0 (those requests get no response).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct ProxyStats {
    /// The most Produce requests one connection had waiting for a response at once.
    pub max_produce_in_flight: AtomicUsize,
    pub produce_requests: AtomicUsize,
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub stats: Arc<ProxyStats>,
    target: Arc<Mutex<Option<SocketAddr>>>,
}

impl Proxy {
    /// Listens on a free loopback port; connections are accepted once `forward_to` names the broker.
    pub fn bind(delay: Duration) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(ProxyStats::default());
        let target: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let (s, t) = (stats.clone(), target.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Some(to) = *t.lock().unwrap() else { continue };
                let Ok(server) = TcpStream::connect(to) else { continue };
                relay(client, server, s.clone(), delay);
            }
        });
        Proxy { addr, stats, target }
    }

    pub fn forward_to(&self, broker: SocketAddr) {
        *self.target.lock().unwrap() = Some(broker);
    }

    pub fn max_produce_in_flight(&self) -> usize {
        self.stats.max_produce_in_flight.load(Ordering::SeqCst)
    }
}

fn read_frame(r: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).ok()?;
    let mut frame = len.to_vec();
    frame.resize(4 + i32::from_be_bytes(len).max(0) as usize, 0);
    r.read_exact(&mut frame[4..]).ok()?;
    Some(frame)
}

fn relay(mut client: TcpStream, mut server: TcpStream, stats: Arc<ProxyStats>, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    // Api keys of the requests on the wire, in order (a broker answers a connection's requests in order).
    let asked: Arc<Mutex<VecDeque<i16>>> = Arc::default();
    let produce_waiting = Arc::new(AtomicUsize::new(0));
    let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (a, w, st) = (asked.clone(), produce_waiting.clone(), stats.clone());
    std::thread::spawn(move || {
        while let Some(frame) = read_frame(&mut c_in) {
            let api = i16::from_be_bytes([frame[4], frame[5]]);
            a.lock().unwrap().push_back(api);
            if api == 0 {
                st.produce_requests.fetch_add(1, Ordering::SeqCst);
                let now = w.fetch_add(1, Ordering::SeqCst) + 1;
                st.max_produce_in_flight.fetch_max(now, Ordering::SeqCst);
            }
            if s_out.write_all(&frame).is_err() {
                break;
            }
        }
        let _ = s_out.shutdown(std::net::Shutdown::Both);
    });
    std::thread::spawn(move || {
        while let Some(frame) = read_frame(&mut server) {
            std::thread::sleep(delay);
            if asked.lock().unwrap().pop_front() == Some(0) {
                produce_waiting.fetch_sub(1, Ordering::SeqCst);
            }
            if client.write_all(&frame).is_err() {
                break;
            }
        }
        let _ = client.shutdown(std::net::Shutdown::Both);
    });
}
