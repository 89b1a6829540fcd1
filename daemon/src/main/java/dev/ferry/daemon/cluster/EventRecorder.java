package dev.ferry.daemon.cluster;

import io.fabric8.kubernetes.api.model.MicroTime;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.events.v1.Event;
import io.fabric8.kubernetes.api.model.events.v1.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kubernetes Events (events.k8s.io/v1) that show an operator, in {@code kubectl get events} and
 * {@code kubectl describe}, what Ferry did: that it started on a node (kube-proxy's "Starting"
 * event) and why it did not accept a Service or EndpointSlice.
 *
 * <p>Best effort, as events are in Kubernetes, and never in the caller's way: {@link #record}
 * only enqueues (a full queue drops the event and counts it); one daemon thread posts. Each object
 * gets a burst of {@value #BURST} events and then one per {@link #REFILL_NANOS refill period}, as
 * client-go's spam filter allows, so an object that flaps between valid and invalid cannot flood the
 * API server. A failed post is logged, counted and not retried.
 */
public final class EventRecorder implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EventRecorder.class);
    static final String CONTROLLER = "ferry";
    static final int BURST = 10;
    static final long REFILL_NANOS = TimeUnit.MINUTES.toNanos(5);
    private static final int QUEUE = 256;
    private static final int MAX_OBJECTS = 4096;
    private static final int MAX_NOTE_BYTES = 1024; // the API's limit on Event.note
    private static final DateTimeFormatter MICRO_TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX").withZone(ZoneOffset.UTC);

    public static final String NORMAL = "Normal";
    public static final String WARNING = "Warning";

    private record Pending(ObjectReference regarding, String type, String reason, String action, String note,
                           Instant at) { }

    /** Tokens of one object: refilled lazily when the object asks again. */
    private static final class Bucket {
        double tokens = BURST;
        long refilledAt;
    }

    private final KubernetesClient client;
    private final String instance;
    private final Clock clock;
    private final java.util.function.LongSupplier nanos;
    private final BlockingQueue<Pending> queue = new ArrayBlockingQueue<>(QUEUE);
    private final Map<String, Bucket> buckets = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Bucket> eldest) {
            return size() > MAX_OBJECTS;
        }
    };
    private final AtomicLong posted = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong throttled = new AtomicLong();
    private final Thread poster;
    private volatile boolean closed;

    public EventRecorder(KubernetesClient client, String nodeName) {
        this(client, nodeName, Clock.systemUTC(), System::nanoTime);
    }

    EventRecorder(KubernetesClient client, String nodeName, Clock clock, java.util.function.LongSupplier nanos) {
        this.client = client;
        this.instance = CONTROLLER + "-" + nodeName;
        this.clock = clock;
        this.nanos = nanos;
        this.poster = new Thread(this::postLoop, "ferry-events");
        this.poster.setDaemon(true);
    }

    public void start() {
        poster.start();
    }

    /** kube-proxy's reference to its node: a Node has no namespace, and the node name stands in for its uid. */
    public static ObjectReference node(String nodeName) {
        return new ObjectReferenceBuilder().withApiVersion("v1").withKind("Node").withName(nodeName)
                .withUid(nodeName).build();
    }

    /** A reference to a namespaced object of the core or discovery API by kind. */
    public static ObjectReference object(String kind, String namespace, String name, String uid) {
        String apiVersion = kind.equals("EndpointSlice") ? "discovery.k8s.io/v1" : "v1";
        return new ObjectReferenceBuilder().withApiVersion(apiVersion).withKind(kind).withNamespace(namespace)
                .withName(name).withUid(uid == null || uid.isEmpty() ? null : uid).build();
    }

    /** Queues an event about {@code regarding}; returns false when it was throttled or the queue was full. */
    public boolean record(ObjectReference regarding, String type, String reason, String action, String note) {
        if (closed) {
            return false;
        }
        if (!admit(regarding.getKind() + " " + regarding.getNamespace() + "/" + regarding.getName())) {
            throttled.incrementAndGet();
            LOG.debug("event throttled for {} {}: {}", regarding.getKind(), regarding.getName(), reason);
            return false;
        }
        if (!queue.offer(new Pending(regarding, type, reason, action, note, clock.instant()))) {
            dropped.incrementAndGet();
            return false;
        }
        return true;
    }

    private synchronized boolean admit(String object) {
        long now = nanos.getAsLong();
        Bucket b = buckets.get(object);
        if (b == null) {
            b = new Bucket();
            b.refilledAt = now;
            buckets.put(object, b);
        } else {
            b.tokens = Math.min(BURST, b.tokens + (double) (now - b.refilledAt) / REFILL_NANOS);
            b.refilledAt = now;
        }
        if (b.tokens < 1) {
            return false;
        }
        b.tokens -= 1;
        return true;
    }

    private void postLoop() {
        while (!closed || !queue.isEmpty()) {
            Pending p;
            try {
                p = queue.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (p != null) {
                post(p);
            }
        }
    }

    private void post(Pending p) {
        ObjectReference r = p.regarding();
        // A cluster-scoped object's events live in "default", as client-go puts them.
        String namespace = r.getNamespace() == null || r.getNamespace().isEmpty() ? "default" : r.getNamespace();
        long epochNanos = p.at().getEpochSecond() * 1_000_000_000L + p.at().getNano();
        Event event = new EventBuilder()
                .withNewMetadata().withName(r.getName() + "." + Long.toHexString(epochNanos))
                .withNamespace(namespace).endMetadata()
                .withEventTime(new MicroTime(MICRO_TIME.format(p.at())))
                .withReportingController(CONTROLLER)
                .withReportingInstance(instance)
                .withAction(p.action())
                .withReason(p.reason())
                .withType(p.type())
                .withNote(truncate(p.note()))
                .withRegarding(r)
                .build();
        try {
            client.events().v1().events().inNamespace(namespace).resource(event).create();
            posted.incrementAndGet();
        } catch (RuntimeException e) {
            failed.incrementAndGet();
            LOG.warn("could not post event {} for {} {}/{}: {}", p.reason(), r.getKind(), namespace, r.getName(),
                    e.getMessage());
        }
    }

    /** The note cut to the API's 1 KiB limit on a character boundary. */
    static String truncate(String note) {
        if (note.getBytes(StandardCharsets.UTF_8).length <= MAX_NOTE_BYTES) {
            return note;
        }
        int bytes = 0;
        int i = 0;
        while (i < note.length()) {
            int cp = note.codePointAt(i);
            int len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (bytes + len > MAX_NOTE_BYTES - 3) {
                break;
            }
            bytes += len;
            i += Character.charCount(cp);
        }
        return note.substring(0, i) + "...";
    }

    public long posted() {
        return posted.get();
    }

    public long failed() {
        return failed.get();
    }

    public long dropped() {
        return dropped.get();
    }

    public long throttled() {
        return throttled.get();
    }

    /** Posts what is queued for at most two seconds, then stops. */
    @Override
    public void close() {
        closed = true;
        try {
            poster.join(TimeUnit.SECONDS.toMillis(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        poster.interrupt();
        if (posted.get() + failed.get() + dropped.get() + throttled.get() > 0) {
            LOG.info("events: {} posted, {} failed, {} dropped (queue full), {} throttled", posted.get(), failed.get(),
                    dropped.get(), throttled.get());
        }
    }
}
