//! The relay's endpoints as a closed set: which path is which route, its
//! method, and the name logs and metrics know it by. A leaf: `routes`
//! dispatches on it, `metrics` counts by it, neither through the other.

/// The relay's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    Observe,
    Refer,
    Version,
    Watchdog,
    Metrics,
}

impl Route {
    /// The route of `path`, or `None` for an unknown one (404).
    pub fn find(path: &str) -> Option<Route> {
        // A trailing slash is accepted, as Flask's non-strict slashes do.
        let path = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => path,
        };
        match path {
            "/health" => Some(Route::Health),
            "/observe/observables" => Some(Route::Observe),
            "/refer/observables" => Some(Route::Refer),
            "/version" => Some(Route::Version),
            "/watchdog" => Some(Route::Watchdog),
            "/metrics" => Some(Route::Metrics),
            _ => None,
        }
    }

    pub fn method(self) -> &'static str {
        match self {
            Route::Watchdog | Route::Metrics => "GET",
            Route::Health | Route::Observe | Route::Refer | Route::Version => "POST",
        }
    }

    /// A label for logs and metrics: never the raw path.
    pub fn name(self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::Observe => "observe",
            Route::Refer => "refer",
            Route::Version => "version",
            Route::Watchdog => "watchdog",
            Route::Metrics => "metrics",
        }
    }
}
