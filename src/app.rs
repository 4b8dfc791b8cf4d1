//! The relay's shared state, built once from [`Config`] and handed to every
//! request: the authenticator (with its JWKS cache), the GTI client, the
//! I/O thread pool whose size bounds the GTI calls in flight, and the
//! metrics they all record into.

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::gti::{self, GtiApi, HttpGti};
use crate::metrics::Metrics;

/// Everything a request handler needs; shared by all worker threads.
pub struct App {
    pub config: Config,
    pub auth: Authenticator,
    pub gti: Box<dyn GtiApi>,
    /// Runs the workflow's GTI calls. Rayon's global pool is sized for CPUs;
    /// these threads mostly wait on the network, so the pool is sized by
    /// `GTI_MAX_INFLIGHT` instead, which also caps the calls in flight.
    pub io_pool: rayon::ThreadPool,
    /// This relay's counters, served by `GET /metrics`. Per app, not global,
    /// so that relays sharing a process (tests) keep separate counts.
    pub metrics: Arc<Metrics>,
}

impl App {
    /// The production relay: GTI and JWKS reached through one pooled agent.
    pub fn new(config: Config) -> Result<App, rayon::ThreadPoolBuildError> {
        let agent = gti::http_agent(&config);
        let metrics = Arc::new(Metrics::new());
        let gti = HttpGti::new(&config, agent.clone()).with_observer(Arc::clone(&metrics) as _);
        App::with_gti(config, agent, Box::new(gti), metrics)
    }

    /// A relay with another GTI implementation (tests, demo). `metrics` is
    /// the registry `/metrics` serves; give `gti` the same one (e.g.
    /// [`HttpGti::with_observer`]) to see its calls there.
    pub fn with_gti(
        config: Config,
        agent: ureq::Agent,
        gti: Box<dyn GtiApi>,
        metrics: Arc<Metrics>,
    ) -> Result<App, rayon::ThreadPoolBuildError> {
        let io_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.gti_max_inflight)
            .thread_name(|index| format!("gti-io-{index}"))
            .build()?;
        let auth = Authenticator::new(&config, agent).with_observer(Arc::clone(&metrics) as _);
        Ok(App {
            config,
            auth,
            gti,
            io_pool,
            metrics,
        })
    }
}
