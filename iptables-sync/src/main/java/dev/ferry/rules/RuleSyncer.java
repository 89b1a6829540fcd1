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
}
