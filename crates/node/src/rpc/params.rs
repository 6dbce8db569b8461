//! Positional parameters, parsed by hand so bad input gets geth's error codes and messages
//! (what an op-node operator sees): `-32602` for an argument that does not decode
//! (`invalid argument 0: …`, `missing value for required argument 0`, `too many arguments, want
//! at most 1`, `non-array args`) and `-32000` for op-node's own checks (`invalid request`,
//! `bad peer address: …`). jsonrpsee's typed parameters would answer `Invalid params` with serde's
//! message and accept surplus arguments, so its macros are not used.
//!
//! This file is also compiled on its own into the `rpc_params` fuzz target (`fuzz/`, with
//! `#[path]`, so fuzzing needs neither this binary crate nor RocksDB): outside its tests it
//! uses only external crates, never `crate::` paths.

use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use libp2p_core::{Multiaddr, multiaddr::Protocol};
use libp2p_identity::PeerId;
use serde_json::Value;

/// geth's code for an argument that does not decode.
pub(crate) const INVALID_PARAMS: i32 = -32602;
/// geth's code for an error returned by the method.
pub(crate) const SERVER_ERROR: i32 = -32000;
/// op-node's answer to a nil IP or subnet.
pub(crate) const INVALID_REQUEST: &str = "invalid request";

/// A method's error as geth reports it.
pub(crate) fn server_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SERVER_ERROR, message.into(), None::<()>)
}

fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, message.into(), None::<()>)
}

pub(crate) fn invalid_argument(index: usize, detail: impl std::fmt::Display) -> ErrorObjectOwned {
    invalid_params(format!("invalid argument {index}: {detail}"))
}

/// The positional arguments of one call, checked against the method's arity.
#[derive(Debug)]
pub(crate) struct Args(Vec<Value>);

impl Args {
    /// The arguments of `params`: a JSON array (or nothing) of at most `max` values.
    pub(crate) fn parse(params: &Params<'_>, max: usize) -> Result<Self, ErrorObjectOwned> {
        let values = match params.as_str() {
            None => Vec::new(),
            Some(raw) => match serde_json::from_str::<Value>(raw) {
                Ok(Value::Array(values)) => values,
                Ok(Value::Null) => Vec::new(),
                Ok(_) => return Err(invalid_params("non-array args")),
                Err(e) => return Err(invalid_params(format!("invalid params: {e}"))),
            },
        };
        if values.len() > max {
            return Err(invalid_params(format!(
                "too many arguments, want at most {max}"
            )));
        }
        Ok(Self(values))
    }

    /// Argument `index`, which must be present (geth: a non-pointer parameter).
    pub(crate) fn required(&self, index: usize) -> Result<&Value, ErrorObjectOwned> {
        self.0
            .get(index)
            .ok_or_else(|| invalid_params(format!("missing value for required argument {index}")))
    }

    /// Argument `index`, `None` if absent (geth: a pointer parameter, nil when omitted).
    pub(crate) fn optional(&self, index: usize) -> Option<&Value> {
        self.0.get(index)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A boolean argument.
pub(crate) fn boolean(args: &Args, index: usize) -> Result<bool, ErrorObjectOwned> {
    let value = args.required(index)?;
    value.as_bool().ok_or_else(|| {
        invalid_argument(
            index,
            format!(
                "json: cannot unmarshal {} into Go value of type bool",
                kind(value)
            ),
        )
    })
}

/// A peer id argument (base58 multihash, as go-libp2p's `peer.Decode`).
pub(crate) fn peer_id(args: &Args, index: usize) -> Result<PeerId, ErrorObjectOwned> {
    let value = args.required(index)?;
    let text = match value {
        Value::String(s) => s.as_str(),
        Value::Null => "",
        other => {
            return Err(invalid_argument(
                index,
                format!(
                    "failed to parse peer ID: expected a string, got {}",
                    kind(other)
                ),
            ));
        }
    };
    text.parse::<PeerId>()
        .map_err(|e| invalid_argument(index, format!("failed to parse peer ID {text:?}: {e}")))
}

/// An IP argument (Go's `net.IP` text). An empty string or `null` is op-node's nil IP:
/// `invalid request`.
pub(crate) fn ip(args: &Args, index: usize) -> Result<IpAddr, ErrorObjectOwned> {
    match args.required(index)? {
        Value::Null => Err(server_error(INVALID_REQUEST)),
        Value::String(s) if s.is_empty() => Err(server_error(INVALID_REQUEST)),
        Value::String(s) => s
            .parse::<IpAddr>()
            .map_err(|_| invalid_argument(index, format!("invalid IP address: {s}"))),
        other => Err(invalid_argument(
            index,
            format!(
                "json: cannot unmarshal {} into Go value of type net.IP",
                kind(other)
            ),
        )),
    }
}

/// A subnet argument: Go's `net.IPNet` object `{"IP": "10.0.0.0", "Mask": "<base64>"}` (keys
/// matched case-insensitively, as Go's decoder does). Absent, `null`, `{}` or a part missing is
/// op-node's nil subnet: `invalid request`.
///
/// Stricter than op-node, which stores whatever mask it is given: the mask must be 4 bytes
/// (IPv4) or 16 bytes (IPv6, or IPv4 with 96 leading one bits, as Go writes a v4 mask in v6
/// form) with contiguous leading ones, else `invalid request`. Host bits of the IP are cleared,
/// as a subnet read back from op-node's store is.
pub(crate) fn subnet(args: &Args, index: usize) -> Result<IpNet, ErrorObjectOwned> {
    let object = match args.optional(index) {
        None | Some(Value::Null) => return Err(server_error(INVALID_REQUEST)),
        Some(Value::Object(object)) => object,
        Some(other) => {
            return Err(invalid_argument(
                index,
                format!(
                    "json: cannot unmarshal {} into Go value of type net.IPNet",
                    kind(other)
                ),
            ));
        }
    };
    let field = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let ip = match field("IP") {
        None | Some(Value::Null) => return Err(server_error(INVALID_REQUEST)),
        Some(Value::String(s)) if s.is_empty() => return Err(server_error(INVALID_REQUEST)),
        Some(Value::String(s)) => s
            .parse::<IpAddr>()
            .map_err(|_| invalid_argument(index, format!("invalid IP address: {s}")))?,
        Some(other) => {
            return Err(invalid_argument(
                index,
                format!(
                    "json: cannot unmarshal {} into Go struct field IPNet.IP of type net.IP",
                    kind(other)
                ),
            ));
        }
    };
    let mask = match field("Mask") {
        None | Some(Value::Null) => return Err(server_error(INVALID_REQUEST)),
        Some(Value::String(s)) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| invalid_argument(index, base64_error(&e)))?,
        Some(other) => {
            return Err(invalid_argument(
                index,
                format!(
                    "json: cannot unmarshal {} into Go struct field IPNet.Mask of type net.IPMask",
                    kind(other)
                ),
            ));
        }
    };
    to_subnet(ip, &mask).ok_or_else(|| server_error(INVALID_REQUEST))
}

/// The subnet of `ip` under `mask`, if the mask is well formed for the IP's family.
fn to_subnet(ip: IpAddr, mask: &[u8]) -> Option<IpNet> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let mask = match (ip, mask.len()) {
        (IpAddr::V4(_), 4) | (IpAddr::V6(_), 16) => mask,
        (IpAddr::V4(_), 16) if mask[..12].iter().all(|b| *b == 0xff) => &mask[12..],
        _ => return None,
    };
    let prefix = prefix_len(mask)?;
    IpNet::new(ip, prefix).ok().map(|net| net.trunc())
}

/// The number of leading one bits of a contiguous mask; `None` if ones follow a zero.
fn prefix_len(mask: &[u8]) -> Option<u8> {
    let mut ones: u32 = 0;
    let mut seen_zero = false;
    for byte in mask {
        for bit in (0..8).rev() {
            if byte >> bit & 1 == 1 {
                if seen_zero {
                    return None;
                }
                ones += 1;
            } else {
                seen_zero = true;
            }
        }
    }
    u8::try_from(ones).ok()
}

/// Go's message for bad base64: `illegal base64 data at input byte N`.
fn base64_error(error: &base64::DecodeError) -> String {
    match error {
        base64::DecodeError::InvalidByte(offset, _)
        | base64::DecodeError::InvalidLastSymbol(offset, _) => {
            format!("illegal base64 data at input byte {offset}")
        }
        other => format!("illegal base64 data: {other}"),
    }
}

/// A peer address argument: a multiaddr ending in `/p2p/<id>` (go-libp2p's
/// `peer.AddrInfoFromString`). Any failure is op-node's `bad peer address: …`.
pub(crate) fn peer_addr(
    args: &Args,
    index: usize,
) -> Result<(PeerId, Multiaddr), ErrorObjectOwned> {
    let bad = |detail: String| server_error(format!("bad peer address: {detail}"));
    let text = match args.required(index)? {
        Value::String(s) => s,
        other => {
            return Err(invalid_argument(
                index,
                format!(
                    "json: cannot unmarshal {} into Go value of type string",
                    kind(other)
                ),
            ));
        }
    };
    let mut addr: Multiaddr = text
        .parse()
        .map_err(|e| bad(format!("failed to parse multiaddr {text:?}: {e}")))?;
    match addr.pop() {
        Some(Protocol::P2p(peer)) => Ok((peer, addr)),
        _ => Err(bad("invalid p2p multiaddr".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any params text, and any string or mask bytes in each argument position: an error
        /// or a value, never a panic; an accepted subnet's mask was contiguous ones.
        #[test]
        fn parsers_never_panic(
            raw in ".{0,64}",
            text in ".{0,64}",
            ip_text in prop_oneof![Just("10.1.2.3".to_owned()), Just("2001:db8::1".to_owned()), ".{0,16}"],
            mask in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let params = Params::new(Some(&raw));
            if let Ok(args) = Args::parse(&params, 1) {
                let _ = (boolean(&args, 0), peer_id(&args, 0), ip(&args, 0));
                let _ = (subnet(&args, 0), peer_addr(&args, 0));
            }
            let json = serde_json::json!([text]).to_string();
            let args = Args::parse(&Params::new(Some(&json)), 1).unwrap();
            let _ = (boolean(&args, 0), peer_id(&args, 0), ip(&args, 0));
            let _ = (subnet(&args, 0), peer_addr(&args, 0));
            let encoded = base64::engine::general_purpose::STANDARD.encode(&mask);
            let json = serde_json::json!([{"IP": ip_text, "Mask": encoded}]).to_string();
            let args = Args::parse(&Params::new(Some(&json)), 1).unwrap();
            if let Ok(net) = subnet(&args, 0) {
                let ones: u32 = mask.iter().map(|b| b.count_ones()).sum();
                let v4_in_v6 = net.addr().is_ipv4() && mask.len() == 16;
                prop_assert_eq!(u32::from(net.prefix_len()) + if v4_in_v6 { 96 } else { 0 }, ones);
                prop_assert_eq!(net, net.trunc());
            }
        }

        /// Every well-formed mask is accepted with its prefix, host bits cleared.
        #[test]
        fn well_formed_masks_round_trip(v4 in any::<u32>(), v6 in any::<u128>(), p4 in 0u8..=32, p6 in 0u8..=128) {
            let nets = [
                IpNet::new(IpAddr::from(v4.to_be_bytes()), p4).unwrap(),
                IpNet::new(IpAddr::from(v6.to_be_bytes()), p6).unwrap(),
            ];
            for net in nets {
                let json = serde_json::to_string(&[crate::rpc::types::IpNetJson::from(net)]).unwrap();
                let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
                // Send the unmasked address: the parser clears the host bits.
                value[0]["IP"] = serde_json::Value::String(net.addr().to_string());
                let json = value.to_string();
                let args = Args::parse(&Params::new(Some(&json)), 1).unwrap();
                let parsed = subnet(&args, 0).unwrap();
                // IPv4-mapped IPv6 addresses come back as IPv4 subnets.
                if net.addr().is_ipv6() && matches!(net.addr(), IpAddr::V6(a) if a.to_ipv4_mapped().is_some()) {
                    continue;
                }
                prop_assert_eq!(parsed, net.trunc());
            }
        }
    }

    fn args(json: &str) -> Args {
        let params = Params::new(Some(json));
        Args::parse(&params, 1).unwrap()
    }

    #[test]
    fn subnet_masks_are_checked() {
        let net = subnet(&args(r#"[{"IP":"10.1.2.3","Mask":"//8AAA=="}]"#), 0).unwrap();
        assert_eq!(net, "10.1.0.0/16".parse::<IpNet>().unwrap());
        let net = subnet(
            &args(r#"[{"ip":"10.1.2.3","mask":"/////////////////wAAAA=="}]"#),
            0,
        );
        assert_eq!(net.unwrap(), "10.0.0.0/8".parse::<IpNet>().unwrap());
        let net = subnet(
            &args(r#"[{"IP":"2001:db8::","Mask":"//////////8AAAAAAAAAAA=="}]"#),
            0,
        );
        assert_eq!(net.unwrap(), "2001:db8::/64".parse::<IpNet>().unwrap());
        // Non-contiguous, wrong length, wrong family.
        for bad in [
            r#"[{"IP":"10.0.0.0","Mask":"/wD/AA=="}]"#,
            r#"[{"IP":"10.0.0.0","Mask":"//8A"}]"#,
            r#"[{"IP":"2001:db8::","Mask":"//8AAA=="}]"#,
            r#"[{}]"#,
            r#"[null]"#,
            r#"[]"#,
        ] {
            let e = subnet(&args(bad), 0).unwrap_err();
            assert_eq!(
                (e.code(), e.message()),
                (SERVER_ERROR, INVALID_REQUEST),
                "{bad}"
            );
        }
        let e = subnet(&args(r#"[{"IP":"10.0.0.0","Mask":"!!!!"}]"#), 0).unwrap_err();
        assert_eq!(e.code(), INVALID_PARAMS);
        assert_eq!(
            e.message(),
            "invalid argument 0: illegal base64 data at input byte 0"
        );
        let e = subnet(&args(r#"["10.0.0.0/8"]"#), 0).unwrap_err();
        assert_eq!(e.code(), INVALID_PARAMS);
    }

    #[test]
    fn arity_and_kinds() {
        let params = Params::new(Some("[1,2]"));
        let e = Args::parse(&params, 1).unwrap_err();
        assert_eq!(e.message(), "too many arguments, want at most 1");
        let params = Params::new(Some(r#"{"a":1}"#));
        assert_eq!(
            Args::parse(&params, 1).unwrap_err().message(),
            "non-array args"
        );
        let e = boolean(&args("[]"), 0).unwrap_err();
        assert_eq!(e.message(), "missing value for required argument 0");
        assert!(peer_id(&args(r#"["foo"]"#), 0).is_err());
        assert!(peer_id(&args("[null]"), 0).is_err());
        let e = ip(&args(r#"["foo"]"#), 0).unwrap_err();
        assert_eq!(e.message(), "invalid argument 0: invalid IP address: foo");
        assert_eq!(ip(&args(r#"[""]"#), 0).unwrap_err().code(), SERVER_ERROR);
        assert_eq!(
            ip(&args(r#"["::ffff:1.2.3.4"]"#), 0).unwrap(),
            "::ffff:1.2.3.4".parse::<IpAddr>().unwrap()
        );
        let e = peer_addr(&args(r#"["/ip4/127.0.0.1/tcp/1"]"#), 0).unwrap_err();
        assert_eq!(e.message(), "bad peer address: invalid p2p multiaddr");
        assert!(
            peer_addr(&args(r#"["nonsense"]"#), 0)
                .unwrap_err()
                .message()
                .starts_with("bad peer address: ")
        );
    }
}
