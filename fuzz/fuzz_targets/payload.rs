//! The `/observe` and `/refer` body parser: any bytes give observables or
//! the invalid-payload error, never a panic.

#![no_main]

use gti_relay::error::RelayError;
use gti_relay::observable::parse_observables;
use gti_relay_fuzz::{key, value};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        check(data);
        return;
    };
    if mode % 2 == 0 {
        // Raw bytes: JSON syntax, encodings, numbers, nesting.
        check(rest);
    } else {
        // An array of objects close to `{"type","value"}`, to reach the
        // per-item validation and the error rendering.
        let mut u = Unstructured::new(rest);
        let len = u.int_in_range(0..=6).unwrap_or(0);
        let mut items = Vec::new();
        for _ in 0..len {
            let item = if u.ratio(1u8, 8).unwrap_or(false) {
                value(&mut u, 2).unwrap_or(Value::Null)
            } else {
                let mut object = Map::new();
                for field in ["type", "value"] {
                    if u.ratio(7u8, 8).unwrap_or(true) {
                        object.insert(field.to_owned(), value(&mut u, 1).unwrap_or(Value::Null));
                    }
                }
                if u.ratio(1u8, 6).unwrap_or(false) {
                    if let Ok(name) = key(&mut u) {
                        object.insert(name, Value::Null);
                    }
                }
                Value::Object(object)
            };
            items.push(item);
        }
        check(Value::Array(items).to_string().as_bytes());
    }
});

fn check(body: &[u8]) {
    match parse_observables(body) {
        Ok(observables) => {
            assert!(observables.iter().all(|o| !o.value.is_empty()));
        }
        Err(error) => {
            // The detail is pasted into a JSON answer: it must be JSON itself.
            let detail = error.to_string();
            assert!(serde_json::from_str::<Value>(&detail).is_ok(), "{detail}");
            let message = RelayError::from(error).message();
            assert!(message.starts_with("Invalid JSON payload received."), "{message}");
        }
    }
}
