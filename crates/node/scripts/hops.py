#!/usr/bin/env python3
"""Per-hop breakdown of an `op-p2p devnet` run, from the nodes' debug logs (crates/node/README.md).

    RUST_LOG=info,gossip::hop=debug,op_p2p::node=debug,op_p2p::app=debug \
        op-p2p devnet --nodes 5 --blocks 40 --block-time 1 --dir DIR
    python3 crates/node/scripts/hops.py DIR

Every stage of every verifier delivery is taken from the tracing timestamps (µs, one clock: all
nodes run on this machine); the sender of a message is the peer it came from, whose forward
(`reported`) or publish (`block handed to gossipsub`) starts the wire stage. Prints p50/p99 per
stage, then the sequencer's own stages and the end-to-end time per node.
"""
import json, os, re, sys, statistics
from datetime import datetime

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LINE = re.compile(r"^(\S+)\s+(\w+)\s+([\w:]+): (.*)$")
FIELD = re.compile(r"(\w+)=(\S+)")

def ts(s):
    # 2026-12-01T00:20:09.123456Z
    s = s.rstrip("Z")
    d = datetime.strptime(s[:26], "%Y-%m-%dT%H:%M:%S.%f")
    return d.timestamp() * 1e6  # µs

def parse(path):
    out = []
    with open(path, errors="replace") as f:
        for raw in f:
            line = ANSI.sub("", raw.rstrip("\n"))
            m = LINE.match(line)
            if not m:
                continue
            t, level, target, rest = m.groups()
            fields = dict(FIELD.findall(rest))
            msg = FIELD.sub("", rest).strip()
            out.append((ts(t), target, msg, fields))
    return out

def main(d):
    nodes = sorted(x for x in os.listdir(d) if x.startswith("node-"))
    peer_of = {}
    logs = {}
    for n in nodes:
        i = int(n.split("-")[1])
        st = json.load(open(os.path.join(d, n, "status.json")))
        peer_of[st["peer_id"]] = i
        logs[i] = parse(os.path.join(d, n, "node.log"))
    # sender side: when each node forwarded (reported) message M / when the sequencer handed N
    handed = {}  # number -> t at node 0
    reported = {}  # (node, msgid) -> t
    for i, ev in logs.items():
        for t, target, msg, f in ev:
            if msg.startswith("block handed to gossipsub"):
                handed[int(f["number"])] = t
            if target == "gossip::hop" and msg.startswith("reported"):
                reported.setdefault((i, f["message_id"]), t)
    rows = []
    for i, ev in logs.items():
        if i == 0:
            continue
        recv = {}
        val = {}
        rep = {}
        toapp = {}
        app = {}
        stored = {}
        num_of = {}
        for t, target, msg, f in ev:
            if target == "gossip::hop" and msg.startswith("received"):
                recv.setdefault(f["message_id"], (t, f.get("peer")))
            elif target == "gossip::hop" and msg.startswith("validated"):
                m = f["message_id"]
                val[m] = (t, int(f["thread_wait_us"]), int(f["check_us"]), int(f["back_us"]))
                if f.get("number", "None") not in ("None",):
                    num_of[m] = int(f["number"])
            elif target == "gossip::hop" and msg.startswith("reported"):
                rep.setdefault(f["message_id"], t)
            elif msg.startswith("gossip block to the app task"):
                toapp.setdefault(int(f["number"]), t)
            elif target == "op_p2p::app" and msg.startswith("gossip block"):
                app.setdefault(int(f["number"]), t)
            elif msg.startswith("new unsafe head") or msg.startswith("block above the unsafe head"):
                stored.setdefault(int(f["number"]), t)
        for m, n in num_of.items():
            if m not in recv or n not in toapp or n not in app or n not in stored:
                continue
            t_recv, peer = recv[m]
            src = peer_of.get(peer)
            if src == 0:
                t_sent = handed.get(n)
            else:
                t_sent = reported.get((src, m))
            tv, wait, check, back = val[m]
            start = tv - wait - check - back
            rows.append({
                "node": i, "block": n, "from": src,
                "wire (sender forwarded -> received)": (t_recv - t_sent) if t_sent else None,
                "received -> pipeline task": start - t_recv,
                "pipeline task -> blocking thread": wait,
                "validation": check,
                "verdict -> swarm task reports/forwards": rep[m] - tv + back,
                "reported -> event loop hands to app": toapp[n] - rep[m],
                "app task wakes": app[n] - toapp[n],
                "payload store write": stored[n] - app[n],
                "received -> forwarded": rep[m] - t_recv,
                "received -> stored": stored[n] - t_recv,
            })
    keys = [k for k in rows[0] if k not in ("node", "block", "from")]
    print(f"{len(rows)} verifier deliveries")
    print("| stage | p50 µs | p99 µs |")
    print("|---|---:|---:|")
    for k in keys:
        v = sorted(r[k] for r in rows if r[k] is not None)
        if not v:
            continue
        p = lambda q: v[min(len(v) - 1, int(len(v) * q))]  # noqa: E731
        print(f"| {k} | {p(0.5):.0f} | {p(0.99):.0f} |")
    sequencer(d, logs, handed)


def pct(values):
    v = sorted(values)
    return v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))]


def sequencer(d, logs, handed):
    head = {}
    for t, target, msg, f in logs[0]:
        if msg.startswith("new unsafe head"):
            head.setdefault(int(f["number"]), t)
    st = json.load(open(os.path.join(d, "node-0", "status.json")))
    built = {b["number"]: b["received_ms"] for b in st["blocks"]}
    print("\n| sequencer | p50 µs | p99 µs |")
    print("|---|---:|---:|")
    print("| stored -> handed to gossipsub (command to the swarm task, signing, publish) | %.0f | %.0f |"
          % pct([handed[n] - head[n] for n in handed if n in head]))
    print("\n| node | published -> stored p50 µs | p99 µs |")
    print("|---|---:|---:|")
    for i in sorted(logs):
        if i == 0:
            continue
        stored = {}
        for t, target, msg, f in logs[i]:
            if msg.startswith("new unsafe head") or msg.startswith("block above the unsafe head"):
                stored.setdefault(int(f["number"]), t)
        v = [stored[n] - handed[n] for n in stored if n in handed]
        if v:
            print("| %d | %.0f | %.0f |" % ((i,) + pct(v)))

if __name__ == "__main__":
    main(sys.argv[1])
