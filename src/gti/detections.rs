//! The detections API: the active detections of a value (the core of
//! every capability), the events of one detection, the listing the tiles
//! count, and the resolve of the response actions.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::model::null_as_default;
use super::request::{json, Decode, DecodeError, GtiRequest, HttpCall, Method};
use super::{DayWindow, DetectionEvent, Detections, Endpoint, LIST_PAGE_SIZE};
use crate::encoding::quote;
use crate::region::RegionUrls;

/// Active detections whose indicators hold `value`, with their indicators
/// and rules: "the value's detections" of SPEC §5 and §6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionsOf {
    pub value: String,
}

impl GtiRequest for DetectionsOf {
    type Output = Detections;
    const ENDPOINT: Endpoint = Endpoint::Detections;

    fn http(&self, urls: &RegionUrls) -> Option<HttpCall> {
        let url = format!(
            "{}detections?indicator_value={}&status=active&include=indicators&include=rules",
            urls.detections,
            quote(&self.value)
        );
        Some(HttpCall::get(Self::ENDPOINT, url))
    }
}

impl Decode for Detections {
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        json(body)
    }
}

/// The events of one detection, each with its indicator values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsOfDetection {
    pub detection_uuid: String,
}

impl GtiRequest for EventsOfDetection {
    type Output = Vec<DetectionEvent>;
    const ENDPOINT: Endpoint = Endpoint::DetectionEvents;

    fn http(&self, urls: &RegionUrls) -> Option<HttpCall> {
        let url = format!(
            "{}events?detection_uuid={}",
            urls.detections,
            quote(&self.detection_uuid)
        );
        Some(HttpCall::get(Self::ENDPOINT, url))
    }
}

/// `{"events":[{"event":{…}}, …]}`. Each event is kept as its text until it
/// is read twice: typed, and walked for indicator values.
#[derive(Deserialize)]
struct DetectionEventPage<'a> {
    #[serde(borrow, deserialize_with = "null_as_default")]
    events: Vec<DetectionEventEnvelope<'a>>,
}

#[derive(Deserialize)]
struct DetectionEventEnvelope<'a> {
    #[serde(borrow)]
    event: &'a RawValue,
}

impl Decode for Vec<DetectionEvent> {
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let page: DetectionEventPage = json(body)?;
        page.events
            .iter()
            .map(|envelope| Ok(DetectionEvent::from_json(envelope.event.get())?))
            .collect()
    }
}

/// One page (`offset`, [`LIST_PAGE_SIZE`] long) of the active detections
/// created or shared within `window`, newest `first_seen` first, with their
/// rules: what the dashboard tiles count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionPage {
    pub window: DayWindow,
    pub offset: usize,
}

impl GtiRequest for DetectionPage {
    type Output = Detections;
    const ENDPOINT: Endpoint = Endpoint::DetectionList;

    fn http(&self, urls: &RegionUrls) -> Option<HttpCall> {
        let url = format!(
            "{}detections?status=active&include=rules\
             &created_or_shared_start_date={}&created_or_shared_end_date={}\
             &sort_by=first_seen&sort_order=desc&limit={LIST_PAGE_SIZE}&offset={}",
            urls.detections,
            quote(&self.window.start),
            quote(&self.window.end),
            self.offset
        );
        Some(HttpCall::get(Self::ENDPOINT, url))
    }
}

/// What GTI's resolve is told; the comment says where it came from.
pub const RESOLUTION_COMMENT: &str = "Resolved from Cisco XDR (gti-relay)";

/// Resolves one detection with `resolution` (`true_positive_mitigated`,
/// `true_positive_no_action` or `false_positive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub detection_uuid: String,
    pub resolution: &'static str,
}

/// GTI accepted a resolve: a 2xx is the whole answer, its body unread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resolved;

impl Decode for Resolved {
    fn decode(_: &[u8]) -> Result<Self, DecodeError> {
        Ok(Resolved)
    }
}

impl GtiRequest for Resolve {
    type Output = Resolved;
    const ENDPOINT: Endpoint = Endpoint::Resolve;

    fn http(&self, urls: &RegionUrls) -> Option<HttpCall> {
        #[derive(Serialize)]
        struct Body<'a> {
            resolution: &'a str,
            resolution_comment: &'a str,
        }
        let url = format!(
            "{}detections/{}/resolve",
            urls.detections,
            quote(&self.detection_uuid)
        );
        let body = Body {
            resolution: self.resolution,
            resolution_comment: RESOLUTION_COMMENT,
        };
        Some(HttpCall::with_json(Self::ENDPOINT, Method::Put, url, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Region;
    use serde_json::{json, Value};

    fn urls() -> RegionUrls {
        RegionUrls {
            detections: crate::region::BaseUrl::parse("https://d/v1/").unwrap(),
            ..Region::Us.default_urls()
        }
    }

    fn url(request: &impl GtiRequest) -> String {
        request
            .http(&urls())
            .map(|call| call.url)
            .unwrap_or_default()
    }

    #[test]
    fn urls_carry_the_value_as_one_encoded_parameter() {
        let detections = DetectionsOf {
            value: "a b&c#d=é".into(),
        };
        assert_eq!(
            url(&detections),
            "https://d/v1/detections?indicator_value=a%20b%26c%23d%3D%C3%A9\
             &status=active&include=indicators&include=rules"
        );
        let events = EventsOfDetection {
            detection_uuid: "9bd7362e-e3aa".into(),
        };
        assert_eq!(
            url(&events),
            "https://d/v1/events?detection_uuid=9bd7362e-e3aa"
        );
    }

    #[test]
    fn the_listing_and_resolve_have_gti_s_urls_and_body() {
        let window = DayWindow {
            start: "2021-01-13T03:21:34.123Z".into(),
            end: "2021-01-14T03:21:34.123Z".into(),
        };
        assert_eq!(
            url(&DetectionPage {
                window,
                offset: 2000
            }),
            "https://d/v1/detections?status=active&include=rules\
             &created_or_shared_start_date=2021-01-13T03%3A21%3A34.123Z\
             &created_or_shared_end_date=2021-01-14T03%3A21%3A34.123Z\
             &sort_by=first_seen&sort_order=desc&limit=1000&offset=2000"
        );
        let resolve = Resolve {
            detection_uuid: "9bd7362e/x".into(),
            resolution: "false_positive",
        }
        .http(&urls())
        .unwrap();
        assert_eq!(resolve.method, Method::Put);
        assert_eq!(resolve.url, "https://d/v1/detections/9bd7362e%2Fx/resolve");
        let body: Value = serde_json::from_str(resolve.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"resolution": "false_positive", "resolution_comment": "Resolved from Cisco XDR (gti-relay)"})
        );
    }
}
