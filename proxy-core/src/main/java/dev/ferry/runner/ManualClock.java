package dev.ferry.runner;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.PriorityQueue;

/**
 * A {@link RunnerClock} for tests: time stands still until {@link #advance} moves it, and tasks run
 * on the thread that causes them, so a test needs neither sleeps nor waits. {@link #execute} runs
 * the task at once on the caller's thread — or, when called from a task this clock is running (a
 * sync that offers a change), queues it to run right after that task, as the one thread of a
 * {@link ThreadClock} would. {@link #advance} moves time forward and runs every timer it passes, in
 * time order, each at its own time; called from inside a task (time passing during a slow sync), it
 * only moves time, and the timers it passed run once that task returns. A task that waits for another
 * task of the same clock waits forever: give each stage its own clock.
 *
 * <p>Thread-safe; tasks never run concurrently (a call from a second thread while a task runs
 * queues behind it and returns at once).
 */
public final class ManualClock implements RunnerClock {
    private record Scheduled(long at, long seq, Runnable task, boolean[] cancelled) { }

    private final PriorityQueue<Scheduled> timers = new PriorityQueue<>((a, b) ->
            a.at != b.at ? Long.compare(a.at, b.at) : Long.compare(a.seq, b.seq));
    private final ArrayDeque<Runnable> ready = new ArrayDeque<>();
    private final long startNanos;
    private final long startMillis = System.currentTimeMillis();
    private long now;
    private long seq;
    private boolean running;
    private Thread runner; // the thread running a task, while running

    /** A clock at {@code startNanos}. */
    public ManualClock(long startNanos) {
        this.startNanos = startNanos;
        this.now = startNanos;
    }

    /** A clock at an arbitrary large time, so that code subtracting periods from "now" sees no wrap. */
    public ManualClock() {
        this(1_000_000_000_000L);
    }

    @Override
    public synchronized long nanoTime() {
        return now;
    }

    /** The wall time when this clock was made, plus the time {@link #advance} has moved it since. */
    @Override
    public synchronized long currentTimeMillis() {
        return startMillis + Math.floorDiv(now - startNanos, 1_000_000L);
    }

    @Override
    public void execute(Runnable task) {
        synchronized (this) {
            ready.add(task);
        }
        drain();
    }

    @Override
    public Timer schedule(Runnable task, long atNanos) {
        boolean[] cancelled = {false};
        synchronized (this) {
            timers.add(new Scheduled(atNanos, seq++, task, cancelled));
        }
        drain();
        return () -> {
            synchronized (ManualClock.this) {
                cancelled[0] = true;
            }
        };
    }

    /** Moves time forward by {@code d}, running each timer it passes at its time (and what they cause). */
    public void advance(Duration d) {
        if (d.isNegative()) {
            throw new IllegalArgumentException("time does not go back: " + d);
        }
        long target;
        synchronized (this) {
            target = now + d.toNanos();
            if (running && runner == Thread.currentThread()) {
                now = target; // inside a task: the timers passed run after it
                return;
            }
        }
        while (true) {
            synchronized (this) {
                Scheduled next = firstLive();
                if (next == null || next.at - target > 0) {
                    now = target;
                    break;
                }
                if (next.at - now > 0) {
                    now = next.at;
                }
            }
            drain();
        }
        drain();
    }

    /** How many timers are set and not cancelled (for a test that a stopped runner left none). */
    public synchronized int pendingTimers() {
        int n = 0;
        for (Scheduled s : timers) {
            if (!s.cancelled[0]) {
                n++;
            }
        }
        return n;
    }

    /** Runs ready tasks and due timers until none is left; returns at once if another call is running them. */
    private void drain() {
        while (true) {
            Runnable task;
            synchronized (this) {
                if (running) {
                    return;
                }
                task = ready.poll();
                if (task == null) {
                    Scheduled due = firstLive();
                    if (due == null || due.at - now > 0) {
                        return;
                    }
                    timers.poll();
                    task = due.task;
                }
                running = true;
                runner = Thread.currentThread();
            }
            try {
                task.run();
            } finally {
                synchronized (this) {
                    running = false;
                    runner = null;
                }
            }
        }
    }

    private Scheduled firstLive() {
        Scheduled s = timers.peek();
        while (s != null && s.cancelled[0]) {
            timers.poll();
            s = timers.peek();
        }
        return s;
    }
}
