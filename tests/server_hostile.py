#!/usr/bin/env python3
"""What a hostile test found in wgtrain serve (issue 9), as a test. Bounded in time and count.

  - HTTP edge cases: two Host headers, HTTP/1.1 without Host, a malformed Content-Length each
    get a 400 whose body is one JSON object (libmicrohttpd 0.9.75's own 400 sent its header
    block twice);
  - slowloris: a connection that trickles its headers gets 408 at the header deadline (5 s),
    however it trickles; 300 such connections from 127.0.0.1 (topped up once a second, like
    slowloris itself) while, every 5 s for 30 s, a GET from 127.0.0.1 must be answered within
    2 s; the flood writes at most a few stderr lines, not one per connection;
  - a dead event-stream client is noticed within 2 s;
  - a connection over the cap (all slots being served) gets 503 with Retry-After, not a reset.
Usage: server_hostile.py WGTRAIN_BINARY MNIST_DIR"""
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time

BIN, DATA = sys.argv[1], sys.argv[2]
checks = failures = 0


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
    print(("ok   " if cond else "FAIL ") + what, flush=True)


def start_server(*args):
    proc = subprocess.Popen([BIN, "serve", "--port", "0", "--data", DATA, "--train-limit", "200", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = proc.stdout.readline().decode()
    m = re.match(r"listening on http://127\.0\.0\.1:(\d+)$", line.strip())
    if not m:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r} {proc.stderr.read().decode()}")
    err = []
    threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()
    threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()
    return proc, int(m.group(1)), err


def stop_server(proc):
    proc.terminate()
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "killed"


def exchange(port, data, timeout=5.0):
    """Sends raw bytes; returns everything the server sends until it closes (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    got = b""
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, ConnectionError):
        pass
    s.close()
    return got


def split_reply(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


def get(port, path="/api/state", timeout=2.0):
    """One GET on a new connection; (status, seconds) or (None, seconds)."""
    t = time.monotonic()
    try:
        raw = exchange(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(), timeout)
        status = split_reply(raw)[0]
        code = int(status.split()[1]) if status.startswith("HTTP/1.1 ") else None
    except OSError:
        code = None
    return code, time.monotonic() - t


proc, P, err = start_server()
host = f"Host: 127.0.0.1:{P}\r\n"

# ---- 3. the server's own HTTP edge cases --------------------------------------------------
cases = [
    ("two Host headers", f"GET /api/state HTTP/1.1\r\n{host}Host: evil.example\r\n\r\n", "Host headers"),
    ("two Host headers, the second ours", f"GET /api/state HTTP/1.1\r\nHost: evil.example\r\n{host}\r\n", "Host headers"),
    ("HTTP/1.1 without Host", "GET /api/state HTTP/1.1\r\n\r\n", "Host header"),
    ("a malformed Content-Length", f"POST /api/stop HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
                                   "Content-Length: 2x\r\n\r\n{}", "Content-Length"),
    ("two Content-Length headers", f"POST /api/stop HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
                                   "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "Content-Length"),
]
for what, req, word in cases:
    raw = exchange(P, req.encode())
    status, headers, body = split_reply(raw)
    try:
        j = json.loads(body)
    except ValueError:
        j = None
    check(status == "HTTP/1.1 400 Bad Request" and raw.count(b"HTTP/1.1 400") == 1 and j is not None
          and j.get("status") == 400 and word in j.get("error", "")
          and headers.get("content-length") == str(len(body)),
          f"{what}: one 400 with a JSON body naming {word!r}: {raw[:160]!r}")
code, _ = get(P)
check(code == 200, f"a plain GET still answers 200 ({code})")

# ---- 2. the header deadline counts from accept: trickling does not restart it --------------
s = socket.create_connection(("127.0.0.1", P), timeout=10)
t0 = time.monotonic()
reply = b""
try:
    for ch in f"GET /api/state HTTP/1.1\r\n{host}X-Slow: ".encode() + b"a" * 40:
        s.send(bytes([ch]))
        time.sleep(0.25)
        s.setblocking(False)
        try:
            reply += s.recv(4096)
        except BlockingIOError:
            pass
        s.setblocking(True)
        if reply:
            break
except OSError:
    pass
dt = time.monotonic() - t0
s.close()
check(reply.startswith(b"HTTP/1.1 408 ") and 4.5 < dt < 6.5,
      f"a connection trickling a byte every 0.25 s gets 408 after {dt:.1f} s: {reply[:60]!r}")

# ---- 2. a dead event-stream client is noticed within 2 s -----------------------------------
def sse_clients():
    raw = exchange(P, f"GET /api/state HTTP/1.1\r\n{host}\r\n".encode())
    return json.loads(split_reply(raw)[2])["clients"]


s = socket.create_connection(("127.0.0.1", P), timeout=5)
s.sendall(f"GET /api/events HTTP/1.1\r\n{host}Accept: text/event-stream\r\n\r\n".encode())
first = s.recv(4096)
check(first.startswith(b"HTTP/1.1 200"), f"an event stream opens ({first[:40]!r})")
n_open = sse_clients()
s.close()
t0 = time.monotonic()
while sse_clients() != 0 and time.monotonic() - t0 < 10:
    time.sleep(0.1)
dt = time.monotonic() - t0
check(n_open == 1 and dt < 2.0, f"a closed event-stream client is dropped in {dt:.2f} s (clients {n_open} -> 0)")

# ---- 2. slowloris: 300 trickling connections, and local GETs still answered ---------------
N, DURATION, MAX_OPENED = 300, 30.0, 12000
sel = selectors.DefaultSelector()
conns = {}  # socket -> [opened_at, next_byte_at, bytes_sent]
opened = closed_by_server = 0
lifetimes = []
trickle = f"GET /api/state HTTP/1.1\r\n{host}X-Slow: ".encode() + b"a" * 4000


def open_one():
    global opened
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", P))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return
    now = time.monotonic()
    conns[s] = [now, now, 0]
    sel.register(s, selectors.EVENT_READ)
    opened += 1


def close_one(s, by_server):
    global closed_by_server
    info = conns.pop(s)
    sel.unregister(s)
    s.close()
    if by_server:
        closed_by_server += 1
        lifetimes.append((time.monotonic() - info[0], info[2]))


probes = []


def prober():
    time.sleep(1.0)  # let the flood build first
    for i in range(int(DURATION / 5) + 1):  # at 0, 5, ..., 30 s
        if i:
            time.sleep(5.0)
        probes.append(get(P, timeout=2.0))


for _ in range(N):
    open_one()
th = threading.Thread(target=prober)
th.start()
t_end = time.monotonic() + DURATION + 20  # a bound, should the prober hang
last_topup = time.monotonic()
while th.is_alive() and time.monotonic() < t_end:
    for key, _ in sel.select(timeout=0.05):
        s = key.fileobj
        try:
            data = s.recv(65536)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if not data:
            close_one(s, True)
    now = time.monotonic()
    for s, info in list(conns.items()):
        if now >= info[1] and info[2] < len(trickle):  # one byte per socket every 0.5 s
            try:
                s.send(trickle[info[2]:info[2] + 1])
                info[2] += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                close_one(s, True)
                continue
            info[1] = now + 0.5
    if now - last_topup >= 1.0:  # like slowloris itself: top the flood up once a second
        last_topup = now
        while len(conns) < N and opened < MAX_OPENED:
            open_one()
th.join(timeout=60)
for s in list(conns):
    close_one(s, False)

answered = [p for p in probes if p[0] == 200 and p[1] < 2.0]
check(len(probes) == 7 and len(answered) == len(probes),
      f"under 300 trickling connections every local GET answered within 2 s: "
      f"{', '.join(f'{c}/{t:.2f}s' for c, t in probes)}")
longest = max((t for t, _ in lifetimes), default=0.0)
check(closed_by_server > 0 and longest < 5.0 + 1.5,
      f"no trickling connection outlives the header deadline "
      f"({closed_by_server} closed, longest {longest:.1f} s, {opened} opened in all)")
code, dt = get(P)
check(code == 200, f"the server still answers after the flood ({code} in {dt:.2f} s)")
flood_lines = [l for l in err if b"503" in l or b"refused" in l or b"limit" in l]
check(len(flood_lines) <= 2, f"the flood wrote {len(flood_lines)} stderr lines, not one per connection: "
      f"{b''.join(flood_lines)[:300]!r}")
rc = stop_server(proc)
check(rc == 0, f"the server exits cleanly after the flood (exit {rc}): {b''.join(err[-3:])[-300:]!r}")

# ---- 2. over the cap, with every slot being served: 503 with Retry-After ------------------
proc, P, err = start_server("--max-connections", "8")
host = f"Host: 127.0.0.1:{P}\r\n"
streams = []
for _ in range(8):
    s = socket.create_connection(("127.0.0.1", P), timeout=5)
    s.sendall(f"GET /api/events HTTP/1.1\r\n{host}\r\n".encode())
    s.recv(1024)
    streams.append(s)
raw = exchange(P, f"GET /api/state HTTP/1.1\r\n{host}\r\n".encode())
status, headers, body = split_reply(raw)
check(status == "HTTP/1.1 503 Service Unavailable" and headers.get("retry-after", "").isdigit(),
      f"with all 8 slots serving event streams, a GET gets 503 with Retry-After: {raw[:200]!r}")
for s in streams:
    s.close()
t0 = time.monotonic()
code = None
while time.monotonic() - t0 < 5:
    code, _ = get(P)
    if code == 200:
        break
    time.sleep(0.1)
check(code == 200, f"once the streams close, GET answers again ({time.monotonic() - t0:.2f} s)")
rc = stop_server(proc)
check(rc == 0, f"the second server exits cleanly (exit {rc})")

print(f"{checks} checks, {failures} failed")
sys.exit(1 if failures or not checks else 0)
