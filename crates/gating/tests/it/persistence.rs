//! Blocks and bans survive a restart: a new gate over the reopened RocksDB store enforces them.
//! The one test that needs `op-p2p-peerstore` (a dev-dependency only).

use std::{net::IpAddr, sync::Arc};

use libp2p_identity::Keypair;
use op_p2p_api::{Clock, SystemClock};
use op_p2p_gating::{Behaviour, Config, DenyReason};
use op_p2p_peerstore::{Config as StoreConfig, PeerStore};

use crate::common::{Inbound, listen, next_inbound, spawn_dialer, tcp_swarm, timeout};

#[tokio::test]
async fn bans_and_blocks_persist_across_restarts() {
    timeout(async {
        let dir = tempfile::tempdir().unwrap();
        let blocked = Keypair::generate_secp256k1();
        let banned = Keypair::generate_secp256k1();
        let blocked_id = blocked.public().to_peer_id();
        let banned_id = banned.public().to_peer_id();
        let subnet = "10.0.0.0/8".parse().unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();

        let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
        let until = {
            let store = PeerStore::open(dir.path(), StoreConfig::default(), clock.clone()).unwrap();
            let until = clock.unix_time() + 3600;
            let mut gate =
                Behaviour::new(Arc::new(store), clock.clone(), Config::default()).unwrap();
            gate.block_peer(blocked_id).unwrap();
            gate.ban_peer(banned_id, until).unwrap();
            gate.block_subnet(subnet).unwrap();
            gate.ban_ip(ip, until).unwrap();
            until
            // The gate and the store are dropped here: the database is closed.
        };

        let store = PeerStore::open(dir.path(), StoreConfig::default(), clock.clone()).unwrap();
        let gate = Behaviour::new(Arc::new(store), clock, Config::default()).unwrap();
        assert_eq!(gate.list_blocked_peers(), vec![blocked_id]);
        assert_eq!(gate.list_peer_bans(), vec![(banned_id, until)]);
        assert_eq!(gate.list_blocked_subnets(), vec![subnet]);
        assert_eq!(gate.list_ip_bans(), vec![(ip, until)]);

        let mut node = tcp_swarm(|_| gate);
        let addr = listen(&mut node).await;
        spawn_dialer(&blocked, &addr);
        assert_eq!(
            next_inbound(&mut node).await,
            Inbound::Denied(Some(blocked_id), DenyReason::PeerBlocked(blocked_id))
        );
        spawn_dialer(&banned, &addr);
        assert_eq!(
            next_inbound(&mut node).await,
            Inbound::Denied(
                Some(banned_id),
                DenyReason::PeerBanned {
                    peer: banned_id,
                    until
                }
            )
        );
        // Anyone else still gets in.
        let other = spawn_dialer(&Keypair::generate_secp256k1(), &addr);
        assert_eq!(next_inbound(&mut node).await, Inbound::Established(other));
    })
    .await;
}
