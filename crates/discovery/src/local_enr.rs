//! The local ENR as op-node writes it (spec §10.1): `id` v4, `secp256k1`, `ip`, `tcp`, `udp`,
//! and `opstack`.

use std::net::IpAddr;

use discv5::Enr;
use enr::CombinedKey;

use crate::{
    config::Config,
    error::Error,
    opstack::{OPSTACK_ENR_KEY, OpStackEnr},
};

/// Builds and signs the local record; `bound_udp` is the port the discv5 socket bound.
pub fn build_local_enr(key: &CombinedKey, config: &Config, bound_udp: u16) -> Result<Enr, Error> {
    let tcp = config.enr_tcp().ok_or(Error::NoTcpPort)?;
    let udp = config.enr_udp(bound_udp);
    let mut builder = Enr::builder();
    match config.enr_ip() {
        Some(IpAddr::V6(ip)) => {
            builder.ip6(ip).tcp6(tcp).udp6(udp);
        }
        Some(IpAddr::V4(ip)) => {
            builder.ip4(ip).tcp4(tcp).udp4(udp);
        }
        None => {
            builder.tcp4(tcp).udp4(udp);
        }
    }
    builder.add_value_rlp(
        OPSTACK_ENR_KEY,
        alloy_rlp::Bytes::from(OpStackEnr::new(config.chain_id).encode()),
    );
    builder
        .build(key)
        .map_err(|e| Error::LocalEnr(e.to_string()))
}

#[cfg(test)]
mod tests {
    use libp2p_identity::Keypair;

    use super::*;
    use crate::{check_record, key};

    #[test]
    fn our_record_passes_our_filter() {
        let keypair = Keypair::generate_secp256k1();
        let enr_key = key::enr_key(&keypair).unwrap();
        let mut config = Config::new(8453);
        config.listen_ip = "127.0.0.1".parse().unwrap();
        config.bound_tcp = Some(40001);
        let enr = build_local_enr(&enr_key, &config, 40002).unwrap();
        assert_eq!(
            enr.get_raw_rlp("opstack"),
            Some(&[0x83, 0x85, 0x42, 0x00][..])
        );
        assert_eq!(enr.id().as_deref(), Some("v4"));
        assert_eq!(enr.udp4(), Some(40002));
        let text = enr.to_base64();
        let decoded: Enr = text.parse().unwrap();
        let peer = check_record(&decoded, 8453).unwrap();
        assert_eq!(peer.peer_id, keypair.public().to_peer_id());
        assert_eq!(
            peer.addr.to_string(),
            format!("/ip4/127.0.0.1/tcp/40001/p2p/{}", peer.peer_id)
        );
        assert_eq!(peer.chain_id, 8453);
        assert_eq!(peer.enr, text);
    }
}
