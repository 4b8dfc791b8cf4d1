//! A sighting's `relations`: which observables of the event relate to which
//! (connections, DNS resolutions, HTTP requests and files, certificates).

use serde::Serialize;

use super::url::rebuild_url;
use super::EnrichedEvent;
use super::{TypedValue, SOURCE};
use crate::gti::model::{Event, Verbatim};
use crate::observable::ObservableType;

/// `{origin, related, relation, source}`.
#[derive(Debug, Serialize)]
pub(super) struct Relation<'a> {
    origin: &'static str,
    related: TypedValue<'a>,
    relation: &'static str,
    source: TypedValue<'a>,
}

impl<'a> Relation<'a> {
    /// `source` `relation` `related`, as told by `origin`.
    pub(super) fn new(
        origin: &'static str,
        source: TypedValue<'a>,
        relation: &'static str,
        related: TypedValue<'a>,
    ) -> Self {
        Relation {
            origin,
            related,
            relation,
            source,
        }
    }
}

/// Collects relations; one whose source or related value is not a string is
/// skipped rather than emitted with a null value (the reference would crash
/// or emit `null`).
#[derive(Default)]
struct Relations<'a>(Vec<Relation<'a>>);

impl<'a> Relations<'a> {
    fn add(
        &mut self,
        source: (&'static str, Option<&'a str>),
        relation: &'static str,
        related: (&'static str, Option<&'a str>),
    ) {
        if let ((source_type, Some(source_value)), (related_type, Some(related_value))) =
            (source, related)
        {
            self.push(
                TypedValue::new(source_type, source_value),
                relation,
                TypedValue::new(related_type, related_value),
            );
        }
    }

    fn push(&mut self, source: TypedValue<'a>, relation: &'static str, related: TypedValue<'a>) {
        self.0
            .push(Relation::new(SOURCE, source, relation, related));
    }

    /// `src → url → dst` of an HTTP request, for a URL built here.
    fn add_url(&mut self, src_ip: Option<&'a str>, url: String, dst_ip: Option<&'a str>) {
        if let Some(src_ip) = src_ip {
            self.push(
                TypedValue::new("ip", src_ip),
                "Connected_To",
                TypedValue::new("url", url.clone()),
            );
        }
        if let Some(dst_ip) = dst_ip {
            self.push(
                TypedValue::new("url", url),
                "Hosted_On",
                TypedValue::new("ip", dst_ip),
            );
        }
    }
}

pub(super) fn relations<'a>(found: &EnrichedEvent<'a>) -> Vec<Relation<'a>> {
    let event = found.event;
    let mut out = Relations::default();
    let src_ip = event.src.get().and_then(|side| side.ip());
    let dst_ip = event.dst.get().and_then(|side| side.ip());

    out.add(("ip", src_ip), "Connected_To", ("ip", dst_ip));

    match event.event_type() {
        Some("dns") => dns_relations(&mut out, event, src_ip),
        Some("http") => http_relations(&mut out, event, src_ip, dst_ip),
        Some("x509") => {
            // A certificate seen for a queried domain: the domain is one of
            // its subject alternative names, served by the destination.
            if let Some(observable) = found
                .observable
                .filter(|o| o.kind == ObservableType::Domain)
            {
                out.add(
                    ("domain", Some(observable.value.as_str())),
                    "SAN_DNS_For",
                    ("ip", dst_ip),
                );
            }
        }
        _ => {}
    }
    out.0
}

fn dns_relations<'a>(out: &mut Relations<'a>, event: &'a Event, src_ip: Option<&'a str>) {
    let Some(domain) = event.query_domain() else {
        return;
    };
    out.add(("ip", src_ip), "Queried_For", ("domain", Some(domain)));
    for answer in event.answers.items() {
        let ip = answer.get().and_then(|answer| answer.ip.get()?.as_str());
        out.add(("domain", Some(domain)), "Resolved_To", ("ip", ip));
    }
}

fn http_relations<'a>(
    out: &mut Relations<'a>,
    event: &'a Event,
    src_ip: Option<&'a str>,
    dst_ip: Option<&'a str>,
) {
    if let Some(agent) = event.user_agent.get().and_then(Verbatim::truthy_str) {
        out.add(("user_agent", Some(agent)), "Sent_From", ("ip", src_ip));
        out.add(("user_agent", Some(agent)), "Sent_To", ("ip", dst_ip));
    }

    let host = event.host.get();
    let host_domain = host.and_then(|host| host.domain.get()?.truthy_str());
    if host_domain.is_some() {
        out.add(("domain", host_domain), "Resolved_To", ("ip", dst_ip));
    }

    if let Some(uri) = event.uri.get().and_then(|uri| uri.uri.get()?.as_str()) {
        // GTI often gives only the path; the host header (else the host IP)
        // completes it, as the reference does.
        let host_ip = host.and_then(|host| host.ip.get()?.truthy_str());
        let url = rebuild_url(uri, host_domain.or(host_ip).unwrap_or(""));
        out.add_url(src_ip, url, dst_ip);
    }

    let files = event.files.items();
    if files.is_empty() {
        return;
    }
    let method = event.method.get().and_then(Verbatim::as_str);
    let directions = if method == Some("GET") {
        [(src_ip, "Downloaded_To"), (dst_ip, "Downloaded_From")]
    } else {
        [(src_ip, "Uploaded_From"), (dst_ip, "Uploaded_To")]
    };
    for (ip, relation) in directions {
        for file in files.iter().filter_map(|file| file.get()) {
            for (hash, value) in [
                ("md5", &file.md5),
                ("sha1", &file.sha1),
                ("sha256", &file.sha256),
            ] {
                let value = value.get().and_then(Verbatim::truthy_str);
                if value.is_some() {
                    out.add((hash, value), relation, ("ip", ip));
                }
            }
        }
    }
}
