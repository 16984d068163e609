#!/usr/bin/env python3
"""What rosters cost the hub in memory, probed as an attacker (and a big
hospital) would: run by hand, figures in docs/reliability.md.

  cargo build --release && python3 tools/memory_probe.py [--rosters 2000] [--editors 3]

1. `hello` to 6,000 made-up roster names, no write, then all closed.
2. ROSTERS rosters with EDITORS editors each, every roster set up and
   written 5 times, everyone connected.
Prints the hub's resident memory (VmRSS) at each step. Needs `websockets`.
"""
import argparse, asyncio, json, os, re, subprocess, sys, tempfile

import websockets

HUB = os.path.join(os.path.dirname(__file__), "..", "target", "release", "rota")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return kb / 1024


async def hello(url, roster, cid):
    ws = await websockets.connect(url, max_size=None)
    await ws.send(json.dumps({"type": "hello", "protocol": "1.2", "user": "u",
                              "client_id": cid, "roster": roster, "last_seq": 0}))
    json.loads(await ws.recv())
    return ws


async def answer(ws):
    while True:
        m = json.loads(await ws.recv())
        if m["type"] in ("ack", "rejected", "error"):
            return m


async def in_batches(coros, n=250):
    out = []
    for i in range(0, len(coros), n):
        out += await asyncio.gather(*coros[i:i + n])
    return out


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rosters", type=int, default=2000)
    ap.add_argument("--editors", type=int, default=3)
    ap.add_argument("--ghosts", type=int, default=6000)
    ap.add_argument("--wrap", default="", help="a command to run the hub under, e.g. heaptrack")
    a = ap.parse_args()
    data = tempfile.mkdtemp(prefix="rota-probe-")
    hub = subprocess.Popen(a.wrap.split() + [HUB, "--serve", "--listen", "127.0.0.1:0",
                            "--data", data, "--log-level", "warn"],
                           stdout=subprocess.PIPE, text=True)
    line = hub.stdout.readline()
    while "listening" not in line:
        line = hub.stdout.readline()
    url = re.search(r"(ws://\S+)", line).group(1)
    print(f"hub {url}, at start {rss_mb(hub.pid):.1f} MB")

    ghosts = await in_batches([hello(url, f"ghost-{i}", f"g{i}") for i in range(a.ghosts)])
    print(f"{a.ghosts} hellos to made-up rosters, connected: {rss_mb(hub.pid):.1f} MB")
    await in_batches([g.close() for g in ghosts])
    # One more join sweeps the rosters nobody listens to (after 60 s idle:
    # here they are counted as they stand).
    print(f"  all closed: {rss_mb(hub.pid):.1f} MB")

    setup = [{"op": "put_code", "code": {"code": c, "hours": 8}} for c in ("D", "N", "OFF")]
    setup += [{"op": "add_staff", "id": f"s{i}", "name": f"P{i}"} for i in range(10)]
    editors = await in_batches([hello(url, f"ward-{r}", f"c{r}-{e}")
                                for r in range(a.rosters) for e in range(a.editors)])
    print(f"{a.rosters} rosters x {a.editors} editors connected: {rss_mb(hub.pid):.1f} MB")

    async def write(r):
        ws = editors[r * a.editors]
        await ws.send(json.dumps({"type": "edit", "op_id": 1, "ops": setup}))
        await answer(ws)
        for k in range(5):
            await ws.send(json.dumps({"type": "edit", "op_id": 2 + k, "ops": [
                {"op": "set_cell", "staff": f"s{k}", "date": f"2026-12-0{k + 1}",
                 "code": "D", "base": 0}]}))
            await answer(ws)
    await in_batches([write(r) for r in range(a.rosters)], 100)
    print(f"  each roster set up and written 5 times: {rss_mb(hub.pid):.1f} MB")
    await in_batches([e.close() for e in editors])
    hub.terminate()
    hub.wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
