//! How the relay reaches GTI and the JWKS hosts from a corporate network
//! (SPEC §1): which proxy each URL goes through, from the proxy variables
//! read as curl reads them, and which extra root certificates TLS trusts
//! beside the built-in ones (`GTI_CA_FILE`).
//!
//! Pure: `config` reads the variables and the CA file and hands their text
//! here; `gti::http_agent` and the callers of the agent apply the result
//! (every GTI and JWKS request names its proxy, or none, itself, so that
//! nothing depends on what ureq would read from the environment). Proxy
//! credentials never leave this module in text: `Debug` and every message
//! show `***` in their place.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// The relay's egress settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Egress {
    /// The proxy of `https://` URLs (`https_proxy`, `HTTPS_PROXY`, else
    /// `all_proxy`, `ALL_PROXY`).
    pub https_proxy: Option<ProxyUrl>,
    /// The proxy of `http://` URLs (`http_proxy`, `HTTP_PROXY`, else
    /// `all_proxy`, `ALL_PROXY`).
    pub http_proxy: Option<ProxyUrl>,
    /// Hosts reached directly whatever the proxies say (`no_proxy`, `NO_PROXY`).
    pub no_proxy: NoProxy,
    /// Roots trusted beside the built-in ones (`GTI_CA_FILE`).
    pub extra_roots: Option<ExtraRoots>,
}

impl Egress {
    /// The proxy a request to `url` goes through: by its scheme, unless its
    /// host is in `NO_PROXY`. `None`: straight to the host.
    pub fn proxy_for(&self, url: &str) -> Option<&ureq::Proxy> {
        let (scheme, host) = scheme_and_host(url)?;
        let proxy = if scheme.eq_ignore_ascii_case("https") {
            self.https_proxy.as_ref()
        } else if scheme.eq_ignore_ascii_case("http") {
            self.http_proxy.as_ref()
        } else {
            None
        }?;
        (!self.no_proxy.matches(&host)).then_some(&proxy.proxy)
    }
}

/// One line for the start-up log: each scheme's proxy (credentials
/// hidden), whether `NO_PROXY` is set, and the extra roots.
impl fmt::Display for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let route = |proxy: &Option<ProxyUrl>| match proxy {
            Some(proxy) => format!("via {proxy}"),
            None => "direct".to_owned(),
        };
        write!(
            f,
            "https:// {}, http:// {}",
            route(&self.https_proxy),
            route(&self.http_proxy)
        )?;
        if self.no_proxy != NoProxy::default() {
            f.write_str(", except NO_PROXY hosts")?;
        }
        match &self.extra_roots {
            Some(roots) => write!(
                f,
                "; TLS trusts the built-in roots and {} from {}",
                roots.len(),
                roots.path
            ),
            None => f.write_str("; TLS trusts the built-in roots"),
        }
    }
}

/// A proxy's URL, parsed; shown without its credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    proxy: ureq::Proxy,
    /// `http://***@host:port`: what logs and `Debug` may show.
    shown: String,
}

impl ProxyUrl {
    /// A proxy URL as curl takes one: `http://` or `https://` (no scheme
    /// means `http://`), a host, an optional port and `user:password@`.
    /// The error says what is expected and never repeats the credentials.
    pub fn parse(value: &str) -> Result<ProxyUrl, &'static str> {
        let expected = "an http:// or https:// proxy URL such as http://proxy.example.com:3128 \
                        (socks proxies are not supported)";
        let proxy = ureq::Proxy::new(value).map_err(|_| expected)?;
        let scheme = match proxy.protocol() {
            ureq::ProxyProtocol::Http => "http",
            ureq::ProxyProtocol::Https => "https",
            _ => return Err(expected),
        };
        if proxy.host().is_empty() {
            return Err(expected);
        }
        let credentials = if proxy.username().is_some() || proxy.password().is_some() {
            "***@"
        } else {
            ""
        };
        let shown = format!("{scheme}://{credentials}{}:{}", proxy.host(), proxy.port());
        Ok(ProxyUrl { proxy, shown })
    }

    /// The proxy for ureq's request settings.
    pub fn proxy(&self) -> &ureq::Proxy {
        &self.proxy
    }
}

/// The URL without its credentials.
impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ProxyUrl").field(&self.shown).finish()
    }
}

/// `value` with any `user:password@` replaced by `***@`, for messages
/// about a proxy URL that did not parse.
pub fn redact_credentials(value: &str) -> String {
    let start = value.find("://").map_or(0, |scheme| scheme + 3);
    let authority_end = value[start..]
        .find(['/', '?', '#'])
        .map_or(value.len(), |end| start + end);
    match value[start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &value[..start], &value[start + at..]),
        None => value.to_owned(),
    }
}

/// The hosts of `NO_PROXY`, matched as curl matches them: `*` matches every
/// host; a name matches itself and every name below it (`example.com` and
/// `.example.com` both match `example.com` and `api.example.com`, not
/// `badexample.com`), in any case; an IP address or a CIDR range
/// (`10.0.0.0/8`, `::1`) matches the addresses it covers. Ports are not
/// part of an entry (an entry with one matches nothing, as in curl).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    every_host: bool,
    names: Vec<String>,
    networks: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    /// The comma-separated list of `NO_PROXY`; empty entries are skipped.
    pub fn parse(value: &str) -> NoProxy {
        let mut list = NoProxy::default();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                list.every_host = true;
            } else if let Some(network) = parse_network(entry) {
                list.networks.push(network);
            } else {
                let name = entry.trim_start_matches("*.").trim_start_matches('.');
                list.names
                    .push(name.trim_end_matches('.').to_ascii_lowercase());
            }
        }
        list
    }

    /// Whether requests to `host` (a name, an IPv4 address or a bracketed
    /// IPv6 address, without the port) skip the proxy.
    pub fn matches(&self, host: &str) -> bool {
        if self.every_host {
            return true;
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(address) = bare.parse::<IpAddr>() {
            return self
                .networks
                .iter()
                .any(|(network, prefix)| in_network(address, *network, *prefix));
        }
        let name = bare.trim_end_matches('.').to_ascii_lowercase();
        self.names.iter().any(|entry| {
            name == *entry
                || name
                    .strip_suffix(entry.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }
}

/// `10.0.0.0/8`, `192.168.1.7`, `::1`, `[::1]`, `fd00::/8` as an address
/// and prefix length.
fn parse_network(entry: &str) -> Option<(IpAddr, u8)> {
    let (address, prefix) = match entry.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (entry, None),
    };
    let address: IpAddr = address
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    let bits = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(prefix) => prefix.parse::<u8>().ok().filter(|p| *p <= bits)?,
        None => bits,
    };
    Some((address, prefix))
}

fn in_network(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    let (address, network, bits) = match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(n)), 32u32)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128u32),
        _ => return false,
    };
    let host_bits = bits - u32::from(prefix);
    let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
    address & mask == network & mask
}

/// The scheme and host of an absolute URL (`http::Uri` reads it; an IPv6
/// host keeps its brackets).
fn scheme_and_host(url: &str) -> Option<(String, String)> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    Some((uri.scheme_str()?.to_owned(), uri.host()?.to_owned()))
}

/// The certificates of `GTI_CA_FILE`, trusted beside the built-in roots.
#[derive(Clone, PartialEq, Eq)]
pub struct ExtraRoots {
    /// Where they came from, for logs.
    pub path: String,
    /// Each certificate, DER-encoded.
    certificates: Arc<Vec<Vec<u8>>>,
}

impl ExtraRoots {
    /// The certificates of a PEM bundle read from `path`: at least one,
    /// and every PEM block well-formed (other kinds of blocks, such as
    /// keys, are skipped). The error says what is wrong with the text.
    pub fn from_pem(path: &str, pem: &[u8]) -> Result<ExtraRoots, String> {
        let mut certificates = Vec::new();
        for item in ureq::tls::parse_pem(pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(certificate)) => {
                    certificates.push(certificate.der().to_vec());
                }
                Ok(_) => {}
                Err(error) => return Err(format!("a PEM file that parses ({error})")),
            }
        }
        if certificates.is_empty() {
            return Err("a PEM file holding at least one CERTIFICATE block".to_owned());
        }
        Ok(ExtraRoots {
            path: path.to_owned(),
            certificates: Arc::new(certificates),
        })
    }

    /// The certificates, DER-encoded.
    pub fn certificates(&self) -> impl Iterator<Item = &[u8]> {
        self.certificates.iter().map(Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.certificates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }
}

impl fmt::Debug for ExtraRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtraRoots")
            .field("path", &self.path)
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(url: &str) -> Option<ProxyUrl> {
        Some(ProxyUrl::parse(url).unwrap())
    }

    #[test]
    fn the_proxy_follows_the_scheme_and_no_proxy() {
        let egress = Egress {
            https_proxy: proxy("http://secure-proxy:3128"),
            http_proxy: proxy("plain-proxy:8080"),
            no_proxy: NoProxy::parse("internal.example, 10.0.0.0/8"),
            extra_roots: None,
        };
        let host = |url: &str| egress.proxy_for(url).map(|p| p.host().to_owned());
        assert_eq!(
            host("https://detections.icebrg.io/v1/detections?x=1").as_deref(),
            Some("secure-proxy")
        );
        assert_eq!(
            host("http://127.0.0.1:5000/v1/").as_deref(),
            Some("plain-proxy")
        );
        assert_eq!(host("HTTPS://api.internal.example/x"), None);
        assert_eq!(host("https://internal.example:8443/x"), None);
        assert_eq!(host("http://10.1.2.3:80/"), None);
        assert_eq!(
            host("https://user:pw@11.0.0.1/").as_deref(),
            Some("secure-proxy")
        );
        assert_eq!(host("ftp://x/"), None);
        assert_eq!(host("not a url"), None);
        assert_eq!(Egress::default().proxy_for("https://a.example/"), None);
        assert_eq!(
            egress.to_string(),
            "https:// via http://secure-proxy:3128, http:// via http://plain-proxy:8080, \
             except NO_PROXY hosts; TLS trusts the built-in roots"
        );
        assert_eq!(
            Egress::default().to_string(),
            "https:// direct, http:// direct; TLS trusts the built-in roots"
        );
    }

    #[test]
    fn no_proxy_matches_as_curl_does() {
        let list = NoProxy::parse(" example.com , .corp.example,*.lab.example, 192.168.0.0/16, ::1, [fd00::]/8, host:8080 ,");
        for host in [
            "example.com",
            "EXAMPLE.com",
            "api.example.com",
            "example.com.",
            "corp.example",
            "a.b.corp.example",
            "lab.example",
            "x.lab.example",
            "192.168.4.5",
            "[::1]",
            "[fd12::1]",
        ] {
            assert!(list.matches(host), "{host}");
        }
        for host in [
            "badexample.com",
            "example.org",
            "192.169.0.1",
            "127.0.0.1",
            "[::2]",
            "host",
            "8080",
        ] {
            assert!(!list.matches(host), "{host}");
        }
        assert!(NoProxy::parse("*").matches("anything.example"));
        assert!(NoProxy::parse("a, *").matches("10.0.0.1"));
        assert!(!NoProxy::parse("").matches("a"));
        assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8"));
        assert!(!NoProxy::parse("0.0.0.0/0").matches("[::1]"));
        assert!(NoProxy::parse("127.0.0.1").matches("127.0.0.1"));
    }

    #[test]
    fn proxy_urls_are_parsed_and_shown_without_credentials() {
        let with = ProxyUrl::parse("http://relay:s3cret@proxy.example:3128").unwrap();
        assert_eq!(with.to_string(), "http://***@proxy.example:3128");
        assert!(!format!("{with:?}").contains("s3cret"));
        assert_eq!(with.proxy().password(), Some("s3cret"));
        let bare = ProxyUrl::parse("proxy.example").unwrap();
        assert_eq!(bare.to_string(), "http://proxy.example:80");
        let tls = ProxyUrl::parse("https://proxy.example/").unwrap();
        assert_eq!(tls.to_string(), "https://proxy.example:443");
        for bad in [
            "socks5://proxy.example:1080",
            "ftp://proxy.example",
            "http://",
            "http://a b",
        ] {
            assert!(ProxyUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            redact_credentials("socks5://u:p@w@proxy:1/x@y"),
            "socks5://***@proxy:1/x@y"
        );
        assert_eq!(redact_credentials("u:p@proxy"), "***@proxy");
        assert_eq!(redact_credentials("http://proxy:1"), "http://proxy:1");
    }

    #[test]
    fn hosts_are_found_in_urls() {
        let found = |url| scheme_and_host(url);
        let pair = |scheme: &str, host: &str| Some((scheme.to_owned(), host.to_owned()));
        assert_eq!(
            found("https://u:p@h.example:8443/p?q"),
            pair("https", "h.example")
        );
        assert_eq!(found("http://[::1]:9/x"), pair("http", "[::1]"));
        assert_eq!(found("http://h"), pair("http", "h"));
        assert_eq!(found("h/x"), None);
    }

    #[test]
    fn a_pem_bundle_needs_a_certificate() {
        let certificate = include_bytes!("../tests/fixtures/tls/test-ca-cert.pem");
        let roots = ExtraRoots::from_pem("ca.pem", certificate).unwrap();
        assert_eq!(roots.len(), 1);
        assert!(format!("{roots:?}").contains("ca.pem"));
        let mut two = certificate.to_vec();
        two.extend_from_slice(b"\n# a comment between blocks\n");
        two.extend_from_slice(certificate);
        assert_eq!(ExtraRoots::from_pem("ca.pem", &two).unwrap().len(), 2);
        assert!(ExtraRoots::from_pem("x", b"").is_err());
        assert!(ExtraRoots::from_pem("x", b"not pem at all").is_err());
        let key = include_bytes!("../tests/fixtures/tls/test-ca-server-key.pem");
        assert!(ExtraRoots::from_pem("x", key).is_err(), "a key is no root");
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        assert!(ExtraRoots::from_pem("x", broken).is_err());
    }
}
