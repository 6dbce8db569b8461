//! The codec against the shared `payload_by_number` vectors (byte for byte, and over a real
//! stream), and against hostile streams: each a typed error, no allocation past the caps.

use std::{fs, sync::Arc};

use futures::{StreamExt, channel::mpsc, executor::block_on, io::Cursor};
use libp2p_identity::Keypair;
use libp2p_request_response::{self as request_response, Codec as _, ProtocolSupport};
use libp2p_swarm::{StreamProtocol, SwarmEvent};
use op_p2p_reqresp_sync::{
    Behaviour, Codec, CodecError, Config, ManualClock, MemorySource, Request, RequestError,
    Response, read_request, read_response,
};
use op_p2p_types::{
    ExecutionPayloadEnvelope, Genesis, GenesisBlock, MAX_RESPONSE_DECODED_BYTES,
    MAX_RESPONSE_RAW_BYTES, ResponseError, ResponseVersion, ResultCode, RollupConfig,
    encode_framed, payload_by_number_protocol_id,
};
use serde_json::Value;

use crate::{
    alloc::largest_allocation,
    common::{connect, spawn_listening, store, swarm, timeout, within},
};

fn vectors() -> Value {
    let path = format!(
        "{}/testdata/payload_by_number.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

pub(crate) fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap().trim_start_matches("0x")).unwrap()
}

/// A schedule under which the vector's block has its timestamp and the vector's forks are
/// active (as in the types crate's vector tests).
pub(crate) fn schedule_for(v: &Value) -> RollupConfig {
    let active = |flag: &str| v[flag].as_bool().unwrap().then_some(0);
    let number = v["requested_block_number"].as_u64().unwrap();
    let timestamp = v["expected"]["payload"]["timestamp"].as_u64().unwrap_or(0);
    RollupConfig {
        genesis: Genesis {
            l2: GenesisBlock { number },
            l2_time: timestamp,
        },
        block_time: 2,
        l2_chain_id: v["chain_id"].as_u64().unwrap(),
        canyon_time: active("canyon_active_at_requested_block"),
        ecotone_time: (v["expected"]["version"].as_u64() == Some(1)).then_some(0),
        isthmus_time: active("isthmus_active_at_requested_block"),
        ..Default::default()
    }
}

fn protocol(chain_id: u64) -> StreamProtocol {
    StreamProtocol::try_from_owned(payload_by_number_protocol_id(chain_id)).unwrap()
}

fn codec(rollup: &RollupConfig) -> Codec {
    Codec::new(
        Arc::new(rollup.clone()),
        &Config::default(),
        Arc::new(ManualClock::new(0)),
    )
}

/// Reads `stream` as the client does after requesting `requested`.
fn read(rollup: &RollupConfig, requested: u64, stream: &[u8]) -> std::io::Result<Response> {
    block_on(read_response(&mut Cursor::new(stream), rollup, requested))
}

fn read_err(rollup: &RollupConfig, requested: u64, stream: &[u8]) -> CodecError {
    CodecError::from_io(read(rollup, requested, stream).unwrap_err()).unwrap()
}

fn payload_of(response: Response) -> (ResponseVersion, ExecutionPayloadEnvelope) {
    match response {
        Response::Payload { version, envelope } => (version, *envelope),
        Response::Error(code) => panic!("error response {code:?}"),
    }
}

pub(crate) fn successes() -> Vec<Value> {
    vectors()["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["expected"]["result"] == "ACCEPT")
        .cloned()
        .collect()
}

#[test]
fn requests_read_exactly_eight_bytes() {
    for r in vectors()["requests"].as_array().unwrap() {
        let bytes = hex(&r["request_hex"]);
        assert_eq!(
            block_on(read_request(&mut Cursor::new(&bytes))).unwrap(),
            Request::Number(r["block_number"].as_u64().unwrap())
        );
    }
    for len in [0, 1, 7] {
        assert_eq!(
            block_on(read_request(&mut Cursor::new(vec![1; len]))).unwrap(),
            Request::Malformed(RequestError::WrongLength(len))
        );
    }
    // Anything past 8 bytes is refused after reading one more byte, however long the stream.
    let long = vec![1; 1 << 20];
    let (read, largest) =
        largest_allocation(|| block_on(read_request(&mut Cursor::new(&long))).unwrap());
    assert_eq!(read, Request::Malformed(RequestError::WrongLength(9)));
    assert!(largest < 1024, "{largest}");
}

#[test]
fn vectors_read_and_written_byte_for_byte() {
    let file = vectors();
    let mut checked = 0;
    for v in file["responses"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let rollup = schedule_for(v);
        let requested = v["requested_block_number"].as_u64().unwrap();
        let stream = hex(&v["response_hex"]);
        let proto = protocol(v["chain_id"].as_u64().unwrap());
        let e = &v["expected"];

        // The client side, through the request-response codec interface.
        let mut client = codec(&rollup);
        block_on(client.write_request(&proto, &mut Vec::new(), Request::Number(requested)))
            .unwrap();
        let response = block_on(client.read_response(&proto, &mut Cursor::new(&stream))).unwrap();
        if e["result"] == "REJECT" {
            let code = ResultCode::from(u8::try_from(e["result_code"].as_u64().unwrap()).unwrap());
            assert_eq!(response, Response::Error(code), "{name}");
        } else {
            let (version, envelope) = payload_of(response.clone());
            assert_eq!(
                u64::from(version.as_u32()),
                e["version"].as_u64().unwrap(),
                "{name}"
            );
            let p = &envelope.execution_payload;
            let want = &e["payload"];
            assert_eq!(p.block_number, requested, "{name}");
            assert_eq!(
                p.block_hash.to_string(),
                want["block_hash"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(
                p.parent_hash.to_string(),
                want["parent_hash"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(p.timestamp, want["timestamp"].as_u64().unwrap(), "{name}");
            assert_eq!(
                p.transactions.len() as u64,
                want["tx_count"].as_u64().unwrap(),
                "{name}"
            );
            // A server holding this payload writes the same response.
            assert_eq!(Response::payload(&rollup, envelope), response, "{name}");
        }
        // The server side: exactly the vector's bytes.
        let mut written = Vec::new();
        block_on(codec(&rollup).write_response(&proto, &mut written, response)).unwrap();
        assert_eq!(written, stream, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 7);
}

#[tokio::test]
async fn vectors_served_and_read_over_a_real_stream() {
    timeout(async {
        for v in successes() {
            let name = v["name"].as_str().unwrap().to_owned();
            let rollup = schedule_for(&v);
            let requested = v["requested_block_number"].as_u64().unwrap();
            let (_, envelope) =
                payload_of(read(&rollup, requested, &hex(&v["response_hex"])).unwrap());

            // A server holding the vector's block; a wall clock long past its timestamp.
            let clock = ManualClock::new(2_000_000_000);
            let source: MemorySource = [envelope.clone()].into_iter().collect();
            let server = Behaviour::new(
                Config::default(),
                rollup.clone(),
                store(),
                mpsc::channel(1).0,
                Some(source),
                Arc::new(clock.clone()),
            )
            .unwrap();
            let (server_id, addr) =
                spawn_listening(swarm(&Keypair::generate_ed25519(), server)).await;

            let mut client = swarm(
                &Keypair::generate_ed25519(),
                request_response::Behaviour::with_codec(
                    codec(&rollup),
                    [(protocol(rollup.l2_chain_id), ProtocolSupport::Outbound)],
                    request_response::Config::default(),
                ),
            );
            connect(&mut client, server_id, addr).await;
            // `schedule_for` makes the requested block the genesis block: genesis is served
            // when the source has it (op-node serves it from its engine), and below it is
            // out of range.
            for (number, expected) in [
                (requested, Response::payload(&rollup, envelope.clone())),
                (requested + 1, Response::Error(ResultCode::NotFound)),
                (requested - 1, Response::Error(ResultCode::InvalidRequest)),
                (u64::MAX, Response::Error(ResultCode::InvalidRequest)),
            ] {
                client
                    .behaviour_mut()
                    .send_request(&server_id, Request::Number(number));
                let response = within("the response", async {
                    loop {
                        match client.select_next_some().await {
                            SwarmEvent::Behaviour(request_response::Event::Message {
                                message: request_response::Message::Response { response, .. },
                                ..
                            }) => return response,
                            SwarmEvent::Behaviour(other) => panic!("{name}: {other:?}"),
                            _ => {}
                        }
                    }
                })
                .await;
                assert_eq!(response, expected, "{name}: block {number}");
            }
        }
    })
    .await;
}

/// The Ecotone vector's stream and schedule, the base of the hostile streams.
fn base() -> (RollupConfig, u64, Vec<u8>) {
    let v = successes()
        .into_iter()
        .find(|v| v["name"] == "rr_v1_op_sepolia_26207960")
        .unwrap();
    (
        schedule_for(&v),
        v["requested_block_number"].as_u64().unwrap(),
        hex(&v["response_hex"]),
    )
}

/// A success header (code 0, version 1) followed by `body`.
fn with_header(body: &[u8]) -> Vec<u8> {
    [&[0, 1, 0, 0, 0][..], body].concat()
}

#[test]
fn hostile_streams_are_typed_errors_within_the_caps() {
    let (rollup, number, good) = base();
    let framed = &good[5..];
    let framing = |e: CodecError| matches!(e, CodecError::Response(ResponseError::Framing(_)));

    // Empty, truncated header, unknown version.
    assert_eq!(
        read_err(&rollup, number, &[]),
        CodecError::Response(ResponseError::Empty)
    );
    assert_eq!(
        read_err(&rollup, number, &[0, 1, 0]),
        CodecError::Response(ResponseError::TruncatedVersion)
    );
    assert_eq!(
        read_err(&rollup, number, &[&[0, 2, 0, 0, 0][..], framed].concat()),
        CodecError::Response(ResponseError::UnknownVersion(2))
    );

    // An oversized declared chunk length: a compressed chunk claiming 16 MiB.
    let oversized = with_header(&[&framed[..10], &[0x00, 0xff, 0xff, 0xff, 1, 2, 3, 4]].concat());
    let (err, largest) = largest_allocation(|| read_err(&rollup, number, &oversized));
    assert!(framing(err.clone()), "{err:?}");
    assert!(largest < 256 * 1024, "allocated {largest}");

    // A raw body one byte over the cap: refused, never buffered beyond it.
    let huge = with_header(&vec![0u8; MAX_RESPONSE_RAW_BYTES + 1]);
    let (err, largest) = largest_allocation(|| read_err(&rollup, number, &huge));
    assert_eq!(
        err,
        CodecError::Response(ResponseError::RawTooLarge(MAX_RESPONSE_RAW_BYTES))
    );
    assert!(largest <= MAX_RESPONSE_RAW_BYTES + 1, "allocated {largest}");
    drop(huge);

    // A snappy bomb: a small body that decodes past 10 MiB.
    let bomb = with_header(&encode_framed(&vec![0u8; MAX_RESPONSE_DECODED_BYTES + 1]));
    assert!(bomb.len() < MAX_RESPONSE_DECODED_BYTES / 10);
    let (err, largest) = largest_allocation(|| read_err(&rollup, number, &bomb));
    assert_eq!(
        err,
        CodecError::Response(ResponseError::DecodedTooLarge(MAX_RESPONSE_DECODED_BYTES))
    );
    assert!(
        largest <= MAX_RESPONSE_DECODED_BYTES + 1,
        "allocated {largest}"
    );

    // Truncated frames: cut inside the last chunk, and inside a chunk header.
    for cut in [good.len() - 10, 5 + 10 + 2] {
        let err = read_err(&rollup, number, &good[..cut]);
        assert!(framing(err.clone()), "cut at {cut}: {err:?}");
    }

    // A wrong CRC on the first data chunk (stream identifier: 10 bytes, chunk header: 4).
    let mut bad_crc = good.clone();
    bad_crc[5 + 10 + 4] ^= 0x01;
    let err = read_err(&rollup, number, &bad_crc);
    assert!(framing(err.clone()), "{err:?}");

    // One trailing garbage byte after the last frame.
    let err = read_err(&rollup, number, &[&good[..], &[0x00]].concat());
    assert!(framing(err.clone()), "{err:?}");

    // A valid payload for another number, and one whose hash does not recompute.
    assert_eq!(
        read_err(&rollup, number + 1, &good),
        CodecError::Response(ResponseError::WrongNumber {
            requested: number + 1,
            got: number
        })
    );
    let (_, mut envelope) = payload_of(read(&rollup, number, &good).unwrap());
    envelope.execution_payload.gas_used += 1;
    let forged = Response::payload(&rollup, envelope).encode();
    assert!(matches!(
        read_err(&rollup, number, &forged),
        CodecError::Response(ResponseError::BlockHash(_))
    ));

    // An error code is read alone; whatever follows is never read.
    assert_eq!(
        read(&rollup, number, &[2, 0xde, 0xad]).unwrap(),
        Response::Error(ResultCode::InvalidRequest)
    );
}

#[test]
fn a_response_needs_its_request() {
    let (rollup, _, good) = base();
    let proto = protocol(rollup.l2_chain_id);
    let err = block_on(codec(&rollup).read_response(&proto, &mut Cursor::new(&good))).unwrap_err();
    assert_eq!(CodecError::from_io(err).unwrap(), CodecError::NoRequest);
    let err = block_on(codec(&rollup).write_request(
        &proto,
        &mut Vec::new(),
        Request::Malformed(RequestError::Timeout),
    ))
    .unwrap_err();
    assert_eq!(CodecError::from_io(err).unwrap(), CodecError::Unsendable);
}
