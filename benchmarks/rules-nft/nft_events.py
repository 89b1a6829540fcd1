#!/usr/bin/env python3
"""Prints one line per nf_tables netlink notification: "<CLOCK_MONOTONIC ns> <message>".

A listener on the NFNLGRP_NFTABLES multicast group, as `nft monitor` is, but without nft's start-up
dump of the whole rule set (which takes minutes at 10 000 services). The kernel sends these messages
when a transaction commits, so the first NEWRULE / NEWSETELEM after a sync starts is "in the kernel".
CLOCK_MONOTONIC is what Java's System.nanoTime() reads on Linux, so the harness compares directly.
Run it inside the namespace: ip netns exec NS python3 nft_events.py
"""
import errno
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNLGRP_NFTABLES = 7
NFNL_SUBSYS_NFTABLES = 10
NAMES = {0: "NEWTABLE", 2: "DELTABLE", 3: "NEWCHAIN", 5: "DELCHAIN", 6: "NEWRULE", 8: "DELRULE",
         9: "NEWSET", 11: "DELSET", 12: "NEWSETELEM", 14: "DELSETELEM", 15: "NEWGEN"}

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
s.bind((0, 1 << (NFNLGRP_NFTABLES - 1)))
print("ready", flush=True)
out = sys.stdout
while True:
    try:
        data = s.recv(1 << 20)
    except OSError as e:
        if e.errno == errno.ENOBUFS:  # a big full sync overflows the buffer; later messages still come
            out.write("%d OVERFLOW\n" % time.monotonic_ns())
            out.flush()
            continue
        raise
    now = time.monotonic_ns()
    off = 0
    while off + 16 <= len(data):
        length, mtype = struct.unpack_from("=IH", data, off)
        if length < 16:
            break
        if mtype >> 8 == NFNL_SUBSYS_NFTABLES:
            out.write("%d %s\n" % (now, NAMES.get(mtype & 0xff, str(mtype & 0xff))))
        off += (length + 3) & ~3
    out.flush()
