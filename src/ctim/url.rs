//! The URLs the mapper writes: links into the GTI portal, and the URL of an
//! HTTP event rebuilt the way the reference's Python builds it.

use crate::encoding::{quote, quote_plus};

/// The portal's base without a trailing `/`.
pub fn trim_portal(portal_url: &str) -> &str {
    portal_url.trim_end_matches('/')
}

/// The portal's search page for a GTI query.
pub fn search_url(portal: &str, query: &str) -> String {
    format!("{portal}/search?query={}", quote_plus(query))
}

/// The portal's page of a rule, scoped to the detection's account when known.
/// The uuids are encoded so that an odd value cannot break the link; real
/// (hex and dash) uuids come out unchanged, as in the reference.
pub fn rule_url(portal: &str, rule_uuid: &str, account_uuid: Option<&str>) -> String {
    let url = format!("{portal}/detections/rules/{}", quote(rule_uuid));
    match account_uuid {
        Some(account) => format!("{url}?account_uuid={}", quote_plus(account)),
        None => url,
    }
}

// URL rebuilding: Python's urlparse(uri, scheme='http') → urlunparse.

/// Schemes whose URLs Python's `urlunsplit` writes with `//netloc`.
const USES_NETLOC: &[&str] = &[
    "", "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms", "https", "shttp",
    "snews", "prospero", "rtsp", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs", "git",
    "git+ssh", "ws", "wss",
];

/// Schemes whose last path segment Python's `urlparse` splits `;params` from.
const USES_PARAMS: &[&str] = &[
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtspu", "sip", "sips",
    "mms", "sftp", "tel",
];

/// The URL the reference builds from an HTTP event's `uri.uri` and host:
/// `urlparse(uri, scheme='http')`, the host put in when the URI has none,
/// then `geturl()`. Reproduced step by step because the result is a CTIM
/// observable value that must match the reference's exactly, quirks
/// included (an empty `?` or `;` is dropped, `upload.php` with no host
/// becomes `http:///upload.php`). Unlike Python it never raises: an
/// unbalanced `[` in the netloc is kept as it is.
pub fn rebuild_url(uri: &str, host: &str) -> String {
    // urlsplit: strip leading C0 controls and spaces, drop tabs and newlines.
    let cleaned: String = uri
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let (scheme, rest) = split_scheme(&cleaned);

    let mut netloc = "";
    let mut rest = rest;
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
    }
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (path, params) = split_params(&scheme, path);
    if netloc.is_empty() {
        netloc = host;
    }
    unparse(&scheme, netloc, path, params, query, fragment)
}

/// urlsplit's scheme (`http` when there is none) and what follows it.
fn split_scheme(uri: &str) -> (String, &str) {
    if let Some(colon) = uri.find(':') {
        let candidate = &uri[..colon];
        let starts_alpha = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
        let all_scheme_chars = candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if starts_alpha && all_scheme_chars {
            return (candidate.to_ascii_lowercase(), &uri[colon + 1..]);
        }
    }
    (String::from("http"), uri)
}

/// urlparse: the `;params` of the path's last segment, for the schemes
/// that have them.
fn split_params<'a>(scheme: &str, path: &'a str) -> (&'a str, &'a str) {
    if USES_PARAMS.contains(&scheme) {
        let segment_start = path.rfind('/').unwrap_or(0);
        if let Some(semicolon) = path[segment_start..].find(';') {
            let at = segment_start + semicolon;
            return (&path[..at], &path[at + 1..]);
        }
    }
    (path, "")
}

/// urlunparse / urlunsplit: parts rejoined only when non-empty.
fn unparse(
    scheme: &str,
    netloc: &str,
    path: &str,
    params: &str,
    query: &str,
    fragment: &str,
) -> String {
    let mut url = path.to_owned();
    if !params.is_empty() {
        url = format!("{url};{params}");
    }
    if !netloc.is_empty() || (USES_NETLOC.contains(&scheme) && !url.starts_with("//")) {
        if !url.is_empty() && !url.starts_with('/') {
            url.insert(0, '/');
        }
        url = format!("//{netloc}{url}");
    }
    url = format!("{scheme}:{url}");
    if !query.is_empty() {
        url = format!("{url}?{query}");
    }
    if !fragment.is_empty() {
        url = format!("{url}#{fragment}");
    }
    url
}
