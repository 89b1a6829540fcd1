package dev.ferry.dns;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * A per-client-source query budget (generic cell rate algorithm): {@code perSecond} queries a
 * second with a burst of one second's worth, per IPv4 address or IPv6 /64 (one host usually owns a
 * whole /64). Sources share a fixed table of 65 536 slots chosen by a hash seeded at random, so
 * memory is bounded whatever the number of sources, and an attacker cannot aim at a victim's slot;
 * two sources that share a slot share a budget. Loopback is never limited.
 *
 * <p>Thread-safe and lock-free (one CAS per query); allocates nothing for IPv4 sources.
 */
final class ClientRateLimit {
    private static final int SLOTS = 1 << 16;

    private final long intervalNanos;
    private final long burstNanos;
    private final int seed = new SecureRandom().nextInt();
    private final LongSupplier clock;
    private final long origin;
    /** Per slot, the theoretical arrival time of its next query, in nanos since {@link #origin}. */
    private final AtomicLongArray next;

    /** @param perSecond queries per second per source; 0 means no limit */
    ClientRateLimit(int perSecond) {
        this(perSecond, System::nanoTime);
    }

    /** @param clock nanoseconds, monotonic (System::nanoTime; tests pass their own) */
    ClientRateLimit(int perSecond, LongSupplier clock) {
        this.clock = clock;
        this.origin = clock.getAsLong();
        this.intervalNanos = perSecond == 0 ? 0 : 1_000_000_000L / perSecond;
        this.burstNanos = 1_000_000_000L;
        this.next = perSecond == 0 ? null : new AtomicLongArray(SLOTS);
    }

    /** True when a query from this source may be answered now (and spends one from its budget). */
    boolean tryAcquire(InetAddress source) {
        if (next == null || source.isLoopbackAddress()) return true;
        int slot = slot(source);
        long now = clock.getAsLong() - origin;
        while (true) {
            long t = next.get(slot);
            long start = Math.max(t, now);
            if (start - now >= burstNanos) return false;
            if (next.compareAndSet(slot, t, start + intervalNanos)) return true;
        }
    }

    private int slot(InetAddress a) {
        int h;
        if (a instanceof Inet4Address) {
            h = a.hashCode(); // the address itself
        } else {
            byte[] b = a.getAddress();
            h = 0;
            for (int i = 0; i < 8; i++) h = h * 31 + b[i];
        }
        h = (h ^ seed) * 0x9E3779B9;
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        return h & (SLOTS - 1);
    }
}
