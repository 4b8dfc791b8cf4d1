//! The GTI → CTIM mapper (and the typed GTI models and DHCP look-ups that
//! precede it): arbitrary events parse and map without a panic, one
//! sighting per event; links stay within the URL-safe alphabet.

#![no_main]

use std::sync::atomic::{AtomicUsize, Ordering};

use gti_relay::ctim::reference::{indicator, sighting, Bundle};
use gti_relay::ctim::{quote_plus, refer_link, Context};
use gti_relay::observable::ObservableType;
use gti_relay::gti::model::{DetectionEvent, Event, ObjectOrNone, WireDhcpRecord};
use gti_relay::workflow::{dhcp_lookups, DhcpIndex};
use gti_relay_fuzz::{event, value};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let len = u.int_in_range(0..=8).unwrap_or(0);
    let mut events = Vec::with_capacity(len);
    for _ in 0..len {
        events.push(event(&mut u).unwrap_or(Value::Null));
    }
    let records = match value(&mut u, 3) {
        Ok(Value::Array(records)) => records,
        Ok(other) => vec![other],
        Err(_) => Vec::new(),
    };
    // What the client reads from GTI's bytes: typed events (an event that
    // is not an object is refused, never a panic), indicator values, DHCP.
    let typed: Vec<Event> = events
        .iter()
        .filter_map(|event| {
            let text = event.to_string();
            let _ = DetectionEvent::from_json(&text);
            serde_json::from_str(&text).ok()
        })
        .collect();
    let lookups = dhcp_lookups(&typed);
    assert!(lookups.len() <= 2 * typed.len());
    let records = records
        .iter()
        .filter_map(|record| {
            serde_json::from_str::<ObjectOrNone<WireDhcpRecord>>(&record.to_string())
                .ok()?
                .0?
                .checked()
        })
        .collect();
    let index = DhcpIndex::new(records);
    for side in typed.iter().flat_map(Event::sides) {
        let _ = index.of(side);
    }

    let counter = AtomicUsize::new(0);
    let new_id = |kind: &str| {
        format!(
            "transient:{kind}-{}",
            counter.fetch_add(1, Ordering::Relaxed)
        )
    };
    let ctx = Context {
        portal_url: "https://portal.icebrg.io/",
        new_id: &new_id,
    };
    for event in &events {
        let _ = sighting(&ctx, event);
        if let Some(rule) = event.pointer("/detection/rule") {
            let _ = indicator(&ctx, rule);
        }
    }
    let mut bundle = Bundle::new();
    bundle.add_events(&ctx, &events);
    let out = bundle.into_json();
    let count = out
        .pointer("/sightings/count")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    assert_eq!(count, events.len() as u64);
    let _ = out.to_string();

    let text: String = u.arbitrary().unwrap_or_default();
    let quoted = quote_plus(&text);
    assert!(quoted
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.~+%-".contains(&b)));
    for kind in ObservableType::ALL {
        let _ = refer_link("https://portal.icebrg.io", kind, &text);
    }
});
