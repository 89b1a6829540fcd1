package dev.ferry.lb;

/**
 * Picks a backend for a new connection or flow: the one call the proxy makes per connection.
 *
 * <p>Every implementation is safe for any number of concurrent pickers, allocates nothing and
 * takes no lock in {@link #pick}. A scheduler is bound to one {@link Backends} set; when the set
 * changes, build a new scheduler (see {@link Algorithm#newScheduler}) and publish it.
 */
public interface Scheduler {
    /** What {@link #pick} returns when the backend set is empty. */
    int NO_BACKEND = -1;

    /**
     * The index of the chosen backend in {@link #backends()}, or {@link #NO_BACKEND} when there is none.
     *
     * @param sourceKey the client's address (and port, for per-flow spreading), hashed with
     *     {@link FlowHash}; used by {@code sh} and {@code mh}, ignored by the others
     * @param destinationKey the destination address hashed with {@link FlowHash}; used by {@code dh} only
     */
    int pick(long sourceKey, long destinationKey);

    Backends backends();

    Algorithm algorithm();
}
