//! Names on the wire: the blocks gossip topics (spec §1.1) and the `payload_by_number` protocol
//! id (spec §4.1).

use std::{fmt, str::FromStr};

use crate::{error::TopicError, payload::PayloadVersion};

/// A blocks gossip topic, `/optimism/<chain id>/<n>/blocks`, where `n` is the payload version
/// minus one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlocksTopic {
    /// L2 chain id.
    pub chain_id: u64,
    /// The payload layout carried on this topic.
    pub version: PayloadVersion,
}

impl BlocksTopic {
    /// The topic for `version` on chain `chain_id`.
    pub const fn new(chain_id: u64, version: PayloadVersion) -> Self {
        Self { chain_id, version }
    }

    /// The four topics a node joins, whatever fork is active.
    pub const fn all(chain_id: u64) -> [Self; 4] {
        [
            Self::new(chain_id, PayloadVersion::V1),
            Self::new(chain_id, PayloadVersion::V2),
            Self::new(chain_id, PayloadVersion::V3),
            Self::new(chain_id, PayloadVersion::V4),
        ]
    }
}

impl fmt::Display for BlocksTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/optimism/{}/{}/blocks",
            self.chain_id,
            self.version.topic_index()
        )
    }
}

impl FromStr for BlocksTopic {
    type Err = TopicError;

    /// Parses only the canonical form (decimal chain id without sign or leading zeros), since
    /// gossipsub compares topic strings byte for byte.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || TopicError::Malformed(s.to_owned());
        let rest = s.strip_prefix("/optimism/").ok_or_else(malformed)?;
        let rest = rest.strip_suffix("/blocks").ok_or_else(malformed)?;
        let (chain, index) = rest.split_once('/').ok_or_else(malformed)?;
        let chain_id: u64 = chain.parse().map_err(|_| malformed())?;
        let index: u8 = index.parse().map_err(|_| malformed())?;
        let version = PayloadVersion::from_topic_index(index).ok_or_else(malformed)?;
        let topic = Self { chain_id, version };
        if topic.to_string() != s {
            return Err(malformed());
        }
        Ok(topic)
    }
}

/// The `payload_by_number` protocol id as op-node registers it:
/// `/opstack/req/payload_by_number/<chain id>/0`, with no trailing slash.
///
/// multistream-select compares ids exactly, so this is the form that talks to op-node.
pub fn payload_by_number_protocol_id(chain_id: u64) -> String {
    format!("/opstack/req/payload_by_number/{chain_id}/0")
}

/// The id as the spec text and kona write it, with a trailing slash. A server may answer it too;
/// a client that uses it cannot reach op-node.
pub fn payload_by_number_protocol_id_with_slash(chain_id: u64) -> String {
    format!("/opstack/req/payload_by_number/{chain_id}/0/")
}
