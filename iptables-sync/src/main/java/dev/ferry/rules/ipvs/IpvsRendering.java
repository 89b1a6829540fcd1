package dev.ferry.rules.ipvs;

import dev.ferry.model.Rejection;
import java.util.List;

/**
 * Everything IPVS mode puts in the kernel for one state, as the text each tool reads:
 * {@code ipvsadm -R} input (virtual and real servers), {@code ipset restore} input (the sets the
 * iptables glue matches), {@code iptables-restore --noflush} input (the glue), and {@code ip -batch}
 * input (the service addresses on kube-ipvs0). Immutable.
 */
public record IpvsRendering(String ipvsadm, String ipset, String iptables, String addresses, List<Rejection> rejected) {
    public IpvsRendering {
        rejected = List.copyOf(rejected);
    }
}
