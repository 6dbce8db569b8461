//! The gossipsub router as op-node runs it: the router config, the allow-list of the four
//! blocks topics, peer scoring, and a subscription to every blocks topic. [`crate::Behaviour`]
//! wraps it.

use std::collections::HashSet;

use libp2p_gossipsub::{
    self as gossipsub, IdentTopic, IdentityTransform, MessageAuthenticity, TopicHash,
    WhitelistSubscriptionFilter,
};
use op_p2p_types::{BlocksTopic, RollupConfig};

use crate::{
    config::Config, decompressed::Decompressed, error::Error, peer_score::peer_score_params,
};

/// The gossipsub router of the blocks topics: no data transform (messages are snappy
/// compressed by the codec, not by gossipsub) and the blocks-topic allow-list.
pub type Gossipsub = gossipsub::Behaviour<IdentityTransform, WhitelistSubscriptionFilter>;

/// The gossipsub topic hash of a blocks topic: the topic string itself (op-node's topics are not
/// hashed).
pub fn topic_hash(topic: BlocksTopic) -> TopicHash {
    TopicHash::from_raw(topic.to_string())
}

/// The four blocks topics of chain `chain_id`, as topic hashes.
pub fn blocks_topic_hashes(chain_id: u64) -> [TopicHash; 4] {
    BlocksTopic::all(chain_id).map(topic_hash)
}

/// op-node's subscription filter (`BuildSubscriptionFilter`): exactly the four blocks topics;
/// peers' subscriptions to anything else are ignored.
pub fn subscription_filter(chain_id: u64) -> WhitelistSubscriptionFilter {
    WhitelistSubscriptionFilter(
        blocks_topic_hashes(chain_id)
            .into_iter()
            .collect::<HashSet<_>>(),
    )
}

/// Builds the router for `rollup`: anonymous messages, the router config of
/// [`Config::gossipsub_config`], the subscription filter, peer scoring unless it is off, and a
/// subscription to all four blocks topics (op-node joins all of them whatever fork is active).
pub fn new_gossipsub(config: &Config, rollup: &RollupConfig) -> Result<Gossipsub, Error> {
    with_config(config.gossipsub_config()?, config, rollup)
}

/// [`new_gossipsub`] whose message id function keeps each message's decompressed bytes in
/// `decompressed` for validation.
pub(crate) fn new_gossipsub_keeping(
    config: &Config,
    rollup: &RollupConfig,
    decompressed: &Decompressed,
) -> Result<Gossipsub, Error> {
    with_config(
        config.gossipsub_config_with_id(decompressed.message_id_fn())?,
        config,
        rollup,
    )
}

fn with_config(
    gossipsub_config: gossipsub::Config,
    config: &Config,
    rollup: &RollupConfig,
) -> Result<Gossipsub, Error> {
    let mut behaviour = Gossipsub::new_with_subscription_filter(
        MessageAuthenticity::Anonymous,
        gossipsub_config,
        subscription_filter(rollup.l2_chain_id),
    )
    .map_err(Error::Behaviour)?;
    if let Some((params, thresholds)) = peer_score_params(config, rollup) {
        behaviour
            .with_peer_score(params, thresholds)
            .map_err(Error::PeerScore)?;
    }
    for topic in BlocksTopic::all(rollup.l2_chain_id) {
        behaviour
            .subscribe(&IdentTopic::new(topic.to_string()))
            .map_err(|source| Error::Subscribe {
                topic: topic.to_string(),
                source,
            })?;
    }
    Ok(behaviour)
}

#[cfg(test)]
mod tests {
    use libp2p_gossipsub::TopicSubscriptionFilter;

    use super::*;
    use crate::peer_score::ScoringMode;

    fn rollup() -> RollupConfig {
        RollupConfig {
            l2_chain_id: 10,
            block_time: 2,
            ..Default::default()
        }
    }

    #[test]
    fn joins_exactly_the_four_topics() {
        let behaviour = new_gossipsub(&Config::default(), &rollup()).unwrap();
        let mut topics: Vec<_> = behaviour.topics().map(|t| t.to_string()).collect();
        topics.sort();
        assert_eq!(
            topics,
            [
                "/optimism/10/0/blocks",
                "/optimism/10/1/blocks",
                "/optimism/10/2/blocks",
                "/optimism/10/3/blocks"
            ]
        );
        let mut filter = subscription_filter(10);
        assert!(filter.can_subscribe(&TopicHash::from_raw("/optimism/10/3/blocks")));
        assert!(!filter.can_subscribe(&TopicHash::from_raw("/optimism/11/3/blocks")));
        assert!(!filter.can_subscribe(&TopicHash::from_raw("/optimism/10/4/blocks")));
    }

    #[test]
    fn scoring_follows_the_mode() {
        let peer = libp2p_identity::PeerId::random();
        let light = new_gossipsub(&Config::default(), &rollup()).unwrap();
        assert_eq!(light.peer_score(&peer), Some(0.0));
        let none = new_gossipsub(
            &Config::default().with_scoring(ScoringMode::None),
            &rollup(),
        )
        .unwrap();
        assert_eq!(none.peer_score(&peer), None);
    }
}
