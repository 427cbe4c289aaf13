//! Body decoders: the fields hidden inside a syslog `message`.
//!
//! The header parser fills `host.hostname`, `process.name`, `message` and the `log.syslog.*`
//! fields; [`decode_body`] then reads the message text and adds what detection rules match on
//! (`user.name`, `source.ip`, `event.outcome` …). The decoders are tried in this order and the
//! first one that recognises the body wins:
//!
//! 1. **sshd** — `process.name` `sshd*`: `Accepted …`, `Failed …`, `Invalid user …`,
//!    `Connection closed by …`, `Disconnected from …`, `Received disconnect from …`,
//!    `maximum authentication attempts exceeded …`, `reverse mapping checking getaddrinfo …`.
//! 2. **pam** — `pam_unix(sshd:auth): …` anywhere in the body, sshd's `PAM 4 more authentication
//!    failures; …`, or a process named like `su(pam_unix)` (old Linux-PAM).
//! 3. **sudo** — `process.name` `sudo`: `alice : TTY=pts/0 ; PWD=… ; USER=root ; COMMAND=…`.
//! 4. **CEF** — `CEF:0|vendor|product|version|id|name|severity|k=v …`, after any leading text.
//! 5. **JSON** — a body that is one JSON object, flattened under `json.`.
//! 6. **auditd** — `type=USER_LOGIN msg=audit(1700000000.123:42): k=v … msg='k=v …'`.
//! 7. **key=value** — at least [`MIN_KV_PAIRS`] `key=value` pairs (FortiGate, iptables …).
//!
//! The order goes from the most specific test to the most general one: a sshd line such as
//! `… rhost=1.2.3.4 user=root` must not be read as generic key=value, and a CEF extension is
//! key=value too.
//!
//! Rules every decoder follows:
//! - **Add, never overwrite.** Every write keeps a field that is already set, whether the header
//!   parser or an earlier key of the same body set it.
//! - **Addresses are typed.** A text that parses as [`IpAddr`] becomes [`Value::Ip`] in
//!   `source.ip` / `destination.ip`; a host name goes to `source.domain` / `destination.domain`.
//!   Ports become [`Value::Int`] only when they fit a `u16`.
//! - **Vendor keys keep their names.** key=value bodies keep every key as written (`srcip`,
//!   `devname`) so Sigma rules written against vendor names match; the ECS names are added beside
//!   them. CEF, JSON and auditd keys live under `cef.ext.`, `json.` and `auditd.`.
//! - **Bounded and total.** No regex, one pass per decoder, hard limits as named constants, and
//!   no panic on any input: the body is whatever a sender chose to send.

use std::borrow::Cow;
use std::net::IpAddr;

use canh_core::{Event, Value, field};
use memchr::{memchr, memmem};

/// Fewest pairs for a free-form body to count as key=value: prose may contain one or two `=`.
pub const MIN_KV_PAIRS: usize = 3;
/// Most pairs kept from one key=value, CEF or auditd body: caps the fields a sender can make
/// (FortiGate's widest records carry about 100).
pub const MAX_KV_PAIRS: usize = 256;
/// Longest key accepted in key=value, CEF, auditd and JSON bodies: vendor keys are short, so a
/// longer "key" is data, and the cap bounds the look-ahead when finding where a CEF value ends.
pub const MAX_KEY_LEN: usize = 64;
/// Deepest JSON object flattened into `json.*`; deeper objects are ignored (`raw` keeps them).
pub const MAX_JSON_DEPTH: usize = 8;
/// Most `json.*` fields taken from one body; the rest are ignored (`raw` keeps them).
pub const MAX_JSON_FIELDS: usize = 256;
/// Longest `pam_MODULE(SERVICE:TYPE)` tag: bounds the scan for `)` at each `pam_` in a body.
const MAX_PAM_TAG_LEN: usize = 64;
/// Longest host name stored in `*.domain`: the DNS limit for a full name.
const MAX_DOMAIN_LEN: usize = 253;

/// Decodes the body of a syslog message already parsed into `ev`: reads `process.name`
/// ([`field::PROCESS_NAME`], may be absent) and `message` ([`field::MESSAGE`]) and adds fields.
/// Never overwrites fields already set by the header parser. Never panics on any input.
pub fn decode_body(ev: &mut Event) {
    // Lend the message and process name out of the map so decoders can read them while they
    // add fields, without copying the body. Both go back unchanged.
    let Some((message_key, message)) = ev.fields.remove_entry(field::MESSAGE) else {
        return;
    };
    let process = ev.fields.remove_entry(field::PROCESS_NAME);
    if let Value::Str(body) = &message {
        let name = match &process {
            Some((_, Value::Str(name))) => name.as_str(),
            _ => "",
        };
        decode(ev, name, body);
    }
    if let Some((key, value)) = process {
        ev.fields.insert(key, value);
    }
    ev.fields.insert(message_key, message);
}

/// Runs the decoders in order; true when one recognised the body.
fn decode(ev: &mut Event, process: &str, body: &str) -> bool {
    (ev.get_str(field::EVENT_CODE).is_some() && cisco(ev, body))
        || (process.starts_with("sshd") && sshd(ev, body))
        || (is_web_server(process) && super::access::decode(ev, body))
        || pam(ev, process, body)
        || (process == "sudo" && sudo(ev, body))
        || cef(ev, body)
        || json(ev, body)
        || auditd(ev, body)
        || key_value(ev, body)
}

/// Cisco IOS and ASA message texts (the `%FAC-SEV-MNEMONIC` header was read already): who and
/// from where, in the forms those messages use. True when anything was found.
fn cisco(ev: &mut Event, body: &str) -> bool {
    let mut found = false;
    let mut user = |ev: &mut Event, u: &str| {
        let u = u.trim().trim_matches(['"', '\'', ',', '.']);
        if !u.is_empty() && !u.eq_ignore_ascii_case("unknown") {
            put(ev, field::USER_NAME, u);
            found = true;
        }
    };
    // ASA: `… : user = admin : user IP = 198.51.100.9`
    if let Some(v) = value_after(body, "user = ", &[' ', ':']) {
        user(ev, v);
    }
    // ASA: `Login denied from 198.51.100.9/52311 to …`, `for user "admin"`, `User 'admin' executed`
    if let Some(v) = value_after(body, "for user ", &[' ']) {
        user(ev, v);
    }
    if let Some(v) = value_after(body, "User '", &['\'']) {
        user(ev, v);
    }
    // IOS: `Login failed [user: admin] [Source: 198.51.100.9] …`
    if let Some(v) = value_after(body, "[user: ", &[']']) {
        user(ev, v);
    }
    // IOS: `Configured from console by admin on vty0 (198.51.100.9)`
    if body.contains("Configured from")
        && let Some(v) = value_after(body, " by ", &[' '])
    {
        user(ev, v);
    }
    let ip = |ev: &mut Event, text: &str| {
        let addr = text.split('/').next().unwrap_or(text);
        if let Some(a) = parse_ip(addr) {
            put(ev, field::SOURCE_IP, a);
            true
        } else {
            false
        }
    };
    for (key, stop) in [
        ("user IP = ", &[' ', ':'][..]),
        ("[Source: ", &[']'][..]),
        ("denied from ", &[' '][..]),
    ] {
        if let Some(v) = value_after(body, key, stop) {
            found |= ip(ev, v);
        }
    }
    if let Some(start) = body.find(" on vty")
        && let Some(open) = body[start..].find('(')
        && let Some(close) = body[start + open..].find(')')
    {
        found |= ip(ev, &body[start + open + 1..start + open + close]);
    }
    found
}

/// The text after `key` up to the first of `stop` (or the end).
fn value_after<'a>(body: &'a str, key: &str, stop: &[char]) -> Option<&'a str> {
    let start = body.find(key)? + key.len();
    let rest = &body[start..];
    let end = rest.find(stop).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Programs that log web access lines through syslog.
fn is_web_server(process: &str) -> bool {
    matches!(
        process,
        "nginx" | "apache" | "apache2" | "httpd" | "haproxy" | "lighttpd"
    ) || process.starts_with("nginx")
        || process.starts_with("apache")
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

const SUCCESS: &str = "success";
const FAILURE: &str = "failure";

/// Sets `name` unless it is set already.
fn put(ev: &mut Event, name: &str, value: impl Into<Value>) {
    ev.set_default(name, value);
}

/// Sets `prefix` + `key` unless it is set already; builds the name once.
fn put_prefixed(ev: &mut Event, prefix: &str, key: &str, value: impl Into<Value>) {
    let mut name = String::with_capacity(prefix.len() + key.len());
    name.push_str(prefix);
    name.push_str(key);
    ev.fields.entry(name).or_insert_with(|| value.into());
}

/// Sets a string field unless it is set already or `value` is empty.
fn put_str(ev: &mut Event, name: &str, value: &str) {
    if !value.is_empty() {
        put(ev, name, value);
    }
}

/// Reads an address as logs write it: `10.0.0.1`, `[2001:db8::1]`, `10.0.0.1:`, `10.0.0.1,`.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim().trim_start_matches(['[', '(', '"', '\'']);
    if let Ok(ip) = t.parse() {
        return Some(ip);
    }
    if let Some(Ok(ip)) = t.strip_suffix(']').map(str::parse) {
        return Some(ip);
    }
    t.trim_end_matches([']', ')', ',', ';', ':', '.', '"', '\''])
        .parse()
        .ok()
}

/// A host name worth storing: DNS-like characters only, with at least one letter or digit.
fn as_domain(text: &str) -> Option<&str> {
    let t = text.trim().trim_end_matches([',', ';', ':', '.']);
    let plausible = !t.is_empty()
        && t.len() <= MAX_DOMAIN_LEN
        && !t.eq_ignore_ascii_case("unknown")
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && t.bytes().any(|b| b.is_ascii_alphanumeric());
    plausible.then_some(t)
}

/// Stores an address in `ip_field`, or a host name in `domain_field` when it is not an address.
fn put_host(ev: &mut Event, ip_field: &str, domain_field: &str, text: &str) {
    if let Some(ip) = parse_ip(text) {
        put(ev, ip_field, ip);
    } else if let Some(domain) = as_domain(text) {
        put(ev, domain_field, domain);
    }
}

fn put_port(ev: &mut Event, name: &str, text: &str) {
    if let Ok(port) = text.trim().parse::<u16>() {
        put(ev, name, port);
    }
}

/// Resolves backslash escapes: `map` gives the character an escaped one stands for; `None`
/// keeps the backslash (a Windows path stays a path). Borrows when there is nothing to do.
fn unescape(s: &str, map: impl Fn(char) -> Option<char>) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(next) => match map(next) {
                Some(r) => out.push(r),
                None => {
                    out.push('\\');
                    out.push(next);
                }
            },
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Separators between pairs; 0x1D is the group separator auditd puts before enriched fields.
fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x1d)
}

/// Length of the key starting at `pos` when a `=` follows it, else `None`. Looks at most
/// `MAX_KEY_LEN + 1` bytes ahead.
fn key_at(b: &[u8], pos: usize) -> Option<usize> {
    let rest = b.get(pos..)?;
    let len = rest
        .iter()
        .take(MAX_KEY_LEN + 1)
        .take_while(|&&c| is_key_byte(c))
        .count();
    (len > 0 && len <= MAX_KEY_LEN && rest.get(len) == Some(&b'=')).then_some(len)
}

/// Index of the first separator at or after `pos`, or the end.
fn word_end(b: &[u8], pos: usize) -> usize {
    b.iter()
        .skip(pos)
        .position(|&c| is_separator(c))
        .map_or(b.len(), |off| pos + off)
}

/// An ECS field a vendor key also fills.
#[derive(Clone, Copy)]
enum Ecs {
    SourceHost,
    DestinationHost,
    SourcePort,
    DestinationPort,
    Text(&'static str),
}

fn put_ecs(ev: &mut Event, target: Ecs, value: &str) {
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    match target {
        Ecs::SourceHost => put_host(ev, field::SOURCE_IP, field::SOURCE_DOMAIN, value),
        Ecs::DestinationHost => {
            put_host(ev, field::DESTINATION_IP, field::DESTINATION_DOMAIN, value);
        }
        Ecs::SourcePort => put_port(ev, field::SOURCE_PORT, value),
        Ecs::DestinationPort => put_port(ev, field::DESTINATION_PORT, value),
        Ecs::Text(name) => put(ev, name, value),
    }
}

fn lookup(table: &[(&str, Ecs)], key: &str) -> Option<Ecs> {
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|&(_, target)| target)
}

// ---------------------------------------------------------------------------------------------
// 1. sshd

fn sshd(ev: &mut Event, body: &str) -> bool {
    let body = body.trim();
    let body = body.strip_prefix("error: ").unwrap_or(body);
    if let Some(rest) = body.strip_prefix("Accepted ") {
        ssh_login(ev, rest, SUCCESS)
    } else if let Some(rest) = body.strip_prefix("Failed ") {
        ssh_login(ev, rest, FAILURE)
    } else if let Some(rest) = body.strip_prefix("Invalid user ") {
        let (user, addr) = rest.rsplit_once(" from ").unwrap_or((rest, ""));
        ssh_user_from(ev, user, addr);
        put(ev, field::EVENT_OUTCOME, FAILURE);
        put(ev, field::EVENT_ACTION, "ssh_invalid_user");
        true
    } else if let Some(rest) = body.strip_prefix("maximum authentication attempts exceeded for ") {
        let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
        let Some((user, addr)) = rest.rsplit_once(" from ") else {
            return false;
        };
        ssh_user_from(ev, user, addr);
        put(ev, field::EVENT_OUTCOME, FAILURE);
        put(ev, field::EVENT_ACTION, "ssh_max_auth_attempts");
        true
    } else if let Some(rest) = body.strip_prefix("Connection closed by ") {
        ssh_peer(ev, rest, "ssh_connection_closed")
    } else if let Some(rest) = body.strip_prefix("Connection reset by ") {
        ssh_peer(ev, rest, "ssh_connection_reset")
    } else if let Some(rest) = body.strip_prefix("Disconnected from ") {
        ssh_peer(ev, rest, "ssh_disconnected")
    } else if let Some(rest) = body.strip_prefix("Received disconnect from ") {
        put_host_port(ev, rest);
        put(ev, field::EVENT_ACTION, "ssh_disconnect_received");
        true
    } else if let Some(rest) = body.strip_prefix("Did not receive identification string from ") {
        put_host_port(ev, rest);
        put(ev, field::EVENT_ACTION, "ssh_no_identification");
        true
    } else if let Some(rest) = body.strip_prefix("reverse mapping checking getaddrinfo for ") {
        // `HOST [IP] failed - POSSIBLE BREAK-IN ATTEMPT!`
        let mut words = rest.split_ascii_whitespace();
        let (Some(host), Some(addr)) = (words.next(), words.next()) else {
            return false;
        };
        if let Some(ip) = parse_ip(addr) {
            put(ev, field::SOURCE_IP, ip);
        }
        if let Some(domain) = as_domain(host) {
            put(ev, field::SOURCE_DOMAIN, domain);
        }
        put(ev, field::EVENT_ACTION, "ssh_reverse_mapping_failed");
        true
    } else {
        false
    }
}

/// `METHOD for [invalid user ]USER from HOST port N ssh2[: …]`, after `Accepted `/`Failed `.
fn ssh_login(ev: &mut Event, rest: &str, outcome: &str) -> bool {
    let Some((method, rest)) = rest.split_once(" for ") else {
        return false;
    };
    if method.is_empty() || method.contains(' ') {
        return false;
    }
    let rest = rest.strip_prefix("invalid user ").unwrap_or(rest);
    let Some((user, addr)) = rest.rsplit_once(" from ") else {
        return false;
    };
    ssh_user_from(ev, user, addr);
    put(ev, field::EVENT_OUTCOME, outcome);
    put(ev, field::EVENT_ACTION, "ssh_login");
    put(ev, field::AUTH_METHOD, method);
    true
}

fn ssh_user_from(ev: &mut Event, user: &str, addr: &str) {
    put_str(ev, field::USER_NAME, user);
    put_host_port(ev, addr);
}

/// `HOST port N ssh2…`, `HOST port N:11: …`, `HOST: 11: Bye [preauth]`, `HOST`.
fn put_host_port(ev: &mut Event, text: &str) {
    let mut words = text.split_ascii_whitespace();
    let Some(host) = words.next() else {
        return;
    };
    put_host(ev, field::SOURCE_IP, field::SOURCE_DOMAIN, host);
    if let (Some("port"), Some(port)) = (words.next(), words.next()) {
        put_port(
            ev,
            field::SOURCE_PORT,
            port.split(':').next().unwrap_or(port),
        );
    }
}

/// `[authenticating |invalid ]user USER HOST port N [preauth]` or `HOST[ port N][ [preauth]]`.
fn ssh_peer(ev: &mut Event, rest: &str, action: &str) -> bool {
    let rest = rest.trim_end();
    let rest = rest.strip_suffix("[preauth]").unwrap_or(rest).trim_end();
    let (head, port) = match rest.rsplit_once(" port ") {
        Some((head, port)) => (head, Some(port)),
        None => (rest, None),
    };
    let (user, host) = match head.rsplit_once(' ') {
        Some((user, host)) => (Some(user), host),
        None => (None, head),
    };
    if let Some(user) = user.and_then(|u| {
        u.strip_prefix("authenticating user ")
            .or_else(|| u.strip_prefix("invalid user "))
            .or_else(|| u.strip_prefix("user "))
    }) {
        put_str(ev, field::USER_NAME, user);
    }
    put_host(ev, field::SOURCE_IP, field::SOURCE_DOMAIN, host);
    if let Some(port) = port.and_then(|p| p.split([' ', ':']).next()) {
        put_port(ev, field::SOURCE_PORT, port);
    }
    put(ev, field::EVENT_ACTION, action);
    true
}

// ---------------------------------------------------------------------------------------------
// 2. pam

/// Where a PAM message names its module and service.
struct PamTag<'a> {
    module: &'a str,
    service: &'a str,
    kind: Option<&'a str>,
    rest: &'a str,
}

fn pam(ev: &mut Event, process: &str, body: &str) -> bool {
    let body = body.trim();
    // sshd's summary when a connection ends: `PAM 4 more authentication failures; logname= …`.
    if let Some((_, pairs)) = body
        .strip_prefix("PAM ")
        .and_then(|rest| rest.split_once(" more authentication failure"))
    {
        let pairs = pairs.strip_prefix("s;").or_else(|| pairs.strip_prefix(';'));
        let Some(pairs) = pairs else {
            return false;
        };
        pam_failure_pairs(ev, pairs);
        put(ev, field::EVENT_OUTCOME, FAILURE);
        put(ev, field::EVENT_ACTION, "authentication_failure_summary");
        return true;
    }
    let Some(tag) = pam_tag_in_body(body).or_else(|| pam_tag_in_process(process, body)) else {
        return false;
    };
    put_str(ev, field::PAM_MODULE, tag.module);
    put_str(ev, field::PAM_SERVICE, tag.service);
    if let Some(kind) = tag.kind {
        put_str(ev, field::PAM_TYPE, kind);
    }
    let rest = tag.rest.trim();
    if let Some(pairs) = rest.strip_prefix("authentication failure;") {
        pam_failure_pairs(ev, pairs);
        put(ev, field::EVENT_OUTCOME, FAILURE);
        put(ev, field::EVENT_ACTION, "authentication_failure");
    } else if let Some(who) = rest.strip_prefix("session opened for user ") {
        // `U(uid=0) by V(uid=0)` or `U by (uid=0)`
        let user = who.split_once(" by ").map_or(who, |(user, _)| user);
        put_str(ev, field::USER_NAME, pam_user(user));
        put(ev, field::EVENT_ACTION, "session_opened");
    } else if let Some(who) = rest.strip_prefix("session closed for user ") {
        put_str(ev, field::USER_NAME, pam_user(who));
        put(ev, field::EVENT_ACTION, "session_closed");
    } else if let Some(reason) = rest.strip_prefix("check pass; ") {
        put(ev, field::EVENT_OUTCOME, FAILURE);
        put_str(ev, field::EVENT_REASON, reason.trim());
    }
    true
}

/// `logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root`: the remote host and user.
fn pam_failure_pairs(ev: &mut Event, pairs: &str) {
    for (key, value) in pairs
        .split_ascii_whitespace()
        .filter_map(|w| w.split_once('='))
    {
        match key {
            "rhost" if !value.is_empty() => {
                put_host(ev, field::SOURCE_IP, field::SOURCE_DOMAIN, value);
            }
            "user" => put_str(ev, field::USER_NAME, value),
            _ => {}
        }
    }
}

/// `root(uid=0)` → `root`.
fn pam_user(text: &str) -> &str {
    text.split('(').next().unwrap_or(text).trim()
}

/// `pam_MODULE(SERVICE:TYPE): REST` at the start of the body or after a space.
fn pam_tag_in_body(body: &str) -> Option<PamTag<'_>> {
    let b = body.as_bytes();
    memmem::find_iter(b, b"pam_").find_map(|start| {
        if start > 0 && b[start - 1] != b' ' {
            return None;
        }
        let after = &body[start..];
        let open = after
            .bytes()
            .take(MAX_PAM_TAG_LEN)
            .position(|c| c == b'(')?;
        let module = &after[..open];
        if !module
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            return None;
        }
        let inner = &after[open + 1..];
        let close = inner
            .bytes()
            .take(MAX_PAM_TAG_LEN)
            .position(|c| c == b')')?;
        let tag = &inner[..close];
        let rest = &inner[close + 1..];
        let rest = rest.strip_prefix(':').unwrap_or(rest);
        let (service, kind) = match tag.split_once(':') {
            Some((service, kind)) => (service, Some(kind)),
            None => (tag, None),
        };
        Some(PamTag {
            module,
            service,
            kind,
            rest,
        })
    })
}

/// Old Linux-PAM names the process `SERVICE(pam_MODULE)`, e.g. `sshd(pam_unix)`.
fn pam_tag_in_process<'a>(process: &'a str, body: &'a str) -> Option<PamTag<'a>> {
    let (service, module) = process.split_once('(')?;
    let module = module.strip_suffix(')')?;
    module.starts_with("pam_").then_some(PamTag {
        module,
        service,
        kind: None,
        rest: body,
    })
}

// ---------------------------------------------------------------------------------------------
// 3. sudo

/// `alice : [REASON ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -la`.
fn sudo(ev: &mut Event, body: &str) -> bool {
    let Some((user, rest)) = body.trim().split_once(" : ") else {
        return false;
    };
    let user = user.trim();
    if user.is_empty() || user.contains(char::is_whitespace) {
        return false;
    }
    let (mut tty, mut pwd, mut runas, mut command, mut reason) = (None, None, None, None, None);
    let mut rest = rest.trim_start();
    loop {
        // COMMAND comes last and may itself contain ` ; `.
        if let Some(cmd) = rest.strip_prefix("COMMAND=") {
            command = Some(cmd.trim_end());
            break;
        }
        let (part, next) = rest.split_once(" ; ").unwrap_or((rest, ""));
        let part = part.trim();
        match part.split_once('=') {
            Some(("TTY", v)) => tty = Some(v),
            Some(("PWD", v)) => pwd = Some(v),
            Some(("USER", v)) => runas = Some(v),
            // GROUP=, ENV=, TSID= …: known shape, not needed.
            Some((k, _)) if !k.is_empty() && k.bytes().all(|c| c.is_ascii_uppercase()) => {}
            _ if reason.is_none() && !part.is_empty() => reason = Some(part),
            _ => {}
        }
        if next.is_empty() {
            break;
        }
        rest = next;
    }
    if tty.is_none() && runas.is_none() && command.is_none() {
        return false;
    }
    put(ev, field::USER_NAME, user);
    for (name, value) in [
        (field::USER_EFFECTIVE_NAME, runas),
        (field::PROCESS_COMMAND_LINE, command),
        (field::PROCESS_WORKING_DIRECTORY, pwd),
        (field::SUDO_TTY, tty),
        (field::EVENT_REASON, reason),
    ] {
        if let Some(value) = value {
            put_str(ev, name, value);
        }
    }
    put(ev, field::EVENT_ACTION, "sudo");
    put(
        ev,
        field::EVENT_OUTCOME,
        if reason.is_some() { FAILURE } else { SUCCESS },
    );
    true
}

// ---------------------------------------------------------------------------------------------
// 4. CEF

/// Header fields after `CEF:`, in order; the version is the text right after `CEF:`.
const CEF_HEADER: [&str; 7] = [
    "version",
    "device_vendor",
    "device_product",
    "device_version",
    "signature_id",
    "name",
    "severity",
];

/// CEF extension keys that also fill an ECS field.
const CEF_ECS: &[(&str, Ecs)] = &[
    ("src", Ecs::SourceHost),
    ("dst", Ecs::DestinationHost),
    ("spt", Ecs::SourcePort),
    ("dpt", Ecs::DestinationPort),
    ("suser", Ecs::Text(field::USER_NAME)),
    ("act", Ecs::Text(field::EVENT_ACTION)),
];

fn cef(ev: &mut Event, body: &str) -> bool {
    let Some(start) = memmem::find(body.as_bytes(), b"CEF:") else {
        return false;
    };
    let text = &body[start + 4..];
    let b = text.as_bytes();
    let mut header = [""; 7];
    let (mut n, mut field_start, mut i) = (0, 0, 0);
    while i < b.len() && n < header.len() {
        match b[i] {
            b'\\' => i += 2,
            b'|' => {
                header[n] = &text[field_start..i];
                n += 1;
                i += 1;
                field_start = i;
            }
            _ => i += 1,
        }
    }
    if n < header.len() {
        return false;
    }
    let extension = &text[field_start..];

    let prefix_len = field::CEF_PREFIX.len();
    let mut name = String::with_capacity(prefix_len + 16);
    for (key, value) in CEF_HEADER.iter().zip(header) {
        let value = unescape(value.trim(), |c| matches!(c, '|' | '\\').then_some(c));
        if value.is_empty() {
            continue;
        }
        name.clear();
        name.push_str(field::CEF_PREFIX);
        name.push_str(key);
        match *key {
            "device_vendor" => put(ev, field::OBSERVER_VENDOR, value.as_ref()),
            "device_product" => put(ev, field::OBSERVER_PRODUCT, value.as_ref()),
            _ => {}
        }
        let value = match value.parse::<i64>() {
            Ok(severity) if *key == "severity" => Value::Int(severity),
            _ => Value::Str(value.into_owned()),
        };
        ev.fields.entry(name.clone()).or_insert(value);
    }

    for (key, value) in cef_extension(extension) {
        if let Some(target) = lookup(CEF_ECS, key) {
            put_ecs(ev, target, &value);
        }
        name.clear();
        name.push_str(field::CEF_PREFIX);
        name.push_str("ext.");
        name.push_str(key);
        ev.fields
            .entry(name.clone())
            .or_insert_with(|| Value::Str(value.into_owned()));
    }
    true
}

/// `k=v k2=value with spaces k3=a\=b`: a value runs until the next ` key=`.
fn cef_extension(ext: &str) -> Vec<(&str, Cow<'_, str>)> {
    let b = ext.as_bytes();
    let mut pairs = Vec::new();
    let mut pos = 0;
    while pos < b.len() && pairs.len() < MAX_KV_PAIRS {
        if b[pos] == b' ' {
            pos += 1;
            continue;
        }
        let Some(key_len) = key_at(b, pos) else {
            pos = memchr(b' ', &b[pos..]).map_or(b.len(), |off| pos + off);
            continue;
        };
        let value_start = pos + key_len + 1;
        let mut end = b.len();
        let mut scan = value_start;
        while let Some(off) = memchr(b' ', &b[scan.min(b.len())..]) {
            let space = scan + off;
            if key_at(b, space + 1).is_some() {
                end = space;
                break;
            }
            scan = space + 1;
        }
        let value = ext[value_start..end].trim_end_matches(' ');
        let value = unescape(value, |c| match c {
            '=' | '\\' | '|' => Some(c),
            'n' => Some('\n'),
            'r' => Some('\r'),
            _ => None,
        });
        pairs.push((&ext[pos..pos + key_len], value));
        pos = end;
    }
    pairs
}

// ---------------------------------------------------------------------------------------------
// 5. JSON

fn json(ev: &mut Event, body: &str) -> bool {
    let body = body.trim();
    if !body.starts_with('{') {
        return false;
    }
    // serde_json refuses nesting deeper than 128 with an error, so this cannot overflow the stack.
    let Ok(serde_json::Value::Object(object)) = serde_json::from_str(body) else {
        return false;
    };
    let mut path = String::from(field::JSON_PREFIX);
    let mut budget = MAX_JSON_FIELDS;
    flatten_json(ev, object, &mut path, 1, &mut budget);
    true
}

fn flatten_json(
    ev: &mut Event,
    object: serde_json::Map<String, serde_json::Value>,
    path: &mut String,
    depth: usize,
    budget: &mut usize,
) {
    use serde_json::Value as J;
    for (key, value) in object {
        if *budget == 0 {
            return;
        }
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            continue;
        }
        let mark = path.len();
        path.push_str(&key);
        let value = match value {
            J::Null => None,
            J::Bool(b) => Some(Value::Bool(b)),
            J::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .or_else(|| n.as_f64().map(Value::Float)),
            J::String(s) => Some(Value::Str(s)),
            array @ J::Array(_) => Some(Value::Str(array.to_string())),
            J::Object(inner) => {
                if depth < MAX_JSON_DEPTH {
                    path.push('.');
                    flatten_json(ev, inner, path, depth + 1, budget);
                }
                None
            }
        };
        if let Some(value) = value {
            ev.fields.entry(path.clone()).or_insert(value);
            *budget -= 1;
        }
        path.truncate(mark);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. auditd

fn auditd(ev: &mut Event, body: &str) -> bool {
    let mut text = body.trim_start();
    // audisp adds `node=HOST ` in front when it forwards for several machines.
    let mut node = None;
    if let Some(rest) = text.strip_prefix("node=") {
        let Some((name, rest)) = rest.split_once(' ') else {
            return false;
        };
        node = Some(name);
        text = rest.trim_start();
    }
    let Some(rest) = text.strip_prefix("type=") else {
        return false;
    };
    let Some((kind, rest)) = rest.split_once(' ') else {
        return false;
    };
    let Some(rest) = rest.trim_start().strip_prefix("msg=audit(") else {
        return false;
    };
    let Some((stamp, rest)) = rest.split_once("):") else {
        return false;
    };
    put_prefixed(ev, field::AUDITD_PREFIX, "type", kind);
    if let Some(node) = node {
        put_prefixed(ev, field::AUDITD_PREFIX, "node", node);
    }
    if let Some(Ok(serial)) = stamp.rsplit_once(':').map(|(_, s)| s.parse::<i64>()) {
        put_prefixed(ev, field::AUDITD_PREFIX, "serial", serial);
    }

    let mut budget = MAX_KV_PAIRS;
    for pair in kv_pairs(rest, budget) {
        budget -= 1;
        if pair.key == "msg" && pair.quote == Some(b'\'') {
            for inner in kv_pairs(&pair.value, budget) {
                budget -= 1;
                auditd_pair(ev, &inner);
            }
        }
        auditd_pair(ev, &pair);
    }
    true
}

fn auditd_pair(ev: &mut Event, pair: &Pair<'_>) {
    let value = pair.value.as_ref();
    match pair.key {
        // Untrusted strings are written quoted, or as unquoted hex when they hold odd bytes.
        "acct" if value != "?" => {
            let user = if pair.quote.is_none() {
                hex_text(value)
            } else {
                None
            };
            put_str(ev, field::USER_NAME, user.as_deref().unwrap_or(value));
        }
        "exe" if value != "?" => {
            let exe = if pair.quote.is_none() {
                hex_text(value)
            } else {
                None
            };
            put_str(
                ev,
                field::PROCESS_EXECUTABLE,
                exe.as_deref().unwrap_or(value),
            );
        }
        "addr" => {
            if let Some(ip) = parse_ip(value) {
                put(ev, field::SOURCE_IP, ip);
            }
        }
        "res" | "success" => match value {
            "success" | "yes" => put(ev, field::EVENT_OUTCOME, SUCCESS),
            "failed" | "no" => put(ev, field::EVENT_OUTCOME, FAILURE),
            _ => {}
        },
        _ => {}
    }
    put_prefixed(ev, field::AUDITD_PREFIX, pair.key, value);
}

/// Decodes auditd's hex encoding (`726F6F74` → `root`) when `text` is hex of UTF-8 text.
fn hex_text(text: &str) -> Option<String> {
    if text.is_empty()
        || !text.len().is_multiple_of(2)
        || !text.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let bytes = text
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            (digit(pair[0]) << 4) | digit(pair[1])
        })
        .collect::<Vec<u8>>();
    String::from_utf8(bytes).ok()
}

// ---------------------------------------------------------------------------------------------
// 7. key=value

/// One `key=value` pair; `quote` is the quote character the value was written in.
struct Pair<'a> {
    key: &'a str,
    value: Cow<'a, str>,
    quote: Option<u8>,
}

/// Vendor keys that also fill an ECS field. FortiGate, Palo Alto/Check Point style and
/// iptables (`SRC=` … `DPT=`) spellings.
const KV_ECS: &[(&str, Ecs)] = &[
    ("srcip", Ecs::SourceHost),
    ("src", Ecs::SourceHost),
    ("src_ip", Ecs::SourceHost),
    ("SRC", Ecs::SourceHost),
    ("dstip", Ecs::DestinationHost),
    ("dst", Ecs::DestinationHost),
    ("dst_ip", Ecs::DestinationHost),
    ("DST", Ecs::DestinationHost),
    // FortiGate SSL VPN: the remote client's address
    ("remip", Ecs::SourceHost),
    ("srcport", Ecs::SourcePort),
    ("spt", Ecs::SourcePort),
    ("src_port", Ecs::SourcePort),
    ("SPT", Ecs::SourcePort),
    ("dstport", Ecs::DestinationPort),
    ("dpt", Ecs::DestinationPort),
    ("dst_port", Ecs::DestinationPort),
    ("DPT", Ecs::DestinationPort),
    ("user", Ecs::Text(field::USER_NAME)),
    ("usrname", Ecs::Text(field::USER_NAME)),
    ("username", Ecs::Text(field::USER_NAME)),
    ("suser", Ecs::Text(field::USER_NAME)),
    ("action", Ecs::Text(field::EVENT_ACTION)),
    ("devname", Ecs::Text(field::OBSERVER_NAME)),
    ("policyid", Ecs::Text(field::RULE_ID)),
];

fn key_value(ev: &mut Event, body: &str) -> bool {
    let pairs = kv_pairs(body, MAX_KV_PAIRS);
    if pairs.len() < MIN_KV_PAIRS {
        return false;
    }
    // ECS names first, so a body key spelled like an ECS name cannot pre-empt the typed value.
    for pair in &pairs {
        if let Some(target) = lookup(KV_ECS, pair.key) {
            put_ecs(ev, target, &pair.value);
        }
    }
    let has = |key: &str| pairs.iter().any(|p| p.key == key);
    let fortigate_device = has("devname")
        || has("logid")
        || pairs
            .iter()
            .any(|p| p.key == "devid" && p.value.starts_with("FG"));
    if fortigate_device && has("type") && has("subtype") {
        put(ev, field::OBSERVER_VENDOR, "Fortinet");
        put(ev, field::OBSERVER_PRODUCT, "FortiGate");
    }
    for pair in pairs {
        ev.fields
            .entry(pair.key.to_owned())
            .or_insert_with(|| Value::Str(pair.value.into_owned()));
    }
    true
}

/// Reads `key=value`, `key="quoted \" value"` and `key='quoted'` pairs, skipping words that are
/// not pairs. An unterminated quote runs to the end of the text. Keeps at most `max` pairs.
fn kv_pairs(text: &str, max: usize) -> Vec<Pair<'_>> {
    let b = text.as_bytes();
    let mut pairs = Vec::new();
    let mut pos = 0;
    while pos < b.len() && pairs.len() < max {
        if is_separator(b[pos]) {
            pos += 1;
            continue;
        }
        let Some(key_len) = key_at(b, pos) else {
            pos = word_end(b, pos);
            continue;
        };
        let key = &text[pos..pos + key_len];
        let value_start = pos + key_len + 1;
        let (value, quote, next) = match b.get(value_start) {
            Some(&quote @ (b'"' | b'\'')) => {
                let content = value_start + 1;
                let mut i = content;
                while i < b.len() && b[i] != quote {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let end = i.min(b.len());
                let value = unescape(&text[content..end], |c| {
                    matches!(c, '"' | '\'' | '\\').then_some(c)
                });
                (value, Some(quote), (end + 1).min(b.len()))
            }
            _ => {
                let end = word_end(b, value_start);
                (Cow::Borrowed(&text[value_start..end]), None, end)
            }
        };
        pairs.push(Pair { key, value, quote });
        pos = next;
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use canh_core::{Dataset, Origin};
    use chrono::Utc;

    /// Decodes `message` as if the header parser had set `process.name` (empty: absent).
    fn decoded(process: &str, message: &str) -> Event {
        let mut ev = Event::new(
            Dataset::Syslog,
            Origin::new("test", None),
            Utc::now(),
            vec![],
        );
        if !process.is_empty() {
            ev.set(field::PROCESS_NAME, process);
        }
        ev.set(field::MESSAGE, message);
        decode_body(&mut ev);
        assert_eq!(
            ev.get_str(field::MESSAGE),
            Some(message),
            "message must stay as it was"
        );
        ev
    }

    /// Each `(field, expected)` must display as `expected`; `ABSENT` means the field is not set.
    fn check(process: &str, message: &str, expected: &[(&str, &str)]) -> Event {
        let ev = decoded(process, message);
        for &(name, want) in expected {
            let got = ev.get(name).map(ToString::to_string);
            if want == ABSENT {
                assert_eq!(
                    got, None,
                    "{name} should be absent for {message:?}: {:#?}",
                    ev.fields
                );
            } else {
                assert_eq!(
                    got.as_deref(),
                    Some(want),
                    "{name} for {message:?}; all fields: {:#?}",
                    ev.fields
                );
            }
        }
        ev
    }

    const ABSENT: &str = "<absent>";

    fn cisco_event(code: &str, message: &str) -> Event {
        let mut ev = Event::new(
            Dataset::Syslog,
            Origin::new("test", None),
            Utc::now(),
            vec![],
        );
        ev.set(field::EVENT_CODE, code);
        ev.set(field::MESSAGE, message);
        decode_body(&mut ev);
        ev
    }

    #[test]
    fn cisco_asa_and_ios_who_and_where() {
        let cases = [
            (
                "ASA-6-113015",
                "AAA user authentication Rejected : reason = Invalid password : local database : user = admin : user IP = 198.51.100.9",
                "admin",
                "198.51.100.9",
            ),
            (
                "ASA-6-605004",
                "Login denied from 203.0.113.4/52311 to outside:10.0.0.1/ssh for user \"root\"",
                "root",
                "203.0.113.4",
            ),
            (
                "SEC_LOGIN-4-LOGIN_FAILED",
                "Login failed [user: cisco] [Source: 198.51.100.20] [localport: 22] [Reason: Login Authentication Failed] at 10:00:00 ICT",
                "cisco",
                "198.51.100.20",
            ),
            (
                "SYS-5-CONFIG_I",
                "Configured from console by netadmin on vty0 (10.1.1.5)",
                "netadmin",
                "10.1.1.5",
            ),
        ];
        for (code, msg, user, ip) in cases {
            let ev = cisco_event(code, msg);
            assert_eq!(ev.get_str(field::USER_NAME), Some(user), "{msg}");
            assert_eq!(
                ev.get(field::SOURCE_IP).map(ToString::to_string).as_deref(),
                Some(ip),
                "{msg}"
            );
        }
        let ev = cisco_event(
            "ASA-5-111008",
            "User 'enable_15' executed the 'write memory' command.",
        );
        assert_eq!(ev.get_str(field::USER_NAME), Some("enable_15"));
        let ev = cisco_event("LINK-3-UPDOWN", "Interface Gi0/1, changed state to down");
        assert_eq!(ev.get_str(field::USER_NAME), None);
    }

    fn is_ip(ev: &Event, name: &str) -> bool {
        matches!(ev.get(name), Some(Value::Ip(_)))
    }

    // --- sshd -------------------------------------------------------------------------------

    #[test]
    fn sshd_accepted_password() {
        let ev = check(
            "sshd",
            "Accepted password for alice from 192.0.2.10 port 50122 ssh2",
            &[
                (field::USER_NAME, "alice"),
                (field::SOURCE_IP, "192.0.2.10"),
                (field::SOURCE_PORT, "50122"),
                (field::EVENT_OUTCOME, "success"),
                (field::EVENT_ACTION, "ssh_login"),
                (field::AUTH_METHOD, "password"),
            ],
        );
        assert!(is_ip(&ev, field::SOURCE_IP));
        assert_eq!(ev.get(field::SOURCE_PORT), Some(&Value::Int(50122)));
    }

    #[test]
    fn sshd_accepted_publickey_ipv6_with_key_suffix() {
        check(
            "sshd-session",
            "Accepted publickey for deploy from 2001:db8::7 port 2222 ssh2: ED25519 SHA256:q8Zx",
            &[
                (field::USER_NAME, "deploy"),
                (field::SOURCE_IP, "2001:db8::7"),
                (field::SOURCE_PORT, "2222"),
                (field::AUTH_METHOD, "publickey"),
                (field::EVENT_OUTCOME, "success"),
            ],
        );
    }

    #[test]
    fn sshd_accepted_keyboard_interactive() {
        check(
            "sshd",
            "Accepted keyboard-interactive/pam for bob from 198.51.100.4 port 40000 ssh2",
            &[
                (field::AUTH_METHOD, "keyboard-interactive/pam"),
                (field::USER_NAME, "bob"),
            ],
        );
    }

    #[test]
    fn sshd_failed_password_invalid_user() {
        check(
            "sshd",
            "Failed password for invalid user oracle from 203.0.113.77 port 4242 ssh2",
            &[
                (field::USER_NAME, "oracle"),
                (field::SOURCE_IP, "203.0.113.77"),
                (field::SOURCE_PORT, "4242"),
                (field::EVENT_OUTCOME, "failure"),
                (field::EVENT_ACTION, "ssh_login"),
                (field::AUTH_METHOD, "password"),
            ],
        );
    }

    #[test]
    fn sshd_failed_none_user_with_spaces_and_from() {
        check(
            "sshd",
            "Failed none for invalid user john from nowhere from 203.0.113.8 port 1 ssh2",
            &[
                (field::USER_NAME, "john from nowhere"),
                (field::SOURCE_IP, "203.0.113.8"),
                (field::AUTH_METHOD, "none"),
            ],
        );
    }

    #[test]
    fn sshd_failed_from_host_name_and_bad_port() {
        check(
            "sshd",
            "Failed password for root from scanner.example.net port 70000 ssh2",
            &[
                (field::SOURCE_IP, ABSENT),
                (field::SOURCE_DOMAIN, "scanner.example.net"),
                (field::SOURCE_PORT, ABSENT),
                (field::EVENT_OUTCOME, "failure"),
            ],
        );
    }

    #[test]
    fn sshd_invalid_user_with_and_without_port() {
        check(
            "sshd",
            "Invalid user admin from 198.51.100.23",
            &[
                (field::USER_NAME, "admin"),
                (field::SOURCE_IP, "198.51.100.23"),
                (field::SOURCE_PORT, ABSENT),
                (field::EVENT_OUTCOME, "failure"),
                (field::EVENT_ACTION, "ssh_invalid_user"),
            ],
        );
        check(
            "sshd",
            "Invalid user  from 198.51.100.23 port 55012",
            &[(field::USER_NAME, ABSENT), (field::SOURCE_PORT, "55012")],
        );
    }

    #[test]
    fn sshd_connection_closed_forms() {
        check(
            "sshd",
            "Connection closed by authenticating user root 192.0.2.99 port 39660 [preauth]",
            &[
                (field::USER_NAME, "root"),
                (field::SOURCE_IP, "192.0.2.99"),
                (field::SOURCE_PORT, "39660"),
                (field::EVENT_ACTION, "ssh_connection_closed"),
                (field::EVENT_OUTCOME, ABSENT),
            ],
        );
        check(
            "sshd",
            "Connection closed by 192.0.2.100 [preauth]",
            &[
                (field::USER_NAME, ABSENT),
                (field::SOURCE_IP, "192.0.2.100"),
                (field::SOURCE_PORT, ABSENT),
                (field::EVENT_ACTION, "ssh_connection_closed"),
            ],
        );
    }

    #[test]
    fn sshd_disconnected_from_invalid_user() {
        check(
            "sshd",
            "Disconnected from invalid user test 203.0.113.5 port 61000 [preauth]",
            &[
                (field::USER_NAME, "test"),
                (field::SOURCE_IP, "203.0.113.5"),
                (field::SOURCE_PORT, "61000"),
                (field::EVENT_ACTION, "ssh_disconnected"),
            ],
        );
        check(
            "sshd",
            "Disconnected from user carol 10.1.2.3 port 22022",
            &[(field::USER_NAME, "carol"), (field::SOURCE_PORT, "22022")],
        );
    }

    #[test]
    fn sshd_received_disconnect_old_and_new() {
        check(
            "sshd",
            "Received disconnect from 198.51.100.2: 11: Bye Bye [preauth]",
            &[
                (field::SOURCE_IP, "198.51.100.2"),
                (field::SOURCE_PORT, ABSENT),
                (field::EVENT_ACTION, "ssh_disconnect_received"),
            ],
        );
        check(
            "sshd",
            "error: Received disconnect from 198.51.100.3 port 41234:14: No more user \
             authentication methods available. [preauth]",
            &[
                (field::SOURCE_IP, "198.51.100.3"),
                (field::SOURCE_PORT, "41234"),
            ],
        );
    }

    #[test]
    fn sshd_max_auth_attempts() {
        check(
            "sshd",
            "error: maximum authentication attempts exceeded for invalid user pi from \
             192.0.2.200 port 51515 ssh2 [preauth]",
            &[
                (field::USER_NAME, "pi"),
                (field::SOURCE_IP, "192.0.2.200"),
                (field::SOURCE_PORT, "51515"),
                (field::EVENT_OUTCOME, "failure"),
                (field::EVENT_ACTION, "ssh_max_auth_attempts"),
            ],
        );
    }

    #[test]
    fn sshd_reverse_mapping_break_in_attempt() {
        check(
            "sshd",
            "reverse mapping checking getaddrinfo for host-7.example.org [203.0.113.7] failed - \
             POSSIBLE BREAK-IN ATTEMPT!",
            &[
                (field::SOURCE_IP, "203.0.113.7"),
                (field::SOURCE_DOMAIN, "host-7.example.org"),
                (field::EVENT_ACTION, "ssh_reverse_mapping_failed"),
            ],
        );
    }

    #[test]
    fn sshd_lines_need_sshd_process() {
        // The same words from another program are not an SSH login.
        check(
            "myapp",
            "Accepted password for alice from 192.0.2.10 port 50122 ssh2",
            &[(field::EVENT_ACTION, ABSENT), (field::USER_NAME, ABSENT)],
        );
    }

    // --- pam --------------------------------------------------------------------------------

    #[test]
    fn pam_auth_failure_from_ip() {
        let ev = check(
            "sshd",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= \
             rhost=203.0.113.50  user=root",
            &[
                (field::PAM_MODULE, "pam_unix"),
                (field::PAM_SERVICE, "sshd"),
                (field::PAM_TYPE, "auth"),
                (field::SOURCE_IP, "203.0.113.50"),
                (field::USER_NAME, "root"),
                (field::EVENT_OUTCOME, "failure"),
                (field::EVENT_ACTION, "authentication_failure"),
            ],
        );
        assert!(is_ip(&ev, field::SOURCE_IP));
    }

    #[test]
    fn pam_auth_failure_from_host_without_user() {
        check(
            "sshd",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= \
             rhost=dyn-42.isp.example ",
            &[
                (field::SOURCE_IP, ABSENT),
                (field::SOURCE_DOMAIN, "dyn-42.isp.example"),
                (field::USER_NAME, ABSENT),
                (field::EVENT_OUTCOME, "failure"),
            ],
        );
    }

    #[test]
    fn pam_old_style_process_name() {
        check(
            "sshd(pam_unix)",
            "check pass; user unknown",
            &[
                (field::PAM_MODULE, "pam_unix"),
                (field::PAM_SERVICE, "sshd"),
                (field::PAM_TYPE, ABSENT),
                (field::EVENT_OUTCOME, "failure"),
                (field::EVENT_REASON, "user unknown"),
            ],
        );
        check(
            "su(pam_unix)",
            "session opened for user news by (uid=0)",
            &[
                (field::PAM_SERVICE, "su"),
                (field::USER_NAME, "news"),
                (field::EVENT_ACTION, "session_opened"),
            ],
        );
    }

    #[test]
    fn pam_session_opened_and_closed() {
        check(
            "systemd",
            "pam_unix(systemd-user:session): session opened for user root(uid=0) by root(uid=0)",
            &[
                (field::PAM_SERVICE, "systemd-user"),
                (field::PAM_TYPE, "session"),
                (field::USER_NAME, "root"),
                (field::EVENT_ACTION, "session_opened"),
            ],
        );
        check(
            "CRON",
            "pam_unix(cron:session): session closed for user backup",
            &[
                (field::USER_NAME, "backup"),
                (field::EVENT_ACTION, "session_closed"),
            ],
        );
    }

    #[test]
    fn pam_more_failures_summary_is_not_key_value() {
        check(
            "sshd",
            "PAM 4 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= \
             rhost=198.51.100.61  user=root",
            &[
                (field::SOURCE_IP, "198.51.100.61"),
                (field::USER_NAME, "root"),
                (field::EVENT_OUTCOME, "failure"),
                (field::EVENT_ACTION, "authentication_failure_summary"),
                ("rhost", ABSENT),
                ("uid", ABSENT),
            ],
        );
        check(
            "sshd",
            "PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=a.example",
            &[
                (field::SOURCE_DOMAIN, "a.example"),
                (field::USER_NAME, ABSENT),
            ],
        );
    }

    #[test]
    fn pam_tag_needs_word_start_and_parenthesis() {
        check(
            "app",
            "loaded libpam_foo(x:y): nothing",
            &[(field::PAM_MODULE, ABSENT), (field::PAM_SERVICE, ABSENT)],
        );
        check("app", "pam_unix(sshd:auth", &[(field::PAM_MODULE, ABSENT)]);
    }

    // --- sudo -------------------------------------------------------------------------------

    #[test]
    fn sudo_success_with_semicolons_in_command() {
        check(
            "sudo",
            "    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh -c echo a ; id",
            &[
                (field::USER_NAME, "alice"),
                (field::USER_EFFECTIVE_NAME, "root"),
                (field::SUDO_TTY, "pts/0"),
                (field::PROCESS_WORKING_DIRECTORY, "/home/alice"),
                (field::PROCESS_COMMAND_LINE, "/bin/sh -c echo a ; id"),
                (field::EVENT_ACTION, "sudo"),
                (field::EVENT_OUTCOME, "success"),
                (field::EVENT_REASON, ABSENT),
            ],
        );
    }

    #[test]
    fn sudo_failures_carry_reason() {
        check(
            "sudo",
            "  mallory : 3 incorrect password attempts ; TTY=pts/2 ; PWD=/tmp ; USER=root ; \
             COMMAND=/usr/bin/cat /etc/shadow",
            &[
                (field::USER_NAME, "mallory"),
                (field::EVENT_OUTCOME, "failure"),
                (field::EVENT_REASON, "3 incorrect password attempts"),
                (field::PROCESS_COMMAND_LINE, "/usr/bin/cat /etc/shadow"),
            ],
        );
        check(
            "sudo",
            "eve : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/eve ; USER=root ; COMMAND=/bin/bash",
            &[
                (field::EVENT_OUTCOME, "failure"),
                (field::EVENT_REASON, "user NOT in sudoers"),
            ],
        );
    }

    #[test]
    fn sudo_pam_line_goes_to_pam() {
        check(
            "sudo",
            "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
            &[
                (field::PAM_SERVICE, "sudo"),
                (field::USER_NAME, "root"),
                (field::EVENT_ACTION, "session_opened"),
            ],
        );
    }

    // --- CEF --------------------------------------------------------------------------------

    #[test]
    fn cef_header_extension_and_escapes() {
        let ev = check(
            "",
            r"CEF:0|Acme\|Corp|Threat Mgr|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 dpt=80 suser=j doe act=blocked msg=a\=b c\\d\nnext cs1Label=x",
            &[
                ("cef.version", "0"),
                ("cef.device_vendor", "Acme|Corp"),
                ("cef.device_product", "Threat Mgr"),
                ("cef.device_version", "1.0"),
                ("cef.signature_id", "100"),
                ("cef.name", "worm successfully stopped"),
                ("cef.severity", "10"),
                ("cef.ext.src", "10.0.0.1"),
                ("cef.ext.suser", "j doe"),
                ("cef.ext.msg", "a=b c\\d\nnext"),
                ("cef.ext.cs1Label", "x"),
                (field::SOURCE_IP, "10.0.0.1"),
                (field::DESTINATION_IP, "2.1.2.2"),
                (field::SOURCE_PORT, "1232"),
                (field::DESTINATION_PORT, "80"),
                (field::USER_NAME, "j doe"),
                (field::EVENT_ACTION, "blocked"),
                (field::OBSERVER_VENDOR, "Acme|Corp"),
                (field::OBSERVER_PRODUCT, "Threat Mgr"),
            ],
        );
        assert!(is_ip(&ev, field::DESTINATION_IP));
        assert_eq!(ev.get("cef.severity"), Some(&Value::Int(10)));
    }

    #[test]
    fn cef_after_leading_text_with_empty_extension() {
        check(
            "",
            "Nov 25 08:00:00 fw01 CEF:1|Vendor|Product|2|sig-9|Port scan|High|",
            &[
                ("cef.version", "1"),
                ("cef.severity", "High"),
                ("cef.signature_id", "sig-9"),
                (field::SOURCE_IP, ABSENT),
            ],
        );
    }

    #[test]
    fn cef_with_too_few_pipes_is_not_cef() {
        check(
            "",
            r"CEF:0|Vendor|Product|1.0|100|name\|",
            &[("cef.version", ABSENT), ("cef.device_vendor", ABSENT)],
        );
        check("", "CEF:", &[("cef.version", ABSENT)]);
        check("", "CEF:0|a|b|c|d|e|f\\", &[("cef.version", ABSENT)]);
    }

    #[test]
    fn cef_extension_junk_and_trailing_backslash() {
        check(
            "",
            "CEF:0|V|P|1|2|N|3|junk words src=192.0.2.1 x=\\",
            &[
                ("cef.ext.src", "192.0.2.1"),
                ("cef.ext.x", "\\"),
                ("cef.ext.junk", ABSENT),
            ],
        );
    }

    // --- JSON -------------------------------------------------------------------------------

    #[test]
    fn json_flattens_nested_objects() {
        let ev = check(
            "app",
            r#" {"user":{"id":42,"name":"dana","admin":false},"latency":1.5,"tags":["a","b"],"none":null,"msg":"ok"} "#,
            &[
                ("json.user.id", "42"),
                ("json.user.name", "dana"),
                ("json.user.admin", "false"),
                ("json.latency", "1.5"),
                ("json.tags", r#"["a","b"]"#),
                ("json.none", ABSENT),
                ("json.msg", "ok"),
            ],
        );
        assert_eq!(ev.get("json.user.id"), Some(&Value::Int(42)));
        assert_eq!(ev.get("json.user.admin"), Some(&Value::Bool(false)));
        assert_eq!(ev.get("json.latency"), Some(&Value::Float(1.5)));
    }

    #[test]
    fn json_depth_is_capped() {
        let depth = 50;
        let body = format!(
            "{}\"leaf\":1{}",
            "{\"a\":".repeat(depth) + "{",
            "}".repeat(depth + 1)
        );
        let ev = decoded("app", &body);
        assert!(
            ev.fields.keys().all(|k| !k.starts_with("json.")),
            "{:#?}",
            ev.fields
        );

        let shallow = format!("json.{}b", "a.".repeat(MAX_JSON_DEPTH - 1));
        let body = format!(
            "{}\"b\":1{}",
            "{\"a\":".repeat(MAX_JSON_DEPTH - 1) + "{",
            "}".repeat(MAX_JSON_DEPTH)
        );
        check("app", &body, &[(shallow.as_str(), "1")]);
        let body = format!(
            "{}\"b\":1{}",
            "{\"a\":".repeat(MAX_JSON_DEPTH) + "{",
            "}".repeat(MAX_JSON_DEPTH + 1)
        );
        let ev = decoded("app", &body);
        assert!(
            ev.fields.keys().all(|k| !k.starts_with("json.")),
            "{:#?}",
            ev.fields
        );
    }

    #[test]
    fn json_too_deep_for_serde_does_not_panic() {
        let body = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        let ev = decoded("app", &body);
        assert!(ev.fields.keys().all(|k| !k.starts_with("json.")));
    }

    #[test]
    fn json_field_count_is_capped() {
        let body = format!(
            "{{{}}}",
            (0..MAX_JSON_FIELDS + 50)
                .map(|i| format!("\"k{i:04}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let ev = check("app", &body, &[("json.k0000", "0")]);
        assert_eq!(
            ev.fields.keys().filter(|k| k.starts_with("json.")).count(),
            MAX_JSON_FIELDS
        );
    }

    #[test]
    fn broken_json_falls_through_to_key_value() {
        check(
            "app",
            "{not json a=1 b=2 c=3",
            &[("a", "1"), ("c", "3"), ("json.a", ABSENT)],
        );
    }

    // --- auditd -----------------------------------------------------------------------------

    #[test]
    fn auditd_user_login_with_nested_msg() {
        let ev = check(
            "audispd",
            r#"type=USER_LOGIN msg=audit(1700000000.123:4242): pid=812 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=198.51.100.9 terminal=ssh res=failed'"#,
            &[
                ("auditd.type", "USER_LOGIN"),
                ("auditd.serial", "4242"),
                ("auditd.pid", "812"),
                ("auditd.op", "login"),
                ("auditd.acct", "root"),
                ("auditd.terminal", "ssh"),
                ("auditd.res", "failed"),
                (field::USER_NAME, "root"),
                (field::SOURCE_IP, "198.51.100.9"),
                (field::EVENT_OUTCOME, "failure"),
                (field::PROCESS_EXECUTABLE, "/usr/sbin/sshd"),
            ],
        );
        assert!(is_ip(&ev, field::SOURCE_IP));
        assert_eq!(ev.get("auditd.serial"), Some(&Value::Int(4242)));
    }

    #[test]
    fn auditd_node_prefix_hex_acct_and_unterminated_msg() {
        check(
            "",
            "node=web01 type=USER_AUTH msg=audit(1700000001.5:7): pid=1 msg='op=PAM:authentication \
             acct=726F6F74 exe=\"/usr/bin/su\" addr=? res=success",
            &[
                ("auditd.node", "web01"),
                ("auditd.type", "USER_AUTH"),
                ("auditd.op", "PAM:authentication"),
                (field::USER_NAME, "root"),
                (field::SOURCE_IP, ABSENT),
                (field::SOURCE_DOMAIN, ABSENT),
                (field::EVENT_OUTCOME, "success"),
            ],
        );
    }

    #[test]
    fn auditd_header_only_and_garbage() {
        check(
            "",
            "type=EOE msg=audit(1700000002.000:9): ",
            &[("auditd.type", "EOE")],
        );
        check(
            "",
            "type=SYSCALL msg=audit(garbage",
            &[("auditd.type", ABSENT)],
        );
    }

    // --- key=value --------------------------------------------------------------------------

    #[test]
    fn fortigate_traffic_log() {
        let ev = check(
            "",
            r#"date=2026-11-25 time=08:00:01 devname="FGT-HQ" devid="FG100F0000000001" logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=192.0.2.44 srcport=51234 srcintf="port1" dstip=198.51.100.80 dstport=443 proto=6 action="deny" policyid=17 user="j.doe" msg="denied \"by\" policy""#,
            &[
                ("srcip", "192.0.2.44"),
                ("dstport", "443"),
                ("devname", "FGT-HQ"),
                ("logid", "0000000013"),
                ("action", "deny"),
                ("msg", "denied \"by\" policy"),
                (field::SOURCE_IP, "192.0.2.44"),
                (field::SOURCE_PORT, "51234"),
                (field::DESTINATION_IP, "198.51.100.80"),
                (field::DESTINATION_PORT, "443"),
                (field::USER_NAME, "j.doe"),
                (field::EVENT_ACTION, "deny"),
                (field::OBSERVER_NAME, "FGT-HQ"),
                (field::RULE_ID, "17"),
                (field::OBSERVER_VENDOR, "Fortinet"),
                (field::OBSERVER_PRODUCT, "FortiGate"),
            ],
        );
        assert!(is_ip(&ev, field::DESTINATION_IP));
        assert_eq!(ev.get("dstport"), Some(&Value::Str("443".into())));
    }

    #[test]
    fn iptables_style_uppercase_keys_and_flags() {
        check(
            "kernel",
            "[UFW BLOCK] IN=eth0 OUT= MAC=aa:bb SRC=203.0.113.9 DST=192.0.2.1 LEN=60 PROTO=TCP \
             SPT=4444 DPT=22 WINDOW=1024 SYN URGP=0",
            &[
                ("OUT", ""),
                ("PROTO", "TCP"),
                (field::SOURCE_IP, "203.0.113.9"),
                (field::DESTINATION_PORT, "22"),
                (field::OBSERVER_VENDOR, ABSENT),
            ],
        );
    }

    #[test]
    fn key_value_needs_three_pairs() {
        check(
            "app",
            "retrying with timeout=5 attempts=2",
            &[("timeout", ABSENT)],
        );
    }

    #[test]
    fn key_value_unterminated_quote_runs_to_end() {
        check(
            "app",
            r#"a=1 b=2 note="never closed \" still src=10.0.0.9"#,
            &[
                ("a", "1"),
                ("note", "never closed \" still src=10.0.0.9"),
                ("src", ABSENT),
            ],
        );
    }

    #[test]
    fn decoders_never_overwrite_header_fields() {
        let mut ev = Event::new(
            Dataset::Syslog,
            Origin::new("test", None),
            Utc::now(),
            vec![],
        );
        ev.set(field::HOST_HOSTNAME, "web01");
        ev.set(field::PROCESS_NAME, "app");
        ev.set(
            field::MESSAGE,
            "host.hostname=evil process.name=evil message=evil srcip=10.0.0.1",
        );
        decode_body(&mut ev);
        assert_eq!(ev.get_str(field::HOST_HOSTNAME), Some("web01"));
        assert_eq!(ev.get_str(field::PROCESS_NAME), Some("app"));
        assert_eq!(
            ev.get_str(field::MESSAGE),
            Some("host.hostname=evil process.name=evil message=evil srcip=10.0.0.1")
        );
        assert_eq!(ev.get_str("srcip"), Some("10.0.0.1"));
    }

    #[test]
    fn key_value_pair_count_is_capped() {
        let body = (0..MAX_KV_PAIRS * 4)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(" ");
        let ev = decoded("app", &body);
        // every field but `message` and `process.name` came from the body
        assert_eq!(ev.fields.len(), MAX_KV_PAIRS + 2);
    }

    // --- hostile input ----------------------------------------------------------------------

    #[test]
    fn empty_missing_and_non_text_messages() {
        for process in ["", "sshd", "sudo", "app"] {
            let ev = decoded(process, "");
            assert_eq!(ev.fields.len(), 1 + usize::from(!process.is_empty()));
            let ev = decoded(process, "   ");
            assert_eq!(ev.fields.len(), 1 + usize::from(!process.is_empty()));
        }
        let mut ev = Event::new(
            Dataset::Syslog,
            Origin::new("test", None),
            Utc::now(),
            vec![],
        );
        decode_body(&mut ev);
        assert!(ev.fields.is_empty());
        ev.set(field::MESSAGE, 5i64);
        decode_body(&mut ev);
        assert_eq!(ev.get(field::MESSAGE), Some(&Value::Int(5)));
    }

    #[test]
    fn very_long_bodies_do_not_panic() {
        let long = "a".repeat(1 << 20);
        for body in [
            format!("CEF:0|a|b|c|d|e|f|k={long}"),
            format!("CEF:0|a|b|c|d|e|f|k={}", " x".repeat(1 << 18)),
            format!("a=1 b=2 c=\"{long}"),
            format!("pam_{long}"),
            "pam_x(".repeat(1 << 16),
            format!("{{\"k\":\"{long}\"}}"),
            " =".repeat(1 << 18),
            format!("Failed password for {long}"),
        ] {
            for process in ["sshd", "sudo", ""] {
                decoded(process, &body);
            }
        }
        check(
            "",
            &format!("CEF:0|a|b|c|d|e|f|k={long}"),
            &[("cef.ext.k", long.as_str())],
        );
    }

    #[test]
    fn replacement_characters_are_kept_whole() {
        check(
            "sshd",
            "Failed password for invalid user \u{FFFD}\u{FFFD}r from 192.0.2.5 port 22 ssh2",
            &[
                (field::USER_NAME, "\u{FFFD}\u{FFFD}r"),
                (field::SOURCE_IP, "192.0.2.5"),
            ],
        );
        check(
            "",
            "k\u{FFFD}=1 a=\u{FFFD} b=\"\u{FFFD}\\\u{FFFD}\" c=3",
            &[("a", "\u{FFFD}"), ("b", "\u{FFFD}\\\u{FFFD}"), ("c", "3")],
        );
        check(
            "",
            "CEF:0|\u{FFFD}|P\\\u{FFFD}|1|2|N|3|src=\u{FFFD} x=\\\u{FFFD}",
            &[
                ("cef.device_vendor", "\u{FFFD}"),
                ("cef.ext.x", "\\\u{FFFD}"),
            ],
        );
    }

    #[test]
    fn hostile_fragments_do_not_panic() {
        let samples = [
            "Accepted ",
            "Accepted  for ",
            "Failed password for invalid user ",
            "Connection closed by ",
            "Connection closed by  port ",
            "Received disconnect from ",
            "reverse mapping checking getaddrinfo for ",
            "maximum authentication attempts exceeded for x",
            "pam_(:): authentication failure;",
            "pam_unix(): session opened for user ",
            " : ",
            "x : COMMAND=",
            "x :  ; ; ; TTY=",
            "CEF:||||||",
            "CEF:0|a|b|c|d|e|f|=",
            "CEF:0|a|b|c|d|e|f| =x ==",
            "{",
            "{\"a\":[1,{\"b\":2}]}",
            "type=",
            "type=X msg=audit(",
            "type=X msg=audit(): msg='",
            "node=",
            "a= b= c=",
            "a=\" b=' c=\\",
            "\\\\\\\\=\"\\",
        ];
        for body in samples {
            for process in ["sshd", "sudo", "x(pam_unix)", "(", ""] {
                decoded(process, body);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_text(
            prefix in proptest::sample::select(vec![
                "", "Accepted ", "Failed ", "Connection closed by ", "pam_unix(sshd:auth): ",
                "CEF:0|", "{", "type=X msg=audit(1.2:3): ", "a=1 b=\"", " u : TTY=",
            ]),
            body in "\\PC{0,200}",
            process in proptest::sample::select(vec!["", "sshd", "sudo", "sshd(pam_unix)"]),
        ) {
            decoded(process, &format!("{prefix}{body}"));
        }
    }
}
