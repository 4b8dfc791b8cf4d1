//! The relay's listener: a tiny_http server, a fixed pool of `WORKERS`
//! request threads (`worker`), the conversion between tiny_http's types and
//! the handlers' own (`adapter`), and a graceful shutdown. The only
//! tiny_http code outside the simulated GTI.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use log::error;

use crate::app::App;
use crate::error::StartError;
use crate::memory::Releaser;

mod adapter;
mod worker;

/// A running relay: its listener and worker threads.
pub struct Server {
    http: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    address: SocketAddr,
}

/// Binds `listen` (`HOST:PORT` in production; tests and the demo pick
/// their own) and starts the workers.
pub fn start(app: Arc<App>, listen: &str) -> Result<Server, StartError> {
    let cannot_listen = |reason: String| StartError::Listen {
        address: listen.to_owned(),
        reason,
    };
    let http = tiny_http::Server::http(listen).map_err(|error| cannot_listen(error.to_string()))?;
    let address = http
        .server_addr()
        .to_ip()
        .ok_or_else(|| cannot_listen("not an IP socket".to_owned()))?;
    let http = Arc::new(http);
    let stop = Arc::new(AtomicBool::new(false));
    // Stops with the last worker (each holds it).
    let releaser = Arc::new(Releaser::start());
    let mut workers = Vec::with_capacity(app.config.workers());
    for index in 0..app.config.workers() {
        let (http, stop, app) = (Arc::clone(&http), Arc::clone(&stop), Arc::clone(&app));
        let releaser = Arc::clone(&releaser);
        let worker = std::thread::Builder::new()
            .name(format!("worker-{index}"))
            .spawn(move || worker::serve_until_stopped(&http, &stop, &app, &releaser))
            .map_err(|error| StartError::Thread {
                what: "the worker threads",
                error,
            })?;
        workers.push(worker);
    }
    Ok(Server {
        http,
        stop,
        workers,
        address,
    })
}

impl Server {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops taking requests, lets the workers finish the ones they hold,
    /// and waits for them.
    pub fn shutdown(self) {
        self.stopper().stop();
        self.join();
    }

    /// Waits until the workers stop (after [`Server::shutdown`] from elsewhere
    /// or never, for a server that runs until the process ends).
    pub fn join(self) {
        for worker in self.workers {
            if worker.join().is_err() {
                error!("a worker thread ended with a panic");
            }
        }
        drop(self.http);
    }

    /// Stops the server gracefully on SIGTERM or SIGINT: no new requests are
    /// taken, the ones in progress finish. A second signal ends the process
    /// at once, for an operator who does not want to wait.
    pub fn stop_on_signals(&self) -> std::io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        for signal in [SIGTERM, SIGINT] {
            flag::register_conditional_shutdown(signal, 1, Arc::clone(&self.stop))?;
            flag::register(signal, Arc::clone(&self.stop))?;
        }
        // A signal handler may only set the flag; one thread looks at it
        // and wakes the workers, which otherwise sleep until a request.
        let stopper = self.stopper();
        std::thread::Builder::new()
            .name("signal-watch".to_owned())
            .spawn(move || {
                while !stopper.flag.load(Ordering::SeqCst) {
                    std::thread::sleep(SIGNAL_POLL);
                }
                stopper.stop();
            })
            .map(drop)
    }

    /// A handle that can stop the server from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            flag: Arc::clone(&self.stop),
            http: Arc::clone(&self.http),
            workers: self.workers.len(),
        }
    }
}

/// How often the signal watcher looks at the stop flag: the one periodic
/// wake-up of an idle relay.
const SIGNAL_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Stops a [`Server`] from another thread.
#[derive(Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    http: Arc<tiny_http::Server>,
    workers: usize,
}

impl Stopper {
    /// Sets the stop flag and wakes every worker waiting for a request (one
    /// wake-up each; a worker busy with a request sees the flag when done).
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        for _ in 0..self.workers {
            self.http.unblock();
        }
    }
}
