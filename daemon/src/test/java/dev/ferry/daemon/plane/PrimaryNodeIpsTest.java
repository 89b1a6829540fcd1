package dev.ferry.daemon.plane;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.model.Cidr;
import dev.ferry.model.IpAddresses;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** kube-proxy's choice of the node's primary IPs for nodePortAddresses: [primary]. */
@Tag("unit")
class PrimaryNodeIpsTest {
    static InetAddress ip(String s) {
        return IpAddresses.parse(s);
    }

    /** A Node with addresses given as type, address, type, address... in that order. */
    static Node node(String... typeAndAddress) {
        Node n = new NodeBuilder().withNewMetadata().withName("node-a").endMetadata().withNewStatus().endStatus().build();
        for (int i = 0; i < typeAndAddress.length; i += 2) {
            n.getStatus().getAddresses().add(new NodeAddress(typeAndAddress[i + 1], typeAndAddress[i]));
        }
        return n;
    }

    @Test
    void primaryIsAskedForOrIsTheNftablesModeDefault() {
        assertTrue(PrimaryNodeIps.apply(List.of("primary"), false));
        assertTrue(PrimaryNodeIps.apply(List.of(), true), "kube-proxy's nftables mode defaults to the primary IPs");
        assertFalse(PrimaryNodeIps.apply(List.of(), false), "its other modes to every address");
        assertFalse(PrimaryNodeIps.apply(List.of("10.0.0.0/8"), true));
    }

    @Test
    void theFirstInternalIpOfEachFamilyInTheNodesOrder() {
        Node n = node("Hostname", "node-a", "ExternalIP", "203.0.113.7", "InternalIP", "10.0.0.5",
                "InternalIP", "10.0.0.6", "InternalIP", "fd00::5");
        assertEquals(List.of(ip("10.0.0.5"), ip("fd00::5")), PrimaryNodeIps.of(ip("0.0.0.0"), n));
    }

    @Test
    void anExternalIpStandsInForAFamilyWithoutAnInternalIp() {
        Node n = node("InternalIP", "fd00::5", "ExternalIP", "203.0.113.7");
        assertEquals(List.of(ip("fd00::5"), ip("203.0.113.7")), PrimaryNodeIps.of(null, n));
    }

    @Test
    void aSpecificBindAddressIsThePrimaryIpOfItsFamily() {
        Node n = node("InternalIP", "10.0.0.5", "InternalIP", "fd00::5");
        assertEquals(List.of(ip("10.9.9.9"), ip("fd00::5")), PrimaryNodeIps.of(ip("10.9.9.9"), n));
    }

    @Test
    void nothingKnownMeansLoopbackOnly() {
        assertEquals(List.of(), PrimaryNodeIps.of(ip("0.0.0.0"), null));
        assertEquals(List.of(), PrimaryNodeIps.of(null, node("Hostname", "node-a")));
        assertEquals(List.of(Cidr.parse("127.0.0.1/32"), Cidr.parse("::1/128")), PrimaryNodeIps.cidrs(List.of()));
    }

    @Test
    void aFamilyWithoutAPrimaryIpIsServedOnItsLoopbackOnlyNotOnEveryAddress() {
        assertEquals(List.of(Cidr.parse("10.0.0.5/32"), Cidr.parse("fd00::5/128")),
                PrimaryNodeIps.cidrs(List.of(ip("10.0.0.5"), ip("fd00::5"))));
        assertEquals(List.of(Cidr.parse("10.0.0.5/32"), Cidr.parse("::1/128")), PrimaryNodeIps.cidrs(List.of(ip("10.0.0.5"))));
        assertEquals(List.of(Cidr.parse("fd00::5/128"), Cidr.parse("127.0.0.1/32")), PrimaryNodeIps.cidrs(List.of(ip("fd00::5"))));
    }
}
