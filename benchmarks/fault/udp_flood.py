#!/usr/bin/env python3
"""The fault harness's UDP flood (run inside the client namespace by FaultHarness).

Every datagram comes from a new (source address, source port) pair -- COUNT local addresses
PREFIX+FIRST.., ports 1024-65535 -- so each one is a new flow for the proxy. Java cannot do this fast
enough on two shared cores (a socket per datagram: ~4 500/s measured), so the packets are written
whole (IP and UDP headers) through one raw socket: one system call each. Paced in 1 ms steps.
Prints "F <sent> <elapsed_ms> <send_errors>".

usage: udp_flood.py DST DPORT RATE SECONDS PREFIX FIRST COUNT
"""
import socket
import struct
import sys
import time


def main():
    dst, dport, rate, seconds, prefix, first, count = sys.argv[1:8]
    dport, rate, seconds, first, count = int(dport), int(rate), int(seconds), int(first), int(count)
    sources = [socket.inet_aton(prefix + str(first + i)) for i in range(count)]
    target = socket.inet_aton(dst)
    payload = b"flood"
    # IPPROTO_RAW implies IP_HDRINCL; the kernel fills in the IP checksum and id. UDP checksum 0: none (IPv4).
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    headers = [struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 0, 0, 64, 17, 0, src, target)
               for src in sources]
    total = rate * seconds
    sent = errors = 0
    port, index = 1024, 0
    start = time.monotonic()
    while sent < total:
        due = min(total, int((time.monotonic() - start) * rate))
        if sent >= due:
            time.sleep(0.001)
            continue
        while sent < due:
            packet = headers[index] + struct.pack("!HHHH", port, dport, 8 + len(payload), 0) + payload
            try:
                s.sendto(packet, (dst, 0))
            except OSError:
                errors += 1
            sent += 1
            index += 1
            if index == count:
                index = 0
                port = port + 1 if port < 65535 else 1024
    print("F %d %d %d" % (sent, int((time.monotonic() - start) * 1000), errors), flush=True)


if __name__ == "__main__":
    main()
