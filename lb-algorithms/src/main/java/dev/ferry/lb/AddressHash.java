package dev.ferry.lb;

/**
 * IPVS {@code sh} (by source address) and {@code dh} (by destination address): the same key always
 * gets the same backend while the set is unchanged, and keys spread in proportion to weight.
 *
 * <p>Not consistent hashing: when the set changes, most keys move (as with IPVS's {@code sh} and
 * {@code dh}); use {@code mh} ({@link Maglev}) where keys should stay put. The key is mixed again
 * before use, so a raw address works as well as a {@link FlowHash}. Immutable; thread-safe.
 */
public final class AddressHash implements Scheduler {
    private final Backends backends;
    private final WeightedIndex byWeight;
    private final boolean bySource;

    private AddressHash(Backends backends, boolean bySource) {
        this.backends = backends;
        this.byWeight = new WeightedIndex(backends);
        this.bySource = bySource;
    }

    /** {@code sh}: picks by {@code sourceKey}. */
    public static AddressHash bySource(Backends backends) {
        return new AddressHash(backends, true);
    }

    /** {@code dh}: picks by {@code destinationKey}. */
    public static AddressHash byDestination(Backends backends) {
        return new AddressHash(backends, false);
    }

    @Override
    public int pick(long sourceKey, long destinationKey) {
        if (backends.isEmpty()) {
            return NO_BACKEND;
        }
        return byWeight.index(FlowHash.mix(bySource ? sourceKey : destinationKey));
    }

    @Override
    public Backends backends() {
        return backends;
    }

    @Override
    public Algorithm algorithm() {
        return bySource ? Algorithm.SH : Algorithm.DH;
    }
}
