//! TLS servers on `127.0.0.1:0`: [`SelfSignedServer`], a GTI endpoint whose
//! self-signed certificate cannot be verified (it only drives handshakes,
//! which the relay must refuse, and counts the connections); and
//! [`TlsFront`], a TLS-intercepting proxy in miniature: it terminates TLS
//! with a certificate of the test CA (`tests/fixtures/tls/README.md`) and
//! passes the plain bytes on to a backend such as the mock GTI.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const CERT: &[u8] = include_bytes!("../../fixtures/tls/self-signed-cert.pem");
const KEY: &[u8] = include_bytes!("../../fixtures/tls/self-signed-key.pem");

pub struct SelfSignedServer {
    pub address: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl SelfSignedServer {
    pub fn start() -> SelfSignedServer {
        let certificate = CertificateDer::from_pem_slice(CERT).expect("fixture certificate");
        let key = PrivateKeyDer::from_pem_slice(KEY).expect("fixture key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the TLS server");
        let address = listener.local_addr().expect("TLS server address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                let config = Arc::clone(&config);
                thread::spawn(move || {
                    let Ok(connection) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(connection, stream);
                    // The handshake fails on the client's side; reading
                    // drives it until then.
                    let mut buffer = [0u8; 1024];
                    while matches!(tls.read(&mut buffer), Ok(read) if read > 0) {}
                });
            }
        });
        SelfSignedServer {
            address,
            connections,
        }
    }

    /// An `https://` base URL for this server.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.address)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

const CA_SERVER_CERT: &[u8] = include_bytes!("../../fixtures/tls/test-ca-server-cert.pem");
const CA_SERVER_KEY: &[u8] = include_bytes!("../../fixtures/tls/test-ca-server-key.pem");

/// The test CA's root certificate, for `GTI_CA_FILE`.
pub fn test_ca_file() -> String {
    format!(
        "{}/tests/fixtures/tls/test-ca-cert.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The longest a connection through the front stays open.
const FRONT_CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// How long one side is waited for before the other is looked at.
const POLL: Duration = Duration::from_millis(2);

/// TLS on the outside (certificate of the test CA for 127.0.0.1), plain TCP
/// to `backend` on the inside.
pub struct TlsFront {
    pub address: SocketAddr,
    connections: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
}

impl TlsFront {
    pub fn start(backend: SocketAddr) -> TlsFront {
        let certificate =
            CertificateDer::from_pem_slice(CA_SERVER_CERT).expect("fixture certificate");
        let key = PrivateKeyDer::from_pem_slice(CA_SERVER_KEY).expect("fixture key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the TLS front");
        let address = listener.local_addr().expect("TLS front address");
        let connections = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let (counted, stop) = (Arc::clone(&connections), Arc::clone(&stopping));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let config = Arc::clone(&config);
                thread::spawn(move || {
                    let _ = relay_tls(config, stream, backend);
                });
            }
        });
        TlsFront {
            address,
            connections,
            stopping,
        }
    }

    /// An `https://` base URL on the front.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.address)
    }

    /// Connections accepted (handshakes tried).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
    }
}

fn would_block(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Passes bytes both ways between the TLS client and the backend, polling
/// each side briefly in turn (a rustls connection is one object, so one
/// thread drives both directions), until either side closes.
fn relay_tls(
    config: Arc<rustls::ServerConfig>,
    client: TcpStream,
    backend: SocketAddr,
) -> io::Result<()> {
    client.set_read_timeout(Some(POLL))?;
    let mut backend = TcpStream::connect(backend)?;
    backend.set_read_timeout(Some(POLL))?;
    let connection = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, client);
    let started = Instant::now();
    let mut buffer = vec![0u8; 64 * 1024];
    while started.elapsed() < FRONT_CONNECTION_LIFETIME {
        match tls.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => backend.write_all(&buffer[..read])?,
            Err(error) if would_block(&error) => {}
            Err(_) => break,
        }
        match backend.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => {
                tls.write_all(&buffer[..read])?;
                tls.flush()?;
            }
            Err(error) if would_block(&error) => {}
            Err(_) => break,
        }
    }
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}
