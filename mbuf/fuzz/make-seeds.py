#!/usr/bin/env python3
"""Writes the seed corpus of the `parse` fuzz target: one well-formed packet of each layout the
parser knows, so that a short fuzz run (CI gives it 20 s) starts deep in every branch instead of
discovering Ethernet from nothing. Run it from mbuf/fuzz; the files are committed."""

import os
import struct

MAC = bytes([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2])


def eth(t, rest):
    return MAC + struct.pack("!H", t) + rest


def ip4(proto, payload, ihl=5, frag=0):
    hl = ihl * 4
    h = bytearray(hl)
    h[0] = 0x40 | ihl
    struct.pack_into("!HHHBB", h, 2, hl + len(payload), 1, frag, 64, proto)
    h[12:20] = bytes([10, 0, 0, 1, 10, 0, 0, 2])
    return bytes(h) + payload


def ip6(nxt, payload):
    return struct.pack("!IHBB", 6 << 28, len(payload), nxt, 64) + bytes(range(32)) + payload


def udp(src, dst, payload):
    return struct.pack("!HHHH", src, dst, 8 + len(payload), 0) + payload


def tcp(doff=5):
    h = bytearray(doff * 4)
    struct.pack_into("!HH", h, 0, 1000, 80)
    h[12] = doff << 4
    h[13] = 0x12
    return bytes(h)


INNER = eth(0x0800, ip4(6, tcp()))
SEEDS = {
    "udp4": eth(0x0800, ip4(17, udp(1000, 2000, b"hello"))),
    "tcp4-options": eth(0x0800, ip4(6, tcp(8), ihl=6)),
    "icmp4": eth(0x0800, ip4(1, bytes([8, 0, 0, 0, 0, 1, 0, 1]))),
    "sctp4": eth(0x0800, ip4(132, bytes(12))),
    "frag4": eth(0x0800, ip4(17, udp(1, 2, b""), frag=0x2000)),
    "vlan-tcp4": eth(0x8100, struct.pack("!HH", 100, 0x0800) + ip4(6, tcp())),
    "qinq-udp6": eth(0x88A8, struct.pack("!HHHH", 10, 0x8100, 20, 0x86DD) + ip6(17, udp(1, 2, b""))),
    "mpls": eth(0x8847, struct.pack("!II", 0x00001000, 0x00002140)),
    "arp": eth(0x0806, bytes(28)),
    "udp6-ext": eth(0x86DD, ip6(0, bytes([43, 0]) + bytes(6) + bytes([44, 0]) + bytes(6)
                                + bytes([17, 0, 0, 1, 0, 0, 0, 0]) + udp(1, 2, b""))),
    "udp6-hbh-routing": eth(0x86DD, ip6(0, bytes([43, 0]) + bytes(6) + bytes([17, 0]) + bytes(6)
                                       + udp(1, 2, b""))),
    "none6-ext": eth(0x86DD, ip6(60, bytes([59, 0]) + bytes(6))),
    "vxlan": eth(0x0800, ip4(17, udp(5555, 4789, bytes([8, 0, 0, 0, 0, 0, 42, 0]) + INNER))),
    "vxlan-gpe": eth(0x86DD, ip6(17, udp(5555, 4790, bytes([0x0C, 0, 0, 1, 0, 0, 42, 0]) + ip4(17, udp(1, 2, b""))))),
    "geneve": eth(0x0800, ip4(17, udp(5555, 6081, bytes([1, 0, 0x65, 0x58, 0, 0, 42, 0]) + bytes(4) + INNER))),
    "gtpu": eth(0x0800, ip4(17, udp(2152, 2152, bytes([0x30, 0xFF, 0, 40, 0, 0, 0, 1]) + ip6(6, tcp())))),
    "gre": eth(0x0800, ip4(47, struct.pack("!HHI", 0x2000, 0x86DD, 7) + ip6(58, bytes(8)))),
    "nvgre": eth(0x0800, ip4(47, struct.pack("!HHI", 0x2000, 0x6558, 7) + INNER)),
    "ipip": eth(0x0800, ip4(4, ip4(17, udp(1, 2, b"x")))),
}

os.makedirs("seeds/parse", exist_ok=True)
for name, pkt in SEEDS.items():
    with open(os.path.join("seeds/parse", name), "wb") as f:
        f.write(pkt)
