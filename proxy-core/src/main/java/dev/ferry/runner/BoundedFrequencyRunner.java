package dev.ferry.runner;

import java.time.Duration;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides when a stage's work runs, with the semantics of kube-proxy's BoundedFrequencyRunner
 * (pkg/util/async): {@link #run()} asks for a run as soon as allowed, and requests made while one is
 * waiting or running coalesce into one; runs start at most once per {@code minInterval}, except
 * that up to {@code burstRuns} may come back to back, the allowance refilling at one per
 * {@code minInterval} (a token bucket, as kube-proxy's); the work runs at least once per
 * {@code maxInterval} even when nobody asks; {@link #retryAfter} makes it run again no later than
 * the given delay (after a failed run). What a run does — and whether a run is due at all — stays
 * with the stage: the runner only decides when.
 *
 * <p>One difference from kube-proxy, for stages that may find nothing to do (a tracker whose cache
 * has not synced yet, a sync loop still backing off): the work returns whether it did anything, and
 * a run that did nothing gives its allowance back, so the first real run after a few idle ones is
 * not held back by {@code minInterval}. Such work asks for its own next look with
 * {@link #retryAfter}.
 *
 * <p>All runs happen on the {@link RunnerClock}'s thread, one at a time, so work scheduled by one
 * runner is serialised with everything else given to that clock; time comes from the clock too, so
 * tests drive it with a {@link ManualClock}. A run that throws is logged and counts as a run; an
 * {@link Error} stops the runner (it is rethrown; nothing runs afterwards).
 *
 * <p>Thread-safety: {@link #start}, {@link #run}, {@link #retryAfter} and {@link #close} may be called
 * from any thread, also from inside the work.
 */
public final class BoundedFrequencyRunner implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BoundedFrequencyRunner.class);
    private static final long NONE = Long.MAX_VALUE;

    /** The stage's work. */
    @FunctionalInterface
    public interface Work {
        /** Does one run; returns false when it found nothing to do (the run then uses no allowance). */
        boolean run();
    }

    private final String name;
    private final Work work;
    private final RunnerClock clock;
    private final long minNanos;
    private final long maxNanos;
    private final int burst;

    // Guarded by this: set from any thread, taken on the clock thread.
    private boolean requested;
    private long retryAt = NONE;
    private boolean wakeQueued;
    private boolean started;
    private boolean stopped;
    private boolean running;
    private Thread runThread; // the thread in the work while running

    // Clock thread only.
    private double tokens;
    private long refilledAt;
    private long periodicAt;
    private long timerAt = NONE;
    private RunnerClock.Timer timer;

    /**
     * @param minInterval shortest time between the starts of two runs (zero: no limit), modulo bursts
     * @param maxInterval longest time between two runs; at least {@code minInterval}
     * @param burstRuns runs allowed back to back (at least 1)
     */
    public BoundedFrequencyRunner(String name, Work work, Duration minInterval, Duration maxInterval, int burstRuns,
            RunnerClock clock) {
        this.name = Objects.requireNonNull(name, "name");
        this.work = Objects.requireNonNull(work, "work");
        this.clock = Objects.requireNonNull(clock, "clock");
        if (minInterval.isNegative() || maxInterval.compareTo(minInterval) < 0 || maxInterval.isZero()) {
            throw new IllegalArgumentException(name + ": need 0 <= minInterval <= maxInterval and maxInterval > 0, got "
                    + minInterval + " and " + maxInterval);
        }
        if (burstRuns < 1) {
            throw new IllegalArgumentException(name + ": burstRuns must be at least 1, got " + burstRuns);
        }
        this.minNanos = minInterval.toNanos();
        this.maxNanos = maxInterval.toNanos();
        this.burst = burstRuns;
    }

    /**
     * Starts the periodic schedule: the first run comes after {@code maxInterval}, or earlier when
     * asked. Requests made before start wait for it.
     */
    public BoundedFrequencyRunner start() {
        synchronized (this) {
            if (started) {
                throw new IllegalStateException(name + ": already started");
            }
            started = true;
        }
        onClock(() -> {
            long now = clock.nanoTime();
            tokens = burst;
            refilledAt = now;
            periodicAt = now + maxNanos;
            evaluate();
        });
        return this;
    }

    /** Asks for a run as soon as {@code minInterval} allows; requests pending together make one run. */
    public void run() {
        synchronized (this) {
            requested = true;
        }
        wake();
    }

    /**
     * Makes the work run again no later than {@code delay} from now (an earlier run, requested or
     * periodic, satisfies it); of several pending retries the earliest counts. The delay is measured
     * from this call, not from when the clock thread gets to it.
     */
    public void retryAfter(Duration delay) {
        long at = clock.nanoTime() + Math.max(0, delay.toNanos());
        synchronized (this) {
            if (retryAt == NONE || at - retryAt < 0) {
                retryAt = at;
            }
        }
        wake();
    }

    /**
     * Stops the runner: no run starts afterwards. Called from outside the work, it waits (up to 10 s)
     * for a run in progress to end; from inside, the current run completes normally.
     */
    @Override
    public void close() {
        synchronized (this) {
            stopped = true;
            notifyAll();
        }
        onClock(this::cancelTimer);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        synchronized (this) {
            while (running && !onClockThreadInsideRun()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    log.warn("{}: a run was still in progress 10 s after close", name);
                    return;
                }
                try {
                    wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private boolean onClockThreadInsideRun() {
        return runThread == Thread.currentThread();
    }

    private void wake() {
        synchronized (this) {
            if (wakeQueued || stopped || !started) {
                return;
            }
            wakeQueued = true;
        }
        onClock(this::evaluate);
    }

    private void onClock(Runnable task) {
        try {
            clock.execute(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // The clock was closed under a stopping stage: there is nothing left to run.
        }
    }

    /** On the clock thread: runs the work if due and allowed, then sets the timer for the next look. */
    private void evaluate() {
        long now = clock.nanoTime();
        boolean go = false;
        synchronized (this) {
            wakeQueued = false;
            if (stopped) {
                cancelTimer();
                return;
            }
            boolean due = requested || (retryAt != NONE && now - retryAt >= 0) || now - periodicAt >= 0;
            if (due && allowed(now)) {
                go = true;
                requested = false;
                retryAt = NONE;
                running = true;
                runThread = Thread.currentThread();
            }
        }
        if (go) {
            runOnce(now);
            now = clock.nanoTime();
        }
        setTimer(now);
    }

    private void runOnce(long startedAt) {
        if (minNanos > 0) {
            tokens -= 1;
        }
        boolean didWork = true;
        try {
            didWork = work.run();
        } catch (RuntimeException e) {
            log.warn("{}: run failed: {}", name, e.toString(), e);
        } catch (Error e) {
            log.error("{}: run failed, the runner stops: {}", name, e.toString(), e);
            synchronized (this) {
                stopped = true;
            }
            throw e;
        } finally {
            synchronized (this) {
                running = false;
                runThread = null;
                notifyAll();
            }
        }
        if (!didWork && minNanos > 0) {
            tokens = Math.min(burst, tokens + 1);
        }
        // kube-proxy measures maxInterval from the end of the last run; so does this.
        periodicAt = clock.nanoTime() + maxNanos;
        if (didWork) {
            log.trace("{}: ran (started {} ns ago)", name, clock.nanoTime() - startedAt);
        }
    }

    /** Refills the token bucket to now and says whether a run may start. */
    private boolean allowed(long now) {
        if (minNanos == 0) {
            return true;
        }
        refill(now);
        return tokens >= 1;
    }

    private void refill(long now) {
        if (minNanos > 0) {
            tokens = Math.min(burst, tokens + (double) (now - refilledAt) / minNanos);
            refilledAt = now;
        }
    }

    /** The next moment something may be due: the periodic run, a retry, or the allowance for a waiting request. */
    private void setTimer(long now) {
        long next;
        synchronized (this) {
            if (stopped) {
                cancelTimer();
                return;
            }
            boolean dueNow = requested || (retryAt != NONE && now - retryAt >= 0) || now - periodicAt >= 0;
            if (dueNow) {
                // Only the allowance holds it back (or a request came while the work ran).
                refill(now);
                next = minNanos == 0 || tokens >= 1 ? now : now + Math.max(1, (long) Math.ceil((1 - tokens) * minNanos));
            } else {
                next = retryAt != NONE && retryAt - periodicAt < 0 ? retryAt : periodicAt;
            }
        }
        if (timer != null && timerAt == next) {
            return;
        }
        cancelTimer();
        timerAt = next;
        timer = clock.schedule(this::onTimer, next);
    }

    /** The timer fired: it is spent, so the next {@link #setTimer} must set a new one even for the same time. */
    private void onTimer() {
        timer = null;
        timerAt = NONE;
        evaluate();
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel();
            timer = null;
            timerAt = NONE;
        }
    }

    @Override
    public String toString() {
        return "BoundedFrequencyRunner[" + name + "]";
    }
}
