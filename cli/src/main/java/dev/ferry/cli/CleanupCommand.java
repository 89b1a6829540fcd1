package dev.ferry.cli;

import dev.ferry.proxy.ServiceInterface;
import dev.ferry.rules.Cleanup;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.nft.NftCleanup;
import dev.ferry.rules.nft.NftOptions;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `ferry cleanup`: removes every kernel object Ferry installs — the KUBE-* iptables chains (Ferry
 * uses kube-proxy's layout, so these are also kube-proxy's iptables mode's), IPVS state and KUBE-*
 * ipsets, Ferry's nftables tables and the ferry0 service-address interface. With --kube-proxy it
 * also removes kube-proxy's own nftables tables, for a node that is switching from kube-proxy.
 * Run it with the daemon stopped; the mapped tables in the state dir are left alone.
 */
@Command(name = "cleanup", mixinStandardHelpOptions = true,
        description = "Remove every rule, table and interface Ferry (and with --kube-proxy, kube-proxy) installed.")
final class CleanupCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--kube-proxy", description = "Also remove kube-proxy's leftovers (its nftables tables, IPVS state, kube-ipvs0).")
    boolean kubeProxy;

    @Option(names = "--netns", hidden = true, paramLabel = "NAME", description = "Run inside this network namespace (tests).")
    String netns;

    @Override
    public Integer call() throws IOException {
        KernelTool tool = netns == null ? new KernelTool() : KernelTool.inNamespace(netns, Duration.ofSeconds(30));
        List<String> done = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        Cleanup.Report rules = Cleanup.run(tool, kubeProxy);
        done.addAll(rules.done());
        failed.addAll(rules.failed());
        NftCleanup nft = new NftCleanup(tool);
        NftCleanup.Report ferryTables = nft.ferry(NftOptions.DEFAULT_TABLE);
        done.addAll(ferryTables.removed());
        failed.addAll(ferryTables.failed());
        if (kubeProxy) {
            NftCleanup.Report kp = nft.kubeProxy();
            done.addAll(kp.removed());
            failed.addAll(kp.failed());
        }
        if (netns == null) {
            try {
                if (ServiceInterface.cleanup("ferry0")) {
                    done.add("deleted interface ferry0");
                }
            } catch (IOException e) {
                failed.add("ip link del ferry0: " + e.getMessage());
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        for (String d : done) out.println("removed: " + d);
        if (done.isEmpty() && failed.isEmpty()) out.println("nothing to remove");
        out.flush();
        for (String f : failed) spec.commandLine().getErr().println("ferry cleanup: failed: " + f);
        return failed.isEmpty() ? 0 : 1;
    }
}
