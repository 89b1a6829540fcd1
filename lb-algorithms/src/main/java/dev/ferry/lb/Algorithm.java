package dev.ferry.lb;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The backend selection algorithms, under the names IPVS gives its schedulers (so that users of
 * kube-proxy's {@code ipvs.scheduler} recognise them), plus {@code p2c} and {@code random}. Resolves
 * a name to an algorithm and builds its {@link Scheduler} for a backend set. Immutable; thread-safe.
 */
public enum Algorithm {
    RR("rr", "round robin"),
    WRR("wrr", "smooth weighted round robin"),
    LC("lc", "least connections"),
    WLC("wlc", "weighted least connections"),
    SH("sh", "source address hash"),
    DH("dh", "destination address hash"),
    MH("mh", "Maglev consistent hashing"),
    P2C("p2c", "power of two choices on connection counts"),
    RANDOM("random", "random, in proportion to weight");

    /** Accepted in place of {@code mh}: the issue and the docs call it by this name. */
    public static final String MAGLEV_ALIAS = "maglev";

    private final String schedulerName;
    private final String description;

    Algorithm(String schedulerName, String description) {
        this.schedulerName = schedulerName;
        this.description = description;
    }

    /** The name used in annotations and config: {@code rr}, {@code mh}, ... */
    public String schedulerName() {
        return schedulerName;
    }

    public String description() {
        return description;
    }

    /** True for the algorithms that read {@link ConnectionCounts}. */
    public boolean usesConnectionCounts() {
        return this == LC || this == WLC || this == P2C;
    }

    /**
     * True for the algorithms whose pick is a function of the flow's addresses and the backend set
     * alone (no turn, count or random state), so another process can compute it exactly.
     */
    public boolean picksByHash() {
        return this == SH || this == DH || this == MH;
    }

    /**
     * The algorithm with this name. Names are exact (lower case, no spaces), as kube-proxy checks
     * {@code ipvs.scheduler}.
     *
     * @throws UnknownAlgorithmException naming {@code name} and listing the valid names
     */
    public static Algorithm named(String name) {
        if (name != null) {
            if (name.equals(MAGLEV_ALIAS)) {
                return MH;
            }
            for (Algorithm a : values()) {
                if (a.schedulerName.equals(name)) {
                    return a;
                }
            }
        }
        throw new UnknownAlgorithmException(name, validNames());
    }

    /** Every accepted name, in declaration order, then the alias. */
    public static List<String> validNames() {
        List<String> names = Arrays.stream(values()).map(Algorithm::schedulerName).collect(Collectors.toList());
        names.add(MAGLEV_ALIAS);
        return List.copyOf(names);
    }

    /**
     * A scheduler over {@code backends}. {@code counts} feeds {@code lc}, {@code wlc} and
     * {@code p2c} and must be sized for {@code backends}; the others ignore it (it may be null).
     * Cold path: {@code mh} fills a 65537-slot table, {@code wrr} plays one period.
     *
     * @throws IllegalArgumentException if an algorithm that uses counts gets none or the wrong size
     */
    public Scheduler newScheduler(Backends backends, ConnectionCounts counts) {
        if (usesConnectionCounts() && counts == null) {
            throw new IllegalArgumentException(schedulerName + " needs connection counts");
        }
        switch (this) {
            case RR: return new RoundRobin(backends);
            case WRR: return new SmoothWeightedRoundRobin(backends);
            case LC: return new LeastConnections(backends, counts, false);
            case WLC: return new LeastConnections(backends, counts, true);
            case SH: return AddressHash.bySource(backends);
            case DH: return AddressHash.byDestination(backends);
            case MH: return new Maglev(backends);
            case P2C: return new PowerOfTwoChoices(backends, counts);
            case RANDOM: return new RandomChoice(backends);
            default: throw new AssertionError(this);
        }
    }
}
