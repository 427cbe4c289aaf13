//! ECS field names used by canh. Declared once here; every crate uses these constants.

pub const TIMESTAMP: &str = "@timestamp";
pub const EVENT_CREATED: &str = "event.created";
pub const EVENT_DATASET: &str = "event.dataset";
pub const EVENT_OUTCOME: &str = "event.outcome";
pub const EVENT_ACTION: &str = "event.action";
pub const EVENT_CATEGORY: &str = "event.category";
pub const EVENT_MODULE: &str = "event.module";
pub const HOST_HOSTNAME: &str = "host.hostname";
pub const PROCESS_NAME: &str = "process.name";
pub const PROCESS_PID: &str = "process.pid";
pub const MESSAGE: &str = "message";
pub const SOURCE_IP: &str = "source.ip";
pub const SOURCE_PORT: &str = "source.port";
pub const DESTINATION_IP: &str = "destination.ip";
pub const DESTINATION_PORT: &str = "destination.port";
pub const USER_NAME: &str = "user.name";
pub const SOURCE_NAT_IP: &str = "source.nat.ip";
pub const SOURCE_NAT_PORT: &str = "source.nat.port";
pub const DESTINATION_NAT_IP: &str = "destination.nat.ip";
pub const DESTINATION_NAT_PORT: &str = "destination.nat.port";
pub const NETWORK_APPLICATION: &str = "network.application";
pub const USER_EFFECTIVE_NAME: &str = "user.effective.name";
pub const NETWORK_TRANSPORT: &str = "network.transport";
pub const OBSERVER_VENDOR: &str = "observer.vendor";
pub const OBSERVER_PRODUCT: &str = "observer.product";
pub const OBSERVER_NAME: &str = "observer.name";
pub const RULE_NAME: &str = "rule.name";
pub const PROCESS_COMMAND_LINE: &str = "process.command_line";
pub const PROCESS_WORKING_DIRECTORY: &str = "process.working_directory";
pub const AUTH_METHOD: &str = "canh.auth.method";
pub const LOG_LEVEL: &str = "log.level";

pub const SYSLOG_FACILITY_CODE: &str = "log.syslog.facility.code";
pub const SYSLOG_FACILITY_NAME: &str = "log.syslog.facility.name";
pub const SYSLOG_SEVERITY_CODE: &str = "log.syslog.severity.code";
pub const SYSLOG_SEVERITY_NAME: &str = "log.syslog.severity.name";
pub const SYSLOG_PRIORITY: &str = "log.syslog.priority";
pub const SYSLOG_VERSION: &str = "log.syslog.version";
pub const SYSLOG_MSGID: &str = "log.syslog.msgid";
pub const SYSLOG_APPNAME: &str = "log.syslog.appname";
/// Prefix of `log.syslog.structured_data.<SD-ID>.<param>`.
pub const SYSLOG_SD_PREFIX: &str = "log.syslog.structured_data.";

/// Prefix for CEF header and extension keys (`cef.device_vendor`, `cef.ext.src` …).
pub const CEF_PREFIX: &str = "cef.";
/// Prefix for auditd record fields (`auditd.type`, `auditd.pid` …).
pub const AUDITD_PREFIX: &str = "auditd.";
/// Prefix for JSON body keys, flattened with dots (`json.user.id`).
pub const JSON_PREFIX: &str = "json.";
/// RFC 5424 PROCID when it is not a number.
pub const SYSLOG_PROCID: &str = "log.syslog.procid";
pub const EVENT_CODE: &str = "event.code";

// Added for the syslog body decoders (collectors/src/syslog/decoders.rs).
/// Why an event has its outcome, e.g. sudo's `3 incorrect password attempts`.
pub const EVENT_REASON: &str = "event.reason";
/// A source host given by name, when it is not an address.
pub const SOURCE_DOMAIN: &str = "source.domain";
/// A destination host given by name, when it is not an address.
pub const DESTINATION_DOMAIN: &str = "destination.domain";
pub const PROCESS_EXECUTABLE: &str = "process.executable";
/// The firewall policy or rule that handled the event (FortiGate `policyid`).
pub const RULE_ID: &str = "rule.id";
/// Linux-PAM module, service and management group: `pam_unix(sshd:auth)`.
pub const PAM_MODULE: &str = "pam.module";
pub const PAM_SERVICE: &str = "pam.service";
pub const PAM_TYPE: &str = "pam.type";
/// The terminal sudo was run from (`TTY=pts/0`).
pub const SUDO_TTY: &str = "sudo.tty";
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
pub const HTTP_REQUEST_REFERRER: &str = "http.request.referrer";
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
pub const HTTP_RESPONSE_BODY_BYTES: &str = "http.response.body.bytes";
pub const HTTP_VERSION: &str = "http.version";
pub const URL_ORIGINAL: &str = "url.original";
pub const URL_DOMAIN: &str = "url.domain";
pub const URL_PATH: &str = "url.path";
pub const URL_QUERY: &str = "url.query";
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";

// Added for the NetFlow/IPFIX decoders (collectors/src/netflow/).
/// Bytes and packets of a flow, both directions, scaled by the sampling rate.
pub const NETWORK_BYTES: &str = "network.bytes";
pub const NETWORK_PACKETS: &str = "network.packets";
/// The IANA protocol number as text (`6`), beside `network.transport` (`tcp`).
pub const NETWORK_IANA_NUMBER: &str = "network.iana_number";
/// `ipv4` or `ipv6`.
pub const NETWORK_TYPE: &str = "network.type";
/// Names of the TCP flags seen in a flow (`syn`, `ack` …); the bits are `netflow.tcp_control_bits`.
pub const NETWORK_TCP_FLAGS: &str = "network.tcp_flags";
/// When a flow started and ended (RFC 3339 text); `event.duration` is in nanoseconds.
pub const EVENT_START: &str = "event.start";
pub const EVENT_END: &str = "event.end";
pub const EVENT_DURATION: &str = "event.duration";
/// The device that exported a flow.
pub const OBSERVER_IP: &str = "observer.ip";
pub const OBSERVER_INGRESS_INTERFACE_ID: &str = "observer.ingress.interface.id";
pub const OBSERVER_INGRESS_INTERFACE_NAME: &str = "observer.ingress.interface.name";
pub const OBSERVER_EGRESS_INTERFACE_ID: &str = "observer.egress.interface.id";
pub const OBSERVER_EGRESS_INTERFACE_NAME: &str = "observer.egress.interface.name";
/// Prefix of NetFlow/IPFIX elements without an ECS name: `netflow.<element name>`,
/// `netflow.<vendor>.<element>` for vendor elements canh knows, `netflow.ie<id>` for unknown
/// ids, `netflow.pen<PEN>.<id>` for other enterprise elements.
pub const NETFLOW_PREFIX: &str = "netflow.";
/// 5, 9 or 10 (IPFIX).
pub const NETFLOW_VERSION: &str = "netflow.version";
/// `netflow_flow` or `netflow_options`.
pub const NETFLOW_TYPE: &str = "netflow.type";
pub const NETFLOW_TEMPLATE_ID: &str = "netflow.template_id";
/// NetFlow v9 source id.
pub const NETFLOW_SOURCE_ID: &str = "netflow.exporter.source_id";
/// IPFIX observation domain id.
pub const NETFLOW_OBSERVATION_DOMAIN_ID: &str = "netflow.exporter.observation_domain_id";
/// NetFlow v5 engine type and id.
pub const NETFLOW_ENGINE_TYPE: &str = "netflow.exporter.engine_type";
pub const NETFLOW_ENGINE_ID: &str = "netflow.exporter.engine_id";
/// Bytes and packets as the exporter counted them, before the sampling rate was applied.
pub const NETFLOW_RAW_BYTES: &str = "netflow.raw_bytes";
pub const NETFLOW_RAW_PACKETS: &str = "netflow.raw_packets";
/// The sampling rate applied to `network.bytes`/`network.packets` (100 = one packet in 100).
pub const NETFLOW_SAMPLING_RATE: &str = "netflow.sampling_rate";
pub const NETFLOW_TCP_CONTROL_BITS: &str = "netflow.tcp_control_bits";
