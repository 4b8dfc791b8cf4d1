//! The `jwks_host` allow-list: which hosts a token may name as the source
//! of its keys (`JWKS_ALLOWED_HOSTS`). Pure string matching; no I/O.

/// Whether `host` (a `jwks_host` claim, optionally with `:port`) matches one
/// of `patterns`. Comparison ignores ASCII case; `*` in a pattern stands for
/// exactly one DNS label or one port number. Anything that is not a plain
/// `name[:port]` — userinfo, paths, queries, fragments, whitespace, empty
/// labels — never matches, so the host cannot steer the JWKS URL elsewhere.
pub fn host_allowed(patterns: &[String], host: &str) -> bool {
    let Some((name, port)) = split_host(host) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    patterns.iter().any(|pattern| {
        let pattern = pattern.to_ascii_lowercase();
        let (pattern_name, pattern_port) = match pattern.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (pattern.as_str(), None),
        };
        let ports_match = match (pattern_port, port) {
            (None, None) => true,
            (Some("*"), Some(_)) => true,
            (Some(expected), Some(port)) => expected == port,
            _ => false,
        };
        ports_match && labels_match(pattern_name, &name)
    })
}

/// Splits `name[:port]`, refusing any character a host name or port cannot
/// hold and ports that are not a number from 0 to 65535.
fn split_host(host: &str) -> Option<(&str, Option<&str>)> {
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    // `parse::<u16>` alone would take `+80`.
    let port_ok = port.is_none_or(|port| {
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok()
    });
    (name_ok && port_ok).then_some((name, port))
}

fn labels_match(pattern: &str, name: &str) -> bool {
    let mut pattern_labels = pattern.split('.');
    let mut name_labels = name.split('.');
    loop {
        match (pattern_labels.next(), name_labels.next()) {
            (None, None) => return true,
            (Some(expected), Some(label)) => {
                // An empty label (`a..b`, trailing dot) never matches.
                if label.is_empty() || (expected != "*" && expected != label) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> Vec<String> {
        list.iter().map(|pattern| pattern.to_string()).collect()
    }

    #[test]
    fn default_patterns_allow_cisco_regions_only() {
        let allowed = patterns(&["visibility.amp.cisco.com", "visibility.*.amp.cisco.com"]);
        for host in [
            "visibility.amp.cisco.com",
            "VISIBILITY.Amp.Cisco.COM",
            "visibility.eu.amp.cisco.com",
            "visibility.apjc.amp.cisco.com",
        ] {
            assert!(host_allowed(&allowed, host), "{host} should be allowed");
        }
        for host in [
            "",
            "visibility.amp.cisco.com.evil.com",
            "evil/visibility.amp.cisco.com",
            "visibility.amp.cisco.com@evil",
            "user@visibility.amp.cisco.com",
            "evil.com#visibility.amp.cisco.com",
            "evil.com?visibility.amp.cisco.com",
            "visibility.amp.cisco.com/.well-known/jwks?",
            "visibility.amp.cisco.com#",
            " visibility.amp.cisco.com",
            "visibility.amp.cisco.com\n",
            "visibility.amp .cisco.com",
            "visibility.amp.cisco.com.",
            "visibility..amp.cisco.com",
            "visibility.a.b.amp.cisco.com",
            "evilvisibility.amp.cisco.com",
            "visibility.amp.cisco.com:443",
            "visibility.*.amp.cisco.com",
            "amp.cisco.com",
        ] {
            assert!(!host_allowed(&allowed, host), "{host:?} should be refused");
        }
    }

    #[test]
    fn star_matches_one_port_number() {
        let allowed = patterns(&["127.0.0.1:*", "localhost:8443"]);
        for host in [
            "127.0.0.1:8080",
            "127.0.0.1:0",
            "127.0.0.1:65535",
            "LOCALHOST:8443",
        ] {
            assert!(host_allowed(&allowed, host), "{host} should be allowed");
        }
        for host in [
            "127.0.0.1",
            "127.0.0.1:",
            "127.0.0.1:abc",
            "127.0.0.1:65536",
            "127.0.0.1:+80",
            "127.0.0.1:80:80",
            "127.0.0.1:80@evil",
            "127.0.0.1:80/evil",
            "127.0.0.2:80",
            "localhost",
            "localhost:8444",
        ] {
            assert!(!host_allowed(&allowed, host), "{host:?} should be refused");
        }
    }
}
