package dev.ferry.watch;

import dev.ferry.model.Cidr;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's service (ClusterIP) ranges from its networking.k8s.io ServiceCIDR objects, as
 * kube-proxy 1.32 learns them (pkg/proxy/config ServiceCIDRConfig): the union of every object's
 * {@code spec.cidrs}, handed whole to the listener after the first list and after every add, update
 * or delete that changes it.
 *
 * <p>kube-proxy 1.32 watches {@code networking.k8s.io/v1beta1}; servers from 1.33 on serve {@code v1}
 * (and the beta only on request), so v1beta1 is tried first and v1 when the server does not serve it.
 * A server that serves neither (the MultiCIDRServiceAllocator gate or the beta API off), or RBAC
 * that forbids the list, is logged once and the watch ends: the listener is never called and the
 * caller keeps its configured ranges. Nothing here fails the daemon.
 *
 * <p>The listener runs on fabric8's informer thread. At most {@value #MAX_CIDRS} distinct ranges are
 * handed on; more are counted in {@link #droppedCidrs()} and logged once per change.
 */
public final class ServiceCidrWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceCidrWatch.class);
    /** Versions in the order tried: kube-proxy 1.32's, then the GA one of later servers. */
    static final List<String> VERSIONS = List.of("v1beta1", "v1");
    /** The drop rule lists every range; an API server allows 2 per object but any number of objects. */
    public static final int MAX_CIDRS = 256;

    /** Where the watch stands. */
    public enum State { STARTING, WATCHING, UNAVAILABLE, CLOSED }

    private final KubernetesClient client;
    private final Consumer<List<Cidr>> listener;
    /** An object's ranges at the resourceVersion they were read from. */
    private record Seen(String resourceVersion, List<Cidr> cidrs) {}

    private final Map<String, Seen> byObject = new HashMap<>(); // guarded by this
    private final AtomicLong droppedCidrs = new AtomicLong();
    private final AtomicLong invalidCidrs = new AtomicLong();
    private List<Cidr> current; // guarded by this; null until the first list is in
    private boolean synced; // guarded by this
    private volatile State state = State.STARTING;
    private volatile String version;
    private volatile String unavailableReason;
    private SharedIndexInformer<GenericKubernetesResource> informer; // guarded by this

    public ServiceCidrWatch(KubernetesClient client, Consumer<List<Cidr>> listener) {
        this.client = client;
        this.listener = listener;
    }

    /** The ServiceCIDR resource of networking.k8s.io in {@code version} (v1beta1 or v1), cluster-scoped. */
    public static ResourceDefinitionContext context(String version) {
        return new ResourceDefinitionContext.Builder().withGroup("networking.k8s.io").withVersion(version)
                .withPlural("servicecidrs").withKind("ServiceCIDR").withNamespaced(false).build();
    }

    /** Starts watching in the background; returns at once. */
    public void start() {
        startVersion(0);
    }

    private void startVersion(int i) {
        String v = VERSIONS.get(i);
        SharedIndexInformer<GenericKubernetesResource> inf;
        synchronized (this) {
            if (state == State.CLOSED) {
                return;
            }
            inf = client.genericKubernetesResources(context(v)).runnableInformer(0);
            informer = inf;
        }
        // Not served or forbidden will not change by retrying; anything else (a restart of the API
        // server, a dropped connection) is retried by the informer as for the other watches.
        inf.exceptionHandler((started, t) -> started || !isPermanent(t));
        inf.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(GenericKubernetesResource r) {
                changed(r, false);
            }

            @Override
            public void onUpdate(GenericKubernetesResource before, GenericKubernetesResource after) {
                changed(after, false);
            }

            @Override
            public void onDelete(GenericKubernetesResource r, boolean finalStateUnknown) {
                changed(r, true);
            }
        });
        inf.start().whenComplete((ok, error) -> {
            if (state == State.CLOSED) {
                inf.stop(); // closed while starting: nothing more is handed on
                return;
            }
            if (error == null) {
                version = v;
                state = State.WATCHING;
                LOG.info("watching ServiceCIDR objects (networking.k8s.io/{}) for the service ranges", v);
                // The handler's notifications of the first list may still be queued: the store has it all.
                synced(inf.getStore().list());
                return;
            }
            inf.stop();
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            int code = statusCode(error);
            if (code == 404 && i + 1 < VERSIONS.size()) {
                startVersion(i + 1);
                return;
            }
            unavailableReason = code == 404 ? "the API server serves no ServiceCIDR objects (networking.k8s.io "
                    + String.join(", ", VERSIONS) + ")"
                    : code == 403 ? "listing ServiceCIDR objects is forbidden (RBAC: list, watch servicecidrs.networking.k8s.io)"
                    : "ServiceCIDR objects: " + cause.getMessage();
            state = State.UNAVAILABLE;
            LOG.warn("{}; the service ranges are only those configured (--service-cidr)", unavailableReason);
        });
    }

    private static boolean isPermanent(Throwable t) {
        int code = statusCode(t);
        return code == 404 || code == 403;
    }

    /** The HTTP status of the KubernetesClientException in t's cause chain (fabric8 wraps it); 0 if none. */
    private static int statusCode(Throwable t) {
        for (int i = 0; t != null && i < 8; i++, t = t.getCause()) {
            if (t instanceof KubernetesClientException k) {
                return k.getCode();
            }
        }
        return 0;
    }

    private void synced(List<GenericKubernetesResource> listed) {
        List<Cidr> out;
        synchronized (this) {
            for (GenericKubernetesResource r : listed) {
                record(r, false);
            }
            synced = true;
            out = recompute();
        }
        if (out != null) {
            listener.accept(out);
        }
    }

    private void changed(GenericKubernetesResource r, boolean deleted) {
        List<Cidr> out;
        synchronized (this) {
            out = record(r, deleted) && synced ? recompute() : null;
        }
        if (out != null) {
            listener.accept(out);
        }
    }

    /** Takes in one object's state; false when it was already in (the same resourceVersion). Holds this. */
    private boolean record(GenericKubernetesResource r, boolean deleted) {
        String name = r.getMetadata() == null ? null : r.getMetadata().getName();
        if (name == null) {
            return false;
        }
        if (deleted) {
            return byObject.remove(name) != null;
        }
        String rv = r.getMetadata().getResourceVersion();
        Seen before = byObject.get(name);
        if (before != null && rv != null && rv.equals(before.resourceVersion())) {
            return false;
        }
        byObject.put(name, new Seen(rv, cidrsOf(r, name)));
        return true;
    }

    /** The new union when it differs from the last one handed on, else null. */
    private List<Cidr> recompute() {
        TreeSet<Cidr> all = new TreeSet<>(Comparator.comparing(Cidr::toString));
        byObject.values().forEach(seen -> all.addAll(seen.cidrs()));
        List<Cidr> out = new ArrayList<>(Math.min(all.size(), MAX_CIDRS));
        for (Cidr c : all) {
            if (out.size() == MAX_CIDRS) {
                break;
            }
            out.add(c);
        }
        long over = all.size() - out.size();
        if (over > 0 && droppedCidrs.getAndSet(over) != over) {
            LOG.warn("{} ServiceCIDR ranges beyond the first {} are left out of the service ranges", over, MAX_CIDRS);
        } else if (over == 0) {
            droppedCidrs.set(0);
        }
        out = List.copyOf(out);
        if (out.equals(current)) {
            return null;
        }
        LOG.info("ServiceCIDR objects give the service ranges {}", out);
        current = out;
        return out;
    }

    private List<Cidr> cidrsOf(GenericKubernetesResource r, String name) {
        Object spec = r.getAdditionalProperties().get("spec");
        Object list = spec instanceof Map<?, ?> m ? m.get("cidrs") : null;
        if (!(list instanceof List<?> l)) {
            return List.of();
        }
        List<Cidr> out = new ArrayList<>(l.size());
        for (int i = 0; i < l.size(); i++) {
            Object o = l.get(i);
            try {
                out.add(Cidr.parse(String.valueOf(o)));
            } catch (IllegalArgumentException e) {
                invalidCidrs.incrementAndGet();
                LOG.warn("ServiceCIDR {}: spec.cidrs[{}] \"{}\" is not a CIDR, left out: {}", name, i, o, e.getMessage());
            }
        }
        return out;
    }

    public State state() {
        return state;
    }

    /** The API version watched (v1beta1 or v1); null until a list succeeded. */
    public String version() {
        return version;
    }

    /** Why the ranges are not learned from the API; null unless {@link State#UNAVAILABLE}. */
    public String unavailableReason() {
        return unavailableReason;
    }

    /** The ranges last handed to the listener; empty before the first list. */
    public synchronized List<Cidr> cidrs() {
        return current == null ? List.of() : current;
    }

    /** Distinct ranges beyond {@value #MAX_CIDRS} not handed on, at the last change. */
    public long droppedCidrs() {
        return droppedCidrs.get();
    }

    /** spec.cidrs entries that did not parse, since start. */
    public long invalidCidrs() {
        return invalidCidrs.get();
    }

    @Override
    public void close() {
        SharedIndexInformer<GenericKubernetesResource> inf;
        synchronized (this) {
            state = State.CLOSED;
            inf = informer;
            informer = null;
        }
        if (inf != null) {
            inf.stop();
        }
    }
}
