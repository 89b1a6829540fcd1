package dev.ferry.convert;

import dev.ferry.model.RejectionReason;

import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.ForZone;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An EndpointSlice that passed validation, reduced to what kube-proxy reads: its named ports and its
 * endpoints (first address, conditions with the API's nil defaults, placement). Immutable.
 */
record CheckedSlice(String name, boolean fqdn, List<Port> ports, List<Member> members) {

    static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
    static final List<String> ADDRESS_TYPES = List.of("FQDN", "IPv4", "IPv6");
    static final List<String> PROTOCOLS = List.of("SCTP", "TCP", "UDP");

    /** One entry of the slice's ports[] that kube-proxy uses (it has a name and a number). */
    record Port(String name, Protocol protocol, int port) {}

    /** One endpoint, port not yet applied. */
    record Member(InetAddress address, boolean ready, boolean serving, boolean terminating, String nodeName,
                  String zone, List<String> forZones, String hostname) {

        dev.ferry.model.Endpoint at(int port) {
            return new dev.ferry.model.Endpoint(address, port, ready, serving, terminating, nodeName, zone, forZones,
                    hostname);
        }
    }

    /**
     * Validates a slice the way the API server would and returns it, or null with the reasons in
     * {@code errors}. The service label is checked by the caller (it needs it to group slices).
     */
    static CheckedSlice check(EndpointSlice slice, FieldErrors errors) {
        String name = slice.getMetadata() == null ? null : slice.getMetadata().getName();
        String addressType = slice.getAddressType();
        if (addressType == null || addressType.isEmpty()) {
            errors.required("addressType", RejectionReason.REQUIRED_VALUE, "");
            return null;
        }
        if (!ADDRESS_TYPES.contains(addressType)) {
            errors.unsupported("addressType", RejectionReason.UNSUPPORTED_VALUE, addressType, ADDRESS_TYPES);
            return null;
        }
        if (addressType.equals("FQDN")) {
            return new CheckedSlice(name, true, List.of(), List.of());
        }
        boolean v4 = addressType.equals("IPv4");

        List<Port> ports = new ArrayList<>();
        Set<String> names = new HashSet<>();
        List<EndpointPort> apiPorts = slice.getPorts() == null ? List.of() : slice.getPorts();
        for (int i = 0; i < apiPorts.size(); i++) {
            EndpointPort p = apiPorts.get(i);
            String f = "ports[" + i + "]";
            if (p == null) {
                errors.required(f, RejectionReason.REQUIRED_VALUE, "");
                continue;
            }
            Protocol protocol = Protocol.parse(p.getProtocol());
            if (protocol == null) {
                errors.unsupported(f + ".protocol", RejectionReason.UNSUPPORTED_PROTOCOL, p.getProtocol(), PROTOCOLS);
            }
            if (p.getPort() != null) {
                errors.port(f + ".port", p.getPort());
            }
            if (p.getName() != null && !names.add(p.getName())) {
                errors.duplicate(f + ".name", RejectionReason.DUPLICATE_PORT_NAME, p.getName());
            }
            // kube-proxy skips ports without a name or a number (a nil port would mean "all ports").
            if (protocol != null && p.getName() != null && p.getPort() != null && p.getPort() >= 1 && p.getPort() <= 65535) {
                ports.add(new Port(p.getName(), protocol, p.getPort()));
            }
        }

        List<Member> members = new ArrayList<>();
        List<Endpoint> endpoints = slice.getEndpoints() == null ? List.of() : slice.getEndpoints();
        for (int i = 0; i < endpoints.size(); i++) {
            Endpoint e = endpoints.get(i);
            String f = "endpoints[" + i + "]";
            List<String> addresses = e == null || e.getAddresses() == null ? List.of() : e.getAddresses();
            if (addresses.isEmpty()) {
                errors.required(f + ".addresses", RejectionReason.MISSING_ADDRESSES, "must contain at least one address");
                continue;
            }
            InetAddress first = null;
            for (int j = 0; j < addresses.size(); j++) {
                String a = addresses.get(j);
                InetAddress ip = IpAddresses.parse(a);
                if (ip == null) {
                    errors.invalid(f + ".addresses[" + j + "]", RejectionReason.INVALID_IP, a, "must be a valid IP address");
                } else if ((ip instanceof Inet4Address) != v4) {
                    errors.invalid(f + ".addresses[" + j + "]", RejectionReason.INVALID_IP, a,
                            "must be an " + addressType + " address (addressType is " + addressType + ")");
                } else if (j == 0) {
                    first = ip;
                }
            }
            if (first == null) {
                continue;
            }
            EndpointConditions c = e.getConditions();
            Boolean readyField = c == null ? null : c.getReady();
            Boolean servingField = c == null ? null : c.getServing();
            Boolean terminatingField = c == null ? null : c.getTerminating();
            boolean ready = readyField == null || readyField;                 // nil: unknown, consumers treat as ready
            boolean serving = servingField == null ? ready : servingField;    // nil: defer to ready (API docs)
            boolean terminating = terminatingField != null && terminatingField; // nil: not terminating
            List<String> zones = new ArrayList<>();
            if (e.getHints() != null && e.getHints().getForZones() != null) {
                for (ForZone z : e.getHints().getForZones()) {
                    if (z != null && z.getName() != null && !z.getName().isEmpty()) {
                        zones.add(z.getName());
                    }
                }
            }
            members.add(new Member(first, ready, serving, terminating, e.getNodeName(), e.getZone(), zones, e.getHostname()));
        }
        return errors.isEmpty() ? new CheckedSlice(name, false, List.copyOf(ports), List.copyOf(members)) : null;
    }

    /** The slice's service name label, or null when absent or empty. */
    static String serviceName(EndpointSlice slice) {
        Map<String, String> labels = slice.getMetadata() == null ? null : slice.getMetadata().getLabels();
        String s = labels == null ? null : labels.get(SERVICE_NAME_LABEL);
        return s == null || s.isEmpty() ? null : s;
    }
}
