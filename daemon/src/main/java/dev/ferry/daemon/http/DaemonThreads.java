package dev.ferry.daemon.http;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Starts an HTTP server so that its threads are daemon threads. The JDK's HttpServer (which the
 * Prometheus exporter uses too) creates its dispatcher thread in start() without setting daemon,
 * so it inherits the status of the thread calling start(): called from main, it would keep the JVM
 * alive after everything else stopped — a daemon that cannot exit on SIGTERM if its orderly
 * shutdown never reaches close(). Starting it from a short-lived daemon thread fixes that.
 */
final class DaemonThreads {
    private DaemonThreads() {}

    interface Start<T> {
        T start() throws IOException;
    }

    /** Runs {@code start} on a new daemon thread and returns its result (or its exception). */
    static <T> T start(String name, Start<T> start) throws IOException {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                result.set(start.start());
            } catch (Throwable e) {
                failure.set(e);
            }
        }, name);
        t.setDaemon(true);
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while starting " + name, e);
        }
        Throwable e = failure.get();
        if (e instanceof IOException io) {
            throw io;
        }
        if (e instanceof RuntimeException re) {
            throw re;
        }
        if (e instanceof Error err) {
            throw err;
        }
        return result.get();
    }
}
