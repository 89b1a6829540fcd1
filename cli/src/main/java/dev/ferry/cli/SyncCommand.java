package dev.ferry.cli;

import dev.ferry.convert.ClusterConverter;
import dev.ferry.convert.Conversion;
import dev.ferry.model.Rejection;
import dev.ferry.model.Cidr;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.iptables.IptablesRenderer;
import dev.ferry.rules.iptables.RenderOptions;
import dev.ferry.rules.nft.NftOptions;
import dev.ferry.rules.nft.NftRenderer;
import dev.ferry.select.EndpointSelector;
import dev.ferry.select.NodeInfo;
import dev.ferry.source.Manifest;
import dev.ferry.source.ManifestReader;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `ferry sync --dry-run`: renders the kernel rule payload Ferry would apply for a YAML file of
 * Services and EndpointSlices, and prints it without touching the kernel — for review, diffing
 * against kube-proxy's rules, and bug reports.
 */
@Command(name = "sync", mixinStandardHelpOptions = true,
        description = "Print the rule payload (iptables-restore or nft -f input) for a source file, without applying it.")
final class SyncCommand implements Callable<Integer> {
    enum Mode { iptables, nftables }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--dry-run", required = true, description = "Print instead of applying (required: this command never applies).")
    boolean dryRun;

    @Option(names = "--source", required = true, paramLabel = "FILE", description = "Kubernetes YAML of Services and EndpointSlices.")
    Path source;

    @Option(names = "--source-max-bytes", paramLabel = "SIZE", converter = RunCommand.ByteSize.class, defaultValue = "256M",
            description = "Refuse a source file larger than this (bytes, or 64M, 1G; default ${DEFAULT-VALUE}).")
    long sourceMaxBytes;

    @Option(names = "--mode", required = true, paramLabel = "MODE", description = "${COMPLETION-CANDIDATES}")
    Mode mode;

    @Option(names = "--node-name", paramLabel = "NAME", defaultValue = "", description = "This node, for Local traffic policies.")
    String nodeName;

    @Option(names = "--node-zone", paramLabel = "ZONE", defaultValue = "", description = "This node's topology.kubernetes.io/zone.")
    String nodeZone;

    @Option(names = "--cluster-cidr", paramLabel = "CIDR", split = ",", description = "Pod CIDRs (clusterCIDR): traffic from outside is masqueraded.")
    List<String> clusterCidrs = new ArrayList<>();

    @Option(names = "--masquerade-all", description = "Masquerade all ClusterIP traffic (iptables.masqueradeAll).")
    boolean masqueradeAll;

    @Option(names = "--node-port-addresses", paramLabel = "CIDR", split = ",", description = "CIDRs of node addresses NodePorts answer on (default: all).")
    List<String> nodePortAddresses = new ArrayList<>();

    @Option(names = "--service-cidr", paramLabel = "CIDR", split = ",",
            description = "Service (ClusterIP) ranges: nftables mode drops connections to unallocated addresses in them.")
    List<String> serviceCidrs = new ArrayList<>();

    @Option(names = "--node-ip", paramLabel = "IP", split = ",",
            description = "This node's primary IPs: loadBalancerSourceRanges covering one also admit the LB IPs as sources.")
    List<String> nodeIps = new ArrayList<>();

    @Option(names = "--localhost-nodeports", paramLabel = "BOOL", defaultValue = "true", arity = "1",
            description = "iptables.localhostNodePorts: iptables mode serves NodePorts on 127.0.0.0/8 (default: ${DEFAULT-VALUE}).")
    boolean localhostNodePorts;

    private List<Cidr> cidrs(String flag, List<String> values) {
        List<Cidr> out = new ArrayList<>();
        for (String v : values) {
            try {
                out.add(Cidr.parse(v));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), flag + ": " + e.getMessage());
            }
        }
        return out;
    }

    @Override
    public Integer call() throws Exception {
        List<Cidr> cluster = cidrs("--cluster-cidr", clusterCidrs);
        List<Cidr> nodePorts = cidrs("--node-port-addresses", nodePortAddresses);
        List<Cidr> services = cidrs("--service-cidr", serviceCidrs);
        List<java.net.InetAddress> node = new ArrayList<>();
        for (String ip : nodeIps) {
            java.net.InetAddress a = dev.ferry.model.IpAddresses.parse(ip.trim());
            if (a == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--node-ip: \"" + ip + "\" is not an IP address");
            }
            node.add(a);
        }
        Manifest manifest = ManifestReader.read(source, ManifestReader.Limits.DEFAULTS.withMaxBytes(sourceMaxBytes));

        Conversion c = ClusterConverter.convert(manifest.services(), manifest.endpointSlices());
        PrintWriter err = spec.commandLine().getErr();
        for (Rejection r : c.rejections()) {
            err.println("ferry sync: skipped " + manifest.locate(r) + ": " + r);
        }
        List<ServicePort> ports = EndpointSelector.selectAll(c.ports(), new NodeInfo(nodeName, nodeZone));
        manifest = null; // the file's objects and the unselected ports may go before rendering (a 50 MB file's are ~350 MB)
        c = null;
        PrintWriter out = spec.commandLine().getOut();
        if (mode == Mode.iptables) {
            RenderOptions v4 = RenderOptions.defaults(false).withClusterCidrs(cluster).withMasqueradeAll(masqueradeAll)
                    .withNodePortAddresses(nodePorts).withLocalhostNodePorts(localhostNodePorts).withNodeIps(node);
            out.println("# iptables-restore payload (IPv4)");
            out.print(IptablesRenderer.render(ports, v4));
            out.println("# ip6tables-restore payload (IPv6)");
            out.print(IptablesRenderer.render(ports, v4.withFamily(true)));
        } else {
            NftOptions o = NftOptions.defaults().withClusterCidrs(cluster).withMasqueradeAll(masqueradeAll)
                    .withNodePortAddresses(nodePorts).withServiceCidrs(services).withNodeIps(node);
            out.print(NftRenderer.render(ports, o));
        }
        out.flush();
        return 0;
    }
}
