//! `op-p2p sync decode-response` and `op-p2p sync fetch`: one payload_by_number response judged
//! as the sync client judges it ([`ResponseReport`]), printed as one JSON object:
//!
//! ```json
//! {"verdict":"accept","reason":null,"result_code":0,"version":0,"number":105235063,"hash":"0xdbf6…","parent_hash":"0x21a1…","timestamp":1686068903,"tx_count":1}
//! ```
//!
//! Exit status 0 whenever a report is printed (whatever the verdict), 1 on bad input or when
//! the peer cannot be reached.

use std::{
    io::{Read, Write},
    path::Path,
    time::Duration,
};

use alloy_primitives::hex;
use futures::StreamExt as _;
use libp2p_core::{Transport as _, multiaddr::Protocol, upgrade::Version};
use libp2p_identity::Keypair;
use libp2p_request_response as request_response;
use libp2p_swarm::{Swarm, SwarmEvent};
use op_p2p_reqresp_sync::{ResponseReport, report_behaviour};
use op_p2p_types::RollupConfig;

use crate::{
    cli::{DecodeResponseArgs, FetchArgs},
    error::Error,
};

/// How long `sync fetch` waits for the connection (TCP, noise, yamux).
pub(crate) const FETCH_DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the request may take once the stream is open (op-node's client: 10 s to write,
/// 10 s to read).
pub(crate) const FETCH_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// The whole command's bound: dial, request, and slack.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(35);

/// `sync decode-response`: the stream from `--hex` or else `stdin`, the report to `out`.
pub(crate) fn decode_response(
    args: &DecodeResponseArgs,
    mut stdin: impl Read,
    out: &mut impl Write,
) -> Result<(), Error> {
    let rollup = load_rollup(&args.rollup_config)?;
    let text = match &args.hex {
        Some(text) => text.clone(),
        None => {
            let mut text = String::new();
            stdin.read_to_string(&mut text).map_err(Error::Input)?;
            text
        }
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::NoResponse);
    }
    let stream = hex::decode(text).map_err(Error::ResponseHex)?;
    print(&ResponseReport::decode(&rollup, args.number, &stream), out)
}

/// Writes `report` as one JSON line.
pub(crate) fn print(report: &ResponseReport, out: &mut impl Write) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, report).map_err(|e| Error::Output(e.into()))?;
    writeln!(out).map_err(Error::Output)?;
    out.flush().map_err(Error::Output)
}

/// `sync fetch`: dials `--peer` with a throwaway key, asks for `--number` on op-node's protocol
/// id and returns the report on what came back.
pub(crate) async fn fetch(args: &FetchArgs) -> Result<ResponseReport, Error> {
    let rollup = load_rollup(&args.rollup_config)?;
    let peer = args.peer.to_string();
    let failed = |reason: String| Error::Fetch {
        peer: peer.clone(),
        reason,
    };
    let behaviour =
        report_behaviour(rollup, FETCH_REQUEST_TIMEOUT).map_err(|e| failed(e.to_string()))?;
    let key = Keypair::generate_secp256k1();
    let transport = libp2p_tcp::tokio::Transport::new(libp2p_tcp::Config::new().nodelay(true))
        .upgrade(Version::V1)
        .authenticate(libp2p_noise::Config::new(&key).map_err(|e| failed(e.to_string()))?)
        .multiplex(libp2p_yamux::Config::default())
        .timeout(FETCH_DIAL_TIMEOUT)
        .boxed();
    let mut swarm = Swarm::new(
        transport,
        behaviour,
        key.public().to_peer_id(),
        libp2p_swarm::Config::with_tokio_executor(),
    );
    let expected = args.peer.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    });
    swarm
        .dial(args.peer.clone())
        .map_err(|e| failed(e.to_string()))?;
    let number = args.number;
    let exchange = async {
        let mut request = None;
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if request.is_none() => {
                    if expected.is_some_and(|id| id != peer_id) {
                        return Err(format!("connected to {peer_id}, not the peer asked for"));
                    }
                    request = Some(swarm.behaviour_mut().send_request(&peer_id, number));
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    return Err(error.to_string());
                }
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message:
                        request_response::Message::Response {
                            request_id,
                            response,
                        },
                    ..
                }) if Some(request_id) == request => return Ok(response),
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    request_id,
                    error,
                    ..
                }) if Some(request_id) == request => return Err(error.to_string()),
                SwarmEvent::ConnectionClosed {
                    num_established: 0,
                    cause,
                    ..
                } if request.is_some() => {
                    return Err(format!(
                        "connection closed before the response{}",
                        cause.map(|c| format!(": {c}")).unwrap_or_default()
                    ));
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(FETCH_TIMEOUT, exchange)
        .await
        .map_err(|_| failed(format!("no response within {} s", FETCH_TIMEOUT.as_secs())))?
        .map_err(failed)
}

fn load_rollup(path: &Path) -> Result<RollupConfig, Error> {
    let json = std::fs::read_to_string(path).map_err(|source| Error::ReadRollupConfig {
        path: path.to_owned(),
        source,
    })?;
    RollupConfig::from_json(&json).map_err(|source| Error::RollupConfig {
        path: path.to_owned(),
        source,
    })
}
