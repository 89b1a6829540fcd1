package dev.ferry.runner;

import java.util.concurrent.Executor;

/**
 * Time and a thread for {@link BoundedFrequencyRunner}s (and whatever else a stage wants kept in
 * line with its runs): every task handed to {@link #execute} or {@link #schedule} runs on the
 * clock's one thread, one at a time, tasks given to {@code execute} in the order given. Stages take
 * it as a constructor argument so that a test can pass a {@link ManualClock} and move time itself
 * instead of sleeping; production passes {@link ThreadClock}.
 *
 * <p>Implementations are safe to call from any thread.
 */
public interface RunnerClock extends Executor {

    /** Monotonic time in nanoseconds (only differences mean anything), as {@link System#nanoTime()}. */
    long nanoTime();

    /**
     * Wall-clock time in epoch milliseconds, for what a stage reports (when a change was programmed,
     * since when one is pending); moves with {@link #nanoTime()} on a manual clock.
     */
    default long currentTimeMillis() {
        return System.currentTimeMillis();
    }

    /** Runs {@code task} on the clock's thread soon, after the tasks already given. */
    @Override
    void execute(Runnable task);

    /**
     * Runs {@code task} on the clock's thread once {@link #nanoTime()} has reached {@code atNanos}
     * (at once if it has); the returned handle cancels it if it has not started.
     */
    Timer schedule(Runnable task, long atNanos);

    /** A scheduled task. */
    interface Timer {
        /** Drops the task unless it has started; idempotent. */
        void cancel();
    }
}
