package dev.ferry.rules;

import dev.ferry.model.Rejection;
import dev.ferry.model.RejectionReason;
import dev.ferry.model.Endpoint;
import dev.ferry.model.FrontendClaims;
import dev.ferry.model.ServicePort;
import dev.ferry.model.SessionAffinity;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The check every renderer runs before rendering, so that one bad service port is left out with a
 * reason instead of making the kernel refuse the whole transaction: port numbers in range, names
 * that are safe inside rule comments, an affinity timeout the kernel accepts, and no two service
 * ports claiming the same frontend (address, port, protocol) — {@link FrontendClaims} decides, as it
 * does for the daemon's table: the later one in name order loses.
 * Stateless and thread-safe.
 */
public final class ServicePortValidator {
    // Namespaces and service names are DNS labels (at most 63): anything else could break out of a quoted
    // comment, and longer names would push "ns/name:port cluster IP" past the kernel's 256-byte comment limit.
    private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final Pattern PORT_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    /** The recent match's --seconds and kube-proxy's validation both cap the timeout at one day. */
    public static final int MAX_AFFINITY_SECONDS = 86400;

    /** The outcome: the service ports to render, in name order, and the rejected ones with reasons. */
    public record Result(List<ServicePort> accepted, List<Rejection> rejected) {
        public Result {
            accepted = List.copyOf(accepted);
            rejected = List.copyOf(rejected);
        }
    }

    private ServicePortValidator() {}

    public static Result validate(Collection<ServicePort> ports) {
        return validate(ports, sp -> false);
    }

    /**
     * As {@link #validate(Collection)}, skipping {@link #check} for ports alreadyChecked says passed it
     * before (e.g. the very object accepted by the previous sync); frontend claims are always taken.
     */
    public static Result validate(Collection<ServicePort> ports, Predicate<ServicePort> alreadyChecked) {
        List<ServicePort> sorted = new ArrayList<>(ports);
        sorted.sort((a, b) -> a.name().compareTo(b.name()));
        List<ServicePort> ok = new ArrayList<>(sorted.size());
        List<Rejection> bad = new ArrayList<>();
        FrontendClaims claims = new FrontendClaims(sorted.size());
        for (ServicePort sp : sorted) {
            Rejection r = alreadyChecked.test(sp) ? null : check(sp);
            if (r == null) {
                FrontendClaims.Conflict c = claims.claim(sp);
                if (c != null) {
                    r = reject(sp, "spec", RejectionReason.INVALID_VALUE, c.reason(sp.name().protocol()));
                }
            }
            if (r == null) {
                ok.add(sp);
            } else {
                bad.add(r);
            }
        }
        return new Result(ok, bad);
    }

    /** The first problem with sp on its own, or null. */
    public static Rejection check(ServicePort sp) {
        var n = sp.name();
        if (!NAME.matcher(n.namespace()).matches()) {
            return reject(sp, "metadata.namespace", RejectionReason.INVALID_VALUE,
                    "Invalid value: \"" + printable(n.namespace()) + "\": must be a DNS label");
        }
        if (!NAME.matcher(n.name()).matches()) {
            return reject(sp, "metadata.name", RejectionReason.INVALID_VALUE,
                    "Invalid value: \"" + printable(n.name()) + "\": must be a DNS label");
        }
        if (!n.portName().isEmpty() && !PORT_NAME.matcher(n.portName()).matches()) {
            return reject(sp, "spec.ports[].name", RejectionReason.INVALID_VALUE,
                    "Invalid value: \"" + printable(n.portName()) + "\": must be a DNS label");
        }
        if (sp.frontends().isEmpty()) {
            return null; // headless / ExternalName: nothing is rendered for it
        }
        if (!validPort(sp.port())) {
            return reject(sp, "spec.ports[].port", RejectionReason.INVALID_PORT,
                    "Invalid value: " + sp.port() + ": must be between 1 and 65535");
        }
        if (sp.nodePort() != 0 && !validPort(sp.nodePort())) {
            return reject(sp, "spec.ports[].nodePort", RejectionReason.INVALID_PORT,
                    "Invalid value: " + sp.nodePort() + ": must be between 1 and 65535");
        }
        if (sp.healthCheckNodePort() != 0 && !validPort(sp.healthCheckNodePort())) {
            return reject(sp, "spec.healthCheckNodePort", RejectionReason.INVALID_PORT,
                    "Invalid value: " + sp.healthCheckNodePort() + ": must be between 1 and 65535");
        }
        if (sp.sessionAffinity() == SessionAffinity.CLIENT_IP
                && (sp.affinityTimeoutSeconds() < 1 || sp.affinityTimeoutSeconds() > MAX_AFFINITY_SECONDS)) {
            return reject(sp, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", RejectionReason.INVALID_VALUE,
                    "Invalid value: " + sp.affinityTimeoutSeconds() + ": must be between 1 and " + MAX_AFFINITY_SECONDS);
        }
        List<Endpoint> eps = sp.endpoints();
        for (int i = 0; i < eps.size(); i++) {
            Endpoint e = eps.get(i);
            if (!validPort(e.port())) {
                return reject(sp, "endpoints[" + i + "].port", RejectionReason.INVALID_PORT,
                        "Invalid value: " + e.port() + ": must be between 1 and 65535 (endpoint " + e.hostPort() + ")");
            }
            if (e.address().isAnyLocalAddress() || e.address().isMulticastAddress()) {
                return reject(sp, "endpoints[" + i + "].addresses", RejectionReason.INVALID_IP,
                        "Invalid value: " + e.hostPort() + ": not a unicast address");
            }
        }
        return null;
    }

    private static boolean validPort(int p) {
        return p >= 1 && p <= 65535;
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 80; i++) {
            char c = s.charAt(i);
            b.append(c < 0x20 || c == '"' || c == 0x7f ? '?' : c);
        }
        return b.toString();
    }

    private static Rejection reject(ServicePort sp, String field, RejectionReason reason, String detail) {
        return new Rejection("Service", sp.name().namespace(), sp.name().name(), field, reason,
                detail + " (service port " + sp.name() + "/" + sp.name().protocol() + ")");
    }
}
