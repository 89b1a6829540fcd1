package dev.ferry.daemon.config;

import dev.ferry.model.IpAddresses;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * An address and port a server listens on, written as kube-proxy writes {@code healthzBindAddress}
 * and {@code metricsBindAddress}: {@code 0.0.0.0:10256}, {@code [::1]:10249}, {@code :10256} (every
 * IPv4 address) or a bare IP (the default port). Immutable.
 */
public record BindAddress(InetAddress address, int port) {

    public BindAddress {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " out of range 0-65535");
        }
    }

    /** Parses {@code text}; {@code defaultPort} applies to a bare IP. IllegalArgumentException saying why otherwise. */
    public static BindAddress parse(String text, int defaultPort) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty address (write IP:PORT, e.g. 0.0.0.0:" + defaultPort + ")");
        }
        String s = text.trim();
        String host;
        String port = null;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("\"" + text + "\": missing ']' after an IPv6 address");
            }
            host = s.substring(1, close);
            String rest = s.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) throw new IllegalArgumentException("\"" + text + "\": expected :PORT after ']'");
                port = rest.substring(1);
            }
        } else if (s.indexOf(':') != s.lastIndexOf(':')) {
            host = s; // a bare IPv6 address
        } else if (s.indexOf(':') >= 0) {
            host = s.substring(0, s.indexOf(':'));
            port = s.substring(s.indexOf(':') + 1);
        } else {
            host = s;
        }
        InetAddress ip = host.isEmpty() ? IpAddresses.parse("0.0.0.0") : IpAddresses.parse(host);
        if (ip == null) {
            throw new IllegalArgumentException("\"" + text + "\": \"" + host + "\" is not an IP address (host names are not accepted)");
        }
        int p = defaultPort;
        if (port != null) {
            try {
                p = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("\"" + text + "\": \"" + port + "\" is not a port number");
            }
            if (p < 1 || p > 65535) {
                throw new IllegalArgumentException("\"" + text + "\": port " + p + " out of range 1-65535");
            }
        }
        return new BindAddress(ip, p);
    }

    public InetSocketAddress socketAddress() {
        return new InetSocketAddress(address, port);
    }

    @Override
    public String toString() {
        String a = IpAddresses.format(address);
        return (a.indexOf(':') >= 0 ? "[" + a + "]" : a) + ":" + port;
    }
}
