package dev.ferry.source;

import dev.ferry.convert.ClusterConverter;
import dev.ferry.convert.Conversion;
import dev.ferry.model.Rejection;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the Services and EndpointSlices of one Kubernetes YAML file ({@code ferry run --source}):
 * loads it, watches it, and hands every new full {@link Snapshot} to the consumer given at
 * construction.
 *
 * <p>Watching polls the file's size, modification time and identity (so an editor that writes a
 * new file and renames it over the old one is seen) every poll interval, and re-hashes the content
 * every {@value #REHASH_EVERY} polls in case a rewrite kept all three. A change is loaded once the
 * file has stayed the same for one interval, so a file caught half-written is not read; identical
 * content is not delivered twice.
 *
 * <p>A file that cannot be used (missing, unreadable, not YAML, a field of the wrong type, too
 * large, an alias bomb) keeps the last good snapshot: the consumer is not called, the error
 * ({@code file:line:column: field: problem}) is logged, kept in {@link #lastError()} and counted.
 * Rejected objects in a usable file do not block the rest: the good ones are delivered and each
 * rejection is logged with its position.
 *
 * <p>An empty (0-byte) file is "not written yet", not "no services": editors and config tools
 * truncate a file and write it a moment later, and taking the gap as an empty list would remove
 * every service for that moment. The last snapshot stays, and the source says so once per
 * truncation ({@link #waitingForContent()}). A file that says it is empty ({@code kind: List} with
 * {@code items: []}, or only comments) is delivered as such.
 *
 * <p>The consumer may throw (e.g. the table write failed): the failure is logged with its reason
 * and counted ({@link #deliveryFailures()}), the snapshot does not become {@link #current()}, and
 * the same content is delivered again at the next re-hash ({@value #REHASH_EVERY} polls).
 *
 * <p>Threads: {@link #start()} loads synchronously and calls the consumer on the caller's thread;
 * later loads call it on the source's own daemon thread, one at a time. The getters are safe from
 * any thread. {@link #close()} stops the thread and waits for it.
 */
public final class FileSource implements AutoCloseable {
    /** Default poll interval. */
    public static final Duration DEFAULT_POLL = Duration.ofMillis(500);
    static final int REHASH_EVERY = 20;

    private static final Logger log = LoggerFactory.getLogger(FileSource.class);

    private final Path file;
    private final Duration poll;
    private final Consumer<Snapshot> consumer;
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong rejections = new AtomicLong();
    private final AtomicLong generation = new AtomicLong();
    private final AtomicLong deliveryFailures = new AtomicLong();
    private final ManifestReader.Limits limits;
    private volatile boolean waitingForContent;
    private volatile ManifestException lastError;
    private volatile Snapshot current;
    private ScheduledExecutorService thread;

    // Watch state, touched only by the source thread (and by start() before the thread exists).
    private Stamp loadedStamp;
    private Stamp previousStamp;
    private byte[] loadedHash;
    private int pollsSinceHash;

    public FileSource(Path file, Consumer<Snapshot> consumer) {
        this(file, DEFAULT_POLL, consumer);
    }

    public FileSource(Path file, Duration poll, Consumer<Snapshot> consumer) {
        this(file, poll, ManifestReader.Limits.DEFAULTS, consumer);
    }

    public FileSource(Path file, Duration poll, ManifestReader.Limits limits, Consumer<Snapshot> consumer) {
        this.file = Objects.requireNonNull(file, "file");
        this.limits = Objects.requireNonNull(limits, "limits");
        this.poll = Objects.requireNonNull(poll, "poll");
        this.consumer = Objects.requireNonNull(consumer, "consumer");
        if (poll.isNegative() || poll.isZero()) {
            throw new IllegalArgumentException("poll interval must be positive: " + poll);
        }
    }

    /**
     * Loads the file once (delivering the first snapshot on this thread) and starts watching it.
     *
     * @throws ManifestException when the file is missing or unusable; nothing is started then
     * @throws IllegalStateException when already started
     */
    public synchronized void start() throws ManifestException {
        if (thread != null) {
            throw new IllegalStateException("already started");
        }
        Stamp stamp = Stamp.of(file);
        byte[] hash = stamp.empty() ? waitForContent() : load(true);
        loadedStamp = stamp;
        previousStamp = stamp;
        loadedHash = hash;
        thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ferry-file-source");
            t.setDaemon(true);
            return t;
        });
        long nanos = poll.toNanos();
        thread.scheduleWithFixedDelay(this::pollOnce, nanos, nanos, TimeUnit.NANOSECONDS);
    }

    /** The last snapshot delivered, or null before the first successful load. */
    public Snapshot current() {
        return current;
    }

    /** The error of the last load attempt, or null when it succeeded. */
    public ManifestException lastError() {
        return lastError;
    }

    /** How many load attempts failed (the file was kept at its last good snapshot). */
    public long errorCount() {
        return errors.get();
    }

    /** How many times the consumer failed on a snapshot (e.g. a table write); each is retried. */
    public long deliveryFailures() {
        return deliveryFailures.get();
    }

    /** True while the file is empty (0 bytes): the last snapshot is kept until it has content. */
    public boolean waitingForContent() {
        return waitingForContent;
    }

    /** How many object rejections all loads have reported. */
    public long rejectionCount() {
        return rejections.get();
    }

    public Path file() {
        return file;
    }

    @Override
    public synchronized void close() {
        if (thread == null) {
            return;
        }
        thread.shutdownNow();
        try {
            if (!thread.awaitTermination(10, TimeUnit.SECONDS)) {
                log.warn("{}: the watch thread did not stop within 10 s", file);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void pollOnce() {
        try {
            Stamp stamp = Stamp.of(file);
            boolean rehash = ++pollsSinceHash >= REHASH_EVERY;
            if (stamp.equals(loadedStamp) && (!rehash || stamp.missing() || stamp.empty())) {
                previousStamp = stamp;
                return;
            }
            if (!stamp.equals(previousStamp)) {
                previousStamp = stamp; // still changing (or just changed): wait one interval for it to settle
                return;
            }
            pollsSinceHash = 0;
            if (stamp.empty()) {
                waitForContent();
                loadedStamp = stamp;
                return;
            }
            byte[] hash = stamp.missing() ? null : hash(file);
            if (hash != null && Arrays.equals(hash, loadedHash)) {
                loadedStamp = stamp;
                if (waitingForContent) {
                    waitingForContent = false;
                    log.info("{}: written again, with the content already loaded", file);
                }
                return;
            }
            try {
                loadedHash = load(false);
            } catch (ManifestException e) {
                loadedHash = hash; // do not retry the same broken content every poll
            }
            loadedStamp = stamp;
        } catch (RuntimeException | Error e) {
            log.error("{}: unexpected failure while watching; still watching", file, e);
        }
    }

    /**
     * Notes that the file is empty and keeps the last snapshot; logs once per truncation. Returns
     * the hash of the content last loaded, which is still what the consumer has.
     */
    private byte[] waitForContent() {
        if (!waitingForContent) {
            waitingForContent = true;
            Snapshot s = current;
            log.warn("{}: empty (0 bytes): taken as not written yet, not as \"no services\"; {} until it has content",
                    file, s == null ? "nothing loaded" : "keeping the table of generation " + s.generation()
                            + " (" + s.ports().size() + " service ports)");
        }
        return loadedHash;
    }

    /**
     * Reads, converts and delivers; returns the content hash of what was read, or null when the
     * consumer failed on it (so that the next re-hash delivers it again).
     */
    private byte[] load(boolean first) throws ManifestException {
        byte[] hash = null;
        try {
            hash = hash(file);
            Manifest manifest = ManifestReader.read(file, limits);
            if (manifest.bytes() == 0) {
                return waitForContent(); // emptied between the stamp and the read
            }
            waitingForContent = false;
            Conversion c = ClusterConverter.convert(manifest.services(), manifest.endpointSlices());
            for (Rejection r : c.rejections()) {
                log.warn("{}: {} ({})", manifest.locate(r), r, r.reason().code());
            }
            java.util.List<io.fabric8.kubernetes.api.model.Node> nodes = manifest.nodes();
            manifest = null; // the file's objects may go before the table is written: only their ports (and Nodes) are needed now
            rejections.addAndGet(c.rejections().size());
            Snapshot s = new Snapshot(generation.incrementAndGet(), c.ports(), c.rejections(), nodes);
            lastError = null;
            log.info("{}: loaded {} service ports{}", file, s.ports().size(),
                    c.rejections().isEmpty() ? "" : ", " + c.rejections().size() + " rejected");
            if (!deliver(s)) {
                return null;
            }
            current = s;
            return hash;
        } catch (ManifestException e) {
            lastError = e;
            errors.incrementAndGet();
            if (first) {
                log.error("{}", e.getMessage());
            } else {
                log.error("{} (keeping the last good table{})", e.getMessage(),
                        current == null ? "" : ", generation " + current.generation());
            }
            throw e;
        }
    }

    private boolean deliver(Snapshot s) {
        try {
            consumer.accept(s);
            return true;
        } catch (RuntimeException e) {
            deliveryFailures.incrementAndGet();
            Throwable reason = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
            Snapshot kept = current;
            log.error("{}: applying generation {} ({} service ports) failed: {}; {}; retrying in {} ms", file, s.generation(),
                    s.ports().size(), reason, kept == null ? "nothing applied yet" : "generation " + kept.generation() + " stays",
                    poll.toMillis() * REHASH_EVERY);
            return false;
        }
    }

    private static byte[] hash(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[64 * 1024];
            for (int n; (n = in.read(buf)) > 0; ) {
                d.update(buf, 0, n);
            }
            return d.digest();
        } catch (IOException e) {
            return null; // the load that follows reports the error with its reason
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What polling compares: identity, size and modification time; {@code missing} when absent. */
    private record Stamp(boolean missing, Object fileKey, long size, long modifiedNanos) {
        boolean empty() {
            return !missing && size == 0;
        }

        static Stamp of(Path file) {
            try {
                BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
                return new Stamp(false, a.fileKey(), a.size(), a.lastModifiedTime().to(TimeUnit.NANOSECONDS));
            } catch (NoSuchFileException e) {
                return new Stamp(true, null, -1, -1);
            } catch (IOException e) {
                return new Stamp(true, e.getClass().getName(), -1, -1);
            }
        }
    }
}
