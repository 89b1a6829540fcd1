package dev.ferry.proxy;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;

/**
 * Warnings that a client can trigger at any rate (a refused flow, a failed accept): at most one
 * line per reason per interval, which says how many were suppressed since the last line. A flood
 * then costs the log a line every interval instead of a line per packet.
 *
 * <p>Thread-safe: any event loop may call {@link #warn}; counting is lock-free and a suppressed
 * call allocates nothing.
 */
final class RateLimitedLog {
    private final Logger log;
    private final long intervalNanos;
    private final LongSupplier nanoClock;
    private final ConcurrentHashMap<String, Slot> slots = new ConcurrentHashMap<>();

    private static final class Slot {
        final AtomicLong nextAllowed = new AtomicLong(Long.MIN_VALUE);
        final AtomicLong suppressed = new AtomicLong();
    }

    RateLimitedLog(Logger log, long intervalNanos, LongSupplier nanoClock) {
        this.log = log;
        this.intervalNanos = intervalNanos;
        this.nanoClock = nanoClock;
    }

    /** Ten seconds per reason. */
    RateLimitedLog(Logger log) {
        this(log, 10_000_000_000L, System::nanoTime);
    }

    /**
     * Logs {@code message} (an SLF4J pattern with {@code args}) unless a line for {@code reason}
     * was logged within the interval; then only counts it.
     *
     * @return whether a line was written
     */
    boolean warn(String reason, String message, Object... args) {
        Slot s = slots.computeIfAbsent(reason, r -> new Slot());
        long now = nanoClock.getAsLong();
        long next = s.nextAllowed.get();
        if ((next != Long.MIN_VALUE && now - next < 0) || !s.nextAllowed.compareAndSet(next, now + intervalNanos)) {
            s.suppressed.incrementAndGet();
            return false;
        }
        long skipped = s.suppressed.getAndSet(0);
        if (log.isWarnEnabled()) {
            String suffix = skipped == 0 ? "" : " (" + skipped + " more like it in the last "
                    + intervalNanos / 1_000_000_000L + " s, not logged)";
            log.warn("[" + reason + "] " + message + suffix, args);
        }
        return true;
    }
}
