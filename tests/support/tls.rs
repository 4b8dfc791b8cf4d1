//! A TLS server on `127.0.0.1:0` with a self-signed certificate, standing in
//! for a GTI endpoint whose certificate cannot be verified. It only drives
//! handshakes (which the relay must refuse) and counts the connections.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const CERT: &[u8] = include_bytes!("../fixtures/tls/self-signed-cert.pem");
const KEY: &[u8] = include_bytes!("../fixtures/tls/self-signed-key.pem");

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
