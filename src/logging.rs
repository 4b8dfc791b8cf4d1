//! Text and JSON log lines, request ids, and the request context every line
//! of a request carries.
//!
//! The logger writes one line per record on stdout: `LOG_FORMAT=text`
//! keeps the relay's long-standing shape (`<time> <LEVEL> [<target>]
//! <message>`, as simple_logger wrote it) with the context and the
//! record's key-values appended as ` key=value`; `LOG_FORMAT=json` writes
//! one JSON object. Inside a request the context is the request id, route
//! and region; it lives in a thread-local that the server worker sets and
//! the call pool carries into each job a request submits, and it counts the
//! request's GTI calls for its final line.
//!
//! It knows nothing of the relay's other modules but the clock, so `gti`,
//! `workflow` and `server` may all use it. It never sees a secret: call
//! sites log no token, key or proxy credential, and the request id is
//! either the caller's, restricted to safe characters, or ours.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use log::kv::{self, VisitSource, VisitValue};
use log::{LevelFilter, Log, Metadata, Record};

use crate::time::{format_timestamp, since_epoch};

/// The response header that carries a request's id (and may bring one in).
pub const REQUEST_ID_HEADER: &str = "X-Request-Id";

/// The longest request id taken from a caller.
pub const MAX_REQUEST_ID: usize = 64;

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `<time> <LEVEL> [<target>] <message> key=value…`.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The format `name` names, in any case (`text`, `JSON`, …).
    pub fn parse(name: &str) -> Option<LogFormat> {
        match name.to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Whether `id` may be used as a request id: 1 to [`MAX_REQUEST_ID`]
/// characters of `A-Z a-z 0-9 . _ -` (nothing that could forge a log line,
/// a JSON field or a header).
pub fn is_valid_request_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// The caller's request id when it is well formed, else a new one.
pub fn request_id(incoming: Option<&str>) -> String {
    match incoming.map(str::trim) {
        Some(id) if is_valid_request_id(id) => id.to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// What every log line of one request carries.
#[derive(Debug)]
pub struct RequestContext {
    id: String,
    route: &'static str,
    /// Known once the token is: its region's name.
    region: OnceLock<&'static str>,
    gti_calls: AtomicU64,
}

impl RequestContext {
    /// The context of a request with `id` on `route` (a label, never the
    /// raw path).
    pub fn new(id: String, route: &'static str) -> Arc<RequestContext> {
        Arc::new(RequestContext {
            id,
            route,
            region: OnceLock::new(),
            gti_calls: AtomicU64::new(0),
        })
    }

    /// The request id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The GTI calls (tries) made for the request so far.
    pub fn gti_calls(&self) -> u64 {
        self.gti_calls.load(Ordering::Relaxed)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<RequestContext>>> = const { RefCell::new(None) };
}

/// The context of the request this thread works for, if any.
pub fn current() -> Option<Arc<RequestContext>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// Sets `context` as this thread's until the guard is dropped (then the
/// previous one comes back).
pub fn enter(context: Option<Arc<RequestContext>>) -> Entered {
    Entered(CURRENT.with(|current| current.replace(context)))
}

/// Restores the previous context when dropped; see [`enter`].
#[must_use = "the context is left when the guard is dropped"]
pub struct Entered(Option<Arc<RequestContext>>);

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

/// `job`, made to run in the context of the request that submits it (the
/// calling thread's, captured now).
pub fn carried<F: FnOnce() + Send + 'static>(job: F) -> impl FnOnce() + Send + 'static {
    let context = current();
    move || {
        let _entered = enter(context);
        job()
    }
}

/// Records the current request's region (the first one set stays).
pub fn set_region(name: &'static str) {
    if let Some(context) = current() {
        let _ = context.region.set(name);
    }
}

/// Counts one GTI call (try) for the current request.
pub fn count_gti_call() {
    CURRENT.with(|current| {
        if let Some(context) = current.borrow().as_ref() {
            context.gti_calls.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// The relay's logger: every record of `level` or above, on stdout.
struct Logger {
    format: LogFormat,
    level: LevelFilter,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let context = CURRENT.with(|current| current.borrow().clone());
        let line = render(self.format, &now(), record, context.as_deref());
        // One write per line, so lines of different threads never mix; a
        // closed stdout must not take the relay down.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stdout().flush();
    }
}

/// Installs the logger (once per process).
pub fn init(format: LogFormat, level: LevelFilter) -> Result<(), log::SetLoggerError> {
    // Lives as long as the process, as a logger must.
    log::set_logger(Box::leak(Box::new(Logger { format, level })))?;
    log::set_max_level(level);
    Ok(())
}

fn now() -> String {
    format_timestamp(u64::try_from(since_epoch().as_millis()).unwrap_or(u64::MAX))
}

/// One line (with its newline) for `record`, logged at `timestamp`.
fn render(
    format: LogFormat,
    timestamp: &str,
    record: &Record,
    context: Option<&RequestContext>,
) -> String {
    let target = match record.target() {
        "" => record.module_path().unwrap_or_default(),
        target => target,
    };
    let mut fields = Fields {
        format,
        line: String::with_capacity(160),
    };
    match format {
        LogFormat::Text => {
            let _ = write!(
                fields.line,
                "{timestamp} {:<5} [{target}] {}",
                record.level(),
                record.args()
            );
        }
        LogFormat::Json => {
            fields.line.push_str("{\"timestamp\":");
            push_json_string(&mut fields.line, timestamp);
            fields.field("level", record.level().as_str());
            fields.field("target", target);
            fields.field("message", &record.args().to_string());
        }
    }
    if let Some(context) = context {
        fields.field("request_id", &context.id);
        fields.field("route", context.route);
        if let Some(region) = context.region.get() {
            fields.field("region", region);
        }
    }
    let _ = record.key_values().visit(&mut fields);
    if format == LogFormat::Json {
        fields.line.push('}');
    }
    fields.line.push('\n');
    fields.line
}

/// A line being written: each field as ` key=value` or `,"key":value`.
struct Fields {
    format: LogFormat,
    line: String,
}

impl Fields {
    fn key(&mut self, key: &str) {
        match self.format {
            LogFormat::Text => {
                let _ = write!(self.line, " {key}=");
            }
            LogFormat::Json => {
                self.line.push(',');
                push_json_string(&mut self.line, key);
                self.line.push(':');
            }
        }
    }

    fn field(&mut self, key: &str, value: &str) {
        self.key(key);
        self.string(value);
    }

    fn string(&mut self, value: &str) {
        match self.format {
            LogFormat::Text => self.line.push_str(value),
            LogFormat::Json => push_json_string(&mut self.line, value),
        }
    }
}

impl<'kvs> VisitSource<'kvs> for Fields {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        self.key(key.as_str());
        value.visit(self)
    }
}

impl<'v> VisitValue<'v> for Fields {
    fn visit_any(&mut self, value: kv::Value) -> Result<(), kv::Error> {
        self.string(&value.to_string());
        Ok(())
    }

    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        let _ = write!(self.line, "{value}");
        Ok(())
    }

    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        let _ = write!(self.line, "{value}");
        Ok(())
    }

    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        match (self.format, value.is_finite()) {
            (LogFormat::Json, false) => self.line.push_str("null"),
            _ => {
                let _ = write!(self.line, "{value}");
            }
        }
        Ok(())
    }

    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        let _ = write!(self.line, "{value}");
        Ok(())
    }

    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        self.string(value);
        Ok(())
    }
}

fn push_json_string(line: &mut String, text: &str) {
    // A `&str` always serialises.
    line.push_str(&serde_json::to_string(text).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn request_ids_are_short_and_of_safe_characters() {
        for good in ["a", "req-42", "A.b_C-9", &"x".repeat(64)] {
            assert!(is_valid_request_id(good), "{good}");
            assert_eq!(request_id(Some(good)), good);
        }
        for bad in [
            "",
            &"x".repeat(65),
            "two words",
            "line\nbreak",
            "quote\"",
            "brace{}",
            "é",
            "a=b",
        ] {
            assert!(!is_valid_request_id(bad), "{bad:?}");
            let generated = request_id(Some(bad));
            assert!(is_valid_request_id(&generated), "{generated}");
            assert_ne!(generated, bad);
        }
        let (one, two) = (request_id(None), request_id(None));
        assert_ne!(one, two);
        assert_eq!(one.len(), 36);
    }

    #[test]
    fn formats_are_parsed_in_any_case() {
        assert_eq!(LogFormat::parse("JSON"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("logfmt"), None);
    }

    fn line(format: LogFormat, context: Option<&RequestContext>) -> String {
        let args = format_args!("POST /observe/observables 200 2.5ms \"quoted\"");
        let kvs: &[(&str, kv::Value)] = &[
            ("status", kv::Value::from(200u16)),
            ("duration_ms", kv::Value::from(2.5f64)),
            ("gti_calls", kv::Value::from(7u64)),
        ];
        let record = Record::builder()
            .level(log::Level::Info)
            .target("gti_relay::server::worker")
            .args(args)
            .key_values(&kvs)
            .build();
        render(format, "2026-01-02T03:04:05.678Z", &record, context)
    }

    fn context() -> Arc<RequestContext> {
        let context = RequestContext::new("req-1".into(), "observe");
        let _entered = enter(Some(Arc::clone(&context)));
        set_region("eu");
        count_gti_call();
        context
    }

    #[test]
    fn a_json_line_is_one_object_with_the_context_and_key_values() {
        let context = context();
        let text = line(LogFormat::Json, Some(&context));
        assert!(text.ends_with('\n') && !text.trim_end().contains('\n'));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!({
                "timestamp": "2026-01-02T03:04:05.678Z",
                "level": "INFO",
                "target": "gti_relay::server::worker",
                "message": "POST /observe/observables 200 2.5ms \"quoted\"",
                "request_id": "req-1",
                "route": "observe",
                "region": "eu",
                "status": 200,
                "duration_ms": 2.5,
                "gti_calls": 7,
            })
        );
        assert_eq!(context.gti_calls(), 1);
        let outside: Value = serde_json::from_str(&line(LogFormat::Json, None)).unwrap();
        assert!(outside.get("request_id").is_none());
    }

    #[test]
    fn a_text_line_keeps_its_shape_and_appends_the_fields() {
        let context = context();
        assert_eq!(
            line(LogFormat::Text, Some(&context)),
            "2026-01-02T03:04:05.678Z INFO  [gti_relay::server::worker] \
             POST /observe/observables 200 2.5ms \"quoted\" request_id=req-1 route=observe \
             region=eu status=200 duration_ms=2.5 gti_calls=7\n"
        );
    }

    #[test]
    fn a_carried_job_runs_in_the_submitter_s_context() {
        let context = RequestContext::new("req-2".into(), "health");
        let job = {
            let _entered = enter(Some(Arc::clone(&context)));
            carried(count_gti_call)
        };
        assert!(current().is_none(), "left on drop");
        std::thread::spawn(job).join().unwrap();
        assert_eq!(context.gti_calls(), 1);
    }
}
