package dev.ferry.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class KernelConntrackCleanerArgsTest {
    static InetAddress ip(String s) throws Exception {
        return InetAddress.getByName(s);
    }

    @Test
    void frontendGainingEndpointsDeletesByOriginalDestinationIpAndPort() throws Exception {
        assertEquals(List.of("conntrack", "-D", "-f", "ipv4", "-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53"),
                new KernelConntrackCleaner().argv(KernelConntrackCleaner.frontendGainedEndpointsArgs(ip("10.96.0.10"), 53)));
    }

    @Test
    void nodePortGainingEndpointsDeletesByOriginalDestinationPortOnly() {
        assertEquals(List.of("-D", "-f", "ipv6", "-p", "udp", "--orig-port-dst", "30053"),
                KernelConntrackCleaner.nodePortGainedEndpointsArgs(30053, true));
    }

    @Test
    void removedEndpointDeletesOnlyFlowsWhoseReplyComesFromIt() throws Exception {
        assertEquals(List.of("-D", "-f", "ipv4", "-p", "udp", "--orig-dst", "10.96.0.10", "--orig-port-dst", "53",
                        "--reply-src", "10.1.0.1", "--reply-port-src", "5353"),
                KernelConntrackCleaner.endpointRemovedArgs(ip("10.96.0.10"), 53, ip("10.1.0.1"), 5353));
        assertEquals(List.of("-D", "-f", "ipv6", "-p", "udp", "--orig-dst", "fd00:96:0:0:0:0:0:a", "--orig-port-dst", "53",
                        "--reply-src", "fd00:1:0:0:0:0:0:1", "--reply-port-src", "53"),
                KernelConntrackCleaner.endpointRemovedArgs(ip("fd00:96::a"), 53, ip("fd00:1::1"), 53));
    }

    @Test
    void removedNodePortEndpointDeletesByPortAndReplySource() throws Exception {
        assertEquals(List.of("-D", "-f", "ipv4", "-p", "udp", "--orig-port-dst", "30053",
                        "--reply-src", "10.1.0.1", "--reply-port-src", "5353"),
                KernelConntrackCleaner.nodePortEndpointRemovedArgs(30053, ip("10.1.0.1"), 5353));
    }

    @Test
    void commandPrefixIsKeptForNamespaces() throws Exception {
        var c = new KernelConntrackCleaner(List.of("ip", "netns", "exec", "ns1", "conntrack"));
        assertEquals(List.of("ip", "netns", "exec", "ns1", "conntrack", "-D", "-f", "ipv4", "-p", "udp", "--orig-port-dst", "1"),
                c.argv(KernelConntrackCleaner.nodePortGainedEndpointsArgs(1, false)));
    }

    @Test
    void mixedFamiliesAndBadPortsAreRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> KernelConntrackCleaner.endpointRemovedArgs(ip("10.96.0.10"), 53, ip("fd00::1"), 53));
        assertThrows(IllegalArgumentException.class, () -> KernelConntrackCleaner.nodePortGainedEndpointsArgs(0, false));
        assertThrows(IllegalArgumentException.class, () -> KernelConntrackCleaner.nodePortGainedEndpointsArgs(65536, false));
    }

    @Test
    void missingToolIsAClearError() throws Exception {
        var c = new KernelConntrackCleaner(List.of("/nonexistent/conntrack"));
        IOException e = assertThrows(IOException.class, () -> c.frontendGainedEndpoints(ip("10.96.0.10"), 53));
        assertTrue(e.getMessage().contains("apt-get install conntrack"), e.getMessage());
    }

    @Test
    void nothingToDeleteIsNotAnErrorButAFailureIs() throws Exception {
        // Stand-ins for conntrack's two exit-1 cases.
        var none = new KernelConntrackCleaner(List.of("sh", "-c",
                "echo 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.' >&2; exit 1", "conntrack"));
        assertEquals(0, none.nodePortGainedEndpoints(30053, false));
        var some = new KernelConntrackCleaner(List.of("sh", "-c",
                "echo 'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.' >&2; exit 0", "conntrack"));
        assertEquals(3, some.nodePortGainedEndpoints(30053, false));
        var broken = new KernelConntrackCleaner(List.of("sh", "-c",
                "echo 'conntrack v1.4.7 (conntrack-tools): Operation not permitted' >&2; exit 1", "conntrack"));
        IOException e = assertThrows(IOException.class, () -> broken.nodePortGainedEndpoints(30053, false));
        assertTrue(e.getMessage().contains("Operation not permitted"), e.getMessage());
    }
}
