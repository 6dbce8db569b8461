//! The `opp2p_*` result types, field for field as op-node's Go structs encode them
//! (`op-service/apis/p2p.go`, `op-node/p2p/store/iface.go`): the JSON names are the Go tags,
//! and the numbers are encoded as Go encodes them (latency in nanoseconds, connectedness and
//! direction as go-libp2p's integer enums, subnets as Go's `net.IPNet` struct).

use std::{collections::BTreeMap, net::IpAddr};

use base64::Engine as _;
use ipnet::IpNet;
use op_p2p_api::PeerScores;
use serde::Serialize;

/// go-libp2p's `network.Connectedness`: `NotConnected`.
pub(crate) const NOT_CONNECTED: u8 = 0;
/// go-libp2p's `network.Connectedness`: `Connected`.
pub(crate) const CONNECTED: u8 = 1;
/// go-libp2p's `network.Direction`: `DirUnknown` (no connection).
pub(crate) const DIR_UNKNOWN: u8 = 0;
/// go-libp2p's `network.Direction`: `DirInbound`.
pub(crate) const DIR_INBOUND: u8 = 1;
/// go-libp2p's `network.Direction`: `DirOutbound`.
pub(crate) const DIR_OUTBOUND: u8 = 2;

/// op-node's `PeerInfo`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PeerInfo {
    /// Base58 peer id.
    #[serde(rename = "peerID")]
    pub(crate) peer_id: String,
    /// discv5 node id: keccak256 of the uncompressed secp256k1 key, 64 hex chars, zero if the
    /// key is unknown.
    #[serde(rename = "nodeID")]
    pub(crate) node_id: String,
    /// identify's agent version.
    #[serde(rename = "userAgent")]
    pub(crate) user_agent: String,
    /// identify's protocol version.
    #[serde(rename = "protocolVersion")]
    pub(crate) protocol_version: String,
    /// The ENR text, when discovery saw one.
    #[serde(rename = "ENR")]
    pub(crate) enr: String,
    /// Known addresses with `/p2p/<id>`; `null` when none (a nil Go slice).
    pub(crate) addresses: Option<Vec<String>>,
    /// identify-advertised protocols; `null` when none.
    pub(crate) protocols: Option<Vec<String>>,
    /// [`NOT_CONNECTED`] or [`CONNECTED`].
    pub(crate) connectedness: u8,
    /// [`DIR_UNKNOWN`], [`DIR_INBOUND`] or [`DIR_OUTBOUND`]: the first connection's.
    pub(crate) direction: u8,
    /// Protected in the connection manager under any tag.
    pub(crate) protected: bool,
    /// The OP Stack chain id from the ENR's `opstack` entry, 0 if unknown.
    #[serde(rename = "chainID")]
    pub(crate) chain_id: u64,
    /// Ping round-trip EWMA in nanoseconds (Go's `time.Duration`), 0 if never pinged.
    pub(crate) latency: u64,
    /// Subscribed to any blocks topic.
    #[serde(rename = "gossipBlocks")]
    pub(crate) gossip_blocks: bool,
    /// The score book's record.
    pub(crate) scores: ScoresJson,
}

/// op-node's `PeerDump` (`opp2p_peers`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PeerDump {
    /// Entries with `connectedness` = 1.
    #[serde(rename = "totalConnected")]
    pub(crate) total_connected: usize,
    /// By peer id (a Go map: keys sorted).
    pub(crate) peers: BTreeMap<String, PeerInfo>,
    /// Permanently blocked peers.
    #[serde(rename = "bannedPeers")]
    pub(crate) banned_peers: Vec<String>,
    /// Permanently blocked IPs.
    #[serde(rename = "bannedIPS")]
    pub(crate) banned_ips: Vec<String>,
    /// Permanently blocked subnets.
    #[serde(rename = "bannedSubnets")]
    pub(crate) banned_subnets: Vec<IpNetJson>,
}

/// op-node's `PeerStats` (`opp2p_peerStats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct PeerStats {
    /// Connected peers.
    pub(crate) connected: usize,
    /// Nodes in the discv5 table (0 with discovery off).
    pub(crate) table: usize,
    /// Subscribers of the v1 blocks topic.
    #[serde(rename = "blocksTopic")]
    pub(crate) blocks_topic: usize,
    /// … of v2.
    #[serde(rename = "blocksTopicV2")]
    pub(crate) blocks_topic_v2: usize,
    /// … of v3.
    #[serde(rename = "blocksTopicV3")]
    pub(crate) blocks_topic_v3: usize,
    /// … of v4.
    #[serde(rename = "blocksTopicV4")]
    pub(crate) blocks_topic_v4: usize,
    /// Permanently blocked peers.
    pub(crate) banned: usize,
    /// Peers in the peer store, the local node included.
    pub(crate) known: usize,
}

/// op-node's `store.PeerScores`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub(crate) struct ScoresJson {
    /// The gossip snapshot.
    pub(crate) gossip: GossipScoresJson,
    /// The request-response counters.
    #[serde(rename = "reqResp")]
    pub(crate) req_resp: ReqRespScoresJson,
}

/// op-node's `store.GossipScores`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub(crate) struct GossipScoresJson {
    /// Total gossipsub score.
    pub(crate) total: f64,
    /// The blocks topic's components.
    pub(crate) blocks: TopicScoresJson,
    /// P6 (the capital `IP` is op-node's tag).
    #[serde(rename = "IPColocationFactor")]
    pub(crate) ip_colocation_factor: f64,
    /// P7.
    #[serde(rename = "behavioralPenalty")]
    pub(crate) behavioral_penalty: f64,
}

/// op-node's `store.TopicScores`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub(crate) struct TopicScoresJson {
    /// Seconds in the mesh.
    #[serde(rename = "timeInMesh")]
    pub(crate) time_in_mesh: f64,
    /// P2.
    #[serde(rename = "firstMessageDeliveries")]
    pub(crate) first_message_deliveries: f64,
    /// P3.
    #[serde(rename = "meshMessageDeliveries")]
    pub(crate) mesh_message_deliveries: f64,
    /// P4.
    #[serde(rename = "invalidMessageDeliveries")]
    pub(crate) invalid_message_deliveries: f64,
}

/// op-node's `store.ReqRespScores`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub(crate) struct ReqRespScoresJson {
    /// Valid responses.
    #[serde(rename = "validResponses")]
    pub(crate) valid_responses: f64,
    /// Error responses.
    #[serde(rename = "errorResponses")]
    pub(crate) error_responses: f64,
    /// Rejected payloads.
    #[serde(rename = "rejectedPayloads")]
    pub(crate) rejected_payloads: f64,
}

impl From<PeerScores> for ScoresJson {
    fn from(s: PeerScores) -> Self {
        Self {
            gossip: GossipScoresJson {
                total: s.gossip.total,
                blocks: TopicScoresJson {
                    time_in_mesh: s.gossip.blocks.time_in_mesh,
                    first_message_deliveries: s.gossip.blocks.first_message_deliveries,
                    mesh_message_deliveries: s.gossip.blocks.mesh_message_deliveries,
                    invalid_message_deliveries: s.gossip.blocks.invalid_message_deliveries,
                },
                ip_colocation_factor: s.gossip.ip_colocation_factor,
                behavioral_penalty: s.gossip.behavioural_penalty,
            },
            req_resp: ReqRespScoresJson {
                valid_responses: s.req_resp.valid_responses,
                error_responses: s.req_resp.error_responses,
                rejected_payloads: s.req_resp.rejected_payloads,
            },
        }
    }
}

/// Go's `net.IPNet` as `encoding/json` writes it (it has no marshal method): the struct's
/// fields, `IP` as text and `Mask` (a byte slice) as standard padded base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct IpNetJson {
    /// The network address.
    #[serde(rename = "IP")]
    pub(crate) ip: String,
    /// The mask bytes (4 for IPv4, 16 for IPv6), base64.
    #[serde(rename = "Mask")]
    pub(crate) mask: String,
}

impl From<IpNet> for IpNetJson {
    fn from(net: IpNet) -> Self {
        let mask = match net.netmask() {
            IpAddr::V4(m) => base64::engine::general_purpose::STANDARD.encode(m.octets()),
            IpAddr::V6(m) => base64::engine::general_purpose::STANDARD.encode(m.octets()),
        };
        Self {
            ip: ip_text(net.network()),
            mask,
        }
    }
}

/// An IP as Go's `net.IP` marshals it: IPv4 dotted (also for IPv4-mapped IPv6), IPv6 in
/// RFC 5952 form.
pub(crate) fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_encode_as_go_ipnet() {
        let cases = [
            ("198.51.100.0/24", "198.51.100.0", "////AA=="),
            ("10.1.0.0/16", "10.1.0.0", "//8AAA=="),
            ("192.0.2.7/32", "192.0.2.7", "/////w=="),
            ("2001:db8::/64", "2001:db8::", "//////////8AAAAAAAAAAA=="),
        ];
        for (cidr, ip, mask) in cases {
            let json = IpNetJson::from(cidr.parse::<IpNet>().unwrap());
            assert_eq!(json.ip, ip, "{cidr}");
            assert_eq!(json.mask, mask, "{cidr}");
        }
        let value =
            serde_json::to_value(IpNetJson::from("198.51.100.0/24".parse::<IpNet>().unwrap()))
                .unwrap();
        assert_eq!(
            value,
            serde_json::json!({"IP": "198.51.100.0", "Mask": "////AA=="})
        );
    }

    #[test]
    fn mapped_ipv6_prints_as_ipv4() {
        assert_eq!(ip_text("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(ip_text("2001:db8::1".parse().unwrap()), "2001:db8::1");
    }
}
