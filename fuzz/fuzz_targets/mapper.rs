//! The GTI → CTIM mapper (and the workflow's DHCP enrichment that precedes
//! it): arbitrary events map without a panic, one sighting per event; links
//! stay within the URL-safe alphabet.

#![no_main]

use std::sync::atomic::{AtomicUsize, Ordering};

use gti_relay::ctim::{indicator, quote_plus, refer_link, sighting, Bundle, Context};
use gti_relay::workflow::{attach_dhcp, dhcp_lookups};
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
    let lookups = dhcp_lookups(&events);
    assert!(lookups.len() <= 2 * events.len());
    attach_dhcp(&mut events, &records);

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
    for kind in ["ip", "domain", "md5", "sha1", "sha256", "url"] {
        let _ = refer_link("https://portal.icebrg.io", kind, &text);
    }
});
