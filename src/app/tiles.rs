//! The dashboard tiles' data for `/tiles/tile-data` and `gti-relay tiles
//! TILE`: the key's active detections of a period, listed page by page
//! from GTI (or taken from the tile cache), then shaped by the pure
//! `tiles::tile_data`.

use std::time::Instant;

use serde_json::Value;

use super::App;
use crate::auth::Credentials;
use crate::error::RelayError;
use crate::gti::{self, DetectionPage, LIST_PAGE_SIZE, MAX_LIST_PAGES};
use crate::region::Region;
use crate::tiles::{self, Listing, Period, Tile};

impl App {
    /// The data of `tile` over `period` for `/tiles/tile-data` and
    /// `gti-relay tiles TILE`, from the key's cached listing or a new one;
    /// the period ends at `now` (milliseconds since the Unix epoch).
    pub fn tile_data(
        &self,
        credentials: &Credentials,
        tile: Tile,
        period: Period,
        now: u64,
        deadline: Instant,
    ) -> Result<Value, RelayError> {
        let owner = (credentials.region, credentials.key.as_str());
        let listing = self.tiles.get_or_fetch(&owner, period, || {
            self.list_detections(credentials.region, &credentials.key, period, now, deadline)
        })?;
        Ok(tiles::tile_data(
            tile,
            period,
            &listing,
            credentials.allow_test_accounts,
            now,
            &self.config.urls(credentials.region).portal,
        ))
    }

    /// The active detections created or shared in `period` (ending at
    /// `now`), page after page until a short one, at most
    /// [`MAX_LIST_PAGES`].
    fn list_detections(
        &self,
        region: Region,
        key: &str,
        period: Period,
        now: u64,
        deadline: Instant,
    ) -> Result<Listing, RelayError> {
        let window = gti::span_window(now, period.days());
        let mut listing = Listing::default();
        for page in 0..MAX_LIST_PAGES {
            let request = DetectionPage {
                window: window.clone(),
                offset: page * LIST_PAGE_SIZE,
            };
            let found = self
                .call_gti(region, key, vec![request], deadline)
                .pop()
                .unwrap_or_else(|| Err(self.deadline_error()))?;
            let full = found.detections.len() >= LIST_PAGE_SIZE;
            listing.detections.extend(found.detections);
            for rule in found.rules.into_iter().filter_map(|rule| rule.0) {
                if !listing
                    .rules
                    .iter()
                    .any(|known| known.uuid() == rule.uuid())
                {
                    listing.rules.push(rule);
                }
            }
            if !full {
                return Ok(listing);
            }
        }
        listing.capped = true;
        Ok(listing)
    }
}
