//! A corporate egress proxy in miniature: an HTTP CONNECT proxy on
//! `127.0.0.1:0` (threads and std::net) that records each request it gets
//! (request line and `Proxy-Authorization`) and tunnels to loopback targets
//! only. Everything is bounded: connections, header size, idle time.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The most tunnels open at once; more are refused.
const MAX_TUNNELS: usize = 256;
/// A request head larger than this is refused.
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// A tunnel idle this long is closed.
const IDLE: Duration = Duration::from_secs(30);

/// One request the proxy received.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    /// `CONNECT 127.0.0.1:4321 HTTP/1.1`.
    pub line: String,
    /// The `Proxy-Authorization` header, as sent.
    pub authorization: Option<String>,
}

impl ProxyRequest {
    /// The `host:port` of a CONNECT, `None` for other methods.
    pub fn connect_target(&self) -> Option<&str> {
        let mut words = self.line.split(' ');
        (words.next() == Some("CONNECT"))
            .then(|| words.next())
            .flatten()
    }
}

pub struct ConnectProxy {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<ProxyRequest>>>,
    stopping: Arc<AtomicBool>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let (log, stop) = (Arc::clone(&requests), Arc::clone(&stopping));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if open.load(Ordering::SeqCst) >= MAX_TUNNELS {
                    continue;
                }
                open.fetch_add(1, Ordering::SeqCst);
                let (log, open) = (Arc::clone(&log), Arc::clone(&open));
                thread::spawn(move || {
                    let _ = serve(stream, &log);
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        ConnectProxy {
            address,
            requests,
            stopping,
        }
    }

    /// `http://127.0.0.1:<port>`, for `HTTP_PROXY` and friends.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The proxy URL with `user:password@`.
    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.address)
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// How many CONNECTs named `127.0.0.1:<port>`.
    pub fn connects_to(&self, port: u16) -> usize {
        let target = format!("127.0.0.1:{port}");
        self.requests()
            .iter()
            .filter(|request| request.connect_target() == Some(target.as_str()))
            .count()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.address);
    }
}

/// One client connection: its CONNECT, then the tunnel until either side
/// closes or stays idle for [`IDLE`].
fn serve(mut client: TcpStream, log: &Mutex<Vec<ProxyRequest>>) -> io::Result<()> {
    client.set_read_timeout(Some(IDLE))?;
    let head = read_head(&mut client)?;
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default().to_owned();
    let authorization = lines
        .filter_map(|header| header.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, value)| value.trim().to_owned());
    let request = ProxyRequest {
        line,
        authorization,
    };
    log.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(request.clone());

    let Some(target) = request.connect_target() else {
        return client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
    };
    // Only this machine is ever reached through the test proxy.
    let allowed = target.starts_with("127.0.0.1:") || target.starts_with("localhost:");
    let upstream = match allowed.then(|| TcpStream::connect(target)) {
        Some(Ok(upstream)) => upstream,
        Some(Err(_)) => {
            return client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        }
        None => return client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
    };
    upstream.set_read_timeout(Some(IDLE))?;
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let (mut client_in, mut upstream_out) = (client.try_clone()?, upstream.try_clone()?);
    let inbound = thread::spawn(move || {
        let _ = io::copy(&mut client_in, &mut upstream_out);
        let _ = upstream_out.shutdown(Shutdown::Write);
    });
    let (mut upstream_in, mut client_out) = (upstream, client);
    let _ = io::copy(&mut upstream_in, &mut client_out);
    let _ = client_out.shutdown(Shutdown::Both);
    let _ = inbound.join();
    Ok(())
}

/// The request head, up to and without the blank line.
fn read_head(client: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD_BYTES || client.read(&mut byte)? == 0 {
            return Err(io::Error::other("no complete request head"));
        }
        head.push(byte[0]);
    }
    head.truncate(head.len() - 4);
    Ok(String::from_utf8_lossy(&head).into_owned())
}
