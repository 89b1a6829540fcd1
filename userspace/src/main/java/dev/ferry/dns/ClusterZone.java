package dev.ferry.dns;

import dev.ferry.dns.ResponseWriter.Section;
import dev.ferry.model.FrontendKind;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServiceType;
import dev.ferry.table.ServicePortView;
import dev.ferry.table.ServiceTableReader;
import io.netty.util.concurrent.FastThreadLocal;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * The cluster's DNS zone as the Kubernetes DNS-based service discovery specification (1.1.0)
 * defines it, answered from the service table: {@code <svc>.<ns>.svc.<zone>} A/AAAA (ClusterIPs, or
 * a headless service's ready endpoints, not-ready ones too when publishNotReadyAddresses), CNAME
 * for ExternalName, SRV {@code _<port>._<proto>.<svc>.<ns>.svc.<zone>} for named ports, endpoint
 * hostnames {@code <hostname>.<svc>.<ns>.svc.<zone>}, PTR for ClusterIPs and headless endpoint
 * addresses, the {@code dns-version} TXT record, NXDOMAIN versus NODATA with the zone's SOA.
 *
 * <p>Every answer reads the table through a per-thread {@link ServicePortView}: nothing of the
 * table is copied to the heap except the names in {@link ServiceIndex}. Thread-safe.
 */
final class ClusterZone {
    static final int A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, TXT = 16, AAAA = 28, SRV = 33, ANY = 255;
    static final int NOERROR = 0, SERVFAIL = 2, NXDOMAIN = 3;
    /** The schema version of the Kubernetes DNS specification this zone follows. */
    static final String SCHEMA_VERSION = "1.1.0";

    private final ServiceTableReader reader;
    private final ServiceIndex index;
    private final String zone;      // "cluster.local", lower case, no trailing dot
    private final String zoneDot;   // ".cluster.local"
    private final String apex;      // "cluster.local."
    private final int ttl;
    private final FastThreadLocal<ServicePortView> views = new FastThreadLocal<>() {
        @Override
        protected ServicePortView initialValue() {
            return new ServicePortView();
        }
    };

    ClusterZone(ServiceTableReader reader, String zone, int ttl) {
        this.reader = reader;
        this.index = new ServiceIndex(reader);
        this.zone = zone.toLowerCase(Locale.ROOT);
        this.zoneDot = "." + this.zone;
        this.apex = this.zone + ".";
        this.ttl = ttl;
    }

    /**
     * Answers a question when the name is in the cluster zone or is the reverse name of an address
     * the table knows; returns false otherwise (the caller forwards or refuses).
     *
     * @param name the question name in lower case, without the trailing dot
     */
    boolean answer(String name, int qtype, ResponseWriter w) {
        try {
            if (name.equals(zone) || name.endsWith(zoneDot)) {
                w.authoritative(true);
                inZone(name, qtype, w);
                return true;
            }
            if (name.endsWith(".in-addr.arpa") || name.endsWith(".ip6.arpa")) {
                return reverse(name, qtype, w);
            }
            return false;
        } catch (IndexOutOfBoundsException recycledWhileReading) {
            // A record was recycled under us (a grace period elapsed mid-answer): let the client retry.
            w.rcode(SERVFAIL);
            return true;
        }
    }

    private void inZone(String name, int qtype, ResponseWriter w) {
        if (name.equals(zone)) {
            if (qtype == SOA || qtype == ANY) {
                soa(Section.ANSWER, w);
            } else {
                nodata(w);
            }
            return;
        }
        String rest = name.substring(0, name.length() - zoneDot.length());
        if (rest.equals("dns-version")) {
            if (qtype == TXT || qtype == ANY) {
                w.txt(Section.ANSWER, null, ttl, SCHEMA_VERSION);
            } else {
                nodata(w);
            }
            return;
        }
        // Labels from the right: rest = l0.l1...ln-1
        String[] labels = rest.split("\\.", 6);
        int n = labels.length;
        if (n > 5 || !labels[n - 1].equals("svc")) {
            nxdomain(w);
            return;
        }
        ServiceIndex snap = index.current();
        switch (n) {
            case 1 -> nodata(w); // svc.<zone>: an empty non-terminal
            case 2 -> {
                if (snap.hasNamespace(labels[0])) nodata(w); else nxdomain(w);
            }
            case 3 -> service(snap.service(labels[0] + "." + labels[1]), qtype, w);
            case 4 -> {
                ServiceIndex.Service s = snap.service(labels[1] + "." + labels[2]);
                if (s == null) {
                    nxdomain(w);
                } else if (labels[0].startsWith("_")) {
                    Protocol p = protocolLabel(labels[0]);
                    if (p != null && hasNamedPort(s, p)) nodata(w); else nxdomain(w);
                } else {
                    endpointName(s, labels[0], qtype, w);
                }
            }
            default -> srv(snap.service(labels[2] + "." + labels[3]), labels[0], labels[1], qtype, w);
        }
    }

    private void service(ServiceIndex.Service s, int qtype, ResponseWriter w) {
        if (s == null) {
            nxdomain(w);
            return;
        }
        ServicePortView v = views.get();
        if (!first(s, v)) {
            nxdomain(w);
            return;
        }
        if (v.type() == ServiceType.EXTERNAL_NAME) {
            w.name(Section.ANSWER, null, CNAME, ttl, absolute(v.externalName()));
            return;
        }
        boolean wantA = qtype == A || qtype == ANY;
        boolean wantAaaa = qtype == AAAA || qtype == ANY;
        if (!wantA && !wantAaaa) {
            nodata(w);
            return;
        }
        if (v.headless()) {
            endpointAddresses(s, null, wantA, wantAaaa, null, w);
        } else {
            for (int f = 0, nf = v.frontendCount(); f < nf; f++) {
                if (v.frontendKind(f) != FrontendKind.CLUSTER_IP) continue;
                int family = v.frontendFamily(f);
                if (family == 4 ? wantA : wantAaaa) {
                    w.address(Section.ANSWER, null, ttl, family, v.frontendHi(f), v.frontendLo(f));
                }
            }
        }
        if (w.answerCount() == 0 && !w.truncated()) {
            nodata(w);
        }
    }

    /** Headless endpoint addresses, optionally only the endpoint whose label is {@code label}. */
    private void endpointAddresses(ServiceIndex.Service s, String owner, boolean wantA, boolean wantAaaa,
                                   String label, ResponseWriter w) {
        ServicePortView v = views.get();
        Set<ServiceIndex.AddressKey> seen = s.portNames().length > 1 ? new HashSet<>() : null;
        for (int p = 0; p < s.portNames().length; p++) {
            if (!reader.lookup(s.namespace(), s.name(), s.portNames()[p], s.protocols()[p], v)) continue;
            boolean publishNotReady = v.publishNotReadyAddresses();
            for (int e = 0, ne = v.endpointCount(); e < ne; e++) {
                if (!publishNotReady && !v.endpointReady(e)) continue;
                int family = v.endpointFamily(e);
                if (!(family == 4 ? wantA : wantAaaa)) continue;
                long hi = v.endpointHi(e), lo = v.endpointLo(e);
                if (label != null && !label.equals(endpointLabel(v, e))) continue;
                if (seen != null && !seen.add(new ServiceIndex.AddressKey(family, hi, lo))) continue;
                w.address(Section.ANSWER, owner, ttl, family, hi, lo);
            }
        }
    }

    private void endpointName(ServiceIndex.Service s, String label, int qtype, ResponseWriter w) {
        ServicePortView v = views.get();
        if (!first(s, v) || !v.headless()) {
            nxdomain(w);
            return;
        }
        // Does the name exist at all (in any family)? Then a family without addresses is NODATA.
        boolean exists = false;
        for (int p = 0; p < s.portNames().length && !exists; p++) {
            if (!reader.lookup(s.namespace(), s.name(), s.portNames()[p], s.protocols()[p], v)) continue;
            boolean publishNotReady = v.publishNotReadyAddresses();
            for (int e = 0, ne = v.endpointCount(); e < ne && !exists; e++) {
                exists = (publishNotReady || v.endpointReady(e)) && label.equals(endpointLabel(v, e));
            }
        }
        if (!exists) {
            nxdomain(w);
            return;
        }
        boolean wantA = qtype == A || qtype == ANY;
        boolean wantAaaa = qtype == AAAA || qtype == ANY;
        if (wantA || wantAaaa) {
            endpointAddresses(s, null, wantA, wantAaaa, label, w);
        }
        if (w.answerCount() == 0 && !w.truncated()) {
            nodata(w);
        }
    }

    private void srv(ServiceIndex.Service s, String portLabel, String protoLabel, int qtype, ResponseWriter w) {
        Protocol protocol = protocolLabel(protoLabel);
        ServicePortView v = views.get();
        if (s == null || protocol == null || portLabel.length() < 2 || portLabel.charAt(0) != '_') {
            nxdomain(w);
            return;
        }
        String portName = portLabel.substring(1);
        if (!reader.lookup(s.namespace(), s.name(), portName, protocol, v)) {
            // Port names are DNS labels (lower case), but match case-insensitively to be safe.
            boolean found = false;
            for (int p = 0; p < s.portNames().length && !found; p++) {
                found = s.protocols()[p] == protocol && s.portNames()[p].equalsIgnoreCase(portName)
                        && reader.lookup(s.namespace(), s.name(), s.portNames()[p], protocol, v);
            }
            if (!found) {
                nxdomain(w);
                return;
            }
        }
        if (qtype != SRV && qtype != ANY) {
            nodata(w);
            return;
        }
        String serviceName = s.name() + "." + s.namespace() + ".svc." + apex;
        if (v.type() == ServiceType.EXTERNAL_NAME) {
            w.srv(Section.ANSWER, null, ttl, 0, 100, v.port(), absolute(v.externalName()));
        } else if (!v.headless()) {
            w.srv(Section.ANSWER, null, ttl, 0, 100, v.port(), serviceName);
            for (int f = 0, nf = v.frontendCount(); f < nf; f++) {
                if (v.frontendKind(f) == FrontendKind.CLUSTER_IP) {
                    w.address(Section.ADDITIONAL, serviceName, ttl, v.frontendFamily(f), v.frontendHi(f),
                            v.frontendLo(f));
                }
            }
        } else {
            boolean publishNotReady = v.publishNotReadyAddresses();
            int count = 0;
            for (int e = 0, ne = v.endpointCount(); e < ne; e++) {
                if (publishNotReady || v.endpointReady(e)) count++;
            }
            int weight = Math.max(1, 100 / Math.max(1, count));
            for (int pass = 0; pass < 2; pass++) {
                for (int e = 0, ne = v.endpointCount(); e < ne; e++) {
                    if (!publishNotReady && !v.endpointReady(e)) continue;
                    String target = endpointLabel(v, e) + "." + serviceName;
                    if (pass == 0) {
                        w.srv(Section.ANSWER, null, ttl, 0, weight, v.endpointPort(e), target);
                    } else {
                        w.address(Section.ADDITIONAL, target, ttl, v.endpointFamily(e), v.endpointHi(e),
                                v.endpointLo(e));
                    }
                }
            }
        }
        if (w.answerCount() == 0 && !w.truncated()) {
            nodata(w);
        }
    }

    /** PTR for a ClusterIP or a headless endpoint address; false when the table does not know the address. */
    private boolean reverse(String name, int qtype, ResponseWriter w) {
        InetAddress address = reverseAddress(name);
        if (address == null) {
            return false;
        }
        byte[] b = address.getAddress();
        int family = b.length == 4 ? 4 : 6;
        long hi = 0, lo = 0;
        for (int i = 0; i < b.length; i++) {
            if (b.length == 16 && i < 8) hi = (hi << 8) | (b[i] & 0xff); else lo = (lo << 8) | (b[i] & 0xff);
        }
        String[] names = index.current().reverse(family, hi, lo);
        if (names == null) {
            return false;
        }
        w.authoritative(true);
        if (qtype == PTR || qtype == ANY) {
            for (String target : names) {
                w.name(Section.ANSWER, null, PTR, ttl, target + ".svc." + apex);
            }
        } else {
            w.soa(Section.AUTHORITY, reverseZone(name), ttl, "ns.dns." + apex, "hostmaster." + apex,
                    reader.generation(), 7200, 1800, 86400, ttl);
        }
        return true;
    }

    /** The address a full reverse name stands for; null for a partial or malformed name. */
    static InetAddress reverseAddress(String name) {
        try {
            if (name.endsWith(".in-addr.arpa")) {
                String[] parts = name.substring(0, name.length() - ".in-addr.arpa".length()).split("\\.", -1);
                if (parts.length != 4) return null;
                byte[] b = new byte[4];
                for (int i = 0; i < 4; i++) {
                    String p = parts[3 - i];
                    if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit)) return null;
                    int octet = Integer.parseInt(p);
                    if (octet > 255 || (p.length() > 1 && p.charAt(0) == '0')) return null;
                    b[i] = (byte) octet;
                }
                return InetAddress.getByAddress(b);
            }
            String[] parts = name.substring(0, name.length() - ".ip6.arpa".length()).split("\\.", -1);
            if (parts.length != 32) return null;
            byte[] b = new byte[16];
            for (int i = 0; i < 32; i++) {
                String p = parts[31 - i];
                if (p.length() != 1) return null;
                int nibble = Character.digit(p.charAt(0), 16);
                if (nibble < 0) return null;
                b[i / 2] |= (byte) (i % 2 == 0 ? nibble << 4 : nibble);
            }
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException notAnAddress) {
            return null;
        }
    }

    private static String reverseZone(String name) {
        return name.endsWith(".in-addr.arpa") ? "in-addr.arpa." : "ip6.arpa.";
    }

    /** A headless endpoint's DNS label: its hostname, else its address with dashes (as CoreDNS names it). */
    static String endpointLabel(ServicePortView v, int e) {
        String hostname = v.endpointHostname(e);
        if (!hostname.isEmpty()) {
            return hostname.toLowerCase(Locale.ROOT);
        }
        return IpAddresses.format(v.endpointAddress(e)).replace('.', '-').replace(':', '-');
    }

    private boolean first(ServiceIndex.Service s, ServicePortView v) {
        for (int p = 0; p < s.portNames().length; p++) {
            if (reader.lookup(s.namespace(), s.name(), s.portNames()[p], s.protocols()[p], v)) return true;
        }
        return false;
    }

    private static boolean hasNamedPort(ServiceIndex.Service s, Protocol p) {
        for (int i = 0; i < s.portNames().length; i++) {
            if (s.protocols()[i] == p && !s.portNames()[i].isEmpty()) return true;
        }
        return false;
    }

    private static Protocol protocolLabel(String label) {
        return switch (label) {
            case "_tcp" -> Protocol.TCP;
            case "_udp" -> Protocol.UDP;
            case "_sctp" -> Protocol.SCTP;
            default -> null;
        };
    }

    private static String absolute(String name) {
        return name.endsWith(".") ? name : name + ".";
    }

    private void nxdomain(ResponseWriter w) {
        w.rcode(NXDOMAIN);
        soa(Section.AUTHORITY, w);
    }

    private void nodata(ResponseWriter w) {
        w.rcode(NOERROR);
        soa(Section.AUTHORITY, w);
    }

    /** The zone's SOA; its serial follows the table's generation so secondaries would see changes. */
    private void soa(Section section, ResponseWriter w) {
        w.soa(section, apex, ttl, "ns.dns." + apex, "hostmaster." + apex, reader.generation() & 0xFFFFFFFFL, 7200,
                1800, 86400, ttl);
    }
}
