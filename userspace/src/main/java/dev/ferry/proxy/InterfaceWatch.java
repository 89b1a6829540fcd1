package dev.ferry.proxy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells when the kernel changes one interface or its addresses, from its netlink notifications:
 * follows {@code ip -o monitor link address} (one line per event) and calls back for each line that
 * names the interface, so a flushed or deleted service interface is repaired at once instead of at
 * the next periodic check. Best effort by design: if {@code ip monitor} cannot start or exits, that
 * is logged once and the periodic check still repairs within its period.
 *
 * <p>The callback runs on the watch's own daemon thread; it should only hand the work over.
 */
public final class InterfaceWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(InterfaceWatch.class);

    private final Process process;
    private final Thread reader;
    private final AtomicLong events = new AtomicLong();
    private volatile boolean closed;

    private InterfaceWatch(String name, Process process, Runnable onChange) {
        this.process = process;
        Pattern names = Pattern.compile("(^|[\\s:])" + Pattern.quote(name) + "([\\s:@\\\\]|$)");
        this.reader = new Thread(() -> follow(names, onChange), "ferry-watch-" + name);
        this.reader.setDaemon(true);
    }

    /** Starts following {@code name}'s events; null (logged) when {@code ip monitor} cannot run. */
    public static InterfaceWatch start(String name, Runnable onChange) {
        Process p;
        try {
            // The monitor must not outlive Ferry (kill -9 included): the shell ends it when its stdin,
            // a pipe from this JVM, reaches end of file, which the kernel ensures on any exit; and the
            // shell exits when the monitor does, so alive() tells whether events are followed.
            p = new ProcessBuilder("sh", "-c", "exec 3<&0; ip -o monitor link address & m=$!;"
                    + " { cat <&3 >/dev/null; kill $m; } >/dev/null 2>&1 & wait $m").redirectErrorStream(true).start();
        } catch (IOException e) {
            LOG.warn("cannot follow netlink events of {} ({}); it is still checked every second", name, e.getMessage());
            return null;
        }
        InterfaceWatch w = new InterfaceWatch(name, p, onChange);
        w.reader.start();
        return w;
    }

    private void follow(Pattern names, Runnable onChange) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (names.matcher(line).find()) {
                    events.incrementAndGet();
                    onChange.run();
                }
            }
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                LOG.warn("following netlink events stopped: {}", e.toString());
            }
        }
        if (!closed) {
            LOG.warn("ip monitor exited; the service interface is still checked every second");
        }
    }

    /** Whether {@code ip monitor} is still running (events are being followed). */
    public boolean alive() {
        return !closed && process.isAlive();
    }

    /** Events seen that named the interface. */
    public long events() {
        return events.get();
    }

    @Override
    public void close() {
        closed = true;
        try {
            process.getOutputStream().close(); // end of file: the shell stops the monitor and exits
        } catch (IOException e) {
            process.descendants().forEach(ProcessHandle::destroy);
            process.destroy();
        }
        try {
            if (!process.waitFor(2, TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
