//! What validation decided about one message: an [`Outcome`] (op-node's accept / ignore /
//! reject), the [`Reason`] (the rule that decided it), and what was learnt on the way.

use std::fmt;

use libp2p_gossipsub::MessageAcceptance;
use op_p2p_types::{Address, ExecutionPayloadEnvelope};

/// The three gossipsub validation results, as op-node uses them (spec §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Valid: relay it and hand the block to the application.
    Accept,
    /// Drop without penalty: the message may be fine but is of no use (a repeat, no signer
    /// configured, or we could not decide in time).
    Ignore,
    /// Drop as invalid. What gossipsub is told (and so whether the sender's score pays) is
    /// [`Reason::reported`]: only a reject an honest forwarder can never cause counts as an
    /// invalid delivery (P4).
    Reject,
}

impl Outcome {
    /// Every outcome, in a fixed order (for metrics tables).
    pub const ALL: [Self; 3] = [Self::Accept, Self::Ignore, Self::Reject];

    /// The lower-case name, for metrics labels and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Ignore => "ignore",
            Self::Reject => "reject",
        }
    }

    /// The position in [`Self::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Outcome> for MessageAcceptance {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Accept => Self::Accept,
            Outcome::Ignore => Self::Ignore,
            Outcome::Reject => Self::Reject,
        }
    }
}

/// The rule that did not let a message through, one variant per rule of op-node's
/// `BuildBlocksValidator` in the order it runs them (spec §2), then the pipeline's own.
///
/// The declaration order is the check order: when a message breaks several rules, the validator
/// reports the one declared first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Rule 1: the snappy header (declared decoded length) is invalid. Reject.
    InvalidSnappyLength,
    /// Rule 2: the declared decoded length is over 10 MiB. Reject.
    TooLarge,
    /// Rule 3: the decoded length is under 66 bytes (signature plus one byte). Reject.
    TooSmall,
    /// Rule 4: the snappy body does not decode. Reject.
    InvalidSnappy,
    /// Rule 6: no unsafe block signer is configured (the zero address). Ignore: the message may
    /// well be valid; we cannot tell.
    NoSigner,
    /// Rule 6: the signature recovers no public key (bad `r`/`s`, or `v` not 0/1). Reject.
    InvalidSignature,
    /// Rule 6: the signature recovers an address other than the unsafe block signer. Reject.
    WrongSigner,
    /// Rule 7: the signed bytes are not a payload (or envelope) of the topic's version. Reject.
    InvalidPayload,
    /// Rule 8: the timestamp is older than now minus the configured threshold. Reject.
    TooOld,
    /// Rule 9: the timestamp is more than 5 s in the future. Reject.
    TooNew,
    /// Rule 10: the block hash does not recompute from the payload. Reject.
    InvalidBlockHash,
    /// Rule 11: a v1 payload carries withdrawals. Reject (unreachable through the v1 decoder).
    UnexpectedWithdrawals,
    /// Rule 12: a v2+ payload has no withdrawals list. Reject (unreachable through the
    /// decoder).
    MissingWithdrawals,
    /// Rule 13: a v2+ payload has withdrawals (OP Stack blocks never do). Reject.
    NonEmptyWithdrawals,
    /// Rule 14: a v1/v2 payload carries `blobGasUsed`. Reject (unreachable through the
    /// decoder).
    UnexpectedBlobGasUsed,
    /// Rule 15: a v1/v2 payload carries `excessBlobGas`. Reject (unreachable through the
    /// decoder).
    UnexpectedExcessBlobGas,
    /// Rule 16: a v3/v4 payload has no `blobGasUsed`. Reject (unreachable through the decoder).
    MissingBlobGasUsed,
    /// Rule 16: `blobGasUsed` is non-zero before Jovian (from Jovian on it carries the DA
    /// footprint). Reject.
    NonZeroBlobGasUsed,
    /// Rule 17: a v3/v4 payload has no `excessBlobGas`. Reject (unreachable through the
    /// decoder).
    MissingExcessBlobGas,
    /// Rule 17: `excessBlobGas` is non-zero. Reject.
    NonZeroExcessBlobGas,
    /// Rule 18: a v3/v4 envelope has no parent beacon block root. Reject (unreachable through
    /// the decoder).
    MissingParentBeaconRoot,
    /// Rule 19: a v4 payload has no `withdrawalsRoot`. Reject (unreachable through the
    /// decoder).
    MissingWithdrawalsRoot,
    /// Rule 20: more than 5 distinct blocks were already seen at this height (so the 7th
    /// distinct block, and any repeat once 6 are known, is rejected). Reject.
    TooManyBlocksAtHeight,
    /// Rule 20: this block was already seen at this height. Ignore.
    DuplicateBlock,
    /// The message arrived on a topic that is not one of this chain's four blocks topics. The
    /// subscription filter makes this unreachable; Ignore, since it would be our fault.
    UnknownTopic,
    /// The validation queue was full (op-node: pubsub's validate queue / throttle). Ignore.
    QueueFull,
    /// Validation did not finish within the timeout (default 3 s). Ignore.
    Timeout,
    /// A check panicked (op-node's `guardGossipValidator`). Reject.
    Panic,
    /// The validation pipeline stopped before answering. Ignore.
    PipelineClosed,
    /// The forwarding peer already had [`crate::Config::validation_queue_per_peer`] messages
    /// waiting for or in validation (our bound on the work one peer can cause; op-node has
    /// none). Ignore.
    PeerBusy,
}

/// Who a rule's failure can be blamed on: the deciding input for whether a reject may cost the
/// forwarding peer gossip score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blame {
    /// The message itself is broken in a way no honest node relays: every node checks these
    /// rules the same way whatever it knows (the bytes, the topic's layout, the block hash), and
    /// a node relays only what passed them. Only these rejects cost score.
    Message,
    /// The verdict depends on what *we* hold: the unsafe block signer we know, our clock, our
    /// fork schedule, the blocks we happened to see, our own code (a panic) or load. An honest
    /// peer relays such a message whenever its state differs from ours (a signer rotation one
    /// of us has not learnt yet, a drifting clock, a config behind a hard fork), so it must
    /// never cost that peer score.
    LocalState,
    /// Not a failure: accepted.
    None,
}

impl Reason {
    /// Every reason, in declaration (check) order.
    pub const ALL: [Self; 30] = [
        Self::InvalidSnappyLength,
        Self::TooLarge,
        Self::TooSmall,
        Self::InvalidSnappy,
        Self::NoSigner,
        Self::InvalidSignature,
        Self::WrongSigner,
        Self::InvalidPayload,
        Self::TooOld,
        Self::TooNew,
        Self::InvalidBlockHash,
        Self::UnexpectedWithdrawals,
        Self::MissingWithdrawals,
        Self::NonEmptyWithdrawals,
        Self::UnexpectedBlobGasUsed,
        Self::UnexpectedExcessBlobGas,
        Self::MissingBlobGasUsed,
        Self::NonZeroBlobGasUsed,
        Self::MissingExcessBlobGas,
        Self::NonZeroExcessBlobGas,
        Self::MissingParentBeaconRoot,
        Self::MissingWithdrawalsRoot,
        Self::TooManyBlocksAtHeight,
        Self::DuplicateBlock,
        Self::UnknownTopic,
        Self::QueueFull,
        Self::Timeout,
        Self::Panic,
        Self::PipelineClosed,
        Self::PeerBusy,
    ];

    /// The outcome op-node gives this rule.
    pub const fn outcome(self) -> Outcome {
        match self {
            Self::NoSigner
            | Self::DuplicateBlock
            | Self::UnknownTopic
            | Self::QueueFull
            | Self::Timeout
            | Self::PipelineClosed
            | Self::PeerBusy => Outcome::Ignore,
            _ => Outcome::Reject,
        }
    }

    /// Whether the message or our own state is to blame for this rule failing (see [`Blame`]).
    ///
    /// Local state, rule by rule:
    /// - [`Self::WrongSigner`]: the signer we hold; during a rotation nodes that learnt the new
    ///   signer relay blocks the others still reject.
    /// - [`Self::TooOld`], [`Self::TooNew`]: our clock (and our configured threshold).
    /// - [`Self::NonZeroBlobGasUsed`]: our fork schedule (whether Jovian is active at the
    ///   timestamp); a node whose rollup config lacks Jovian rejects every honest Jovian block.
    /// - [`Self::TooManyBlocksAtHeight`]: the blocks *we* saw at that height; a peer that saw
    ///   fewer copies relays the one that is our 7th.
    /// - [`Self::Panic`]: our code.
    /// - Every ignore ([`Self::NoSigner`], [`Self::DuplicateBlock`], [`Self::QueueFull`], …).
    ///
    /// The message, for every other reject: the snappy frame and its size limits, the
    /// signature's bytes (no key recovers: `r`/`s` out of range or `v` not 0/1, independent of
    /// who the signer is), the SSZ layout of the topic's version, the block hash, and the fields
    /// each topic version must or must not carry (withdrawals, blob gas fields, the parent beacon
    /// root, the withdrawals root), which depend on the topic alone. The chain id, which the
    /// signature domain also uses, is part of the topic name, so it is the same for every node
    /// on the topic.
    pub const fn blame(self) -> Blame {
        match self.outcome() {
            Outcome::Accept => Blame::None,
            Outcome::Ignore => Blame::LocalState,
            Outcome::Reject => match self {
                Self::WrongSigner
                | Self::TooOld
                | Self::TooNew
                | Self::NonZeroBlobGasUsed
                | Self::TooManyBlocksAtHeight
                | Self::Panic => Blame::LocalState,
                _ => Blame::Message,
            },
        }
    }

    /// What gossipsub is told for this rule, and so what the sender's score sees: op-node's
    /// [`Self::outcome`], except that a reject blamed on our state ([`Blame::LocalState`]) is
    /// reported as an ignore. Gossipsub then neither forwards the message nor counts an invalid
    /// delivery (P4) or any other penalty against the peer. The verdict itself, the metrics by
    /// reason, `op-p2p gossip validate`, the vectors and the rule tests keep op-node's outcome.
    pub const fn reported(self) -> Outcome {
        match self.blame() {
            Blame::Message => Outcome::Reject,
            Blame::LocalState => Outcome::Ignore,
            Blame::None => Outcome::Accept,
        }
    }

    /// A stable snake-case name, for metrics labels and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidSnappyLength => "invalid_snappy_length",
            Self::TooLarge => "too_large",
            Self::TooSmall => "too_small",
            Self::InvalidSnappy => "invalid_snappy",
            Self::NoSigner => "no_signer",
            Self::InvalidSignature => "invalid_signature",
            Self::WrongSigner => "wrong_signer",
            Self::InvalidPayload => "invalid_payload",
            Self::TooOld => "too_old",
            Self::TooNew => "too_new",
            Self::InvalidBlockHash => "invalid_block_hash",
            Self::UnexpectedWithdrawals => "unexpected_withdrawals",
            Self::MissingWithdrawals => "missing_withdrawals",
            Self::NonEmptyWithdrawals => "non_empty_withdrawals",
            Self::UnexpectedBlobGasUsed => "unexpected_blob_gas_used",
            Self::UnexpectedExcessBlobGas => "unexpected_excess_blob_gas",
            Self::MissingBlobGasUsed => "missing_blob_gas_used",
            Self::NonZeroBlobGasUsed => "non_zero_blob_gas_used",
            Self::MissingExcessBlobGas => "missing_excess_blob_gas",
            Self::NonZeroExcessBlobGas => "non_zero_excess_blob_gas",
            Self::MissingParentBeaconRoot => "missing_parent_beacon_root",
            Self::MissingWithdrawalsRoot => "missing_withdrawals_root",
            Self::TooManyBlocksAtHeight => "too_many_blocks_at_height",
            Self::DuplicateBlock => "duplicate_block",
            Self::UnknownTopic => "unknown_topic",
            Self::QueueFull => "queue_full",
            Self::Timeout => "timeout",
            Self::Panic => "panic",
            Self::PipelineClosed => "pipeline_closed",
            Self::PeerBusy => "peer_busy",
        }
    }

    /// The position in [`Self::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of validating one message: the first failing rule, if any, and what the checks
/// that ran produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The first rule the message broke, in op-node's order; `None` means accept.
    pub reason: Option<Reason>,
    /// The address the signature recovers to, when recovery ran and succeeded (also when it is
    /// the wrong signer).
    pub signer: Option<Address>,
    /// The decoded envelope, when decoding ran and succeeded (also when a later rule failed).
    pub envelope: Option<ExecutionPayloadEnvelope>,
}

impl Verdict {
    /// A verdict that only names a rule (nothing was decoded or recovered).
    pub const fn failed(reason: Reason) -> Self {
        Self {
            reason: Some(reason),
            signer: None,
            envelope: None,
        }
    }

    /// Accept, reject or ignore.
    pub fn outcome(&self) -> Outcome {
        self.reason.map_or(Outcome::Accept, Reason::outcome)
    }

    /// What gossipsub is told ([`Reason::reported`]).
    pub fn reported(&self) -> Outcome {
        self.reason.map_or(Outcome::Accept, Reason::reported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_in_declaration_order() {
        for (i, reason) in Reason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason}");
        }
        for (i, outcome) in Outcome::ALL.iter().enumerate() {
            assert_eq!(outcome.index(), i, "{outcome}");
        }
        let names: std::collections::HashSet<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Reason::ALL.len(), "names are unique");
    }

    #[test]
    fn ignores_are_exactly_op_nodes() {
        let ignored: Vec<_> = Reason::ALL
            .into_iter()
            .filter(|r| r.outcome() == Outcome::Ignore)
            .collect();
        assert_eq!(
            ignored,
            [
                Reason::NoSigner,
                Reason::DuplicateBlock,
                Reason::UnknownTopic,
                Reason::QueueFull,
                Reason::Timeout,
                Reason::PipelineClosed,
                Reason::PeerBusy,
            ]
        );
        assert_eq!(Verdict::default().outcome(), Outcome::Accept);
        assert!(matches!(
            MessageAcceptance::from(Outcome::Reject),
            MessageAcceptance::Reject
        ));
    }

    /// The split of rejects into what costs score and what does not, pinned rule by rule.
    #[test]
    fn only_rejects_no_honest_forwarder_causes_are_reported_as_rejects() {
        let penalised: Vec<_> = Reason::ALL
            .into_iter()
            .filter(|r| r.reported() == Outcome::Reject)
            .collect();
        assert_eq!(
            penalised,
            [
                Reason::InvalidSnappyLength,
                Reason::TooLarge,
                Reason::TooSmall,
                Reason::InvalidSnappy,
                Reason::InvalidSignature,
                Reason::InvalidPayload,
                Reason::InvalidBlockHash,
                Reason::UnexpectedWithdrawals,
                Reason::MissingWithdrawals,
                Reason::NonEmptyWithdrawals,
                Reason::UnexpectedBlobGasUsed,
                Reason::UnexpectedExcessBlobGas,
                Reason::MissingBlobGasUsed,
                Reason::MissingExcessBlobGas,
                Reason::NonZeroExcessBlobGas,
                Reason::MissingParentBeaconRoot,
                Reason::MissingWithdrawalsRoot,
            ]
        );
        for reason in Reason::ALL {
            // The verdict stays op-node's; only a reject can turn into an ignore.
            match reason.outcome() {
                Outcome::Reject => assert_ne!(reason.blame(), Blame::None, "{reason}"),
                other => assert_eq!(reason.reported(), other, "{reason}"),
            }
        }
        for local in [
            Reason::WrongSigner,
            Reason::TooOld,
            Reason::TooNew,
            Reason::NonZeroBlobGasUsed,
            Reason::TooManyBlocksAtHeight,
            Reason::Panic,
        ] {
            assert_eq!(local.outcome(), Outcome::Reject, "{local}");
            assert_eq!(local.reported(), Outcome::Ignore, "{local}");
        }
        let verdict = Verdict::failed(Reason::WrongSigner);
        assert_eq!(
            (verdict.outcome(), verdict.reported()),
            (Outcome::Reject, Outcome::Ignore)
        );
        assert_eq!(Verdict::default().reported(), Outcome::Accept);
    }
}
