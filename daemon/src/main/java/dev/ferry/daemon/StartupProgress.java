package dev.ferry.daemon;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * `ferry run`'s start-up: milestones in milliseconds since the JVM started (what a restart costs
 * the userspace proxy's clients is all of it), and whether the data plane serves the source's first
 * table yet — the userspace proxy's health condition while it starts: its listeners are bound only
 * after the first table write, so /healthz says 503 "starting" until then. Thread-safe: marks come
 * from the main thread, the conntrack opener and the table writer.
 */
public final class StartupProgress {
    private static final Logger LOG = LoggerFactory.getLogger(StartupProgress.class);

    private final long jvmStartMillis;
    private final LongSupplier clockMillis;
    private final List<String> marks = new ArrayList<>();
    private volatile boolean served;

    public StartupProgress(long jvmStartMillis, LongSupplier clockMillis) {
        this.jvmStartMillis = jvmStartMillis;
        this.clockMillis = clockMillis;
    }

    /** Counting from this JVM's start (RuntimeMXBean's start time). */
    public static StartupProgress sinceJvmStart() {
        return new StartupProgress(ManagementFactory.getRuntimeMXBean().getStartTime(), System::currentTimeMillis);
    }

    /** Records that {@code what} is done now; only its first time counts (a retried step is marked once). */
    public synchronized void mark(String what) {
        markAt(what, clockMillis.getAsLong());
    }

    /** Records that {@code what} was done at {@code epochMillis} (e.g. on a thread that ran before this existed). */
    public synchronized void markAt(String what, long epochMillis) {
        String prefix = what + " +";
        if (marks.stream().noneMatch(m -> m.startsWith(prefix))) {
            marks.add(prefix + (epochMillis - jvmStartMillis));
        }
    }

    /** The milestones so far, in the order they were reached, e.g. {@code [main +310, health server +352]}. */
    public synchronized List<String> marks() {
        return List.copyOf(marks);
    }

    /**
     * The data plane has taken in the source's first table (the userspace proxy bound its listeners
     * for it): logs the milestones once and ends the "starting" condition. Later calls do nothing.
     */
    public void served(String what) {
        if (served) {
            return;
        }
        mark(what);
        served = true;
        LOG.info("start-up, ms after the JVM started: {}", String.join(", ", marks()));
    }

    public boolean isServed() {
        return served;
    }

    /** The "starting" health condition: null once served, else why not yet. */
    public String startingFailure() {
        return served ? null : "the userspace proxy binds its listeners after the source's first table write, not done yet";
    }
}
