//! Metrics hooks (spec §13): requests by role, result code and duration, and the quarantine
//! size. Labels stay bounded: no peer ids. [`PrometheusMetrics`] registers op-node's families
//! into the registry the node passes down.

use std::{fmt, time::Duration};

use op_p2p_types::ResultCode;
use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Which side of a request a measurement is from (op-node's `p2p_role` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// We requested.
    Client,
    /// We served.
    Server,
}

impl Role {
    /// The label value op-node uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }
}

/// Receives the sync behaviour's measurements; the node maps them onto its registry as
/// op-node's `p2p_req_total`, `p2p_req_duration_seconds` (labels `p2p_role`, `p2p_method` =
/// `payload_by_number`, `result_code`), `p2p_payload_by_number` and
/// `p2p_payloads_quarantine_total`. Called on the swarm task; keep it cheap.
pub trait Metrics: Send + fmt::Debug + 'static {
    /// A request finished: served (the answer was handed to the stream) or requested (the
    /// response was read or the request failed). `number` is the requested block (0 for a
    /// malformed request), for op-node's `p2p_payload_by_number` gauge. `result_code` follows
    /// op-node: see [`client_result_code`] for the client side; the server reports the code it
    /// sent.
    fn request(&self, role: Role, number: u64, result_code: u8, duration: Duration) {
        let _ = (role, number, result_code, duration);
    }

    /// Client: a request failed because the peer does not speak payload_by_number
    /// (multistream-select refused the protocol). Not a [`request`](Self::request): op-node
    /// counts it under `result_code="1"` with local failures; we count it under its own
    /// `result_code="unsupported"` value, since it is not scored either (see the crate docs).
    fn unsupported(&self, number: u64, duration: Duration) {
        let _ = (number, duration);
    }

    /// The number of payloads in quarantine changed.
    fn quarantine_size(&self, size: usize) {
        let _ = size;
    }
}

/// Metrics that go nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {}

/// The `result_code` label of a client request as op-node sets it: 0 for success, the server's
/// code for an error response (codes above 4 collapsed to 5), and 1 for failures that are not a
/// result code (timeouts, bad payloads, broken streams). op-node's quirk of labelling local
/// failures as "not found" is kept so dashboards read the same.
pub const fn client_result_code(code: Option<ResultCode>) -> u8 {
    match code {
        Some(code) if code.as_u8() > 4 => 5,
        Some(code) => code.as_u8(),
        None => 1,
    }
}

/// client_golang's `DefBuckets`, which op-node's `p2p_req_duration_seconds` uses.
pub const REQ_DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// op-node's only req-resp method.
const PAYLOAD_BY_NUMBER: &str = "payload_by_number";

/// The `result_code` label of client requests the peer refused because it does not speak
/// payload_by_number ([`Metrics::unsupported`]); not one of op-node's values.
pub const UNSUPPORTED_RESULT_LABEL: &str = "unsupported";

/// `p2p_role`, `p2p_method`, `result_code`.
type RequestLabels = [(&'static str, &'static str); 3];

fn duration_histogram() -> Histogram {
    Histogram::new(REQ_DURATION_BUCKETS)
}

/// op-node's sync metrics on prometheus-client: `p2p_req_total`, `p2p_req_duration_seconds`
/// (labels `p2p_role`, `p2p_method`, `result_code`), `p2p_payload_by_number{p2p_role}` and
/// `p2p_payloads_quarantine_total`, registered with op-node's HELP strings into the registry
/// the node passes (its prefix gives op-node's `op_node_default_` namespace). Cloning shares
/// the families.
#[derive(Debug, Clone)]
pub struct PrometheusMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
    payload_by_number: Family<[(&'static str, &'static str); 1], Gauge>,
    quarantine: Gauge,
}

impl PrometheusMetrics {
    /// Creates the families and registers them into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            payload_by_number: Family::default(),
            quarantine: Gauge::default(),
        };
        registry.register(
            "p2p_req_duration_seconds",
            "Duration of P2P requests",
            metrics.durations.clone(),
        );
        // prometheus-client appends `_total` to a counter's samples: op-node's `p2p_req_total`.
        registry.register(
            "p2p_req",
            "Number of P2P requests",
            metrics.requests.clone(),
        );
        registry.register(
            "p2p_payload_by_number",
            "Payload by number requests",
            metrics.payload_by_number.clone(),
        );
        registry.register(
            "p2p_payloads_quarantine_total",
            "number of unverified execution payloads buffered in quarantine",
            metrics.quarantine.clone(),
        );
        metrics
    }

    /// Requests with these labels so far (tests and tools).
    pub fn requests(&self, role: Role, result_code: u8) -> u64 {
        self.requests
            .get(&request_labels(role, result_code))
            .map_or(0, |c| c.get())
    }

    /// Client requests refused because the peer does not speak payload_by_number.
    pub fn unsupported_requests(&self) -> u64 {
        self.requests
            .get(&unsupported_labels())
            .map_or(0, |c| c.get())
    }

    fn observe(&self, labels: RequestLabels, role: Role, number: u64, duration: Duration) {
        self.requests.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
        self.payload_by_number
            .get_or_create(&[("p2p_role", role.as_str())])
            .set(i64::try_from(number).unwrap_or(i64::MAX));
    }
}

/// The `result_code` label: the code in decimal. Bounded: the client's codes are collapsed to
/// 0..=5 ([`client_result_code`]); the server sends 0..=3; anything else is `other`.
const fn result_code_label(code: u8) -> &'static str {
    const CODES: [&str; 6] = ["0", "1", "2", "3", "4", "5"];
    if (code as usize) < CODES.len() {
        CODES[code as usize]
    } else {
        "other"
    }
}

fn request_labels(role: Role, result_code: u8) -> RequestLabels {
    [
        ("p2p_role", role.as_str()),
        ("p2p_method", PAYLOAD_BY_NUMBER),
        ("result_code", result_code_label(result_code)),
    ]
}

fn unsupported_labels() -> RequestLabels {
    [
        ("p2p_role", Role::Client.as_str()),
        ("p2p_method", PAYLOAD_BY_NUMBER),
        ("result_code", UNSUPPORTED_RESULT_LABEL),
    ]
}

impl Metrics for PrometheusMetrics {
    fn request(&self, role: Role, number: u64, result_code: u8, duration: Duration) {
        self.observe(request_labels(role, result_code), role, number, duration);
    }

    fn unsupported(&self, number: u64, duration: Duration) {
        self.observe(unsupported_labels(), Role::Client, number, duration);
    }

    fn quarantine_size(&self, size: usize) {
        self.quarantine.set(i64::try_from(size).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode_registry;

    use super::*;

    #[test]
    fn op_node_names_labels_and_buckets() {
        let mut registry = Registry::with_prefix("op_node_default");
        let m = PrometheusMetrics::register(&mut registry);
        m.request(
            Role::Client,
            7,
            client_result_code(None),
            Duration::from_millis(30),
        );
        m.request(Role::Server, 9, 0, Duration::from_millis(2));
        m.request(Role::Server, 9, 200, Duration::ZERO);
        m.quarantine_size(3);
        m.unsupported(8, Duration::from_millis(1));
        assert_eq!(m.requests(Role::Client, 1), 1);
        assert_eq!(m.unsupported_requests(), 1);
        assert_eq!(m.requests(Role::Server, 0), 1);
        let mut text = String::new();
        encode_registry(&mut text, &registry).expect("encode");
        for line in [
            "op_node_default_p2p_req_total{p2p_role=\"client\",p2p_method=\"payload_by_number\",result_code=\"1\"} 1",
            "op_node_default_p2p_req_total{p2p_role=\"server\",p2p_method=\"payload_by_number\",result_code=\"other\"} 1",
            "op_node_default_p2p_req_duration_seconds_bucket{le=\"0.05\",p2p_role=\"client\",p2p_method=\"payload_by_number\",result_code=\"1\"} 1",
            "op_node_default_p2p_req_duration_seconds_bucket{le=\"0.025\",p2p_role=\"client\",p2p_method=\"payload_by_number\",result_code=\"1\"} 0",
            "op_node_default_p2p_payload_by_number{p2p_role=\"server\"} 9",
            "op_node_default_p2p_payloads_quarantine_total 3",
            "op_node_default_p2p_req_total{p2p_role=\"client\",p2p_method=\"payload_by_number\",result_code=\"unsupported\"} 1",
            "op_node_default_p2p_payload_by_number{p2p_role=\"client\"} 8",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
