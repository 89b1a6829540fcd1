package dev.ferry.daemon.config;

import static org.junit.jupiter.api.Assertions.*;

import dev.ferry.lb.Algorithm;
import dev.ferry.model.Cidr;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@Tag("unit")
class KubeProxyConfigReaderTest {
    static final String HEAD = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";

    static KubeProxyConfigReader.Result parse(String yaml) throws ConfigException {
        return KubeProxyConfigReader.parse("proxy.yaml", yaml);
    }

    static ConfigException rejected(String yaml) {
        return assertThrows(ConfigException.class, () -> parse(yaml));
    }

    @Test
    void everyFieldIsRead() throws Exception {
        KubeProxyConfigReader.Result r = parse(HEAD + """
                mode: ""
                clusterCIDR: 10.244.0.0/16,fd00:10:244::/56
                bindAddress: 192.0.2.10
                healthzBindAddress: 127.0.0.1:20256
                metricsBindAddress: "[::1]:20249"
                nodePortAddresses: [10.0.0.0/8, "192.168.0.0/16"]
                hostnameOverride: " Node-A "
                clientConnection:
                  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
                iptables:
                  syncPeriod: 1m30s
                  minSyncPeriod: 500ms
                  masqueradeAll: true
                ipvs:
                  scheduler: mh
                conntrack:
                  maxPerCore: 65536
                  min: 262144
                  tcpEstablishedTimeout: 12h
                  tcpCloseWaitTimeout: 30m
                  tcpBeLiberal: true
                  udpTimeout: 30s
                  udpStreamTimeout: 2m
                """);
        ProxyConfig c = r.config();
        assertEquals(List.of(), r.warnings());
        assertEquals(ProxyMode.DEFAULT, c.mode());
        assertEquals(List.of(Cidr.parse("10.244.0.0/16"), Cidr.parse("fd00:10:244::/56")), c.clusterCIDRs());
        assertEquals("192.0.2.10", c.bindAddress().getHostAddress());
        assertEquals("127.0.0.1:20256", c.healthzBindAddress().toString());
        assertEquals("[::1]:20249", c.metricsBindAddress().toString());
        assertEquals(List.of("10.0.0.0/8", "192.168.0.0/16"), c.nodePortAddresses());
        assertEquals("Node-A", c.hostnameOverride());
        assertEquals("/var/lib/kube-proxy/kubeconfig.conf", c.kubeconfig());
        assertEquals(Duration.ofSeconds(90), c.syncPeriod());
        assertEquals(Duration.ofMillis(500), c.minSyncPeriod());
        assertTrue(c.masqueradeAll());
        assertEquals(Algorithm.MH, c.scheduler());
        assertEquals(new ProxyConfig.Conntrack(65536, 262144, Duration.ofHours(12), Duration.ofMinutes(30), true,
                Duration.ofSeconds(30), Duration.ofMinutes(2)), c.conntrack());
        assertEquals(Duration.ofSeconds(180), c.healthTimeout());
    }

    @Test
    void anEmptyConfigGetsKubeProxysDefaults() throws Exception {
        ProxyConfig c = parse(HEAD).config();
        assertEquals(ProxyConfig.defaults(), c);
        assertEquals("0.0.0.0:10256", c.healthzBindAddress().toString());
        assertEquals("127.0.0.1:10249", c.metricsBindAddress().toString());
        assertEquals(Duration.ofSeconds(30), c.syncPeriod());
        assertEquals(Duration.ofSeconds(1), c.minSyncPeriod());
        assertFalse(c.masqueradeAll());
        assertEquals(Algorithm.RR, c.scheduler());
        assertEquals(32768, c.conntrack().maxPerCore());
        assertEquals(131072, c.conntrack().min());
        assertEquals(Duration.ofHours(24), c.conntrack().tcpEstablishedTimeout());
        assertEquals(Duration.ofHours(1), c.conntrack().tcpCloseWaitTimeout());
        assertEquals("0.0.0.0", c.bindAddress().getHostAddress());
    }

    @Test
    void kubeadmsKubeProxyConfigIsAcceptedAsItIs() throws Exception {
        // What `kubectl -n kube-system get cm kube-proxy -o jsonpath='{.data.config\.conf}'` shows on a kubeadm cluster.
        KubeProxyConfigReader.Result r = parse("""
                apiVersion: kubeproxy.config.k8s.io/v1alpha1
                bindAddress: 0.0.0.0
                bindAddressHardFail: false
                clientConnection:
                  acceptContentTypes: ""
                  burst: 0
                  contentType: ""
                  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
                  qps: 0
                clusterCIDR: 10.244.0.0/16
                configSyncPeriod: 0s
                conntrack:
                  maxPerCore: null
                  min: null
                  tcpBeLiberal: false
                  tcpCloseWaitTimeout: null
                  tcpEstablishedTimeout: null
                  udpStreamTimeout: 0s
                  udpTimeout: 0s
                detectLocal:
                  bridgeInterface: ""
                  interfaceNamePrefix: ""
                detectLocalMode: ""
                enableProfiling: false
                healthzBindAddress: ""
                hostnameOverride: ""
                iptables:
                  localhostNodePorts: null
                  masqueradeAll: false
                  masqueradeBit: null
                  minSyncPeriod: 0s
                  syncPeriod: 0s
                ipvs:
                  excludeCIDRs: null
                  minSyncPeriod: 0s
                  scheduler: ""
                  strictARP: false
                  syncPeriod: 0s
                  tcpFinTimeout: 0s
                  tcpTimeout: 0s
                  udpTimeout: 0s
                kind: KubeProxyConfiguration
                logging:
                  flushFrequency: 0
                  options:
                    json:
                      infoBufferSize: "0"
                  verbosity: 0
                metricsBindAddress: ""
                mode: ""
                nftables:
                  masqueradeAll: false
                  masqueradeBit: null
                  minSyncPeriod: 0s
                  syncPeriod: 0s
                nodePortAddresses: null
                oomScoreAdj: null
                portRange: ""
                showHiddenMetricsForVersion: ""
                winkernel:
                  enableDSR: false
                """);
        ProxyConfig c = r.config();
        assertEquals(Duration.ofSeconds(30), c.syncPeriod(), "0s means the default, as in kube-proxy");
        assertEquals(Duration.ofSeconds(1), c.minSyncPeriod(), "0s means the default, as in kube-proxy");
        assertEquals("/var/lib/kube-proxy/kubeconfig.conf", c.kubeconfig());
        assertEquals("0.0.0.0:10256", c.healthzBindAddress().toString(), "an empty address means the default, as in kube-proxy");
        assertTrue(r.warnings().stream().anyMatch(w -> w.equals("proxy.yaml:5: clientConnection.acceptContentTypes: a kube-proxy setting Ferry does not use; ignored")),
                String.join("\n", r.warnings()));
        assertTrue(r.warnings().stream().noneMatch(w -> w.contains("unknown field")), String.join("\n", r.warnings()));
    }

    @Test
    void unknownFieldsAreWarnedAboutWithTheirPathAndLine() throws Exception {
        KubeProxyConfigReader.Result r = parse(HEAD + """
                modee: iptables
                iptables:
                  syncPeriod: 10s
                  syncPerod: 5s
                conntrack:
                  maxPerCores: 1
                """);
        assertEquals(List.of(
                "proxy.yaml:3: modee: unknown field; ignored",
                "proxy.yaml:6: iptables.syncPerod: unknown field; ignored",
                "proxy.yaml:8: conntrack.maxPerCores: unknown field; ignored"), r.warnings());
        assertEquals(Duration.ofSeconds(10), r.config().syncPeriod(), "the known fields around them still count");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            iptables:\\n  syncPeriod: 30                  | 4 | iptables.syncPeriod    | a bare number has no unit
            iptables:\\n  syncPeriod: 30x                 | 4 | iptables.syncPeriod    | unknown unit "x"
            iptables:\\n  syncPeriod: -30s                | 4 | iptables.syncPeriod    | must be greater than 0
            iptables:\\n  minSyncPeriod: 1m               | 4 | iptables.minSyncPeriod | must be less than or equal to iptables.syncPeriod (30s)
            iptables:\\n  minSyncPeriod: -1s              | 4 | iptables.minSyncPeriod | must be greater than or equal to 0
            iptables:\\n  masqueradeAll: "yes"            | 4 | iptables.masqueradeAll | expected true or false
            conntrack:\\n  maxPerCore: -1                 | 4 | conntrack.maxPerCore   | must be greater than or equal to 0
            conntrack:\\n  min: 99999999999               | 4 | conntrack.min          | out of range for an int32
            conntrack:\\n  udpTimeout: 5                  | 4 | conntrack.udpTimeout   | expected a duration string
            conntrack:\\n  tcpCloseWaitTimeout: -5m       | 4 | conntrack.tcpCloseWaitTimeout | must be greater than or equal to 0
            conntrack: 5                                  | 3 | conntrack              | expected a mapping
            clusterCIDR: 10.244.0.0                       | 3 | clusterCIDR            | missing /prefix
            clusterCIDR: 10.0.0.0/8,10.1.0.0/16           | 3 | clusterCIDR            | at most one IPv4 and one IPv6
            clusterCIDR: 10.0.0.0/33                      | 3 | clusterCIDR            | prefix length out of range
            bindAddress: localhost                        | 3 | bindAddress            | not an IP address
            healthzBindAddress: 0.0.0.0:99999             | 3 | healthzBindAddress     | port 99999 out of range
            metricsBindAddress: metrics.local:10249       | 3 | metricsBindAddress     | not an IP address
            nodePortAddresses: 10.0.0.0/8                 | 3 | nodePortAddresses      | expected a list
            nodePortAddresses:\\n- 10.0.0.0/8\\n- eth0    | 5 | nodePortAddresses[1]   | must be a CIDR or "primary"
            nodePortAddresses: [primary, 10.0.0.0/8]      | 3 | nodePortAddresses      | cannot be combined
            mode: kernelspace                             | 3 | mode                   | unknown mode "kernelspace": supported values are userspace, iptables, nftables, ipvs, table-only
            ipvs:\\n  scheduler: fastest                  | 4 | ipvs.scheduler         | Unsupported value "fastest": supported values are rr, wrr
            hostnameOverride: [a]                         | 3 | hostnameOverride       | expected a string, got a list
            mode: iptables\\nmode: ipvs                   | 4 | mode                   | duplicate key (first at line 3)
            """)
    void aBadValueIsRejectedWithItsPathAndLine(String body, int line, String path, String message) {
        ConfigException e = rejected(HEAD + body.replace("\\n", "\n") + "\n");
        assertEquals(path, e.path(), e.getMessage());
        assertEquals(line, e.line(), e.getMessage());
        assertTrue(e.getMessage().startsWith("proxy.yaml:" + line + ":"), e.getMessage());
        assertTrue(e.getMessage().contains(path + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void theWrongApiVersionOrKindIsRejected() {
        ConfigException v = rejected("apiVersion: kubeproxy.config.k8s.io/v1beta9\nkind: KubeProxyConfiguration\n");
        assertEquals("apiVersion", v.path());
        assertEquals(1, v.line());
        assertTrue(v.getMessage().contains("Unsupported value \"kubeproxy.config.k8s.io/v1beta9\""), v.getMessage());
        ConfigException k = rejected("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n");
        assertEquals("kind", k.path());
        assertEquals(2, k.line());
        ConfigException missing = rejected("mode: \"\"\n");
        assertEquals("apiVersion", missing.path());
        assertTrue(missing.getMessage().contains("Required value"), missing.getMessage());
    }

    @Test
    void brokenYamlIsRejectedWithTheLine() {
        ConfigException e = rejected(HEAD + "iptables:\n  syncPeriod: [unclosed\n");
        assertTrue(e.getMessage().startsWith("proxy.yaml:"), e.getMessage());
        assertTrue(e.line() >= 4, e.getMessage());
        assertTrue(e.getMessage().contains("not valid YAML"), e.getMessage());
        assertTrue(rejected("").getMessage().contains("empty file"));
        assertTrue(rejected("[1, 2]\n").getMessage().contains("expected a mapping"));
    }

    @Test
    void theModesSectionGivesThePeriods() throws Exception {
        // kube-proxy reads ipvs.* in ipvs mode; while ipvs is not in this build the default mode reads iptables.*.
        ProxyConfig c = parse(HEAD + "iptables: {syncPeriod: 10s, minSyncPeriod: 2s}\nipvs: {syncPeriod: 20s}\n").config();
        assertEquals(Duration.ofSeconds(10), c.syncPeriod());
        assertEquals(Duration.ofSeconds(2), c.minSyncPeriod());
    }

    @Test
    void flagsOverrideTheFile() throws Exception {
        ProxyConfig file = parse(HEAD + "healthzBindAddress: 0.0.0.0:1\nmetricsBindAddress: 127.0.0.1:2\nhostnameOverride: a\n"
                + "clientConnection: {kubeconfig: /k}\n").config();
        ProxyConfig flagged = file.with(new ProxyConfig.Overrides(ProxyMode.DEFAULT, BindAddress.parse("127.0.0.2:3", 10256),
                BindAddress.parse("127.0.0.3:4", 10249), "b", "/other"));
        assertEquals("127.0.0.2:3", flagged.healthzBindAddress().toString());
        assertEquals("127.0.0.3:4", flagged.metricsBindAddress().toString());
        assertEquals("b", flagged.hostnameOverride());
        assertEquals("/other", flagged.kubeconfig());
        assertEquals(file, file.with(ProxyConfig.Overrides.NONE), "no flag changes nothing");
    }

    @Test
    void theNodeNameComesFromTheFlagThenNodeNameThenHostnameOverrideThenTheHost() throws Exception {
        ProxyConfig withOverride = parse(HEAD + "hostnameOverride: From-Config\n").config();
        Map<String, String> env = Map.of("NODE_NAME", "from-env");
        assertEquals("from-flag", NodeName.resolve("From-Flag", env::get, withOverride));
        assertEquals("from-env", NodeName.resolve(null, env::get, withOverride));
        assertEquals("from-config", NodeName.resolve(null, k -> null, withOverride));
        assertEquals(NodeName.hostname(), NodeName.resolve(null, k -> null, ProxyConfig.defaults()));
        assertFalse(NodeName.hostname().isBlank());
    }

    @Test
    void aFileIsNamedInItsErrors(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("kube-proxy.yaml");
        Files.writeString(f, HEAD + "iptables:\n  syncPeriod: soon\n");
        ConfigException e = assertThrows(ConfigException.class, () -> KubeProxyConfigReader.read(f));
        assertEquals(f + ":4:15: iptables.syncPeriod: invalid duration \"soon\": expected a number at \"soon\"", e.getMessage());
        ConfigException missing = assertThrows(ConfigException.class, () -> KubeProxyConfigReader.read(dir.resolve("nope.yaml")));
        assertTrue(missing.getMessage().contains("nope.yaml: no such file"), missing.getMessage());
    }

    @Test
    void theModeFlagPicksTheSectionOfAFileWithoutMode(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("kube-proxy.yaml");
        Files.writeString(f, HEAD + "iptables: {syncPeriod: 10s, masqueradeAll: false}\n"
                + "nftables: {syncPeriod: 40s, minSyncPeriod: 3s, masqueradeAll: true}\n"
                + "ipvs: {syncPeriod: 50s, minSyncPeriod: 4s}\n");
        ProxyConfig nft = KubeProxyConfigReader.read(f, ProxyMode.NFTABLES).config();
        assertTrue(nft.masqueradeAll(), "--mode nftables must apply nftables.masqueradeAll");
        assertEquals(Duration.ofSeconds(40), nft.syncPeriod());
        assertEquals(Duration.ofSeconds(3), nft.minSyncPeriod());
        ProxyConfig ipvs = KubeProxyConfigReader.read(f, ProxyMode.IPVS).config();
        assertEquals(Duration.ofSeconds(50), ipvs.syncPeriod());
        assertFalse(ipvs.masqueradeAll(), "ipvs mode reads iptables.masqueradeAll, as kube-proxy");
        ProxyConfig ipt = KubeProxyConfigReader.read(f, null).config();
        assertEquals(Duration.ofSeconds(10), ipt.syncPeriod(), "no flag: the file's (empty) mode, iptables");
        assertFalse(ipt.masqueradeAll());
        Files.writeString(f, HEAD + "mode: iptables\nnftables: {masqueradeAll: true}\n");
        assertTrue(KubeProxyConfigReader.read(f, ProxyMode.NFTABLES).config().masqueradeAll(),
                "the flag wins over the file's mode, section included");
    }

    @Test
    void localhostNodePortsIsReadAndDefaultsToTrueAsKubeProxy() throws Exception {
        assertTrue(parse(HEAD).config().localhostNodePorts(), "kube-proxy's default");
        assertTrue(parse(HEAD + "iptables: {localhostNodePorts: null}\n").config().localhostNodePorts(), "null is the default");
        assertFalse(parse(HEAD + "iptables: {localhostNodePorts: false}\n").config().localhostNodePorts());
        assertTrue(parse(HEAD + "iptables: {localhostNodePorts: false}\n").warnings().isEmpty(), "no longer an unused field");
        ConfigException e = rejected(HEAD + "iptables: {localhostNodePorts: maybe}\n");
        assertTrue(e.getMessage().contains("iptables.localhostNodePorts"), e.getMessage());
    }

    @Test
    void multiCidrServiceAllocatorGateIsReadAndOffByDefaultAsInKubeProxy132() throws Exception {
        assertFalse(parse(HEAD).config().multiCidrServiceAllocator(), "kube-proxy 1.32's default: no ServiceCIDR watch");
        KubeProxyConfigReader.Result on = parse(HEAD + "featureGates:\n  MultiCIDRServiceAllocator: true\n");
        assertTrue(on.config().multiCidrServiceAllocator());
        assertTrue(on.warnings().isEmpty(), on.warnings().toString());
        KubeProxyConfigReader.Result other = parse(HEAD + "featureGates:\n  SomeOtherGate: true\n");
        assertFalse(other.config().multiCidrServiceAllocator());
        assertTrue(other.warnings().stream().anyMatch(w -> w.contains("featureGates.SomeOtherGate")), other.warnings().toString());
        ConfigException e = rejected(HEAD + "featureGates: {MultiCIDRServiceAllocator: yes-please}\n");
        assertTrue(e.getMessage().contains("featureGates.MultiCIDRServiceAllocator"), e.getMessage());
    }
}
