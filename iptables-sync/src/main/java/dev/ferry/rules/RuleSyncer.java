package dev.ferry.rules;

import dev.ferry.model.ServicePort;
import java.io.IOException;
import java.util.List;

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
