package dev.ferry.rules;

import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.table.TableChange;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;

/**
 * One kernel rule backend (iptables, nftables, IPVS) as the {@link SyncLoop} drives it. Called from
 * one thread at a time.
 */
public interface RuleSyncer {

    /**
     * Makes the kernel match ports (already run through the endpoint selector). full asks for a
     * complete rewrite of everything the backend owns; otherwise the backend may apply only what
     * changed since its last successful sync. On failure the kernel keeps its previous rules.
     *
     * @return what was done, for logs and metrics
     */
    SyncReport sync(List<ServicePort> ports, boolean full) throws ApplyException, IOException;

    /**
     * As {@link #sync(List, boolean)}, for a loop that follows the service table's change feed:
     * {@code desired} is every service port (a read-only view, sorted by name, stable during the call)
     * and {@code change} says which were written or removed since this syncer's previous call
     * returned successfully ({@link TableChange#full()}: unknown, find out by comparing). A backend
     * with an incremental path uses the change instead of comparing every service port; the default
     * hands the whole set to {@link #sync(List, boolean)}, which compares what it needs.
     */
    default SyncReport sync(NavigableMap<ServicePortName, ServicePort> desired, TableChange change, boolean full)
            throws ApplyException, IOException {
        return sync(new ArrayList<>(desired.values()), full);
    }

    /**
     * The periodic check: whether the kernel still holds what the last successful sync applied, found
     * cheaply and without changing anything. Null when it provably does (the sync loop then applies
     * nothing); otherwise why it may not (the rules changed behind Ferry's back, or this backend cannot
     * tell without a rewrite), and the sync loop repairs with a full sync. Called on the loop's thread,
     * only after a successful sync. The default cannot tell, so every periodic sync is a full one.
     */
    default String drift() throws IOException {
        return "this backend cannot check the kernel without rewriting it";
    }
}
