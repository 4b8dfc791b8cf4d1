//! The demo's dashboard preview: a page that draws the four tiles as XDR
//! draws their types and shows an observe answer as an analyst reads it,
//! served by a listener of its own beside the relay, so the relay's route
//! table stays the production one (which serves no HTML).
//!
//! The page is `preview.html` (HTML, CSS and JS in one file, embedded in the
//! binary, no external requests), filled in with the demo token, the tile
//! definitions and the sample observables. A browser only lets a page call
//! its own origin, so this listener also forwards the few relay APIs the
//! page uses ([`FORWARDED`]) to the relay, unchanged: the answers the page
//! draws are the relay's own. Nothing else is forwarded.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use crate::tiles::{definitions, Definition};

/// The page, with `{{…}}` placeholders [`page`] fills in.
const TEMPLATE: &str = include_str!("preview.html");

/// The relay APIs the page calls, all `POST`.
pub const FORWARDED: [&str; 3] = [
    "/tiles/tile-data",
    "/observe/observables",
    "/deliberate/observables",
];

/// The largest request body forwarded: an observe body of a few
/// observables is far smaller.
const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// Threads answering the page: its four tiles load at once.
const THREADS: usize = 4;

/// What the listener does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// `GET /`: the page.
    Page,
    /// A [`FORWARDED`] API: the relay answers.
    Forward(&'static str),
    /// Anything else: 404, as JSON.
    NotFound,
}

/// The action for `method` and `path` (the query string removed).
fn action(method: &str, path: &str) -> Action {
    let get = method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD");
    if get && (path == "/" || path == "/index.html") {
        return Action::Page;
    }
    match FORWARDED.iter().find(|api| **api == path) {
        Some(api) if method.eq_ignore_ascii_case("POST") => Action::Forward(api),
        _ => Action::NotFound,
    }
}

/// The page for `token`, with the relay's tile definitions and, as samples
/// to look up, the observables of `observables` (a JSON array) and the
/// sample IP with a verdict.
pub fn page(token: &str, observables: &str) -> String {
    let tiles: String = definitions().iter().map(tile_section).collect();
    let mut samples: Vec<Value> = serde_json::from_str(observables).unwrap_or_default();
    samples.push(json!({"type": "ip", "value": super::DEMO_VERDICT_IP}));
    let samples = Value::Array(samples);
    TEMPLATE
        .replace("{{TOKEN}}", &escape(token))
        .replace("{{TILES}}", &tiles)
        // Inside a <script> element: `<` escaped so no text can end it.
        .replace("{{SAMPLES}}", &samples.to_string().replace('<', "\\u003c"))
}

/// The section a tile is drawn into, named by its definition (the script
/// reads the type and periods from its attributes).
fn tile_section(tile: &Definition) -> String {
    format!(
        "<section class=\"tile\" id=\"{id}\" data-tile-id=\"{id}\" data-type=\"{kind}\" \
         data-periods=\"{periods}\" data-default-period=\"{default}\" data-state=\"loading\">\n\
         <h2>{title}</h2>\n<p class=\"short\">{short}</p>\n\
         <div class=\"body\">Loading {id}…</div>\n<p class=\"meta\"></p>\n</section>\n",
        id = escape(tile.id),
        kind = escape(tile.kind),
        periods = escape(&tile.periods.join(" ")),
        default = escape(tile.default_period),
        title = escape(tile.title),
        short = escape(tile.short_description),
    )
}

/// `text` as HTML text or a quoted attribute value.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The listen address of the page: the relay's host, the port after the
/// relay's (an ephemeral one when the relay's is, or the next is taken).
fn listen_addresses(relay: SocketAddr) -> Vec<SocketAddr> {
    let ip: IpAddr = relay.ip();
    let mut addresses = Vec::new();
    if let Some(next) = relay.port().checked_add(1).filter(|_| relay.port() != 0) {
        addresses.push(SocketAddr::new(ip, next));
    }
    addresses.push(SocketAddr::new(ip, 0));
    addresses
}

/// The running page listener.
pub struct PreviewServer {
    http: Arc<tiny_http::Server>,
    address: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

impl PreviewServer {
    /// Serves the page for `token` beside the relay at `relay` (its bound
    /// address), forwarding to `relay_url`.
    pub fn start(relay: SocketAddr, relay_url: &str, token: &str) -> Result<PreviewServer, String> {
        let http = listen_addresses(relay)
            .into_iter()
            .find_map(|address| tiny_http::Server::http(address).ok())
            .ok_or("cannot start the dashboard preview's listener")?;
        let address = http
            .server_addr()
            .to_ip()
            .ok_or("the dashboard preview is not on an IP socket")?;
        let http = Arc::new(http);
        let forwarder = Arc::new(Forwarder::new(relay_url, page(token, super::OBSERVABLES)));
        let mut threads = Vec::with_capacity(THREADS);
        for index in 0..THREADS {
            let (http, forwarder) = (Arc::clone(&http), Arc::clone(&forwarder));
            let thread = std::thread::Builder::new()
                .name(format!("demo-preview-{index}"))
                // Ends when `unblock` is called on drop.
                .spawn(move || {
                    for request in http.incoming_requests() {
                        forwarder.answer(request);
                    }
                })
                .map_err(|error| format!("cannot start the dashboard preview: {error}"))?;
            threads.push(thread);
        }
        Ok(PreviewServer {
            http,
            address,
            threads,
        })
    }

    /// The page's URL for local clients.
    pub fn url(&self) -> String {
        format!("{}/", super::local_url(self.address))
    }
}

impl Drop for PreviewServer {
    fn drop(&mut self) {
        for _ in 0..self.threads.len() {
            self.http.unblock();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Answers the page's requests: the page itself, or the relay's answer.
struct Forwarder {
    relay_url: String,
    page: String,
    agent: ureq::Agent,
}

/// A status, a content type and a body.
type Answer = (u16, &'static str, Vec<u8>);

impl Forwarder {
    fn new(relay_url: &str, page: String) -> Forwarder {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            // The relay on this machine: never through a proxy.
            .proxy(None)
            .build()
            .new_agent();
        Forwarder {
            relay_url: relay_url.to_owned(),
            page,
            agent,
        }
    }

    fn answer(&self, mut request: tiny_http::Request) {
        let path = request.url().split(['?', '#']).next().unwrap_or_default();
        let (status, content_type, body) = match action(request.method().as_str(), path) {
            Action::Page => (
                200,
                "text/html; charset=utf-8",
                self.page.clone().into_bytes(),
            ),
            Action::Forward(api) => self.forward(api, &mut request),
            Action::NotFound => not_found(),
        };
        let mut response = tiny_http::Response::from_data(body).with_status_code(status);
        for (name, value) in [
            ("Content-Type", content_type),
            ("Cache-Control", "no-store"),
            // The browser enforces it too: the page reaches nothing but
            // this listener.
            (
                "Content-Security-Policy",
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
            ),
        ] {
            if let Ok(header) = tiny_http::Header::from_bytes(name, value) {
                response.add_header(header);
            }
        }
        let _ = request.respond(response);
    }

    /// The relay's answer to `api` with the request's token and body.
    fn forward(&self, api: &str, request: &mut tiny_http::Request) -> Answer {
        let header = |name: &'static str| {
            request
                .headers()
                .iter()
                .find(|header| header.field.equiv(name))
                .map(|header| header.value.as_str().to_owned())
        };
        let authorization = header("Authorization").unwrap_or_default();
        let mut body = Vec::new();
        let read = request
            .as_reader()
            .take(MAX_BODY_BYTES)
            .read_to_end(&mut body);
        if read.is_err() {
            return error(
                400,
                "invalid payload received",
                "The body could not be read.",
            );
        }
        let answer = self
            .agent
            .post(&format!("{}{api}", self.relay_url))
            .header("Authorization", &authorization)
            .header("Content-Type", "application/json")
            .send(&body[..]);
        match answer.and_then(|mut answer| {
            let status = answer.status().as_u16();
            Ok((status, answer.body_mut().read_to_vec()?))
        }) {
            Ok((status, bytes)) => (status, "application/json", bytes),
            Err(failure) => error(502, "relay unreachable", &failure.to_string()),
        }
    }
}

/// The answer to anything but the page and the forwarded APIs.
fn not_found() -> Answer {
    error(
        404,
        "not found",
        "The dashboard preview serves / and forwards only the relay APIs it calls.",
    )
}

/// An answer in the relay's error envelope.
fn error(status: u16, code: &str, message: &str) -> Answer {
    let body = json!({"errors": [{"type": "fatal", "code": code, "message": message}]});
    (status, "application/json", body.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_page_and_the_forwarded_apis_are_answered() {
        assert_eq!(action("GET", "/"), Action::Page);
        assert_eq!(action("HEAD", "/index.html"), Action::Page);
        assert_eq!(action("POST", "/"), Action::NotFound);
        for api in FORWARDED {
            assert_eq!(action("POST", api), Action::Forward(api));
            assert_eq!(action("GET", api), Action::NotFound);
        }
        for other in ["/respond/trigger", "/metrics", "/health", "/tiles", "/x"] {
            assert_eq!(action("POST", other), Action::NotFound, "{other}");
        }
    }

    #[test]
    fn the_page_names_every_tile_and_requests_nothing_outside() {
        let page = page("a.b.c", super::super::OBSERVABLES);
        for tile in definitions() {
            assert!(page.contains(&format!("data-tile-id=\"{}\"", tile.id)));
            assert!(page.contains(&format!("data-type=\"{}\"", tile.kind)));
            assert!(page.contains(tile.title), "{}", tile.title);
        }
        assert!(page.contains("content=\"a.b.c\""));
        assert!(page.contains("198.51.100.20"));
        assert!(!page.contains("{{"), "a placeholder is left");
        assert!(!page.contains("http://") && !page.contains("https://"));
    }

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_page_listens_after_the_relay_or_anywhere() {
        let relay: SocketAddr = "127.0.0.1:9090".parse().unwrap();
        let next: SocketAddr = "127.0.0.1:9091".parse().unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert_eq!(listen_addresses(relay), vec![next, any]);
        assert_eq!(listen_addresses(any), vec![any]);
        let last: SocketAddr = "127.0.0.1:65535".parse().unwrap();
        assert_eq!(listen_addresses(last), vec![any]);
    }
}
