package dev.ferry.rules.iptables;

import java.util.List;

/**
 * The rules in the built-in chains that send traffic into Ferry's chains, exactly as kube-proxy
 * installs them (same comments, same matches), so either can find and remove the other's.
 */
final class JumpRules {
    record Jump(String table, String from, String to, List<String> args) {
        /** The arguments after the chain name, for -C / -I / -D. */
        List<String> ruleArgs() {
            return args;
        }
    }

    private static List<String> args(String comment, boolean newOnly, String target) {
        return newOnly
                ? List.of("-m", "comment", "--comment", comment, "-m", "conntrack", "--ctstate", "NEW", "-j", target)
                : List.of("-m", "comment", "--comment", comment, "-j", target);
    }

    static final List<Jump> ALL = List.of(
            new Jump("filter", "INPUT", ChainNames.EXTERNAL_SERVICES, args("kubernetes externally-visible service portals", true, ChainNames.EXTERNAL_SERVICES)),
            new Jump("filter", "FORWARD", ChainNames.EXTERNAL_SERVICES, args("kubernetes externally-visible service portals", true, ChainNames.EXTERNAL_SERVICES)),
            new Jump("filter", "INPUT", ChainNames.NODEPORTS, args("kubernetes health check service ports", false, ChainNames.NODEPORTS)),
            new Jump("filter", "FORWARD", ChainNames.SERVICES, args("kubernetes service portals", true, ChainNames.SERVICES)),
            new Jump("filter", "OUTPUT", ChainNames.SERVICES, args("kubernetes service portals", true, ChainNames.SERVICES)),
            new Jump("filter", "FORWARD", ChainNames.FORWARD, args("kubernetes forwarding rules", false, ChainNames.FORWARD)),
            new Jump("filter", "INPUT", ChainNames.PROXY_FIREWALL, args("kubernetes load balancer firewall", true, ChainNames.PROXY_FIREWALL)),
            new Jump("filter", "OUTPUT", ChainNames.PROXY_FIREWALL, args("kubernetes load balancer firewall", true, ChainNames.PROXY_FIREWALL)),
            new Jump("filter", "FORWARD", ChainNames.PROXY_FIREWALL, args("kubernetes load balancer firewall", true, ChainNames.PROXY_FIREWALL)),
            // kube-proxy's kubelet jump chains: no comment
            new Jump("filter", "INPUT", ChainNames.KUBELET_FIREWALL, List.of("-j", ChainNames.KUBELET_FIREWALL)),
            new Jump("filter", "OUTPUT", ChainNames.KUBELET_FIREWALL, List.of("-j", ChainNames.KUBELET_FIREWALL)),
            new Jump("nat", "OUTPUT", ChainNames.SERVICES, args("kubernetes service portals", false, ChainNames.SERVICES)),
            new Jump("nat", "PREROUTING", ChainNames.SERVICES, args("kubernetes service portals", false, ChainNames.SERVICES)),
            new Jump("nat", "POSTROUTING", ChainNames.POSTROUTING, args("kubernetes postrouting rules", false, ChainNames.POSTROUTING)));

    private JumpRules() {}
}
