//! Metrics hooks (spec §13): requests by role, result code and duration, and the quarantine
//! size. Labels stay bounded: no peer ids.

use std::{fmt, time::Duration};

use op_p2p_types::ResultCode;

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
