package dev.ferry.daemon.plane;

import dev.ferry.model.Cidr;
import dev.ferry.rules.nft.NftSyncer;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * The service (ClusterIP) ranges nftables mode drops unallocated addresses in: the configured ones
 * (--service-cidr) and those of the cluster's ServiceCIDR objects, merged ({@link #merge}) and handed
 * to the syncer, then a full sync is asked for so that the drop follows a change at once.
 * Thread-safe: {@link #fromApi} runs on the informer's thread.
 */
public final class ServiceRanges {
    private final List<Cidr> configured;
    private final NftSyncer nft;
    private final Runnable resync;
    private volatile List<Cidr> current;

    /** {@code resync} asks the sync loop for a full sync of the current services (SyncLoop::requestFullSync). */
    public ServiceRanges(List<Cidr> configured, NftSyncer nft, Runnable resync) {
        this.configured = List.copyOf(configured);
        this.nft = nft;
        this.resync = resync;
        this.current = this.configured;
    }

    /** The ranges the ServiceCIDR objects give now; returns the merged ranges the drop uses from now on. */
    public List<Cidr> fromApi(List<Cidr> api) {
        List<Cidr> merged = merge(configured, api);
        current = merged;
        nft.serviceCidrs(merged);
        resync.run();
        return merged;
    }

    /** The merged ranges last handed to the syncer (the configured ones until the API gave any). */
    public List<Cidr> current() {
        return current;
    }

    /**
     * The configured ranges followed by the API's that they do not already list: an explicit setting
     * is never dropped because the API does not know it, and a range the cluster allocates from is
     * covered even when the flag is stale or missing.
     */
    public static List<Cidr> merge(List<Cidr> configured, List<Cidr> fromApi) {
        LinkedHashSet<Cidr> all = new LinkedHashSet<>(configured);
        all.addAll(fromApi);
        return List.copyOf(all);
    }
}
