package dev.ferry.convert;

import dev.ferry.model.Rejection;
import dev.ferry.model.RejectionReason;

import dev.ferry.model.Cidr;
import dev.ferry.model.Endpoint;
import dev.ferry.model.IpAddresses;
import dev.ferry.model.Protocol;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.model.ServiceType;
import dev.ferry.model.SessionAffinity;
import dev.ferry.model.TrafficPolicy;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LoadBalancerIngress;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Converts one fabric8 {@link Service} and the EndpointSlices that carry its label into Ferry's
 * {@link ServicePort}s (one per service port), with kube-proxy's semantics, validating both as the
 * API server would. Stateless and thread-safe.
 *
 * <p>Guarantees: a Service with any invalid field yields no ports (only rejections); an invalid
 * EndpointSlice is rejected whole and the service keeps the endpoints of its other slices; slices of
 * another service, or with addressType FQDN, contribute nothing. Output is deterministic: slices
 * are read in name order and endpoints are sorted by {@code ip:port} as kube-proxy sorts them.
 *
 * <p>Where the API leaves something unset the model gets kube-proxy's effective value:
 * externalTrafficPolicy is Local only for NodePort/LoadBalancer services or ones with externalIPs;
 * healthCheckNodePort is kept only when it is used (LoadBalancer with policy Local); the affinity
 * timeout is 0 without ClientIP affinity; a zero source range ({@code 0.0.0.0/0}, {@code ::/0})
 * drops the ranges of its family (allow any, kube-proxy's reading). Consumers read the ranges per IP
 * family: no range of a family means any source of that family.
 */
public final class ServiceConverter {

    /** The label that ties an EndpointSlice to its Service. */
    public static final String SERVICE_NAME_LABEL = CheckedSlice.SERVICE_NAME_LABEL;
    /** Namespace assumed for objects that name none (as {@code kubectl apply} does with a file). */
    public static final String DEFAULT_NAMESPACE = "default";

    private static final Logger log = LoggerFactory.getLogger(ServiceConverter.class);
    private static final List<String> TYPES = List.of("ClusterIP", "ExternalName", "LoadBalancer", "NodePort");
    private static final List<String> POLICIES = List.of("Cluster", "Local");
    private static final List<String> AFFINITIES = List.of("ClientIP", "None");
    private static final List<String> PROXY_PROTOCOL_VALUES = List.of("false", "true", "v2");
    private static final int MAX_AFFINITY_TIMEOUT = 86400;

    private ServiceConverter() {}

    /**
     * Converts {@code service} with {@code slices} (all of the service's slices; others are rejected
     * as not belonging to it). Never throws on bad input: every problem becomes a {@link Rejection}.
     */
    public static Conversion convert(Service service, List<EndpointSlice> slices) {
        List<Rejection> rejections = new ArrayList<>();
        String namespace = namespaceOf(service.getMetadata());
        String name = service.getMetadata() == null ? null : service.getMetadata().getName();
        FieldErrors errors = new FieldErrors("Service", namespace, name);
        List<ServicePort> skeletons = skeletons(service, namespace, name, errors);
        List<CheckedSlice> checked = checkSlices(namespace, name, slices, rejections);
        if (!errors.isEmpty()) {
            List<Rejection> all = new ArrayList<>(errors.list());
            all.addAll(rejections);
            return new Conversion(List.of(), all);
        }
        List<ServicePort> ports = new ArrayList<>(skeletons.size());
        for (ServicePort sp : skeletons) {
            ports.add(sp.withEndpoints(sp.port() == 0 ? addressesOnly(checked) : endpointsFor(sp.name(), checked)));
        }
        return new Conversion(ports, rejections);
    }

    /** Annotation asking for topology-aware routing ("Auto"), honoured by kube-proxy like PreferClose. */
    public static final String TOPOLOGY_MODE_ANNOTATION = "service.kubernetes.io/topology-mode";
    /** The annotation's older name, still read by kube-proxy when topology-mode is absent. */
    public static final String TOPOLOGY_AWARE_HINTS_ANNOTATION = "service.kubernetes.io/topology-aware-hints";
    private static final String PREFER_CLOSE = "PreferClose";

    static boolean topologyAuto(Map<String, String> annotations) {
        String v = annotations.get(TOPOLOGY_MODE_ANNOTATION);
        if (v == null) {
            v = annotations.get(TOPOLOGY_AWARE_HINTS_ANNOTATION);
        }
        return v != null && (v.equals("Auto") || v.equals("auto"));
    }

    /** The object's namespace, or {@link #DEFAULT_NAMESPACE} when it names none. */
    public static String namespaceOf(ObjectMeta meta) {
        String ns = meta == null ? null : meta.getNamespace();
        return ns == null || ns.isEmpty() ? DEFAULT_NAMESPACE : ns;
    }

    // ---- EndpointSlices -------------------------------------------------------------------------

    private static List<CheckedSlice> checkSlices(String namespace, String serviceName, List<EndpointSlice> slices,
                                                  List<Rejection> rejections) {
        List<EndpointSlice> sorted = new ArrayList<>(slices == null ? List.of() : slices);
        sorted.removeIf(s -> s == null);
        sorted.sort(Comparator.comparing(s -> s.getMetadata() == null || s.getMetadata().getName() == null
                ? "" : s.getMetadata().getName()));
        List<CheckedSlice> out = new ArrayList<>();
        for (EndpointSlice slice : sorted) {
            String sliceNs = namespaceOf(slice.getMetadata());
            String sliceName = slice.getMetadata() == null ? null : slice.getMetadata().getName();
            FieldErrors errors = new FieldErrors("EndpointSlice", sliceNs, sliceName);
            String label = CheckedSlice.serviceName(slice);
            if (sliceName == null || sliceName.isEmpty()) {
                errors.required("metadata.name", RejectionReason.REQUIRED_VALUE, "");
            }
            if (label == null) {
                errors.required("metadata.labels[" + SERVICE_NAME_LABEL + "]", RejectionReason.MISSING_SERVICE_LABEL,
                        "an EndpointSlice must name its Service");
            } else if (!label.equals(serviceName) || !sliceNs.equals(namespace)) {
                errors.invalid("metadata.labels[" + SERVICE_NAME_LABEL + "]", RejectionReason.INVALID_VALUE, label,
                        "does not belong to Service " + namespace + "/" + serviceName);
            }
            CheckedSlice c = errors.isEmpty() ? CheckedSlice.check(slice, errors) : null;
            if (c == null) {
                rejections.addAll(errors.list());
            } else if (c.fqdn()) {
                log.debug("EndpointSlice {}/{}: addressType FQDN is ignored, as kube-proxy does", sliceNs, sliceName);
            } else {
                out.add(c);
            }
        }
        return out;
    }

    /**
     * The endpoints of one service port: every slice port with the same name and protocol gives its
     * own number (named target ports resolve per slice). An ip:port in several slices is kept once:
     * as kube-proxy does, a later copy replaces an earlier one unless the later one is terminating
     * (the running pod wins over a terminating one that had the same IP); slices are read in name order.
     */
    private static List<Endpoint> endpointsFor(ServicePortName spn, List<CheckedSlice> slices) {
        Map<String, Endpoint> byHostPort = new LinkedHashMap<>();
        for (CheckedSlice slice : slices) {
            for (CheckedSlice.Port p : slice.ports()) {
                if (!p.name().equals(spn.portName()) || p.protocol() != spn.protocol()) {
                    continue;
                }
                for (CheckedSlice.Member m : slice.members()) {
                    Endpoint e = m.at(p.port());
                    String key = e.hostPort();
                    if (!byHostPort.containsKey(key) || !e.terminating()) {
                        byHostPort.put(key, e);
                    }
                }
            }
        }
        List<Endpoint> out = new ArrayList<>(byHostPort.values());
        out.sort(Comparator.comparing(Endpoint::hostPort));
        return out;
    }

    /**
     * The endpoints of a port-less headless service: every slice's addresses, port 0. DNS answers A
     * records from them; nothing proxies them. Same de-duplication rule as {@link #endpointsFor}.
     */
    private static List<Endpoint> addressesOnly(List<CheckedSlice> slices) {
        Map<String, Endpoint> byAddress = new LinkedHashMap<>();
        for (CheckedSlice slice : slices) {
            for (CheckedSlice.Member m : slice.members()) {
                Endpoint e = m.at(0);
                String key = e.hostPort();
                if (!byAddress.containsKey(key) || !e.terminating()) {
                    byAddress.put(key, e);
                }
            }
        }
        List<Endpoint> out = new ArrayList<>(byAddress.values());
        out.sort(Comparator.comparing(Endpoint::hostPort));
        return out;
    }

    // ---- Service --------------------------------------------------------------------------------

    /** The service's ports without endpoints, or an empty list with the reasons in {@code errors}. */
    private static List<ServicePort> skeletons(Service service, String namespace, String name, FieldErrors errors) {
        if (name == null || name.isEmpty()) {
            errors.required("metadata.name", RejectionReason.REQUIRED_VALUE, "");
        }
        ServiceSpec spec = service.getSpec() == null ? new ServiceSpec() : service.getSpec();
        Map<String, String> annotations = service.getMetadata() == null || service.getMetadata().getAnnotations() == null
                ? Map.of() : service.getMetadata().getAnnotations();

        ServiceType type = ServiceType.parse(spec.getType());
        if (type == null) {
            errors.unsupported("spec.type", RejectionReason.UNSUPPORTED_VALUE, spec.getType(), TYPES);
            type = ServiceType.CLUSTER_IP;
        }
        String externalName = "";
        if (type == ServiceType.EXTERNAL_NAME) {
            externalName = spec.getExternalName() == null ? "" : spec.getExternalName();
            if (externalName.isEmpty()) {
                errors.required("spec.externalName", RejectionReason.REQUIRED_VALUE, "required for type ExternalName");
            } else if (!isDnsSubdomain(externalName)) {
                errors.invalid("spec.externalName", RejectionReason.INVALID_VALUE, externalName,
                        "must be a lowercase RFC 1123 subdomain");
            }
        }

        boolean headless = false;
        List<InetAddress> clusterIPs = new ArrayList<>();
        if (type != ServiceType.EXTERNAL_NAME) {
            headless = clusterIPs(spec, clusterIPs, errors);
        }

        List<InetAddress> externalIPs = ips(spec.getExternalIPs(), "spec.externalIPs", errors);
        List<InetAddress> lbIPs = new ArrayList<>();
        if (service.getStatus() != null && service.getStatus().getLoadBalancer() != null
                && service.getStatus().getLoadBalancer().getIngress() != null) {
            List<LoadBalancerIngress> ingress = service.getStatus().getLoadBalancer().getIngress();
            for (int i = 0; i < ingress.size(); i++) {
                LoadBalancerIngress ing = ingress.get(i);
                if (ing == null || ing.getIp() == null || ing.getIp().isEmpty()) {
                    continue; // a hostname-only ingress: nothing for a proxy to bind
                }
                InetAddress ip = IpAddresses.parse(ing.getIp());
                if (ip == null) {
                    errors.invalid("status.loadBalancer.ingress[" + i + "].ip", RejectionReason.INVALID_IP, ing.getIp(),
                            "must be a valid IP address");
                } else if (ing.getIpMode() == null || ing.getIpMode().equals("VIP")) {
                    lbIPs.add(ip); // ipMode Proxy: the load balancer proxies, kube-proxy programs nothing for it
                }
            }
        }

        SessionAffinity affinity = SessionAffinity.parse(spec.getSessionAffinity());
        int affinityTimeout = 0;
        if (affinity == null) {
            errors.unsupported("spec.sessionAffinity", RejectionReason.UNSUPPORTED_VALUE, spec.getSessionAffinity(), AFFINITIES);
        } else if (affinity == SessionAffinity.CLIENT_IP) {
            Integer t = spec.getSessionAffinityConfig() == null || spec.getSessionAffinityConfig().getClientIP() == null
                    ? null : spec.getSessionAffinityConfig().getClientIP().getTimeoutSeconds();
            affinityTimeout = t == null ? SessionAffinity.DEFAULT_TIMEOUT_SECONDS : t;
            if (affinityTimeout < 1 || affinityTimeout > MAX_AFFINITY_TIMEOUT) {
                errors.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", RejectionReason.INVALID_VALUE, t,
                        "must be greater than 0 and less than or equal to " + MAX_AFFINITY_TIMEOUT);
            }
        }

        TrafficPolicy etp = TrafficPolicy.parse(spec.getExternalTrafficPolicy());
        if (etp == null) {
            errors.unsupported("spec.externalTrafficPolicy", RejectionReason.UNSUPPORTED_VALUE,
                    spec.getExternalTrafficPolicy(), POLICIES);
        }
        TrafficPolicy itp = TrafficPolicy.parse(spec.getInternalTrafficPolicy());
        if (itp == null) {
            errors.unsupported("spec.internalTrafficPolicy", RejectionReason.UNSUPPORTED_VALUE,
                    spec.getInternalTrafficPolicy(), POLICIES);
        }
        boolean externallyReachable = type == ServiceType.NODE_PORT || type == ServiceType.LOAD_BALANCER
                || !externalIPs.isEmpty();
        if (etp == TrafficPolicy.LOCAL && !externallyReachable) {
            etp = TrafficPolicy.CLUSTER; // kube-proxy's ExternalPolicyLocal: Local means nothing here
        }

        int healthCheckNodePort = 0;
        if (spec.getHealthCheckNodePort() != null && spec.getHealthCheckNodePort() != 0) {
            if (errors.port("spec.healthCheckNodePort", spec.getHealthCheckNodePort())
                    && type == ServiceType.LOAD_BALANCER && etp == TrafficPolicy.LOCAL) {
                healthCheckNodePort = spec.getHealthCheckNodePort();
            }
        }

        List<Cidr> sourceRanges = sourceRanges(spec.getLoadBalancerSourceRanges(), errors);

        String trafficDistribution = spec.getTrafficDistribution() == null ? "" : spec.getTrafficDistribution();
        if (!dev.ferry.select.EndpointSelector.asksForTopology(trafficDistribution) && topologyAuto(annotations)) {
            // kube-proxy treats the topology-mode annotation "Auto" (or the older topology-aware-hints)
            // as PreferClose; the model carries it as trafficDistribution so the table needs no new field.
            trafficDistribution = PREFER_CLOSE;
        }
        boolean publishNotReady = Boolean.TRUE.equals(spec.getPublishNotReadyAddresses());
        String lbAlgorithm = annotations.getOrDefault(ServicePort.LB_ALGORITHM_ANNOTATION, "").trim();
        boolean proxyProtocol = false;
        String pp = annotations.get(ServicePort.PROXY_PROTOCOL_ANNOTATION);
        if (pp != null) {
            String v = pp.trim();
            if (v.equals("true") || v.equals("v2")) {
                proxyProtocol = true;
            } else if (!v.equals("false") && !v.isEmpty()) {
                errors.unsupported("metadata.annotations[" + ServicePort.PROXY_PROTOCOL_ANNOTATION + "]",
                        RejectionReason.INVALID_VALUE, pp, PROXY_PROTOCOL_VALUES);
            }
        }

        List<ServicePort> out = new ArrayList<>();
        List<io.fabric8.kubernetes.api.model.ServicePort> apiPorts = spec.getPorts() == null ? List.of() : spec.getPorts();
        if (apiPorts.isEmpty() && !headless && type != ServiceType.EXTERNAL_NAME) {
            errors.required("spec.ports", RejectionReason.REQUIRED_VALUE, "a " + type.apiName() + " service needs at least one port");
        }
        if (apiPorts.isEmpty() && (headless || type == ServiceType.EXTERNAL_NAME) && errors.isEmpty()) {
            // A port-less headless or ExternalName service still exists for DNS: keep it as one
            // port-0 entry (it has no frontends, so nothing proxies or programs rules for it).
            out.add(new ServicePort(new ServicePortName(namespace, name, "", Protocol.TCP), type, headless,
                    externalName, clusterIPs, 0, "", 0, externalIPs, lbIPs, affinity, affinityTimeout, etp, itp,
                    sourceRanges, healthCheckNodePort, trafficDistribution, publishNotReady, lbAlgorithm,
                    proxyProtocol, List.of()));
        }
        Set<String> portNames = new HashSet<>();
        for (int i = 0; i < apiPorts.size(); i++) {
            io.fabric8.kubernetes.api.model.ServicePort p = apiPorts.get(i);
            String f = "spec.ports[" + i + "]";
            if (p == null) {
                errors.required(f, RejectionReason.REQUIRED_VALUE, "");
                continue;
            }
            String portName = p.getName() == null ? "" : p.getName();
            if (portName.isEmpty() && apiPorts.size() > 1) {
                errors.required(f + ".name", RejectionReason.REQUIRED_VALUE, "every port needs a name when there is more than one");
            } else if (!portNames.add(portName)) {
                errors.duplicate(f + ".name", RejectionReason.DUPLICATE_PORT_NAME, portName);
            }
            Protocol protocol = Protocol.parse(p.getProtocol());
            if (protocol == null) {
                errors.unsupported(f + ".protocol", RejectionReason.UNSUPPORTED_PROTOCOL, p.getProtocol(), CheckedSlice.PROTOCOLS);
            }
            boolean portOk = errors.port(f + ".port", p.getPort());
            int nodePort = 0;
            if (p.getNodePort() != null && p.getNodePort() != 0) {
                if (errors.port(f + ".nodePort", p.getNodePort())) {
                    nodePort = p.getNodePort();
                }
            }
            String targetPort = targetPort(p.getTargetPort(), portOk ? p.getPort() : 0, f + ".targetPort", errors);
            if (protocol == null || !portOk || !errors.isEmpty()) {
                continue;
            }
            out.add(new ServicePort(new ServicePortName(namespace, name, portName, protocol), type, headless,
                    externalName, clusterIPs, p.getPort(), targetPort, nodePort, externalIPs, lbIPs,
                    affinity, affinityTimeout, etp, itp, sourceRanges, healthCheckNodePort, trafficDistribution,
                    publishNotReady, lbAlgorithm, proxyProtocol, List.of()));
        }
        return errors.isEmpty() ? out : List.of();
    }

    /** Fills {@code out} from spec.clusterIPs (or spec.clusterIP); returns true for a headless service. */
    private static boolean clusterIPs(ServiceSpec spec, List<InetAddress> out, FieldErrors errors) {
        String single = spec.getClusterIP() == null ? "" : spec.getClusterIP();
        List<String> list = spec.getClusterIPs() == null ? List.of() : spec.getClusterIPs();
        String field = "spec.clusterIPs";
        if (list.isEmpty()) {
            if (single.isEmpty()) {
                return false; // not allocated (a hand-written file): no cluster IP frontend
            }
            list = List.of(single);
            field = "spec.clusterIP";
        } else if (!single.isEmpty() && !single.equals(list.get(0))) {
            errors.invalid("spec.clusterIPs[0]", RejectionReason.INVALID_VALUE, list.get(0),
                    "must match spec.clusterIP " + FieldErrors.render(single));
            return false;
        }
        if (list.get(0).equals("None")) {
            if (list.size() > 1) {
                errors.invalid("spec.clusterIPs[1]", RejectionReason.INVALID_VALUE, list.get(1),
                        "must not be set when spec.clusterIPs[0] is \"None\"");
            }
            return true;
        }
        if (list.size() > 2) {
            errors.invalid("spec.clusterIPs", RejectionReason.INVALID_VALUE, String.join(",", list),
                    "may hold at most two addresses, one per IP family");
        }
        for (int i = 0; i < list.size(); i++) {
            String f = field.equals("spec.clusterIP") ? field : field + "[" + i + "]";
            InetAddress ip = IpAddresses.parse(list.get(i));
            if (ip == null) {
                errors.invalid(f, RejectionReason.INVALID_IP, list.get(i), "must be a valid IP address or \"None\"");
            } else if (!out.isEmpty() && (out.get(0) instanceof Inet4Address) == (ip instanceof Inet4Address)) {
                errors.invalid(f, RejectionReason.INVALID_IP, list.get(i),
                        "a dual-stack service needs one IPv4 and one IPv6 address");
            } else {
                out.add(ip);
            }
        }
        return false;
    }

    private static List<InetAddress> ips(List<String> texts, String field, FieldErrors errors) {
        List<InetAddress> out = new ArrayList<>();
        if (texts == null) {
            return out;
        }
        for (int i = 0; i < texts.size(); i++) {
            InetAddress ip = IpAddresses.parse(texts.get(i));
            if (ip == null) {
                errors.invalid(field + "[" + i + "]", RejectionReason.INVALID_IP, texts.get(i), "must be a valid IP address");
            } else {
                out.add(ip);
            }
        }
        return out;
    }

    /**
     * spec.loadBalancerSourceRanges, trimmed as kube-proxy trims them. Only the spec field counts:
     * kube-proxy does not read the {@code service.beta.kubernetes.io/load-balancer-source-ranges}
     * annotation (cloud providers do, for their own load balancers).
     */
    private static List<Cidr> sourceRanges(List<String> texts, FieldErrors errors) {
        List<Cidr> out = new ArrayList<>();
        if (texts == null) {
            return out;
        }
        boolean anyV4 = false;
        boolean anyV6 = false;
        for (int i = 0; i < texts.size(); i++) {
            String t = texts.get(i);
            try {
                Cidr c = Cidr.parse(t == null ? "" : t.trim());
                if (c.prefixLength() == 0) {
                    if (c.isIpv6()) anyV6 = true; else anyV4 = true;
                }
                out.add(c);
            } catch (IllegalArgumentException e) {
                errors.invalid("spec.loadBalancerSourceRanges[" + i + "]", RejectionReason.INVALID_CIDR, t, e.getMessage());
            }
        }
        boolean dropV4 = anyV4;
        boolean dropV6 = anyV6;
        out.removeIf(c -> c.isIpv6() ? dropV6 : dropV4);
        return out;
    }

    /** The target port as text: its number, its name (an IANA service name), or the port when absent. */
    private static String targetPort(IntOrString tp, int port, String field, FieldErrors errors) {
        if (tp == null || (tp.getIntVal() == null && (tp.getStrVal() == null || tp.getStrVal().isEmpty()))) {
            return port == 0 ? "" : Integer.toString(port);
        }
        if (tp.getIntVal() != null) {
            errors.port(field, tp.getIntVal());
            return tp.getIntVal().toString();
        }
        String s = tp.getStrVal();
        if (!isIanaServiceName(s)) {
            errors.invalid(field, RejectionReason.INVALID_VALUE, s,
                    "must be a port number or an IANA service name (at most 15 lowercase letters, digits and '-', with a letter)");
        }
        return s;
    }

    static boolean isIanaServiceName(String s) {
        if (s.isEmpty() || s.length() > 15 || s.startsWith("-") || s.endsWith("-") || s.contains("--")) {
            return false;
        }
        boolean letter = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 'a' && c <= 'z') {
                letter = true;
            } else if (!(c >= '0' && c <= '9') && c != '-') {
                return false;
            }
        }
        return letter;
    }

    static boolean isDnsSubdomain(String s) {
        String t = s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
        if (t.isEmpty() || t.length() > 253) {
            return false;
        }
        for (String label : t.split("\\.", -1)) {
            if (label.isEmpty() || label.length() > 63 || label.startsWith("-") || label.endsWith("-")) {
                return false;
            }
            for (int i = 0; i < label.length(); i++) {
                char c = label.charAt(i);
                if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-') {
                    return false;
                }
            }
        }
        return true;
    }
}
