package dev.ferry.daemon;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds the daemon's shutdown: once armed (on SIGTERM/SIGINT, or when the JVM goes down another
 * way), it halts the JVM if it is still running after the limit, logging the step the orderly
 * shutdown was in and every thread's stack, so a hang is fixed from the log instead of lasting
 * until the kubelet's SIGKILL. Thread-safe; arming twice keeps the first deadline.
 */
public final class ShutdownWatchdog {
    private static final Logger LOG = LoggerFactory.getLogger(ShutdownWatchdog.class);

    private final long limitMillis;
    private volatile String step = "not started";
    private Thread thread;

    public ShutdownWatchdog(long limitMillis) {
        this.limitMillis = limitMillis;
    }

    /** Records what the orderly shutdown is doing now (named in the log if it hangs there). */
    public void step(String what) {
        step = what;
    }

    public synchronized void arm() {
        if (thread != null) {
            return;
        }
        thread = new Thread(() -> {
            try {
                TimeUnit.MILLISECONDS.sleep(limitMillis);
            } catch (InterruptedException e) {
                return;
            }
            StringBuilder stacks = new StringBuilder();
            for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
                Thread t = e.getKey();
                stacks.append("\n\"").append(t.getName()).append("\"").append(t.isDaemon() ? " daemon" : "")
                        .append(' ').append(t.getState());
                StackTraceElement[] frames = e.getValue();
                for (int i = 0; i < Math.min(frames.length, 12); i++) {
                    stacks.append("\n    at ").append(frames[i]);
                }
            }
            LOG.error("shutdown did not finish within {} ms (stuck: {}); halting. Threads:{}", limitMillis, step, stacks);
            Runtime.getRuntime().halt(1);
        }, "ferry-shutdown-watchdog");
        thread.setDaemon(true);
        thread.start();
    }
}
