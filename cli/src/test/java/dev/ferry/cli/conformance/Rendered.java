package dev.ferry.cli.conformance;

import dev.ferry.rules.iptables.IptablesRenderer;
import dev.ferry.rules.iptables.RenderOptions;
import dev.ferry.rules.nft.NftOptions;
import dev.ferry.rules.nft.NftRenderer;
import dev.ferry.select.NodeNetwork;

/** A scenario's rules as Ferry renders them for its node's settings, in both kernel modes. */
record Rendered(String iptables, String nftables) {
    static RenderOptions iptablesOptions(NodeNetwork n) {
        return RenderOptions.defaults(false).withClusterCidrs(n.podCidrs()).withMasqueradeAll(n.masqueradeAll())
                .withNodePortAddresses(n.nodePortAddresses()).withLocalhostNodePorts(n.localhostNodePorts())
                .withNodeIps(n.nodeIps());
    }

    static NftOptions nftOptions(NodeNetwork n) {
        return NftOptions.defaults().withClusterCidrs(n.podCidrs()).withMasqueradeAll(n.masqueradeAll())
                .withNodePortAddresses(n.nodePortAddresses()).withServiceCidrs(n.serviceCidrs()).withNodeIps(n.nodeIps());
    }

    static Rendered of(Scenarios.Scenario s) {
        return new Rendered(IptablesRenderer.render(s.services(), iptablesOptions(s.network())),
                NftRenderer.render(s.services(), nftOptions(s.network())));
    }
}
