#!/usr/bin/env python3
"""Memory per idle keep-alive client connection of a proxy.

    bench/idle_conns.py PORT PID [COUNT] [PATH]

Opens COUNT (default 10000) connections to 127.0.0.1:PORT; each sends one keep-alive GET PATH
(default /small), reads the whole response and then stays open, idle. Reports the RSS of PID
(the process that holds the connections: tally, HAProxy, the nginx worker) before and after,
and the difference per connection, as one line:

    IDLECONNS count=10000 rss_before_kib=9500 rss_after_kib=29000 kib_per_conn=1.95

Every socket operation has a timeout; the whole run is bounded by --deadline seconds (default
120). Needs a file-descriptor limit above COUNT (the script raises its soft limit to the hard one).
"""
import argparse
import resource
import socket
import struct
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def settle_rss(pid, seconds=1.0):
    """RSS once it stops moving (the proxy may still be finishing the last responses)."""
    last = rss_kib(pid)
    for _ in range(10):
        time.sleep(seconds / 10)
        now = rss_kib(pid)
        if now == last:
            return now
        last = now
    return last


def one_request(sock, request):
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("closed before the response header")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise RuntimeError("response without Content-Length: " + head.decode(errors="replace"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("closed in the response body")
        body += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("unexpected status: " + head.split(b"\r\n")[0].decode(errors="replace"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("pid", type=int)
    ap.add_argument("count", type=int, nargs="?", default=10000)
    ap.add_argument("path", nargs="?", default="/small")
    ap.add_argument("--deadline", type=float, default=120.0)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.count + 64:
        sys.exit(f"idle_conns: file-descriptor limit {hard} is below {args.count} connections")

    request = (f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").encode()
    # Warm the proxy's backend connections and allocator first, so the baseline is not its
    # cold state.
    warm = socket.create_connection(("127.0.0.1", args.port), timeout=5)
    for _ in range(20):
        one_request(warm, request)
    warm.close()

    before = settle_rss(args.pid)
    end = time.monotonic() + args.deadline
    socks = []
    try:
        for _ in range(args.count):
            if time.monotonic() > end:
                sys.exit(f"idle_conns: deadline passed after {len(socks)} connections")
            s = socket.create_connection(("127.0.0.1", args.port), timeout=5)
            socks.append(s)
            one_request(s, request)
        after = settle_rss(args.pid)
        # A request is still served promptly while the idle connections are open.
        probe = socket.create_connection(("127.0.0.1", args.port), timeout=5)
        t0 = time.monotonic()
        one_request(probe, request)
        probe_ms = (time.monotonic() - t0) * 1000
        probe.close()
    finally:
        # A reset, not a FIN: no TIME_WAIT left behind to crowd the next run's ports.
        linger = struct.pack("ii", 1, 0)
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            s.close()
    per = (after - before) / args.count
    print(f"IDLECONNS count={args.count} rss_before_kib={before} rss_after_kib={after} "
          f"kib_per_conn={per:.2f} probe_ms={probe_ms:.2f}")


if __name__ == "__main__":
    main()
