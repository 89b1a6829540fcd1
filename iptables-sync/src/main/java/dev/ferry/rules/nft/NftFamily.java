package dev.ferry.rules.nft;

import java.net.Inet6Address;
import java.net.InetAddress;

/** The two nftables families Ferry programs, with the spellings each needs in a payload. Immutable. */
public enum NftFamily {
    IPV4("ip", "ip", "ipv4_addr", "127.0.0.0/8"),
    IPV6("ip6", "ip6", "ipv6_addr", "::1");

    /** Table family keyword ("ip" / "ip6"). */
    final String table;
    /** Header keyword in matches ("ip saddr" / "ip6 saddr"). */
    final String header;
    /** Set element type. */
    final String addrType;
    /** Loopback destinations NodePorts are not served on (kube-proxy's nftables mode does the same). */
    final String loopback;

    NftFamily(String table, String header, String addrType, String loopback) {
        this.table = table;
        this.header = header;
        this.addrType = addrType;
        this.loopback = loopback;
    }

    public String tableKeyword() {
        return table;
    }

    boolean contains(InetAddress a) {
        return (a instanceof Inet6Address) == (this == IPV6);
    }
}
