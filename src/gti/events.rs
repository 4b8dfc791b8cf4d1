//! The event search (`POST query` of the events API): GTI's 2022 API, no
//! longer called by Fortinet's current clients and absent in the EU
//! region, so supplementary (SPEC §8).

use serde::{Deserialize, Serialize};

use super::model::null_as_default;
use super::request::{json, Decode, DecodeError, GtiRequest, HttpCall, Method};
use super::{DayWindow, Endpoint, Event};
use crate::region::RegionUrls;

/// The events matching `query` (`ip = '1.2.3.4'`) within one day window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub query: String,
    pub window: DayWindow,
}

impl GtiRequest for Search {
    type Output = Vec<Event>;
    const ENDPOINT: Endpoint = Endpoint::EventSearch;

    fn http(&self, urls: &RegionUrls) -> Option<HttpCall> {
        #[derive(Serialize)]
        struct Body<'a> {
            query: &'a str,
            start_date: &'a str,
            end_date: &'a str,
        }
        let body = Body {
            query: &self.query,
            start_date: &self.window.start,
            end_date: &self.window.end,
        };
        let url = format!("{}query", urls.events.as_ref()?);
        Some(HttpCall::with_json(
            Self::ENDPOINT,
            Method::Post,
            url,
            &body,
        ))
    }
}

/// `{"events":[{…}, …]}`.
#[derive(Debug, Deserialize)]
struct EventPage {
    #[serde(deserialize_with = "null_as_default")]
    events: Vec<Event>,
}

impl Decode for Vec<Event> {
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        Ok(json::<EventPage>(body)?.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Region;
    use serde_json::{json, Value};

    #[test]
    fn the_search_posts_gti_s_json_and_needs_an_events_url() {
        let search = Search {
            query: "ip = '8.8.8.8'".into(),
            window: DayWindow {
                start: "2021-01-13T03:21:34.123Z".into(),
                end: "2021-01-14T03:21:34.123Z".into(),
            },
        };
        let call = search.http(&Region::Us.default_urls()).unwrap();
        assert_eq!(call.method, Method::Post);
        assert_eq!(call.url, "https://events.icebrg.io/v2/query");
        let body: Value = serde_json::from_str(call.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"query": "ip = '8.8.8.8'", "start_date": search.window.start, "end_date": search.window.end})
        );
        assert_eq!(search.http(&Region::Eu.default_urls()), None);
    }

    #[test]
    fn wrong_bodies_say_what_did_not_fit() {
        let not_json = Vec::<Event>::decode(b"<html>").unwrap_err();
        assert!(not_json.0.starts_with("not JSON ("), "{not_json:?}");
        let wrong_shape = Vec::<Event>::decode(br#"{"results":[]}"#).unwrap_err();
        assert!(
            wrong_shape.0.starts_with("missing field `events`"),
            "{wrong_shape:?}"
        );
        assert!(Vec::<Event>::decode(br#"{"events":[1]}"#).is_err());
        assert_eq!(Vec::<Event>::decode(br#"{"events":null}"#), Ok(Vec::new()));
    }
}
