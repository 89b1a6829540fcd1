package dev.ferry.rules;

import java.time.Duration;

/**
 * Exponential back-off between retries of a failed apply: initial, doubled per failure, capped at
 * max; {@link #reset()} after a success. Not thread-safe: owned by one sync loop.
 */
public final class Backoff {
    private final long initialNanos;
    private final long maxNanos;
    private long next;

    public Backoff(Duration initial, Duration max) {
        if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("back-off needs 0 < initial <= max, got " + initial + " and " + max);
        }
        this.initialNanos = initial.toNanos();
        this.maxNanos = max.toNanos();
        this.next = initialNanos;
    }

    /** The delay before the next retry; each call doubles the following one, up to max. */
    public Duration nextDelay() {
        long d = next;
        next = Math.min(maxNanos, next > maxNanos / 2 ? maxNanos : next * 2);
        return Duration.ofNanos(d);
    }

    public void reset() {
        next = initialNanos;
    }
}
