package dev.ferry.rules;

import dev.ferry.rules.iptables.IptablesBackend;
import dev.ferry.rules.iptables.IptablesBackendDetector;
import dev.ferry.rules.iptables.IptablesCleanup;
import dev.ferry.rules.ipvs.IpvsSupport;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * `ferry cleanup [--kube-proxy]`: removes every iptables rule and chain Ferry's iptables and IPVS
 * modes install, from each installed iptables backend (nft and legacy; they use kube-proxy's names,
 * so this also removes kube-proxy's iptables leftovers),
 * the IPVS virtual servers, the KUBE-* ipsets and the kube-ipvs0 service-address interface; with
 * kubeProxy also kube-proxy's nftables tables ({@code ip kube-proxy}, {@code ip6 kube-proxy}).
 * Ferry's own nftables table is removed by the nft package's cleanup. Each step runs even if an
 * earlier one failed; the report lists what was done and what failed.
 * Stateless; safe from any thread (but two concurrent cleanups race in the kernel, as any tools do).
 */
public final class Cleanup {

    /** What a cleanup did: one line per action, and the failures (empty when everything worked). */
    public record Report(List<String> done, List<String> failed) {
        public Report {
            done = List.copyOf(done);
            failed = List.copyOf(failed);
        }

        public boolean ok() {
            return failed.isEmpty();
        }
    }

    private Cleanup() {}

    public static Report run(KernelTool tool, boolean kubeProxy) {
        List<String> done = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        // Both backends: chains left in the one Ferry does not use now (a node that switched, or
        // kube-proxy on the other backend) would still catch traffic.
        for (IptablesBackend backend : IptablesBackendDetector.installed(tool)) {
            for (boolean v6 : new boolean[] {false, true}) {
                try {
                    done.addAll(IptablesCleanup.run(tool, v6, backend));
                } catch (IOException e) {
                    failed.add(backend.iptables(v6) + ": " + e.getMessage());
                }
            }
        }
        if (IpvsSupport.check() == null) {
            step(tool, List.of("ipvsadm", "-C"), "cleared IPVS virtual servers", done, failed, false);
        }
        step(tool, List.of("ip", "link", "del", "kube-ipvs0"), "deleted interface kube-ipvs0", done, failed, true);
        try {
            ToolResult sets = tool.run(List.of("ipset", "list", "-n"));
            if (sets.ok()) {
                for (String set : sets.stdout().split("\n")) {
                    if (set.startsWith("KUBE-")) {
                        step(tool, List.of("ipset", "destroy", set), "destroyed ipset " + set, done, failed, false);
                    }
                }
            }
        } catch (IOException e) {
            // no ipset tool: there are no ipsets to remove
        }
        if (kubeProxy) {
            step(tool, List.of("nft", "delete", "table", "ip", "kube-proxy"), "deleted nft table ip kube-proxy", done, failed, true);
            step(tool, List.of("nft", "delete", "table", "ip6", "kube-proxy"), "deleted nft table ip6 kube-proxy", done, failed, true);
        }
        return new Report(done, failed);
    }

    /** Runs one step; when absentIsFine a failure (the thing was not there) is not reported. */
    private static void step(KernelTool tool, List<String> argv, String what, List<String> done, List<String> failed,
                             boolean absentIsFine) {
        try {
            ToolResult r = tool.run(argv);
            if (r.ok()) {
                done.add(what);
            } else if (!absentIsFine) {
                failed.add(r.commandLine() + ": " + r.stderr().strip());
            }
        } catch (IOException e) {
            if (!absentIsFine) {
                failed.add(String.join(" ", argv) + ": " + e.getMessage());
            }
        }
    }
}
