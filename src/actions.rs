//! The response actions of `/respond/observables` and `/respond/trigger`
//! (SPEC §6): which resolve buttons an observable gets, and what a trigger
//! body asks for. Pure: no GTI, no clock.

use serde::Serialize;
use serde_json::Value;

use crate::observable::{quoted, Observable, ObservableType, PayloadError};

/// Every action: its id, GTI's resolution, and how the button reads.
pub const ACTIONS: [ResolveAction; 3] = [
    ResolveAction {
        id: "gti-resolve-true-positive-mitigated",
        resolution: "true_positive_mitigated",
        label: "true positive, mitigated",
    },
    ResolveAction {
        id: "gti-resolve-true-positive-no-action",
        resolution: "true_positive_no_action",
        label: "true positive, no action needed",
    },
    ResolveAction {
        id: "gti-resolve-false-positive",
        resolution: "false_positive",
        label: "false positive",
    },
];

/// The categories every action is listed under in XDR's pivot menu.
const CATEGORIES: [&str; 2] = ["Gigamon ThreatINSIGHT", "Resolve detections"];

/// One kind of resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolveAction {
    pub id: &'static str,
    /// What `PUT detections/<uuid>/resolve` is told.
    pub resolution: &'static str,
    label: &'static str,
}

impl ResolveAction {
    /// The action with this id.
    pub fn find(id: &str) -> Option<ResolveAction> {
        ACTIONS.iter().find(|action| action.id == id).copied()
    }
}

/// One action as `/respond/observables` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub id: &'static str,
    pub title: String,
    pub description: String,
    pub categories: [&'static str; 2],
    #[serde(rename = "query-params")]
    pub query_params: QueryParams,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryParams {
    pub observable_type: ObservableType,
    pub observable_value: String,
    pub resolution: &'static str,
}

/// The three actions for `observable` when it has `active` detections
/// (`active` > 0); none otherwise.
pub fn actions(observable: &Observable, active: usize) -> Vec<Action> {
    if active == 0 {
        return Vec::new();
    }
    let detections = if active == 1 {
        "detection"
    } else {
        "detections"
    };
    ACTIONS
        .iter()
        .map(|action| Action {
            id: action.id,
            title: format!("Resolve GTI detections: {}", action.label),
            description: format!(
                "Resolves the {active} active Gigamon ThreatINSIGHT {detections} of {} {} as {}.",
                observable.kind, observable.value, action.label
            ),
            categories: CATEGORIES,
            query_params: QueryParams {
                observable_type: observable.kind,
                observable_value: observable.value.clone(),
                resolution: action.resolution,
            },
        })
        .collect()
}

/// What a `/respond/trigger` body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub action: ResolveAction,
    pub observable: Observable,
}

/// Reads a trigger body `{"action-id", "observable_type", "observable_value",
/// …}` (other fields allowed): an unknown action, an unsupported type or a
/// missing, non-string or blank field is the invalid-payload error naming it.
pub fn parse_trigger(body: &[u8]) -> Result<Trigger, PayloadError> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(PayloadError::schema(
            "Invalid input type: a JSON object is expected.",
        ));
    };
    let mut problems = PayloadError::default();
    let mut text = |name: &str| match fields.get(name) {
        None => {
            problems.push(name, "Missing data for required field.");
            None
        }
        Some(Value::String(text)) if text.trim().is_empty() => {
            problems.push(name, "Field may not be blank.");
            None
        }
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            problems.push(name, "Not a valid string.");
            None
        }
    };
    let id = text("action-id");
    let kind = text("observable_type");
    let value = text("observable_value");
    let action = id.as_deref().and_then(ResolveAction::find);
    if let (Some(id), None) = (&id, action) {
        let known: Vec<&str> = ACTIONS.iter().map(|action| action.id).collect();
        problems.push(
            "action-id",
            format!(
                "Unknown action {}; the actions are {}.",
                quoted(id),
                known.join(", ")
            ),
        );
    }
    let supported = kind.as_deref().and_then(ObservableType::parse);
    if let (Some(kind), None) = (&kind, supported) {
        problems.push(
            "observable_type",
            format!(
                "Unsupported type {}; supported are {}.",
                quoted(kind),
                ObservableType::names()
            ),
        );
    }
    match (action, supported, value) {
        (Some(action), Some(kind), Some(value)) if problems.is_empty() => Ok(Trigger {
            action,
            observable: Observable { kind, value },
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ip() -> Observable {
        Observable {
            kind: ObservableType::Ip,
            value: "1.2.3.4".into(),
        }
    }

    #[test]
    fn an_observable_with_detections_gets_the_three_resolves() {
        let list = serde_json::to_value(actions(&ip(), 2)).unwrap();
        let ids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|action| action["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "gti-resolve-true-positive-mitigated",
                "gti-resolve-true-positive-no-action",
                "gti-resolve-false-positive"
            ]
        );
        assert_eq!(
            list[2],
            json!({
                "id": "gti-resolve-false-positive",
                "title": "Resolve GTI detections: false positive",
                "description": "Resolves the 2 active Gigamon ThreatINSIGHT detections of ip 1.2.3.4 as false positive.",
                "categories": ["Gigamon ThreatINSIGHT", "Resolve detections"],
                "query-params": {"observable_type": "ip", "observable_value": "1.2.3.4", "resolution": "false_positive"}
            })
        );
        assert!(actions(&ip(), 1)[0]
            .description
            .contains("1 active Gigamon ThreatINSIGHT detection of"));
    }

    #[test]
    fn no_detections_no_actions() {
        assert!(actions(&ip(), 0).is_empty());
    }

    #[test]
    fn a_trigger_names_its_action_and_observable() {
        let body = json!({
            "action-id": "gti-resolve-true-positive-no-action",
            "observable_type": "ip",
            "observable_value": "1.2.3.4",
            "resolution": "ignored: the action decides",
        });
        let trigger = parse_trigger(body.to_string().as_bytes()).unwrap();
        assert_eq!(trigger.action.resolution, "true_positive_no_action");
        assert_eq!(trigger.observable, ip());
    }

    #[test]
    fn bad_triggers_say_what_is_wrong() {
        let message = |body: Value| match parse_trigger(body.to_string().as_bytes()) {
            Err(error) => crate::error::RelayError::from(error).message(),
            Ok(trigger) => panic!("accepted {trigger:?}"),
        };
        let unknown = message(
            json!({"action-id": "gti-nope", "observable_type": "ip", "observable_value": "x"}),
        );
        assert!(
            unknown.contains(r#"Unknown action 'gti-nope'"#),
            "{unknown}"
        );
        let unsupported = message(
            json!({"action-id": "gti-resolve-false-positive", "observable_type": "url", "observable_value": "x"}),
        );
        assert!(
            unsupported.contains(r#"Unsupported type 'url'"#),
            "{unsupported}"
        );
        let blank = message(
            json!({"action-id": "gti-resolve-false-positive", "observable_type": "ip", "observable_value": "  "}),
        );
        assert!(
            blank.contains(r#""observable_value": ["Field may not be blank."]"#),
            "{blank}"
        );
        let missing = message(json!({"observable_type": "ip", "observable_value": "x"}));
        assert!(
            missing.contains(r#""action-id": ["Missing data for required field."]"#),
            "{missing}"
        );
        assert!(message(json!([1])).starts_with("Invalid JSON payload received."));
    }
}
