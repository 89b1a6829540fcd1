#!/usr/bin/env python3
"""Says when given addresses first reach the kernel's nf_tables, from its netlink notifications.

Listens on the NFNLGRP_NFTABLES multicast group (as `nft monitor` does, without its start-up dump
of the whole rule set) in the network namespace it runs in. Markers come on stdin, one per line:
"LABEL HEXBYTES" (e.g. "last-svc 0a60002a" for 10.96.0.42); the answer is "ARMED LABEL". The first
NEWRULE or NEWSETELEM message whose payload holds a marker's bytes prints
"<CLOCK_MONOTONIC ns> HIT LABEL" (once per marker). Both iptables-nft (kube-proxy's and Ferry's
iptables mode: the address sits in a cmp expression or the DNAT target's data) and nftables rules
and set elements carry the address bytes, so one listener serves every proxy and mode.
CLOCK_MONOTONIC is what Java's System.nanoTime() reads on Linux. A receive-buffer overflow (the
kernel dropped notifications) prints "<ns> OVERFLOW": the harness then reports the run as suspect.
Run it inside the namespace: ip netns exec NS python3 nft_marks.py
"""
import errno
import os
import select
import socket
import sys
import time

NETLINK_NETFILTER = 12
NFNLGRP_NFTABLES = 7
NFNL_SUBSYS_NFTABLES = 10
NEWRULE, NEWSETELEM = 6, 12
SO_RCVBUFFORCE = 33

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
try:
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 30)  # root: past net.core.rmem_max
except OSError:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
s.bind((0, 1 << (NFNLGRP_NFTABLES - 1)))
out = sys.stdout
print("ready", flush=True)

pending = {}  # label -> bytes
stdin = sys.stdin.fileno()
os.set_blocking(stdin, False)
buf = b""
while True:
    r, _, _ = select.select([s, stdin], [], [])
    if stdin in r:
        chunk = os.read(stdin, 65536)
        if not chunk:
            break  # the harness went away
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            parts = line.decode().split()
            if len(parts) == 2:
                pending[parts[0]] = bytes.fromhex(parts[1])
                out.write("ARMED %s\n" % parts[0])
        out.flush()
    if s not in r:
        continue
    # drain everything queued before going back to select
    while True:
        try:
            data = s.recv(1 << 20, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                out.write("%d OVERFLOW\n" % time.monotonic_ns())
                continue
            raise
        if not pending:
            continue
        now = time.monotonic_ns()
        off = 0
        while off + 16 <= len(data):
            length, mtype = int.from_bytes(data[off:off + 4], "little"), int.from_bytes(data[off + 4:off + 6], "little")
            if length < 16:
                break
            if mtype >> 8 == NFNL_SUBSYS_NFTABLES and (mtype & 0xff) in (NEWRULE, NEWSETELEM):
                msg = data[off + 16:off + length]
                for label in [l for l, b in pending.items() if b in msg]:
                    out.write("%d HIT %s\n" % (now, label))
                    del pending[label]
            off += (length + 3) & ~3
    out.flush()
