//! The blocks validator: op-node's `BuildBlocksValidator` rules in op-node's order (spec §2),
//! stateless checks first, then the per-height record.

use std::{
    collections::VecDeque,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use libp2p_gossipsub::TopicHash;
use op_p2p_types::{
    Address, Bytes, ExecutionPayloadEnvelope, GossipDecodeError, Hardfork,
    PARALLEL_VERIFY_MIN_BYTES, PayloadVersion, RollupConfig, SignatureError, SignedBlockMessage,
};

use crate::{
    router::topic_hash,
    seen::SeenBlocks,
    signer::UnsafeBlockSigner,
    two_core::{Half, TwoCore},
    verdict::{Reason, Verdict},
};

/// How far in the future a block's timestamp may lie, in seconds (hard-coded in op-node).
pub const MAX_FUTURE_DRIFT_SECS: u64 = 5;

/// Something that validates blocks-topic messages: the [`Validator`], or a stand-in in tests.
pub trait Validate: Send + Sync + 'static {
    /// Validates gossip `data` received on `topic` at unix time `now`, updating any state.
    fn validate(&self, topic: &TopicHash, data: &[u8], now: u64) -> Verdict;

    /// [`Self::validate`] for `data` known to decompress to `decompressed` (valid snappy of at
    /// most 10 MiB, as [`op_p2p_types::message_id_with`] found while computing the message
    /// id), so the message is decompressed once. The verdict is the one
    /// [`Self::validate`] gives; `None` means "not known", and by default the hint is unused.
    fn validate_decompressed(
        &self,
        topic: &TopicHash,
        data: &[u8],
        decompressed: Option<Bytes>,
        now: u64,
    ) -> Verdict {
        let _ = decompressed;
        self.validate(topic, data, now)
    }

    /// Whether checking a message that decompresses to `decompressed_len` bytes (`None`: not
    /// known) is quick enough, tens to a few hundred µs, to run on the pipeline's async task:
    /// handing it to tokio's blocking pool then costs more than the check (a thread wake-up,
    /// and another to hand the verdict back). Default: never, every check goes to the blocking
    /// pool.
    fn is_quick(&self, decompressed_len: Option<usize>) -> bool {
        let _ = decompressed_len;
        false
    }

    /// Called as a message of `len` bytes (raw, compressed) arrives, from the behaviour's
    /// message id function before the id is computed: a validator can get ready meanwhile
    /// ([`Validator`] wakes its helper core for a large one). Must be cheap: it runs on the
    /// swarm task. Default: nothing.
    fn arriving(&self, len: usize) {
        let _ = len;
    }

    /// Called by the pipeline as it hands a message that decompresses to `decompressed` to a
    /// blocking thread, before the check starts there: a validator can start work that does
    /// not depend on the thread meanwhile ([`Validator`] starts a large message's signature on
    /// its helper core). Must be cheap: it runs on the pipeline's async task. Default: nothing.
    fn prepare(&self, decompressed: &Bytes) {
        let _ = decompressed;
    }
}

/// Signature checks started ahead ([`Validate::prepare`]) and not yet claimed, at most: the
/// messages handed to blocking threads but not yet checked there. Older ones are withdrawn.
const EARLY_SIGNATURES: usize = 2;

/// A large message's signature check started on the helper core ahead of its validation.
#[derive(Debug)]
struct EarlySignature {
    /// The address where the message's signed bytes start, and their length: the validation
    /// decodes the same buffer, so this identifies the message (the half holds the buffer, so
    /// its memory cannot be reused while the entry lives). Only compared.
    signed_bytes: (usize, usize),
    half: Half<Result<Address, SignatureError>>,
}

impl EarlySignature {
    fn key(signed_bytes: &[u8]) -> (usize, usize) {
        (signed_bytes.as_ptr() as usize, signed_bytes.len())
    }
}

/// Decompressed size below which [`Validator`] checks a message on the pipeline's task
/// ([`Validate::is_quick`]): ~0.1–0.2 ms of one-thread checks on this project's 2-core machine
/// (a ~500-byte devnet block takes ~70 µs), and all of it on one core anyway (two cores from
/// [`PARALLEL_VERIFY_MIN_BYTES`] on).
pub const QUICK_CHECK_MAX_BYTES: usize = 8 * 1024;

/// op-node's blocks validator for one chain.
///
/// # Order and cost
/// Cheap checks run first and the first failing rule in op-node's order is reported:
/// 1. size and snappy (rules 1–4), then an unset signer (rule 6, ignore), before any hashing;
/// 2. the signature (rule 6): keccak over the body and one ecrecover;
/// 3. decoding (7), the timestamp window (8–9), the block hash (10: the transactions trie and
///    the header) and the version rules (11–19), stopping at the first failure, so a stale
///    block never pays for the trie;
/// 4. the per-height record (20), last, so only fully valid blocks are recorded.
///
/// Small messages run 2 then 3 one after the other and skip 3 when the signature fails, exactly
/// as op-node. From [`PARALLEL_VERIFY_MIN_BYTES`] (16 KiB) on, when a core is spare, 2 runs on a
/// helper thread the validator owns while 3 runs on the calling thread (they share no data; see
/// `two_core.rs` for why not `rayon::join`): a forged large block then costs a decode and a trie
/// root too, but a valid block is verified in about 0.6–0.7× the single-core time. With as
/// many validations in flight as cores, each runs on its own core alone. The reported rule is
/// the same either way, since rule 6 precedes rules 7–19.
///
/// # Differences from op-node
/// - The per-height record is checked and updated under one lock, so exactly 6 distinct blocks
///   per height pass; op-node can let "a few more" through under concurrency.
/// - As in op-node, each topic has its own record (op-node builds one validator per topic).
#[derive(Debug)]
pub struct Validator {
    rollup: RollupConfig,
    signer: UnsafeBlockSigner,
    timestamp_threshold_secs: u64,
    topics: [TopicHash; 4],
    /// One record per topic version, indexed by topic index.
    seen: [Mutex<SeenBlocks>; 4],
    /// The second core for large messages.
    two_core: TwoCore,
    /// Signature checks started ahead by [`Validate::prepare`], oldest first.
    early: Mutex<VecDeque<EarlySignature>>,
}

impl Validator {
    /// A validator for the chain `rollup` (its chain id and Jovian time), expecting blocks
    /// signed by `signer` and no older than `timestamp_threshold` (whole seconds).
    pub fn new(
        rollup: RollupConfig,
        signer: UnsafeBlockSigner,
        timestamp_threshold: Duration,
    ) -> Self {
        let topics = PayloadVersion::ALL
            .map(|v| topic_hash(op_p2p_types::BlocksTopic::new(rollup.l2_chain_id, v)));
        Self {
            rollup,
            signer,
            timestamp_threshold_secs: timestamp_threshold.as_secs(),
            topics,
            seen: Default::default(),
            two_core: TwoCore::for_this_machine(),
            early: Mutex::default(),
        }
    }

    /// The same validator using at most `cores` cores per message and in total for splitting
    /// (default: the cores this process may use); 1 verifies every message on the calling
    /// thread alone. Verdicts do not depend on it.
    #[must_use]
    pub fn with_cores(mut self, cores: usize) -> Self {
        self.two_core = TwoCore::new(cores);
        self
    }

    /// The cores this validator may use to verify one message (see [`Self::with_cores`]).
    pub const fn cores(&self) -> usize {
        self.two_core.cores()
    }

    /// Large messages verified on two cores so far, and how many of them ended on one core
    /// because the helper thread had not started its half when the calling thread finished
    /// its own (the helper is woken per message; a busy or slow-to-wake second core shows
    /// here).
    pub fn split_counts(&self) -> (u64, u64) {
        self.two_core.counts()
    }

    /// The shared unsafe block signer; [`UnsafeBlockSigner::set`] rotates it.
    pub const fn signer(&self) -> &UnsafeBlockSigner {
        &self.signer
    }

    /// The rollup config the validator checks against.
    pub const fn rollup(&self) -> &RollupConfig {
        &self.rollup
    }

    /// The payload version of `topic`, if it is one of this chain's blocks topics.
    pub fn version_of(&self, topic: &TopicHash) -> Option<PayloadVersion> {
        self.topics
            .iter()
            .position(|t| t == topic)
            .map(|i| PayloadVersion::ALL[i])
    }

    /// Every rule, stateless and stateful, for `data` on the topic of `version` at unix time
    /// `now`. A block that passes everything is recorded at its height.
    pub fn validate_message(&self, version: PayloadVersion, data: &[u8], now: u64) -> Verdict {
        self.validate_message_decompressed(version, data, None, now)
    }

    /// [`Self::validate_message`] with the decompressed bytes when already known (see
    /// [`Validate::validate_decompressed`]).
    pub fn validate_message_decompressed(
        &self,
        version: PayloadVersion,
        data: &[u8],
        decompressed: Option<Bytes>,
        now: u64,
    ) -> Verdict {
        if decompressed.is_none() && data.len() >= PARALLEL_VERIFY_MIN_BYTES {
            // The helper wakes while this thread decompresses (no-op if one is spinning).
            self.two_core.prewake();
        }
        let _in_flight = self.two_core.enter();
        let mut verdict = match decompressed {
            // Rules 1–3 and 5 passed where it was decompressed (valid snappy, at most 10 MiB);
            // the size floor (4) is checked on it as `decode` would.
            Some(decompressed) => match SignedBlockMessage::from_decompressed(decompressed) {
                Ok(message) => self.validate_decoded(&message, version, now),
                Err(_) => self.validate_stateless(version, data, now),
            },
            None => self.validate_stateless(version, data, now),
        };
        if verdict.reason.is_none()
            && let Some(envelope) = &verdict.envelope
        {
            let payload = &envelope.execution_payload;
            verdict.reason = self
                .check_seen(version, payload.block_number, payload.block_hash)
                .err();
        }
        verdict
    }

    /// Rules 1–19 for `data` on the topic of `version` at unix time `now`, touching no state.
    pub fn validate_stateless(&self, version: PayloadVersion, data: &[u8], now: u64) -> Verdict {
        // Go's `snappy.DecodedLen` fails on empty input (rule 1); `snap` reads it as length 0.
        if data.is_empty() {
            return Verdict::failed(Reason::InvalidSnappyLength);
        }
        match SignedBlockMessage::decode(data) {
            Ok(message) => self.validate_decoded(&message, version, now),
            Err(e) => Verdict::failed(match e {
                GossipDecodeError::SnappyHeader(_) => Reason::InvalidSnappyLength,
                GossipDecodeError::TooLarge(_) => Reason::TooLarge,
                GossipDecodeError::TooSmall(_) => Reason::TooSmall,
                GossipDecodeError::Snappy(_) => Reason::InvalidSnappy,
            }),
        }
    }

    /// Rules 6–19 for an already decompressed message.
    pub fn validate_decoded(
        &self,
        message: &SignedBlockMessage,
        version: PayloadVersion,
        now: u64,
    ) -> Verdict {
        let expected = self.signer.get();
        if expected.is_zero() {
            return Verdict::failed(Reason::NoSigner);
        }
        let chain_id = self.rollup.l2_chain_id;
        let judge = move |recovered| match recovered {
            Ok(signer) if signer == expected => (Some(signer), None),
            Ok(signer) => (Some(signer), Some(Reason::WrongSigner)),
            Err(_) => (None, Some(Reason::InvalidSignature)),
        };
        if message.signed_bytes().len() >= PARALLEL_VERIFY_MIN_BYTES {
            // The signature (keccak over the body, one ecrecover) on a helper core, started
            // ahead by `prepare` or now, the payload (decode, transactions trie, header) here;
            // `None` when no core is spare.
            let half = self.take_early(message).or_else(|| {
                let owned = message.clone();
                self.two_core
                    .offer(0, move || owned.recover_signer(chain_id))
            });
            if let Some(half) = half {
                let (envelope, payload_failure) = self.check_payload(message, version, now);
                let (signer, signature_failure) = judge(half.join());
                return Verdict {
                    reason: signature_failure.or(payload_failure),
                    signer,
                    envelope,
                };
            }
        }
        let (signer, failure) = judge(message.recover_signer(chain_id));
        if failure.is_some() {
            return Verdict {
                reason: failure,
                signer,
                envelope: None,
            };
        }
        let (envelope, reason) = self.check_payload(message, version, now);
        Verdict {
            reason,
            signer,
            envelope,
        }
    }

    /// The signature check [`Validate::prepare`] started for `message`, if any.
    fn take_early(
        &self,
        message: &SignedBlockMessage,
    ) -> Option<Half<Result<Address, SignatureError>>> {
        let key = EarlySignature::key(&message.signed_bytes());
        let mut early = self.early.lock().unwrap_or_else(PoisonError::into_inner);
        let index = early.iter().position(|e| e.signed_bytes == key)?;
        early.remove(index).map(|e| e.half)
    }

    /// Rule 20 for block `hash` at `height` on the topic of `version`: checks and records it.
    pub fn check_seen(
        &self,
        version: PayloadVersion,
        height: u64,
        hash: op_p2p_types::B256,
    ) -> Result<(), Reason> {
        let seen = &self.seen[usize::from(version.topic_index())];
        // The record holds only hashes; a panic elsewhere cannot leave it inconsistent.
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check_and_record(height, hash)
    }

    /// Rules 7–19: decode, then check the envelope.
    fn check_payload(
        &self,
        message: &SignedBlockMessage,
        version: PayloadVersion,
        now: u64,
    ) -> (Option<ExecutionPayloadEnvelope>, Option<Reason>) {
        match message.decode_envelope(version) {
            Ok(envelope) => {
                let failure = self.check_envelope(version, &envelope, now).err();
                (Some(envelope), failure)
            }
            Err(_) => (None, Some(Reason::InvalidPayload)),
        }
    }

    /// Rules 8–19 on a decoded envelope: the timestamp window, the block hash, then the version
    /// rules.
    pub fn check_envelope(
        &self,
        version: PayloadVersion,
        envelope: &ExecutionPayloadEnvelope,
        now: u64,
    ) -> Result<(), Reason> {
        let timestamp = envelope.execution_payload.timestamp;
        if timestamp < now.saturating_sub(self.timestamp_threshold_secs) {
            return Err(Reason::TooOld);
        }
        if timestamp > now.saturating_add(MAX_FUTURE_DRIFT_SECS) {
            return Err(Reason::TooNew);
        }
        envelope
            .check_block_hash()
            .map_err(|_| Reason::InvalidBlockHash)?;
        let jovian = self.rollup.is_active(Hardfork::Jovian, timestamp);
        check_version_rules(version, envelope, jovian)
    }
}

impl Validate for Validator {
    fn validate(&self, topic: &TopicHash, data: &[u8], now: u64) -> Verdict {
        self.validate_decompressed(topic, data, None, now)
    }

    fn validate_decompressed(
        &self,
        topic: &TopicHash,
        data: &[u8],
        decompressed: Option<Bytes>,
        now: u64,
    ) -> Verdict {
        match self.version_of(topic) {
            Some(version) => self.validate_message_decompressed(version, data, decompressed, now),
            None => Verdict::failed(Reason::UnknownTopic),
        }
    }

    /// Quick: messages known to decompress to less than [`QUICK_CHECK_MAX_BYTES`]. A message
    /// of unknown size (not valid snappy, or its bytes aged out) takes the blocking pool.
    fn is_quick(&self, decompressed_len: Option<usize>) -> bool {
        decompressed_len.is_some_and(|len| len < QUICK_CHECK_MAX_BYTES)
    }

    /// A large message wakes the helper core, which spins for the signature half that
    /// [`Validate::prepare`] offers (see `two_core.rs`). The raw length is compared with the
    /// decompressed threshold: a large block compresses to about 0.7 of its size, and a
    /// wasted wake-up costs a spin of at most 2 ms on a spare core.
    fn arriving(&self, len: usize) {
        if len >= PARALLEL_VERIFY_MIN_BYTES {
            self.two_core.prewake();
        }
    }

    /// A large message's signature check (keccak over the body, one ecrecover: it needs
    /// nothing the rest of the check computes) starts on the helper core now, when a core is
    /// spare, so the helper wakes while the blocking thread does (see `two_core.rs`). The
    /// verdict is unchanged: the result is judged, in op-node's rule order, by the validation
    /// that claims it; a message that fails an earlier rule only wastes the helper's work.
    fn prepare(&self, decompressed: &Bytes) {
        let Ok(message) = SignedBlockMessage::from_decompressed(decompressed.clone()) else {
            return;
        };
        let signed_bytes = message.signed_bytes();
        if signed_bytes.len() < PARALLEL_VERIFY_MIN_BYTES || self.signer.get().is_zero() {
            return;
        }
        let chain_id = self.rollup.l2_chain_id;
        // One more validation is about to start: a core must be spare for it and this half.
        let Some(half) = self
            .two_core
            .offer(1, move || message.recover_signer(chain_id))
        else {
            return;
        };
        let mut early = self.early.lock().unwrap_or_else(PoisonError::into_inner);
        if early.len() == EARLY_SIGNATURES {
            // Never claimed (its validation decompressed again, or failed first): withdrawn.
            early.pop_front();
        }
        early.push_back(EarlySignature {
            signed_bytes: EarlySignature::key(&signed_bytes),
            half,
        });
    }
}

/// Rules 11–19: the fields each topic version must and must not carry. `jovian` says whether
/// Jovian is active at the payload's timestamp (from then on `blobGasUsed` carries the DA
/// footprint and may be non-zero).
fn check_version_rules(
    version: PayloadVersion,
    envelope: &ExecutionPayloadEnvelope,
    jovian: bool,
) -> Result<(), Reason> {
    use PayloadVersion::{V1, V2, V3, V4};
    let p = &envelope.execution_payload;
    if version == V1 && p.withdrawals.is_some() {
        return Err(Reason::UnexpectedWithdrawals);
    }
    if version >= V2 {
        match &p.withdrawals {
            None => return Err(Reason::MissingWithdrawals),
            Some(w) if !w.is_empty() => return Err(Reason::NonEmptyWithdrawals),
            Some(_) => {}
        }
    }
    if matches!(version, V1 | V2) {
        if p.blob_gas_used.is_some() {
            return Err(Reason::UnexpectedBlobGasUsed);
        }
        if p.excess_blob_gas.is_some() {
            return Err(Reason::UnexpectedExcessBlobGas);
        }
    }
    if version >= V3 {
        match p.blob_gas_used {
            None => return Err(Reason::MissingBlobGasUsed),
            Some(used) if used != 0 && !jovian => return Err(Reason::NonZeroBlobGasUsed),
            Some(_) => {}
        }
        match p.excess_blob_gas {
            None => return Err(Reason::MissingExcessBlobGas),
            Some(excess) if excess != 0 => return Err(Reason::NonZeroExcessBlobGas),
            Some(_) => {}
        }
        if envelope.parent_beacon_block_root.is_none() {
            return Err(Reason::MissingParentBeaconRoot);
        }
    }
    if version == V4 && p.withdrawals_root.is_none() {
        return Err(Reason::MissingWithdrawalsRoot);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The version rules the decoders make unreachable, checked on hand-built envelopes. The
    //! reachable rules are exercised end to end in `tests/it/validator.rs`.

    use op_p2p_types::{B256, ExecutionPayload, Withdrawal};

    use super::*;
    use PayloadVersion::{V1, V2, V3, V4};

    fn envelope(version: PayloadVersion) -> ExecutionPayloadEnvelope {
        let v3 = version >= V3;
        ExecutionPayloadEnvelope {
            parent_beacon_block_root: v3.then_some(B256::ZERO),
            execution_payload: ExecutionPayload {
                withdrawals: (version >= V2).then(Vec::new),
                blob_gas_used: v3.then_some(0),
                excess_blob_gas: v3.then_some(0),
                withdrawals_root: (version == V4).then_some(B256::ZERO),
                ..Default::default()
            },
        }
    }

    fn check(
        version: PayloadVersion,
        edit: impl FnOnce(&mut ExecutionPayloadEnvelope),
    ) -> Result<(), Reason> {
        let mut e = envelope(version);
        edit(&mut e);
        check_version_rules(version, &e, false)
    }

    #[test]
    fn well_formed_envelopes_pass() {
        for version in PayloadVersion::ALL {
            assert_eq!(check(version, |_| {}), Ok(()), "{version:?}");
        }
    }

    #[test]
    fn each_version_rule() {
        type Edit = fn(&mut ExecutionPayloadEnvelope);
        let cases: [(PayloadVersion, Edit, Reason); 12] = [
            (
                V1,
                |e| e.execution_payload.withdrawals = Some(vec![]),
                Reason::UnexpectedWithdrawals,
            ),
            (
                V2,
                |e| e.execution_payload.withdrawals = None,
                Reason::MissingWithdrawals,
            ),
            (
                V3,
                |e| e.execution_payload.withdrawals = Some(vec![Withdrawal::default()]),
                Reason::NonEmptyWithdrawals,
            ),
            (
                V2,
                |e| e.execution_payload.blob_gas_used = Some(0),
                Reason::UnexpectedBlobGasUsed,
            ),
            (
                V1,
                |e| e.execution_payload.excess_blob_gas = Some(0),
                Reason::UnexpectedExcessBlobGas,
            ),
            (
                V3,
                |e| e.execution_payload.blob_gas_used = None,
                Reason::MissingBlobGasUsed,
            ),
            (
                V4,
                |e| e.execution_payload.blob_gas_used = Some(1),
                Reason::NonZeroBlobGasUsed,
            ),
            (
                V4,
                |e| e.execution_payload.excess_blob_gas = None,
                Reason::MissingExcessBlobGas,
            ),
            (
                V3,
                |e| e.execution_payload.excess_blob_gas = Some(1),
                Reason::NonZeroExcessBlobGas,
            ),
            (
                V3,
                |e| e.parent_beacon_block_root = None,
                Reason::MissingParentBeaconRoot,
            ),
            (
                V4,
                |e| e.parent_beacon_block_root = None,
                Reason::MissingParentBeaconRoot,
            ),
            (
                V4,
                |e| e.execution_payload.withdrawals_root = None,
                Reason::MissingWithdrawalsRoot,
            ),
        ];
        for (version, edit, reason) in cases {
            assert_eq!(check(version, edit), Err(reason), "{version:?} {reason}");
        }
    }

    #[test]
    fn jovian_allows_blob_gas_used() {
        let mut e = envelope(V4);
        e.execution_payload.blob_gas_used = Some(123_456);
        assert_eq!(
            check_version_rules(V4, &e, false),
            Err(Reason::NonZeroBlobGasUsed)
        );
        assert_eq!(check_version_rules(V4, &e, true), Ok(()));
        // Excess blob gas stays zero after Jovian.
        e.execution_payload.excess_blob_gas = Some(1);
        assert_eq!(
            check_version_rules(V4, &e, true),
            Err(Reason::NonZeroExcessBlobGas)
        );
    }

    #[test]
    fn rules_run_in_op_node_order() {
        // Missing withdrawals (12) is reported before the blob gas rules (16).
        let mut e = envelope(V3);
        e.execution_payload.withdrawals = None;
        e.execution_payload.blob_gas_used = None;
        assert_eq!(
            check_version_rules(V3, &e, false),
            Err(Reason::MissingWithdrawals)
        );
    }

    #[test]
    fn the_two_core_path_gives_the_one_core_verdicts() {
        use op_p2p_types::{BlockSigner, SignedBlockMessage};

        use crate::test_utils::{
            CHAIN_ID, NOW, block_with_transactions, realistic_transactions, rollup, sequencer,
        };

        let envelope = block_with_transactions(7, NOW, 1, realistic_transactions(100));
        let mut wrong_hash = envelope.clone();
        wrong_hash.execution_payload.block_hash = B256::repeat_byte(9);
        let other_key = BlockSigner::new(B256::repeat_byte(2)).unwrap();
        let messages = [
            SignedBlockMessage::sign(&sequencer(), CHAIN_ID, &envelope),
            SignedBlockMessage::sign(&other_key, CHAIN_ID, &envelope),
            SignedBlockMessage::sign(&sequencer(), CHAIN_ID, &wrong_hash),
            SignedBlockMessage::sign(&sequencer(), CHAIN_ID + 1, &envelope),
        ];
        let validator = |cores| {
            Validator::new(
                rollup(),
                UnsafeBlockSigner::new(sequencer().address()),
                Duration::from_secs(60),
            )
            .with_cores(cores)
        };
        let (one, two) = (validator(1), validator(2));
        let mut reasons = Vec::new();
        for message in messages {
            assert!(message.signed_bytes().len() >= PARALLEL_VERIFY_MIN_BYTES);
            let wire = message.encode();
            let a = one.validate_stateless(V4, &wire, NOW);
            let b = two.validate_stateless(V4, &wire, NOW);
            assert_eq!((a.reason, a.signer), (b.reason, b.signer));
            reasons.push(a.reason);
        }
        assert_eq!(
            reasons,
            [
                None,
                Some(Reason::WrongSigner),
                Some(Reason::InvalidBlockHash),
                Some(Reason::WrongSigner)
            ]
        );
    }

    #[test]
    fn signatures_started_ahead_are_claimed_with_the_same_verdicts() {
        use op_p2p_types::{BlockSigner, SignedBlockMessage};

        use crate::test_utils::{
            CHAIN_ID, NOW, block_with_transactions, realistic_transactions, rollup, sequencer,
        };

        let envelope = |n| block_with_transactions(n, NOW, 1, realistic_transactions(100));
        let other_key = BlockSigner::new(B256::repeat_byte(2)).unwrap();
        let cases = [
            (
                SignedBlockMessage::sign(&sequencer(), CHAIN_ID, &envelope(7)),
                None,
            ),
            (
                SignedBlockMessage::sign(&other_key, CHAIN_ID, &envelope(8)),
                Some(Reason::WrongSigner),
            ),
            (
                SignedBlockMessage::sign(&sequencer(), CHAIN_ID + 1, &envelope(9)),
                Some(Reason::WrongSigner),
            ),
        ];
        let validator = Validator::new(
            rollup(),
            UnsafeBlockSigner::new(sequencer().address()),
            Duration::from_secs(60),
        )
        .with_cores(2);
        for (i, (message, reason)) in cases.into_iter().enumerate() {
            let wire = message.encode();
            let decompressed =
                Bytes::from(snap::raw::Decoder::new().decompress_vec(&wire).unwrap());
            validator.prepare(&decompressed);
            assert_eq!(validator.early.lock().unwrap().len(), 1);
            let verdict =
                validator.validate_message_decompressed(V4, &wire, Some(decompressed), NOW);
            assert_eq!(verdict.reason, reason);
            assert!(validator.early.lock().unwrap().is_empty(), "claimed");
            // One half per message, offered ahead and never a second time.
            assert_eq!(validator.split_counts().0, i as u64 + 1);
        }
        // Unclaimed ones (their validation decompressed again) are bounded.
        let wire = SignedBlockMessage::sign(&sequencer(), CHAIN_ID, &envelope(10)).encode();
        let decompressed = Bytes::from(snap::raw::Decoder::new().decompress_vec(&wire).unwrap());
        for _ in 0..EARLY_SIGNATURES + 3 {
            validator.prepare(&Bytes::copy_from_slice(&decompressed));
        }
        assert_eq!(validator.early.lock().unwrap().len(), EARLY_SIGNATURES);
        assert_eq!(validator.validate_message(V4, &wire, NOW).reason, None);
    }

    #[test]
    fn topic_versions() {
        let rollup = RollupConfig {
            l2_chain_id: 10,
            block_time: 2,
            ..Default::default()
        };
        let v = Validator::new(
            rollup,
            UnsafeBlockSigner::default(),
            Duration::from_secs(60),
        );
        assert_eq!(
            v.version_of(&TopicHash::from_raw("/optimism/10/2/blocks")),
            Some(V3)
        );
        assert_eq!(
            v.version_of(&TopicHash::from_raw("/optimism/11/2/blocks")),
            None
        );
        assert_eq!(
            v.validate(&TopicHash::from_raw("/optimism/11/2/blocks"), &[], 0),
            Verdict::failed(Reason::UnknownTopic)
        );
    }
}
