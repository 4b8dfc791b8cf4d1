//! The relay's endpoints as a closed set: which path is which route, its
//! method, and the name logs and metrics know it by. A leaf: `routes`
//! dispatches on it, `metrics` counts by it, neither through the other.

closed_set! {
    /// The relay's endpoints; `metrics` keeps their counters in the order of
    /// [`Route::ALL`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Route {
        Health,
        Observe,
        Refer,
        Version,
        Watchdog,
        Metrics,
        Deliberate,
        RespondObservables,
        RespondTrigger,
        Tiles,
        Tile,
        TileData,
    }
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
            "/deliberate/observables" => Some(Route::Deliberate),
            "/respond/observables" => Some(Route::RespondObservables),
            "/respond/trigger" => Some(Route::RespondTrigger),
            "/tiles" => Some(Route::Tiles),
            "/tiles/tile" => Some(Route::Tile),
            "/tiles/tile-data" => Some(Route::TileData),
            _ => None,
        }
    }

    pub fn method(self) -> &'static str {
        match self {
            Route::Watchdog | Route::Metrics => "GET",
            Route::Health
            | Route::Observe
            | Route::Refer
            | Route::Version
            | Route::Deliberate
            | Route::RespondObservables
            | Route::RespondTrigger
            | Route::Tiles
            | Route::Tile
            | Route::TileData => "POST",
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
            Route::Deliberate => "deliberate",
            Route::RespondObservables => "respond_observables",
            Route::RespondTrigger => "respond_trigger",
            Route::Tiles => "tiles",
            Route::Tile => "tile",
            Route::TileData => "tile_data",
        }
    }
}
