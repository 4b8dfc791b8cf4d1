//! The XDR dashboard tiles of `/tiles`, `/tiles/tile` and
//! `/tiles/tile-data` (SPEC §6): their definitions and periods, the bodies
//! that ask for them, the data of each (`data`, pure), and the cache that
//! lets the four tiles of one key and period share one GTI listing
//! (`cache`). No GTI calls here: `app` fetches, this module counts.

use serde::Serialize;
use serde_json::Value;

use crate::observable::{quoted, PayloadError};

pub mod cache;
pub mod data;

pub use cache::TileCache;
pub use data::{tile_data, Listing};

/// A dashboard tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tile {
    Summary,
    BySeverity,
    PerDay,
    TopRules,
}

/// A tile's time span, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Last24Hours,
    Last7Days,
    Last30Days,
}

/// Every period, shortest first.
pub const PERIODS: [Period; 3] = [Period::Last24Hours, Period::Last7Days, Period::Last30Days];

/// The period a tile shows unless asked otherwise.
pub const DEFAULT_PERIOD: Period = Period::Last7Days;

/// Every tile, in the order `/tiles` lists them.
pub const TILES: [Tile; 4] = [
    Tile::Summary,
    Tile::BySeverity,
    Tile::PerDay,
    Tile::TopRules,
];

impl Period {
    pub fn id(self) -> &'static str {
        match self {
            Period::Last24Hours => "last_24_hours",
            Period::Last7Days => "last_7_days",
            Period::Last30Days => "last_30_days",
        }
    }

    /// How many 24-hour days it spans.
    pub fn days(self) -> u32 {
        match self {
            Period::Last24Hours => 1,
            Period::Last7Days => 7,
            Period::Last30Days => 30,
        }
    }
}

impl Tile {
    pub fn id(self) -> &'static str {
        match self {
            Tile::Summary => "gti-detection-summary",
            Tile::BySeverity => "gti-detections-by-severity",
            Tile::PerDay => "gti-detections-per-day",
            Tile::TopRules => "gti-top-rules",
        }
    }

    pub fn find(id: &str) -> Option<Tile> {
        TILES.iter().find(|tile| tile.id() == id).copied()
    }

    /// The periods it can show: a per-day chart of one day says nothing.
    pub fn periods(self) -> &'static [Period] {
        match self {
            Tile::PerDay => &PERIODS[1..],
            Tile::Summary | Tile::BySeverity | Tile::TopRules => &PERIODS,
        }
    }

    /// Its `/tiles` definition.
    pub fn definition(self) -> Definition {
        let (kind, title, short, description) = match self {
            Tile::Summary => (
                "metric_group",
                "GTI detections",
                "Active detections, high-severity ones, devices and rules",
                "How many active Gigamon ThreatINSIGHT detections were created or shared in the period, how many of them are of high-severity rules, and how many distinct devices and rules they involve.",
            ),
            Tile::BySeverity => (
                "donut_graph",
                "GTI detections by severity",
                "Active detections by rule severity and confidence",
                "The active Gigamon ThreatINSIGHT detections of the period by the severity of their rule (inner ring) and its confidence (outer ring).",
            ),
            Tile::PerDay => (
                "vertical_bar_chart",
                "GTI detections per day",
                "Active detections per UTC day, by severity",
                "The active Gigamon ThreatINSIGHT detections created on each UTC day of the period, stacked by the severity of their rule.",
            ),
            Tile::TopRules => (
                "markdown",
                "Top GTI detection rules",
                "The 10 rules with the most active detections",
                "The Gigamon ThreatINSIGHT rules with the most active detections in the period, with their severity, confidence and devices, each linked to the rule in the portal.",
            ),
        };
        Definition {
            id: self.id(),
            kind,
            title,
            tags: ["gigamon-threatinsight", "detections"],
            description,
            short_description: short,
            periods: self.periods().iter().map(|period| period.id()).collect(),
            default_period: DEFAULT_PERIOD.id(),
        }
    }
}

/// A tile as `/tiles` and `/tiles/tile` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    pub id: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub tags: [&'static str; 2],
    pub description: &'static str,
    pub short_description: &'static str,
    pub periods: Vec<&'static str>,
    pub default_period: &'static str,
}

/// Every definition, for `/tiles`.
pub fn definitions() -> Vec<Definition> {
    TILES.iter().map(|tile| tile.definition()).collect()
}

/// The tile a `/tiles/tile` or `/tiles/tile-data` body names, and the
/// period (the default when `period` is missing or null; `/tiles/tile`
/// ignores it); an unknown tile or period is the invalid-payload error
/// naming it.
pub fn parse_request(body: &[u8]) -> Result<(Tile, Period), PayloadError> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(PayloadError::schema(
            "Invalid input type: a JSON object is expected.",
        ));
    };
    let known_tiles: Vec<&str> = TILES.iter().map(|tile| tile.id()).collect();
    let tile = match fields.get("tile_id") {
        None => {
            return Err(PayloadError::field(
                "tile_id",
                "Missing data for required field.",
            ))
        }
        Some(Value::String(id)) => Tile::find(id).ok_or_else(|| {
            PayloadError::field(
                "tile_id",
                format!(
                    "Unknown tile {}; the tiles are {}.",
                    quoted(id),
                    known_tiles.join(", ")
                ),
            )
        })?,
        Some(_) => return Err(PayloadError::field("tile_id", "Not a valid string.")),
    };
    let period = match fields.get("period") {
        None | Some(Value::Null) => DEFAULT_PERIOD,
        Some(Value::String(id)) => tile
            .periods()
            .iter()
            .find(|period| period.id() == id)
            .copied()
            .ok_or_else(|| {
                let known: Vec<&str> = tile.periods().iter().map(|period| period.id()).collect();
                PayloadError::field(
                    "period",
                    format!(
                        "Unknown period {} for tile {}; its periods are {}.",
                        quoted(id),
                        tile.id(),
                        known.join(", ")
                    ),
                )
            })?,
        Some(_) => return Err(PayloadError::field("period", "Not a valid string.")),
    };
    Ok((tile, period))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_tiles_are_defined_with_their_periods() {
        let definitions = serde_json::to_value(definitions()).unwrap();
        let ids: Vec<&str> = TILES.iter().map(|tile| tile.id()).collect();
        assert_eq!(
            ids,
            [
                "gti-detection-summary",
                "gti-detections-by-severity",
                "gti-detections-per-day",
                "gti-top-rules"
            ]
        );
        assert_eq!(definitions[0]["type"], "metric_group");
        assert_eq!(definitions[1]["type"], "donut_graph");
        assert_eq!(definitions[2]["type"], "vertical_bar_chart");
        assert_eq!(definitions[3]["type"], "markdown");
        assert_eq!(
            definitions[0]["periods"],
            serde_json::json!(["last_24_hours", "last_7_days", "last_30_days"])
        );
        assert_eq!(
            definitions[2]["periods"],
            serde_json::json!(["last_7_days", "last_30_days"])
        );
        assert_eq!(definitions[3]["default_period"], "last_7_days");
    }

    #[test]
    fn requests_name_a_known_tile_and_period() {
        assert_eq!(
            parse_request(br#"{"tile_id": "gti-top-rules", "period": "last_30_days"}"#),
            Ok((Tile::TopRules, Period::Last30Days))
        );
        assert_eq!(
            parse_request(br#"{"tile_id": "gti-detections-per-day"}"#),
            Ok((Tile::PerDay, Period::Last7Days))
        );
        let message = |body: &[u8]| {
            crate::error::RelayError::from(parse_request(body).unwrap_err()).message()
        };
        assert!(message(br#"{"tile_id": "gti-nope"}"#).contains(r#"Unknown tile 'gti-nope'"#));
        assert!(
            message(br#"{"tile_id": "gti-detections-per-day", "period": "last_24_hours"}"#)
                .contains(r#"Unknown period 'last_24_hours' for tile gti-detections-per-day"#)
        );
        assert!(
            message(br#"{"tile_id": "gti-top-rules", "period": "last_year"}"#)
                .contains(r#"Unknown period 'last_year'"#)
        );
        assert!(message(b"{}").contains("tile_id"));
        assert!(message(b"[]").starts_with("Invalid JSON payload received."));
    }
}
