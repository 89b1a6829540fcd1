package dev.ferry.runner;

import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The real {@link RunnerClock}: {@link System#nanoTime()} and one named daemon thread (a JDK
 * single-thread scheduled executor, so tasks run in the order given and timers fire on the same
 * thread). After {@link #close()} the tasks already given still run, timers set for later are
 * dropped, and {@link #execute} refuses new tasks with {@link RejectedExecutionException} (so a
 * caller waiting for one learns that it will never run). A task that throws is logged and does not
 * stop the thread.
 */
public final class ThreadClock implements RunnerClock, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ThreadClock.class);

    private final ScheduledThreadPoolExecutor executor;
    private final String name;
    private volatile Thread thread;

    public ThreadClock(String threadName) {
        this.name = threadName;
        this.executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            thread = t;
            return t;
        });
        // Runners cancel and set their timer on every run: do not keep cancelled ones queued for hours.
        executor.setRemoveOnCancelPolicy(true);
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

    @Override
    public long nanoTime() {
        return System.nanoTime();
    }

    /** @throws RejectedExecutionException once closed */
    @Override
    public void execute(Runnable task) {
        executor.execute(() -> runLogged(task));
    }

    @Override
    public Timer schedule(Runnable task, long atNanos) {
        try {
            ScheduledFuture<?> f = executor.schedule(() -> runLogged(task), Math.max(0, atNanos - nanoTime()),
                    TimeUnit.NANOSECONDS);
            return () -> f.cancel(false);
        } catch (RejectedExecutionException e) {
            return () -> { };
        }
    }

    private void runLogged(Runnable task) {
        try {
            task.run();
        } catch (RuntimeException e) {
            log.warn("{}: task failed: {}", name, e.toString(), e);
        }
    }

    /**
     * Stops the thread once the tasks already given have run (waited for up to {@code timeout});
     * timers set for later are dropped. Returns whether the thread ended in time.
     */
    public boolean close(Duration timeout) {
        executor.shutdown();
        if (Thread.currentThread() == thread) {
            return true; // closed from one of its own tasks: the thread ends when that task returns
        }
        try {
            return executor.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** {@link #close(Duration)} with 10 s. */
    @Override
    public void close() {
        if (!close(Duration.ofSeconds(10))) {
            log.warn("{}: thread still busy after 10 s at close", name);
        }
    }
}
