//! What discovery reads from other nodes and from operators: `opstack` entries, whole ENRs
//! (as discv5 hands them over, RLP), and bootnode text.
//!
//! Input: one selector byte, then the data. 0: an `opstack` value (its re-encoding must decode
//! to the same entry); 1: an ENR in RLP, run through op-node's filter; 2: `p2p.bootnodes` text.
#![no_main]

use alloy_rlp::Decodable as _;
use libfuzzer_sys::fuzz_target;
use op_p2p_discovery::{Enr, OpStackEnr, check_record, parse_bootnodes};

const CHAIN_ID: u64 = 8453;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    match selector % 3 {
        0 => {
            if let Ok(entry) = OpStackEnr::decode(data) {
                assert_eq!(OpStackEnr::decode(&entry.encode()), Ok(entry));
            }
        }
        1 => {
            let mut buf = data;
            if let Ok(enr) = Enr::decode(&mut buf) {
                if let Ok(peer) = check_record(&enr, CHAIN_ID) {
                    assert_eq!(peer.chain_id, CHAIN_ID);
                }
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(data) {
                let _ = parse_bootnodes(&[text]);
            }
        }
    }
});
