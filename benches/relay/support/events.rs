//! GTI's events as GTI sends them, for the `limit1000` rows (issue 19):
//! every event type the mapper knows (the ones with a table of their own,
//! `flow`, `dns`, `http`, `ssh` and `suricata`; `x509`, whose names it
//! relates; and `ssl`, `smb_file` and `pe`, which it maps like any other),
//! each with the field set GTI documents: the common fields (`account`,
//! `flow_id`, `source`, `geo_distance`, `intel`), `src` and `dst` as
//! enriched IP objects (`asn`, `geo`), and the event type's own fields.
//! The relay reads a few of them and skips the rest, which is what it
//! spends its CPU and memory on with real answers.
//!
//! Values vary with each event's serial (ports, sizes, names, hashes,
//! durations), deterministically: two runs load the same data. Pure: no
//! I/O, no clock (the caller gives the time).

use gti_relay::time::format_timestamp;
use serde_json::{json, Value};

/// The event types, in the order the searched events cycle through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Flow,
    Dns,
    Http,
    Ssl,
    X509,
    Ssh,
    Suricata,
    SmbFile,
    Pe,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Flow,
        Kind::Dns,
        Kind::Http,
        Kind::Ssl,
        Kind::X509,
        Kind::Ssh,
        Kind::Suricata,
        Kind::SmbFile,
        Kind::Pe,
    ];

    /// Those whose `dst.ip` is the observable, as the events of a detection
    /// on `dst.ip` are.
    pub const DETECTED: [Kind; 4] = [Kind::Http, Kind::Suricata, Kind::Ssl, Kind::Flow];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Flow => "flow",
            Kind::Dns => "dns",
            Kind::Http => "http",
            Kind::Ssl => "ssl",
            Kind::X509 => "x509",
            Kind::Ssh => "ssh",
            Kind::Suricata => "suricata",
            Kind::SmbFile => "smb_file",
            Kind::Pe => "pe",
        }
    }
}

/// What one event is about.
pub struct Seed<'a> {
    /// The observable, an external IP.
    pub value: &'a str,
    /// The internal device on the other end.
    pub device: &'a str,
    /// The account code (`customer_id`) and its sensor.
    pub customer: &'a str,
    pub sensor: &'a str,
    pub uuid: String,
    /// Milliseconds since the epoch.
    pub at: u64,
    /// Varies every value not given above.
    pub serial: u64,
}

/// The event of type `kind` about `seed`.
pub fn event(kind: Kind, seed: &Seed) -> Value {
    let (own, src, dst) = match kind {
        Kind::Flow => flow(seed),
        Kind::Dns => dns(seed),
        Kind::Http => http(seed),
        Kind::Ssl => ssl(seed),
        Kind::X509 => x509(seed),
        Kind::Ssh => ssh(seed),
        Kind::Suricata => suricata(seed),
        Kind::SmbFile => smb_file(seed),
        Kind::Pe => pe(seed),
    };
    let source = if kind == Kind::Suricata {
        "Suricata"
    } else {
        "Zeek"
    };
    let mut event = common(kind, seed, source, src, dst);
    if let (Value::Object(fields), Value::Object(own)) = (&mut event, own) {
        fields.extend(own);
    }
    event
}

/// The fields every event has; `src` and `dst` are the (ip, port, internal)
/// of its two ends.
fn common(kind: Kind, seed: &Seed, source: &str, src: End, dst: End) -> Value {
    // Between the two ends' places (an internal end's is taken as its
    // sensor's); none between two internal ends.
    let distance = src.2 != dst.2;
    json!({
        "uuid": seed.uuid,
        "event_type": kind.name(),
        "timestamp": format_timestamp(seed.at),
        "customer_id": seed.customer,
        "account": format!("{} Corporation", capitalized(seed.customer)),
        "sensor_id": seed.sensor,
        "source": source,
        "flow_id": flow_id(seed.serial),
        "src": ip_object(src),
        "dst": ip_object(dst),
        "geo_distance": distance.then(|| 900.0 + (mix(seed.serial) % 800_000) as f64 / 100.0),
        "intel": intel(seed),
    })
}

/// An end of a connection: its IP, port and whether it is internal.
type End<'a> = (&'a str, Option<u64>, bool);

/// The device's end (an ephemeral port) and the observable's (`port`).
fn outbound<'a>(seed: &Seed<'a>, port: u64) -> (End<'a>, End<'a>) {
    (
        (seed.device, Some(49152 + mix(seed.serial) % 16000), true),
        (seed.value, Some(port), false),
    )
}

/// An IP object (with a port when it is a connection's end): GTI enriches
/// external addresses with their AS and place.
fn ip_object((ip, port, internal): End) -> Value {
    let mut object = if internal {
        json!({"ip": ip, "internal": true, "asn": null, "geo": null})
    } else {
        enriched(ip)
    };
    if let Some(port) = port {
        object["port"] = json!(port);
    }
    object
}

/// An external IP object: the same address is always in the same place.
fn enriched(ip: &str) -> Value {
    let key = ip.bytes().map(u64::from).sum::<u64>();
    let (asn, org, country, subdivision, city, lat, lon) = pick(&NETWORKS, key);
    json!({
        "ip": ip,
        "internal": false,
        "asn": {"asn": asn, "asn_org": org.to_uppercase(), "isp": org, "org": org},
        "geo": {
            "location": {"lat": lat, "lon": lon},
            "country": country,
            "subdivision": subdivision,
            "city": city,
        },
    })
}

/// Intel matches: most events have none; some match a feed on the
/// observable.
fn intel(seed: &Seed) -> Value {
    if mix(seed.serial ^ 0x5eed) % 3 != 0 {
        return json!([]);
    }
    let (feed, confidence, malicious) = pick(&FEEDS, seed.serial);
    json!([{
        "uuid": uuid(0x1e7e1, seed.serial),
        "feed": feed,
        "confidence": confidence,
        "severity": if malicious { "high" } else { "low" },
        "indicator": seed.value,
        "indicator_type": "ip_address",
        "is_malicious": malicious,
        "reference_url": format!("https://intel.example/indicator/{}", seed.value),
    }])
}

fn flow<'a>(seed: &Seed<'a>) -> (Value, End<'a>, End<'a>) {
    let n = mix(seed.serial);
    let (service, port) = pick(&SERVICES, n);
    let (src, dst) = outbound(seed, port);
    let (src_pkts, dst_pkts) = (2 + n % 90, 1 + (n >> 8) % 400);
    let (src_bytes, dst_bytes) = (src_pkts * (40 + n % 900), dst_pkts * (60 + (n >> 4) % 1400));
    let event = json!({
        "application": service,
        "service": service,
        "proto": if port == 53 || port == 123 { "udp" } else { "tcp" },
        "duration": (n % 600_000) as f64 / 1000.0,
        "flow_state": pick(&FLOW_STATES, n >> 12),
        "history": pick(&HISTORIES, n >> 16),
        "src_bytes": src_bytes,
        "dst_bytes": dst_bytes,
        "src_ip_bytes": src_bytes + 40 * src_pkts,
        "dst_ip_bytes": dst_bytes + 40 * dst_pkts,
        "src_pkts": src_pkts,
        "dst_pkts": dst_pkts,
        "total_bytes": src_bytes + dst_bytes,
        "total_ip_bytes": src_bytes + dst_bytes + 40 * (src_pkts + dst_pkts),
        "total_pkts": src_pkts + dst_pkts,
        "missed_bytes": 0,
        "local_orig": true,
        "local_resp": false,
        "tunnel_parents": [],
    });
    (event, src, dst)
}

/// A device asks an internal resolver for a name that resolves to the
/// observable and a neighbour (answers are enriched IP objects).
fn dns<'a>(seed: &Seed<'a>) -> (Value, End<'a>, End<'a>) {
    let n = mix(seed.serial);
    let name = host_name(n);
    let src = (seed.device, Some(49152 + n % 16000), true);
    let dst = (pick(&RESOLVERS, n >> 3), Some(53), true);
    let neighbour = neighbour(seed.value, n);
    let answers: Vec<Value> = [seed.value, neighbour.as_str()]
        .iter()
        .map(|ip| {
            let mut answer = ip_object((ip, None, false));
            answer["ttl"] = json!(60 + n % 3600);
            answer
        })
        .collect();
    let event = json!({
        "query": domain_object(&name),
        "answers": answers,
        "qtype": 1,
        "qtype_name": "A",
        "qclass": 1,
        "qclass_name": "C_INTERNET",
        "rcode": 0,
        "rcode_name": "NOERROR",
        "rejected": false,
        "aa": false,
        "tc": false,
        "rd": true,
        "ra": true,
        "z": 0,
        "trans_id": n % 65536,
        "rtt": (n % 90_000) as f64 / 1_000_000.0,
        "proto": "udp",
    });
    (event, src, dst)
}

fn http<'a>(seed: &Seed<'a>) -> (Value, End<'a>, End<'a>) {
    let n = mix(seed.serial);
    let (src, dst) = outbound(seed, if n % 4 == 0 { 8080 } else { 80 });
    let host = host_name(n);
    let (method, path) = pick(&REQUESTS, n >> 5);
    let query = format!("id={}&session={:016x}", n % 100_000, mix(n));
    let files: Vec<Value> = (0..1 + n % 2)
        .map(|f| file_object(n + f, "application/x-dosexec"))
        .collect();
    let response_len = 2_000 + n % 900_000;
    let mut host_object = domain_object(&host);
    host_object["ip"] = json!(seed.value);
    let event = json!({
        "method": method,
        "host": host_object,
        "uri": {
            "uri": format!("{path}?{query}"),
            "scheme": "http",
            "host": host,
            "path": path,
            "query": query,
            "fragment": null,
            "port": dst.1,
        },
        "referrer": {"uri": format!("http://{}/", pick(&REFERRERS, n >> 9)), "scheme": "http",
            "host": pick(&REFERRERS, n >> 9), "path": "/"},
        "user_agent": pick(&USER_AGENTS, n >> 11),
        "version": "1.1",
        "status_code": 200,
        "status_msg": "OK",
        "info_code": null,
        "info_msg": null,
        "request_len": if method == "POST" { 200 + n % 40_000 } else { 0 },
        "response_len": response_len,
        "request_mimes": [],
        "response_mimes": ["application/x-dosexec"],
        "files": files,
        "trans_depth": 1 + n % 3,
        "proxied": [],
        "username": null,
        "password": null,
        "headers": {"accept": "*/*", "accept_encoding": "gzip, deflate", "connection": "Keep-Alive",
            "content_type": "application/octet-stream", "content_length": response_len},
    });
    (event, src, dst)
}

fn ssl<'a>(seed: &Seed<'a>) -> (Value, End<'a>, End<'a>) {
    let n = mix(seed.serial);
    let (src, dst) = outbound(seed, 443);
    let name = host_name(n);
    let (version, cipher) = pick(&TLS, n >> 3);
    let event = json!({
        "version": version,
        "cipher": cipher,
        "curve": pick(&["x25519", "secp256r1", "secp384r1"], n >> 6),
        "server_name_indication": domain_object(&name),
        "resumed": n % 5 == 0,
        "established": n % 11 != 0,
        "next_protocol": pick(&["h2", "http/1.1"], n >> 8),
        "ja3": hex(n ^ 0x0a3, 32),
        "ja3s": hex(n ^ 0x0a35, 32),
        "subject": format!("CN={name}"),
        "issuer": pick(&ISSUERS, n >> 10),
        "client_subject": null,
        "client_issuer": null,
        "validation_status": pick(&["ok", "unable to get local issuer certificate", "self signed certificate"], n >> 12),
        "cert_chain_fuids": [format!("F{}", &flow_id(n)[1..]), format!("F{}", &flow_id(n + 1)[1..])],
    });
    (event, src, dst)
}

fn x509<'a>(seed: &Seed<'a>) -> (Value, End<'a>, End<'a>) {
    let n = mix(seed.serial);
    let (src, dst) = outbound(seed, 443);
    let name = host_name(n);
    let issued = seed.at - (n % 300) * gti_relay::time::DAY_MILLIS;
    let event = json!({
        "subject": format!("CN={name},O={},C=US", org_name(n)),
        "issuer": pick(&ISSUERS, n >> 10),
        "serial": hex(n, 32).to_uppercase(),
        "version": 3,
        "key_alg": "rsaEncryption",
        "key_type": "rsa",
        "key_length": pick(&[2048, 3072, 4096], n >> 4),
        "exponent": "65537",
        "curve": null,
        "sig_alg": "sha256WithRSAEncryption",
        "not_valid_before": format_timestamp(issued),
        "not_valid_after": format_timestamp(issued + 398 * gti_relay::time::DAY_MILLIS),
        "san_dns": [name, format!("www.{name}"), format!("*.{}", pick(&CDNS, n >> 7))],
        "san_ip": [],
        "san_email": [],
        "san_uri": [],
        "basic_constraints_ca": false,
        "basic_constraints_path_len": null,
        "fingerprint": hex(n ^ 0xf1, 40),
    });
    (event, src, dst)
}

/// The observable tries to log in to the device.
fn ssh<'a>(seed: &Seed<'a>) -> (Value, End<'a>, End<'a>) {
    let n = mix(seed.serial);
    let src = (seed.value, Some(30000 + n % 30000), false);
    let dst = (seed.device, Some(22), true);
    let event = json!({
        "direction": "INBOUND",
        "version": 2,
        "client": pick(&SSH_CLIENTS, n >> 3),
        "server": "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6",
        "auth_success": n % 13 == 0,
        "auth_attempts": 1 + n % 6,
        "cipher_alg": pick(&["chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-gcm@openssh.com"], n >> 6),
        "compression_alg": "none",
        "kex_alg": pick(&["curve25519-sha256", "diffie-hellman-group14-sha256"], n >> 8),
        "mac_alg": pick(&["hmac-sha2-256", "umac-64-etm@openssh.com"], n >> 9),
        "host_key_alg": "ssh-ed25519",
        "host_key": fingerprint(n),
        "hassh": hex(n ^ 0x4a55, 32),
        "hassh_server": hex(0x4a55_5e55, 32),
    });
    (event, src, dst)
}

fn suricata<'a>(seed: &Seed<'a>) -> (Value, End<'a>, End<'a>) {
    let n = mix(seed.serial);
    let (src, dst) = outbound(seed, pick(&[80, 443, 8080, 4444], n >> 2));
    let (sig_id, sig_name, category, severity) = pick(&SIGNATURES, n >> 4);
    let event = json!({
        "sig_id": sig_id,
        "sig_rev": 1 + n % 9,
        "sig_name": sig_name,
        "sig_category": category,
        "sig_severity": severity,
        "gid": 1,
        "action": "allowed",
        "proto": "TCP",
        "app_proto": "http",
        "payload": payload(n),
        "payload_printable": format!("GET /gate.php?id={} HTTP/1.1..Host: {}..User-Agent: {}....", n % 100_000, host_name(n), pick(&USER_AGENTS, n >> 11)),
        "stream": 1,
        "metadata": {
            "attack_target": ["Client_Endpoint"],
            "created_at": ["2023_05_12"],
            "deployment": ["Perimeter"],
            "signature_severity": ["Major"],
            "updated_at": ["2024_11_03"],
        },
    });
    (event, src, dst)
}

fn smb_file<'a>(seed: &Seed<'a>) -> (Value, End<'a>, End<'a>) {
    let n = mix(seed.serial);
    let (src, dst) = outbound(seed, 445);
    let name = format!(
        "{}_{:04}.{}",
        pick(&FILE_STEMS, n >> 3),
        n % 10_000,
        pick(&["docx", "xlsx", "pdf", "exe", "dll"], n >> 7)
    );
    let at = |back: u64| format_timestamp(seed.at - back % (90 * gti_relay::time::DAY_MILLIS));
    let event = json!({
        "action": pick(&["SMB::FILE_OPEN", "SMB::FILE_READ", "SMB::FILE_WRITE", "SMB::FILE_DELETE"], n >> 2),
        "name": name,
        "path": format!("\\\\{}\\{}", seed.value, pick(&["Public", "Users", "IPC$", "ADMIN$"], n >> 5)),
        "prev_name": null,
        "size": 1024 + n % 8_000_000,
        "times": {"accessed": at(n), "changed": at(n >> 8), "created": at(n >> 16), "modified": at(n >> 24)},
        "file": file_object(n, "application/octet-stream"),
    });
    (event, src, dst)
}

/// A portable executable the device downloaded from the observable.
fn pe<'a>(seed: &Seed<'a>) -> (Value, End<'a>, End<'a>) {
    let n = mix(seed.serial);
    let (src, dst) = outbound(seed, 80);
    let event = json!({
        "file": file_object(n, "application/x-dosexec"),
        "machine": pick(&["AMD64", "I386"], n >> 2),
        "os": "Windows XP x64 or Server 2003",
        "subsystem": pick(&["WINDOWS_GUI", "WINDOWS_CUI"], n >> 3),
        "compile_ts": format_timestamp(seed.at - (n % 2000) * gti_relay::time::DAY_MILLIS),
        "is_exe": n % 4 != 0,
        "is_64bit": n % 2 == 0,
        "uses_aslr": true,
        "uses_dep": true,
        "uses_code_integrity": false,
        "uses_seh": n % 3 != 0,
        "has_import_table": true,
        "has_export_table": n % 4 == 0,
        "has_cert_table": n % 5 == 0,
        "has_debug_data": n % 2 == 1,
        "section_names": [".text", ".rdata", ".data", ".pdata", ".rsrc", ".reloc"],
    });
    (event, src, dst)
}

/// GTI's file object: hashes, type, size and the name it was sent under.
fn file_object(n: u64, mime_type: &str) -> Value {
    json!({
        "md5": hex(n ^ 0x3d5, 32),
        "sha1": hex(n ^ 0x5a1, 40),
        "sha256": hex(n ^ 0x256, 64),
        "mime_type": mime_type,
        "bytes": 20_000 + n % 4_000_000,
        "name": format!("{}_{}.exe", pick(&FILE_STEMS, n >> 3), n % 1000),
    })
}

/// GTI's domain object: the name and its parts.
fn domain_object(name: &str) -> Value {
    let (host, rest) = name.split_once('.').unwrap_or((name, ""));
    let tld = rest.rsplit('.').next().unwrap_or("");
    json!({"domain": name, "host": host, "sld": rest, "tld": tld})
}

fn host_name(n: u64) -> String {
    format!(
        "{}{}.{}",
        pick(&HOSTS, n >> 13),
        n % 40,
        pick(&DOMAINS, n >> 17)
    )
}

fn org_name(n: u64) -> String {
    capitalized(
        pick(&DOMAINS, n >> 17)
            .split('.')
            .next()
            .unwrap_or("example"),
    )
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Another address in the observable's /24.
fn neighbour(value: &str, n: u64) -> String {
    let prefix = value.rsplit_once('.').map_or(value, |(prefix, _)| prefix);
    format!("{prefix}.{}", 100 + n % 150)
}

/// Zeek's flow ids: `C` and 17 letters and digits.
fn flow_id(serial: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let (mut a, mut b) = (mix(serial), mix(serial ^ 0xf10));
    let mut id = String::from("C");
    for k in 0..17 {
        let word = if k < 9 { &mut a } else { &mut b };
        id.push(char::from(ALPHABET[(*word % 62) as usize]));
        *word /= 62;
    }
    id
}

/// A key fingerprint as SSH prints it: 16 hex pairs joined by colons.
fn fingerprint(n: u64) -> String {
    let digits = hex(n ^ 0x4057, 32);
    let pairs: Vec<&str> = (0..16).map(|k| &digits[2 * k..2 * k + 2]).collect();
    pairs.join(":")
}

/// `len` hex digits derived from `n`.
fn hex(n: u64, len: usize) -> String {
    let mut text = String::with_capacity(len + 16);
    let mut word = n;
    while text.len() < len {
        word = mix(word);
        text.push_str(&format!("{word:016x}"));
    }
    text.truncate(len);
    text
}

fn uuid(tag: u64, serial: u64) -> String {
    let digits = hex(tag ^ serial, 32);
    format!(
        "{}-{}-4{}-8{}-{}",
        &digits[..8],
        &digits[8..12],
        &digits[13..16],
        &digits[17..20],
        &digits[20..]
    )
}

/// A packet payload as Suricata logs it (base64).
fn payload(n: u64) -> String {
    const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..240)
        .map(|k| char::from(BASE64[(mix(n + k) % 64) as usize]))
        .collect()
}

/// SplitMix64: a well-spread deterministic value for each input.
pub fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn pick<T: Copy>(items: &[T], n: u64) -> T {
    items[(mix(n) % items.len() as u64) as usize]
}

const NETWORKS: [(u64, &str, &str, &str, &str, f64, f64); 6] = [
    (
        16509,
        "Amazon.com, Inc.",
        "US",
        "VA",
        "Ashburn",
        39.0469,
        -77.4903,
    ),
    (
        14061,
        "DigitalOcean, LLC",
        "NL",
        "NH",
        "Amsterdam",
        52.3759,
        4.8975,
    ),
    (
        20473,
        "The Constant Company, LLC",
        "US",
        "NJ",
        "Piscataway",
        40.5511,
        -74.4606,
    ),
    (
        24940,
        "Hetzner Online GmbH",
        "DE",
        "BY",
        "Nuremberg",
        49.4478,
        11.0683,
    ),
    (16276, "OVH SAS", "FR", "HDF", "Roubaix", 50.6942, 3.1746),
    (
        45102,
        "Alibaba (US) Technology Co., Ltd.",
        "SG",
        "01",
        "Singapore",
        1.2897,
        103.8501,
    ),
];
const FEEDS: [(&str, &str, bool); 4] = [
    ("Gigamon ATR Emerging Threats", "high", true),
    ("Sinkholes", "high", false),
    ("abuse.ch Feodo Tracker", "moderate", true),
    ("Tor exit nodes", "low", false),
];
const SERVICES: [(&str, u64); 6] = [
    ("ssl", 443),
    ("http", 80),
    ("http", 8080),
    ("ssh", 22),
    ("dns", 53),
    ("smb", 445),
];
const FLOW_STATES: [&str; 5] = ["SF", "S0", "S1", "RSTO", "RSTR"];
const HISTORIES: [&str; 4] = ["ShADadFf", "ShADadfF", "S", "ShADadR"];
const RESOLVERS: [&str; 2] = ["10.0.0.53", "10.0.1.53"];
const CDNS: [&str; 4] = [
    "cloudfront.net",
    "akamaiedge.net",
    "fastly.net",
    "azureedge.net",
];
const HOSTS: [&str; 6] = ["cdn", "update", "api", "static", "gate", "files"];
const DOMAINS: [&str; 6] = [
    "mystery.io",
    "northwind-traders.com",
    "contoso-updates.net",
    "fabrikam.biz",
    "tailspin-toys.org",
    "wingtip.info",
];
const REQUESTS: [(&str, &str); 5] = [
    ("GET", "/download.php"),
    ("GET", "/images/update.bin"),
    ("POST", "/gate.php"),
    ("GET", "/wp-content/plugins/loader.exe"),
    ("POST", "/api/v2/telemetry"),
];
const REFERRERS: [&str; 3] = ["www.bing.com", "mail.contoso.com", "portal.fabrikam.biz"];
const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Microsoft-CryptoAPI/10.0",
    "FileReceiver",
    "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
];
const TLS: [(&str, &str); 3] = [
    ("TLSv13", "TLS_AES_128_GCM_SHA256"),
    ("TLSv12", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    ("TLSv12", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
];
const ISSUERS: [&str; 3] = [
    "CN=R11,O=Let's Encrypt,C=US",
    "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US",
    "CN=Sectigo RSA Domain Validation Secure Server CA,O=Sectigo Limited,L=Salford,ST=Greater Manchester,C=GB",
];
const SSH_CLIENTS: [&str; 3] = [
    "SSH-2.0-Go",
    "SSH-2.0-libssh2_1.10.0",
    "SSH-2.0-PuTTY_Release_0.80",
];
const SIGNATURES: [(u64, &str, &str, u64); 4] = [
    (
        2_024_897,
        "ET MALWARE Observed Win32/Lumma Stealer Related Domain",
        "A Network Trojan was detected",
        1,
    ),
    (
        2_019_401,
        "ET POLICY Vulnerable Java Version 1.8.x Detected",
        "Potential Corporate Privacy Violation",
        2,
    ),
    (
        2_027_865,
        "ET INFO Observed DNS Query to .cloud TLD",
        "Potentially Bad Traffic",
        2,
    ),
    (
        2_035_465,
        "ET HUNTING Suspicious POST with Base64 Encoded Body",
        "Misc activity",
        3,
    ),
];
const FILE_STEMS: [&str; 5] = ["invoice", "setup", "report_q3", "update", "payroll"];
