//! The mapper fed events in the reference relay's own JSON shape: a GTI
//! event with `observable`, `detection` (`rule`, `account_uuid`,
//! `summary`) and `src.dhcp` / `dst.dhcp` spliced in, as its
//! `workflow/events_for_observable.json` fixture holds them. The golden-file
//! tests, the property tests and the fuzzer feed the mapper this way; the
//! relay itself never does (its workflow hands over [`EnrichedEvent`]s).
//!
//! Each event is split into the typed parts the workflow would have made,
//! then mapped by the same functions as in production.

use std::sync::Arc;

use serde_json::Value;

use super::{Answer, Context, Fragment};
use super::{DetectionInfo, EnrichedEvent, Summary};
use crate::gti::model::{DhcpRecord, Event, ObjectOrNone, Rule, WireDhcpRecord};
use crate::observable::Observable;

/// One reference-shaped event, split into typed parts.
#[derive(Debug)]
pub struct Parts {
    pub event: Event,
    pub observable: Option<Observable>,
    pub detection: Option<DetectionInfo>,
    pub dhcp: [Vec<DhcpRecord>; 2],
}

impl Parts {
    /// Splits `value`; anything that does not fit is left out, as the old
    /// untyped mapper left it out.
    pub fn of(value: &Value) -> Parts {
        let event = typed::<Event>(value).unwrap_or_default();
        let observable = value.get("observable").and_then(typed::<Observable>);
        let detection = value
            .get("detection")
            .filter(|detection| detection.is_object())
            .map(|detection| DetectionInfo {
                account_uuid: detection
                    .get("account_uuid")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                rule: Arc::new(
                    detection
                        .get("rule")
                        .and_then(typed::<ObjectOrNone<Rule>>)
                        .and_then(|rule| rule.0)
                        .unwrap_or_default(),
                ),
                summary: detection.get("summary").and_then(|summary| {
                    let count = |field| summary.get(field)?.as_u64().map(|n| n as usize);
                    Some(Summary {
                        impacted_devices: count("impacted_devices")?,
                        indicator_values: count("indicator_values")?,
                    })
                }),
            });
        let dhcp = ["src", "dst"].map(|side| {
            value
                .get(side)
                .and_then(|side| side.get("dhcp"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(typed::<ObjectOrNone<WireDhcpRecord>>)
                .filter_map(|record| record.0)
                .map(|record| {
                    let ip = record
                        .ip
                        .get()
                        .and_then(|ip| ip.as_str())
                        .unwrap_or_default();
                    DhcpRecord {
                        ip: ip.to_owned(),
                        account_code: record.account_code.0,
                        hostname: record.hostname.0,
                        mac: record.mac.0,
                    }
                })
                .collect()
        });
        Parts {
            event,
            observable,
            detection,
            dhcp,
        }
    }

    /// The parts as the mapper reads them.
    pub fn enriched(&self) -> EnrichedEvent<'_> {
        EnrichedEvent {
            event: &self.event,
            observable: self.observable.as_ref(),
            detection: self.detection.as_ref(),
            dhcp: [&self.dhcp[0], &self.dhcp[1]],
        }
    }
}

/// GTI's types read from text, as the client reads them.
fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> Option<T> {
    serde_json::from_str(&value.to_string()).ok()
}

/// The sighting of one reference-shaped event, with a fresh id.
pub fn sighting(ctx: &Context, event: &Value) -> Value {
    let parts = Parts::of(event);
    let sighting = super::sighting(ctx, (ctx.new_id)("sighting"), &parts.enriched());
    serde_json::to_value(&sighting).unwrap_or_default()
}

/// The indicator of a rule in GTI's JSON.
pub fn indicator(ctx: &Context, rule: &Value) -> Option<Value> {
    let rule = typed::<ObjectOrNone<Rule>>(rule)?.0?;
    let indicator = super::indicator(ctx, &rule)?;
    serde_json::to_value(&indicator).ok()
}

/// The entities of several observables' reference-shaped events, one batch
/// per observable, as `/observe` answers them.
#[derive(Debug, Default)]
pub struct Bundle {
    fragments: Vec<Fragment>,
}

impl Bundle {
    pub fn new() -> Bundle {
        Bundle::default()
    }

    /// Maps one observable's events.
    pub fn add_events(&mut self, ctx: &Context, events: &[Value]) {
        let parts: Vec<Parts> = events.iter().map(Parts::of).collect();
        self.fragments
            .push(Fragment::map(ctx, parts.iter().map(Parts::enriched)));
    }

    /// Whether nothing was mapped yet.
    pub fn is_empty(&self) -> bool {
        self.fragments.iter().all(Fragment::is_empty)
    }

    /// The answer's `data`: `{"sightings":{"count","docs"},"indicators":…,
    /// "relationships":…}`; a kind with no entities is absent.
    pub fn into_json(self) -> Value {
        let bytes = Answer::new(self.fragments, &[]).to_vec();
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|mut answer| answer.get_mut("data").map(Value::take))
            .unwrap_or_default()
    }
}
