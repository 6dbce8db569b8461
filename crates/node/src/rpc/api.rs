//! The `opp2p_*` methods (op-node's `op-node/p2p/rpc_server.go`): names, positional parameters,
//! results and error messages as op-node's. Reads of the network state go to the swarm task
//! ([`Request::View`]); reads of the peer store run on tokio's blocking pool; effects go to the
//! swarm task as one [`Request`] each.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
    sync::Arc,
    time::Duration,
};

use futures::future::BoxFuture;
use jsonrpsee::{
    RpcModule,
    types::{ErrorObjectOwned, Params},
};
use libp2p_core::{Multiaddr, multiaddr::Protocol};
use libp2p_identity::{PeerId, PublicKey};
use op_p2p_discovery::{DiscoveryHandle, Enr};
use op_p2p_peerstore::{Books, WeakBooks};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

use super::{
    Parts,
    params::{self, Args, server_error},
    swarm_side::{Change, NetworkView, PeerView, Request},
    types::{IpNetJson, PeerDump, PeerInfo, PeerStats, ScoresJson, ip_text},
};
use crate::{behaviour::IDENTIFY_PROTOCOL_VERSION, handle::NodeHandle};

/// How long `opp2p_connectPeer` waits for the connection: op-node's 30 s.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The discv5 table as the RPC reads it: `None` when the discovery task is gone. A trait so the
/// unit tests can give a fixed table; the node passes `op-p2p-discovery`'s [`DiscoveryHandle`]
/// (whose reads are async, over its own channel, so nothing here waits on the swarm task).
/// Without discovery (`p2p.no-discovery`) there is none: `opp2p_discoveryTable` answers
/// op-node's `discovery disabled`, `opp2p_peerStats.table` is 0 and `opp2p_self.ENR` is empty,
/// as op-node.
pub(crate) trait DiscoveryTable: Send + Sync + fmt::Debug + 'static {
    /// Every node in the table as ENR text (`enr:…`).
    fn enrs(&self) -> BoxFuture<'_, Option<Vec<String>>>;
    /// Our own ENR text.
    fn local_record(&self) -> BoxFuture<'_, Option<String>>;
}

impl DiscoveryTable for DiscoveryHandle {
    fn enrs(&self) -> BoxFuture<'_, Option<Vec<String>>> {
        Box::pin(async move {
            let table = self.table().await?;
            Some(table.iter().map(Enr::to_base64).collect())
        })
    }

    fn local_record(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move { self.local_enr().await.map(|enr| enr.to_base64()) })
    }
}

/// The methods' state.
#[derive(Debug)]
pub(crate) struct Backend {
    handle: NodeHandle,
    /// Weak: the server's tasks may outlive the node's shutdown by a moment, and the last
    /// `Books` must be dropped (RocksDB closed) by the node before the process exits.
    books: WeakBooks,
    local_key: PublicKey,
    user_agent: String,
    discovery: Option<Arc<dyn DiscoveryTable>>,
}

impl Backend {
    /// The backend over `parts`.
    pub(crate) fn new(parts: Parts) -> Self {
        Self {
            handle: parts.handle,
            books: parts.books.downgrade(),
            local_key: parts.local_key,
            user_agent: parts.user_agent,
            discovery: parts.discovery,
        }
    }

    async fn ask<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, ErrorObjectOwned> {
        self.handle
            .rpc(request)
            .await
            .map_err(|e| server_error(e.to_string()))
    }

    async fn change(&self, change: Change) -> Result<Value, ErrorObjectOwned> {
        self.ask(|reply| Request::Change { change, reply })
            .await?
            .map_err(server_error)?;
        Ok(Value::Null)
    }

    /// Runs `read` over the books on the blocking pool (RocksDB reads never on a runtime
    /// worker, never on the swarm task).
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Books) -> T + Send + 'static,
    ) -> Result<T, ErrorObjectOwned> {
        let books = self
            .books
            .upgrade()
            .ok_or_else(|| server_error("the node is shutting down"))?;
        tokio::task::spawn_blocking(move || read(&books))
            .await
            .map_err(|e| server_error(format!("peer store read failed: {e}")))
    }

    /// The peers the peer store knows (with addresses).
    async fn stored_peers(&self) -> Result<Vec<PeerId>, ErrorObjectOwned> {
        self.read(|books| books.store().peers_with_addrs())
            .await?
            .map_err(|e| server_error(format!("peer store: {e}")))
    }

    /// op-node's `dumpPeer` for each peer of `view` (and ourselves when `with_self`).
    async fn describe(
        &self,
        view: NetworkView,
        with_self: bool,
    ) -> Result<Vec<PeerInfo>, ErrorObjectOwned> {
        let local_key = self.local_key.clone();
        let user_agent = self.user_agent.clone();
        let enr = match &self.discovery {
            Some(discovery) => discovery.local_record().await.unwrap_or_default(),
            None => String::new(),
        };
        self.read(move |books| {
            let scores: HashMap<PeerId, ScoresJson> = books
                .peer_scores()
                .into_iter()
                .map(|(p, s)| (p, s.into()))
                .collect();
            let mut infos: Vec<PeerInfo> = view
                .peers
                .iter()
                .filter(|p| Some(p.peer) != view.local_peer_id)
                .map(|p| stored_info(books, p, &scores))
                .collect();
            if with_self && let Some(me) = view.local_peer_id {
                infos.push(PeerInfo {
                    peer_id: me.to_string(),
                    node_id: node_id(Some(&local_key)),
                    user_agent,
                    protocol_version: IDENTIFY_PROTOCOL_VERSION.to_owned(),
                    enr,
                    addresses: p2p_addrs(&view.listen_addrs, me),
                    protocols: None,
                    connectedness: super::types::NOT_CONNECTED,
                    direction: super::types::DIR_UNKNOWN,
                    protected: false,
                    chain_id: 0,
                    latency: 0,
                    gossip_blocks: true,
                    scores: ScoresJson::default(),
                });
            }
            infos
        })
        .await
    }

    async fn self_info(&self) -> Result<Value, ErrorObjectOwned> {
        let view = self
            .ask(|reply| Request::View {
                also: Vec::new(),
                reply,
            })
            .await?;
        let info = self
            .describe(view, true)
            .await?
            .pop()
            .ok_or_else(|| server_error("no local peer"))?;
        to_json(&info)
    }

    async fn peers(&self, connected: bool) -> Result<Value, ErrorObjectOwned> {
        let also = if connected {
            Vec::new()
        } else {
            self.stored_peers().await?
        };
        let view = self.ask(|reply| Request::View { also, reply }).await?;
        let banned_peers = view.blocked_peers.iter().map(ToString::to_string).collect();
        let banned_ips = view.blocked_ips.iter().map(|ip| ip_text(*ip)).collect();
        let banned_subnets = view
            .blocked_subnets
            .iter()
            .map(|n| IpNetJson::from(*n))
            .collect();
        let infos = self.describe(view, !connected).await?;
        let peers: BTreeMap<String, PeerInfo> = infos
            .into_iter()
            .filter(|i| !connected || i.connectedness == super::types::CONNECTED)
            .map(|i| (i.peer_id.clone(), i))
            .collect();
        let dump = PeerDump {
            total_connected: peers
                .values()
                .filter(|i| i.connectedness == super::types::CONNECTED)
                .count(),
            peers,
            banned_peers,
            banned_ips,
            banned_subnets,
        };
        to_json(&dump)
    }

    async fn peer_stats(&self) -> Result<Value, ErrorObjectOwned> {
        let stored = self.stored_peers().await?;
        let view = self
            .ask(|reply| Request::View {
                also: Vec::new(),
                reply,
            })
            .await?;
        let mut known: HashSet<PeerId> = stored.into_iter().collect();
        known.extend(view.peers.iter().map(|p| p.peer));
        known.extend(view.local_peer_id);
        let [v1, v2, v3, v4] = view.topic_peers;
        to_json(&PeerStats {
            connected: view.connected,
            table: match &self.discovery {
                Some(discovery) => discovery.enrs().await.map_or(0, |t| t.len()),
                None => 0,
            },
            blocks_topic: v1,
            blocks_topic_v2: v2,
            blocks_topic_v3: v3,
            blocks_topic_v4: v4,
            banned: view.blocked_peers.len(),
            known: known.len(),
        })
    }

    async fn list_blocked(&self, which: Blocked) -> Result<Value, ErrorObjectOwned> {
        let view = self
            .ask(|reply| Request::View {
                also: Vec::new(),
                reply,
            })
            .await?;
        match which {
            Blocked::Peers => to_json(
                &view
                    .blocked_peers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            ),
            Blocked::Addrs => to_json(
                &view
                    .blocked_ips
                    .iter()
                    .map(|ip| ip_text(*ip))
                    .collect::<Vec<_>>(),
            ),
            Blocked::Subnets => to_json(
                &view
                    .blocked_subnets
                    .iter()
                    .map(|n| IpNetJson::from(*n))
                    .collect::<Vec<_>>(),
            ),
        }
    }

    async fn connect(&self, peer: PeerId, addr: Multiaddr) -> Result<Value, ErrorObjectOwned> {
        let outcome = self
            .ask(|reply| Request::Connect { peer, addr, reply })
            .await?
            .map_err(server_error)?;
        match tokio::time::timeout(CONNECT_TIMEOUT, outcome).await {
            Err(_) => Err(server_error(format!(
                "failed to dial {peer}: no connection within {CONNECT_TIMEOUT:?}"
            ))),
            Ok(Err(_)) => Err(server_error("the swarm task has stopped")),
            Ok(Ok(result)) => result.map(|()| Value::Null).map_err(server_error),
        }
    }

    async fn disconnect(&self, peer: PeerId) -> Result<Value, ErrorObjectOwned> {
        self.ask(|reply| Request::Disconnect { peer, reply })
            .await?
            .map_err(server_error)?;
        // op-node's `ClearAddrs`: the peer drops out of `opp2p_peers(false)`.
        self.read(move |books| books.store().clear_addrs(&peer))
            .await?
            .map_err(|e| server_error(format!("closed peer but failed to forget it: {e}")))?;
        Ok(Value::Null)
    }

    async fn discovery_table(&self) -> Result<Value, ErrorObjectOwned> {
        match &self.discovery {
            Some(discovery) => match discovery.enrs().await {
                Some(table) => to_json(&table),
                None => Err(server_error("discovery stopped")),
            },
            None => Err(server_error("discovery disabled")),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Blocked {
    Peers,
    Addrs,
    Subnets,
}

/// One peer's `PeerInfo` from the swarm's view and the peer store.
fn stored_info(books: &Books, view: &PeerView, scores: &HashMap<PeerId, ScoresJson>) -> PeerInfo {
    let store = books.store();
    let peer = view.peer;
    // A failed read shows as "unknown", as op-node shows a missing peerstore entry.
    let identify = store.identify(&peer).ok().flatten();
    let metadata = store.metadata(&peer).ok().flatten();
    let key = store.public_key(&peer).ok().flatten();
    let addrs = store.addrs(&peer).unwrap_or_default();
    let protocols = store.protocols(&peer).unwrap_or_default();
    PeerInfo {
        peer_id: peer.to_string(),
        node_id: node_id(key.as_ref()),
        user_agent: identify
            .as_ref()
            .map(|i| i.agent_version.clone())
            .unwrap_or_default(),
        protocol_version: identify.map(|i| i.protocol_version).unwrap_or_default(),
        enr: metadata.as_ref().map(|m| m.enr.clone()).unwrap_or_default(),
        addresses: p2p_addrs(&addrs, peer),
        protocols: (!protocols.is_empty()).then_some(protocols),
        connectedness: view.connectedness,
        direction: view.direction,
        protected: view.protected,
        chain_id: metadata.map_or(0, |m| m.chain_id),
        latency: view.latency_ns,
        gossip_blocks: view.gossip_blocks,
        scores: scores.get(&peer).copied().unwrap_or_default(),
    }
}

/// Addresses with `/p2p/<peer>` appended (go-libp2p's `AddrInfoToP2pAddrs`); `None` (JSON
/// `null`, a nil Go slice) when there are none.
fn p2p_addrs(addrs: &[Multiaddr], peer: PeerId) -> Option<Vec<String>> {
    if addrs.is_empty() {
        return None;
    }
    Some(
        addrs
            .iter()
            .map(|a| {
                let mut a = a.clone();
                if !matches!(a.iter().last(), Some(Protocol::P2p(_))) {
                    a.push(Protocol::P2p(peer));
                }
                a.to_string()
            })
            .collect(),
    )
}

/// go-ethereum's `enode.PubkeyToIDV4`: keccak256 of the uncompressed secp256k1 key without its
/// prefix byte (the `enr` crate's v4 id, through op-p2p-discovery), as 64 hex chars; zeros for
/// an unknown or non-secp256k1 key.
fn node_id(key: Option<&PublicKey>) -> String {
    let id = key
        .and_then(op_p2p_discovery::node_id)
        .map_or([0; 32], |id| id.raw());
    alloy_primitives::hex::encode(id)
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, ErrorObjectOwned> {
    serde_json::to_value(value).map_err(|e| server_error(format!("encoding the result: {e}")))
}

/// Registers `name` with `arity` positional parameters; `call` gets the checked arguments.
fn register<F, Fut>(module: &mut RpcModule<Backend>, name: &'static str, arity: usize, call: F)
where
    F: Fn(Args, Arc<Backend>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, ErrorObjectOwned>> + Send + 'static,
{
    let registered = module.register_async_method(
        name,
        move |params: Params<'static>, backend: Arc<Backend>, _| {
            let call = call.clone();
            async move {
                let args = Args::parse(&params, arity)?;
                call(args, backend).await
            }
        },
    );
    // Names are constants below, each registered once.
    debug_assert!(registered.is_ok(), "{name} registered twice");
}

/// The `opp2p` namespace over `backend`.
pub(crate) fn module(backend: Backend) -> RpcModule<Backend> {
    let mut m = RpcModule::new(backend);
    register(&mut m, "opp2p_self", 0, |_, b| async move {
        b.self_info().await
    });
    register(&mut m, "opp2p_peers", 1, |a, b| async move {
        let connected = params::boolean(&a, 0)?;
        b.peers(connected).await
    });
    register(&mut m, "opp2p_peerStats", 0, |_, b| async move {
        b.peer_stats().await
    });
    register(&mut m, "opp2p_discoveryTable", 0, |_, b| async move {
        b.discovery_table().await
    });
    register(&mut m, "opp2p_blockPeer", 1, |a, b| async move {
        b.change(Change::BlockPeer(params::peer_id(&a, 0)?)).await
    });
    register(&mut m, "opp2p_unblockPeer", 1, |a, b| async move {
        b.change(Change::UnblockPeer(params::peer_id(&a, 0)?)).await
    });
    register(&mut m, "opp2p_listBlockedPeers", 0, |_, b| async move {
        b.list_blocked(Blocked::Peers).await
    });
    register(&mut m, "opp2p_blockAddr", 1, |a, b| async move {
        b.change(Change::BlockAddr(params::ip(&a, 0)?)).await
    });
    register(&mut m, "opp2p_unblockAddr", 1, |a, b| async move {
        b.change(Change::UnblockAddr(params::ip(&a, 0)?)).await
    });
    register(&mut m, "opp2p_listBlockedAddrs", 0, |_, b| async move {
        b.list_blocked(Blocked::Addrs).await
    });
    register(&mut m, "opp2p_blockSubnet", 1, |a, b| async move {
        b.change(Change::BlockSubnet(params::subnet(&a, 0)?)).await
    });
    register(&mut m, "opp2p_unblockSubnet", 1, |a, b| async move {
        b.change(Change::UnblockSubnet(params::subnet(&a, 0)?))
            .await
    });
    register(&mut m, "opp2p_listBlockedSubnets", 0, |_, b| async move {
        b.list_blocked(Blocked::Subnets).await
    });
    register(&mut m, "opp2p_protectPeer", 1, |a, b| async move {
        b.change(Change::Protect(params::peer_id(&a, 0)?)).await
    });
    register(&mut m, "opp2p_unprotectPeer", 1, |a, b| async move {
        b.change(Change::Unprotect(params::peer_id(&a, 0)?)).await
    });
    register(&mut m, "opp2p_connectPeer", 1, |a, b| async move {
        let (peer, addr) = params::peer_addr(&a, 0)?;
        b.connect(peer, addr).await
    });
    register(&mut m, "opp2p_disconnectPeer", 1, |a, b| async move {
        b.disconnect(params::peer_id(&a, 0)?).await
    });
    m
}

/// Every method name, for the docs test.
#[cfg(test)]
pub(crate) const METHODS: [&str; 17] = [
    "opp2p_self",
    "opp2p_peers",
    "opp2p_peerStats",
    "opp2p_discoveryTable",
    "opp2p_blockPeer",
    "opp2p_unblockPeer",
    "opp2p_listBlockedPeers",
    "opp2p_blockAddr",
    "opp2p_unblockAddr",
    "opp2p_listBlockedAddrs",
    "opp2p_blockSubnet",
    "opp2p_unblockSubnet",
    "opp2p_listBlockedSubnets",
    "opp2p_protectPeer",
    "opp2p_unprotectPeer",
    "opp2p_connectPeer",
    "opp2p_disconnectPeer",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_is_keccak_of_the_uncompressed_key() {
        assert_eq!(node_id(None), "0".repeat(64));
        let key = libp2p_identity::Keypair::generate_secp256k1().public();
        let id = node_id(Some(&key));
        assert_eq!(id.len(), 64);
        assert_ne!(id, "0".repeat(64));
        let uncompressed = key.try_into_secp256k1().unwrap().to_bytes_uncompressed();
        assert_eq!(
            id,
            alloy_primitives::hex::encode(alloy_primitives::keccak256(&uncompressed[1..]))
        );
    }

    /// A discovery service with a fixed table; `None` plays a stopped one.
    #[derive(Debug)]
    struct FixedTable(Option<Vec<String>>);

    impl DiscoveryTable for FixedTable {
        fn enrs(&self) -> BoxFuture<'_, Option<Vec<String>>> {
            Box::pin(async move { self.0.clone() })
        }
        fn local_record(&self) -> BoxFuture<'_, Option<String>> {
            Box::pin(async move { self.0.as_ref().map(|_| "enr:-local".to_owned()) })
        }
    }

    /// A module whose swarm task answers every view with an empty network, and the books it
    /// reads (the module holds them weakly, as the node's RPC does).
    fn module_with(discovery: Option<Arc<dyn DiscoveryTable>>) -> (RpcModule<Backend>, Books) {
        let (handle, mut commands) = NodeHandle::channel();
        tokio::spawn(async move {
            while let Some(command) = commands.recv().await {
                if let crate::handle::Command::Rpc(Request::View { reply, .. }) = command {
                    let _ = reply.send(NetworkView::default());
                }
            }
        });
        let clock = Arc::new(op_p2p_api::SystemClock::new());
        let store =
            op_p2p_peerstore::PeerStore::open_in_memory(op_p2p_peerstore::Config::default(), clock)
                .unwrap();
        let books = Books::new(store).unwrap();
        let module = module(Backend::new(Parts {
            handle,
            books: books.clone(),
            local_key: libp2p_identity::Keypair::generate_secp256k1().public(),
            user_agent: "optimism".to_owned(),
            discovery,
            admin: None,
        }));
        (module, books)
    }

    #[tokio::test]
    async fn the_discovery_table_plugs_in() {
        let (off, books) = module_with(None);
        let e = off
            .call::<_, Value>("opp2p_discoveryTable", Vec::<Value>::new())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("discovery disabled"), "{e}");
        let stats: Value = off
            .call("opp2p_peerStats", Vec::<Value>::new())
            .await
            .unwrap();
        assert_eq!(stats["table"], 0);

        let enrs = vec!["enr:-a".to_owned(), "enr:-b".to_owned()];
        // Once the node's books are gone the RPC does not keep them open.
        drop(books);
        let e = off
            .call::<_, Value>("opp2p_peerStats", Vec::<Value>::new())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("shutting down"), "{e}");

        let (on, _books) = module_with(Some(Arc::new(FixedTable(Some(enrs.clone())))));
        let table: Vec<String> = on
            .call("opp2p_discoveryTable", Vec::<Value>::new())
            .await
            .unwrap();
        assert_eq!(table, enrs);
        let stats: Value = on
            .call("opp2p_peerStats", Vec::<Value>::new())
            .await
            .unwrap();
        assert_eq!(stats["table"], 2);

        let (stopped, _books) = module_with(Some(Arc::new(FixedTable(None))));
        let e = stopped
            .call::<_, Value>("opp2p_discoveryTable", Vec::<Value>::new())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("discovery stopped"), "{e}");
    }

    #[test]
    fn readme_documents_every_method() {
        let readme = include_str!("../../README.md");
        for method in METHODS {
            assert!(
                readme.contains(&format!("`{method}`")),
                "{method} undocumented"
            );
        }
    }
}
