package dev.ferry.rules.iptables;

import dev.ferry.rules.KernelTool;
import dev.ferry.rules.ToolResult;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Removes the iptables state of Ferry's (and kube-proxy's) iptables mode for one family: the jump
 * rules from the built-in chains, then every owned chain, flushed and deleted in one
 * iptables-restore --noflush transaction. Chains that belong to kubelet (KUBE-MARK-DROP,
 * KUBE-KUBELET-CANARY, and a KUBE-FIREWALL with kubelet's rules) are left alone, as kube-proxy's own
 * cleanup does; a KUBE-FIREWALL holding only the localhost-NodePort rule is Ferry's and removed.
 * Stateless.
 */
public final class IptablesCleanup {
    private static final Set<String> FIXED = Set.of(ChainNames.SERVICES, ChainNames.EXTERNAL_SERVICES,
            ChainNames.NODEPORTS, ChainNames.POSTROUTING, ChainNames.MARK_MASQ, ChainNames.FORWARD,
            ChainNames.PROXY_FIREWALL, "KUBE-PROXY-CANARY",
            // IPVS mode's glue chains
            "KUBE-NODE-PORT", "KUBE-LOAD-BALANCER", "KUBE-SOURCE-RANGES-FIREWALL", "KUBE-IPVS-FILTER",
            "KUBE-IPVS-OUT-FILTER");

    private IptablesCleanup() {}

    /** As {@link #run(KernelTool, boolean, IptablesBackend)} with the unsuffixed binaries. */
    public static List<String> run(KernelTool tool, boolean v6) throws IOException {
        return run(tool, v6, IptablesBackend.SYSTEM);
    }

    /**
     * Removes the chains from one backend. The listing is one full {@code -save} (not {@code -t TABLE}):
     * asking the legacy backend for a table it does not have would create it.
     *
     * @return what was removed, one line per action
     */
    public static List<String> run(KernelTool tool, boolean v6, IptablesBackend backend) throws IOException {
        String iptables = backend.iptables(v6);
        List<String> done = new ArrayList<>();
        StringBuilder payload = new StringBuilder();
        ToolResult save = tool.run(List.of(backend.save(v6)));
        if (!save.ok()) {
            throw new IOException(save.commandLine() + " failed: " + save.stderr().strip());
        }
        Map<String, List<String>> byTable = tables(save.stdout());
        for (String table : List.of("filter", "nat")) {
            List<String> owned = new ArrayList<>();
            List<String> jumps = new ArrayList<>();
            boolean firewallOurs = table.equals("filter") && firewallIsOurs(byTable.getOrDefault(table, List.of()));
            java.util.function.Predicate<String> mine = c -> owns(c) || (firewallOurs && c.equals(ChainNames.KUBELET_FIREWALL));
            for (String line : byTable.getOrDefault(table, List.of())) {
                if (line.startsWith(":")) {
                    String chain = line.substring(1, line.indexOf(' ') < 0 ? line.length() : line.indexOf(' '));
                    if (mine.test(chain)) owned.add(chain);
                } else if (line.startsWith("-A ")) {
                    String[] w = line.split(" ");
                    String chain = w[1];
                    String target = jumpTarget(w);
                    if (!mine.test(chain) && target != null && mine.test(target)) {
                        jumps.add(line); // a rule outside our chains that leads into them
                    }
                }
            }
            for (String rule : jumps) {
                // iptables-save prints the rule in the form -D accepts; quoting is only around comments
                List<String> argv = new ArrayList<>(List.of(iptables, "-w", "5", "-t", table, "-D"));
                argv.addAll(words(rule.substring(3)));
                ToolResult r = tool.run(argv);
                if (r.ok()) {
                    done.add(iptables + " -t " + table + ": removed " + rule);
                } else {
                    throw new IOException(r.commandLine() + " failed: " + r.stderr().strip());
                }
            }
            if (!owned.isEmpty()) {
                payload.append('*').append(table).append('\n');
                for (String c : owned) payload.append(':').append(c).append(" - [0:0]\n");
                for (String c : owned) payload.append("-X ").append(c).append('\n');
                payload.append("COMMIT\n");
                done.add(iptables + " -t " + table + ": deleted " + owned.size() + " chains");
            }
        }
        if (payload.length() > 0) {
            List<String> argv = new ArrayList<>(List.of(backend.restore(v6)));
            argv.addAll(KernelTool.xtablesWaitArgs());
            argv.add("--noflush");
            tool.runChecked(argv, payload.toString());
        }
        return done;
    }

    /** The lines of a full save listing by table ("*nat" starts the nat section, "COMMIT" ends it). */
    static Map<String, List<String>> tables(String save) {
        Map<String, List<String>> out = new HashMap<>();
        List<String> current = null;
        for (String line : save.split("\n")) {
            if (line.startsWith("*")) {
                current = out.computeIfAbsent(line.substring(1).strip(), k -> new ArrayList<>());
            } else if (line.equals("COMMIT")) {
                current = null;
            } else if (current != null) {
                current.add(line);
            }
        }
        return out;
    }

    /**
     * KUBE-FIREWALL is Ferry's (and kube-proxy's, since kubelet 1.28 stopped writing it) when it holds
     * nothing but the localhost-NodePort martian rule; an older kubelet's (with its KUBE-MARK-DROP
     * rule) is left alone, as kube-proxy's cleanup does.
     */
    static boolean firewallIsOurs(List<String> filterLines) {
        boolean any = false;
        for (String line : filterLines) {
            if (line.startsWith("-A " + ChainNames.KUBELET_FIREWALL + " ")) {
                if (!line.contains("block incoming localnet connections")) return false;
                any = true;
            }
        }
        return any || filterLines.contains(":" + ChainNames.KUBELET_FIREWALL + " - [0:0]");
    }

    static boolean owns(String chain) {
        return FIXED.contains(chain) || ChainNames.isServiceChain(chain);
    }

    private static String jumpTarget(String[] w) {
        for (int i = 0; i < w.length - 1; i++) {
            if (w[i].equals("-j") || w[i].equals("-g")) return w[i + 1];
        }
        return null;
    }

    /** Splits an iptables-save rule into words, keeping "quoted comments" as one word without quotes. */
    static List<String> words(String rule) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean q = false;
        boolean any = false;
        for (int i = 0; i < rule.length(); i++) {
            char c = rule.charAt(i);
            if (c == '"') {
                q = !q;
                any = true;
            } else if (c == ' ' && !q) {
                if (any || cur.length() > 0) out.add(cur.toString());
                cur.setLength(0);
                any = false;
            } else {
                cur.append(c);
            }
        }
        if (any || cur.length() > 0) out.add(cur.toString());
        return out;
    }
}
