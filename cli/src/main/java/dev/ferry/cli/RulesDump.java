package dev.ferry.cli;

import dev.ferry.rules.KernelTool;
import dev.ferry.rules.ToolResult;
import dev.ferry.rules.iptables.IptablesBackend;
import dev.ferry.rules.nft.NftOptions;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;

/**
 * `ferry dump rules`: the rules Ferry owns as the kernel holds them now — the KUBE-* chains of the
 * filter and nat tables (iptables and ip6tables, in the nf_tables and in the legacy backend) and
 * Ferry's nftables tables — optionally only the
 * lines that name one service. Read from the kernel, not from the daemon: what is really there.
 */
final class RulesDump {
    private final KernelTool tool;
    private final PrintWriter out;
    private final PrintWriter err;

    RulesDump(KernelTool tool, PrintWriter out, PrintWriter err) {
        this.tool = tool;
        this.out = out;
        this.err = err;
    }

    int print(String ns, String name) {
        String needle = ns == null ? null : name == null ? "\"" + ns + "/" : "\"" + ns + "/" + name;
        boolean any = false;
        int failures = 0;
        int ran = 0;
        // Both backends: a node may hold KUBE-* chains in either (or, half-migrated, in both). A full
        // save lists only tables that exist; "-save -t nat" would create the legacy nat table.
        for (IptablesBackend backend : List.of(IptablesBackend.NFT, IptablesBackend.LEGACY)) {
            for (boolean v6 : new boolean[] {false, true}) {
                String cmd = backend.save(v6);
                ToolResult r;
                try {
                    r = tool.run(List.of(cmd));
                } catch (IOException e) {
                    continue; // this backend's tools are not installed
                }
                if (!r.ok() && r.stderr().contains("No such file or directory")) {
                    continue; // the same, run through `ip netns exec`
                }
                ran++;
                if (!r.ok()) {
                    err.println("ferry dump rules: " + r.commandLine() + ": " + r.stderr().strip());
                    failures++;
                    continue;
                }
                any |= printOurs(cmd, r.stdout(), needle);
            }
        }
        if (ran == 0) {
            err.println("ferry dump rules: neither iptables-nft-save nor iptables-legacy-save is installed");
        }
        for (String family : List.of("ip", "ip6")) {
            try {
                ToolResult r = tool.run(List.of("nft", "list", "table", family, NftOptions.DEFAULT_TABLE));
                if (!r.ok()) {
                    continue; // no such table: Ferry runs in another mode
                }
                out.println("# nft list table " + family + " " + NftOptions.DEFAULT_TABLE);
                // nft names a service's chains "<kind>-<hash>-ns/name/proto/port" and Ferry comments
                // every map entry "ns/name/proto/port": with a filter, print those chains whole and
                // the entries, each under the header of its map or set.
                String chainPart = ns == null ? null : name == null ? "-" + ns + "/" : "-" + ns + "/" + name + "/";
                String commentPart = ns == null ? null : "comment \"" + ns + "/" + (name == null ? "" : name + "/");
                boolean inChain = false;
                String setHeader = null;
                boolean headerShown = false;
                for (String line : r.stdout().split("\n")) {
                    String t = line.trim();
                    if (chainPart == null) {
                        out.println(line);
                        continue;
                    }
                    if (t.startsWith("chain ")) {
                        inChain = t.contains(chainPart);
                    } else if (t.startsWith("map ") || t.startsWith("set ")) {
                        setHeader = line;
                        headerShown = t.contains(chainPart); // the service's own (affinity) set: all of it
                        if (headerShown) {
                            out.println(line);
                        }
                        continue;
                    }
                    if (setHeader != null && (t.contains(commentPart) || t.contains(chainPart))) {
                        if (!headerShown) {
                            out.println(setHeader);
                            headerShown = true;
                        }
                        out.println(line);
                    } else if (inChain || t.contains(chainPart)) {
                        out.println(line);
                    }
                    if (t.equals("}")) {
                        if (inChain) {
                            inChain = false;
                        } else if (setHeader != null) {
                            if (headerShown) {
                                out.println(line);
                            }
                            setHeader = null;
                        }
                    }
                }
                any = true;
            } catch (IOException e) {
                err.println("ferry dump rules: nft: " + e.getMessage());
            }
        }
        if (!any && failures == 0) {
            err.println("ferry dump rules: no Ferry rules in the kernel (userspace mode, or not synced yet)");
        }
        out.flush();
        return ran > 0 && failures == ran ? 1 : 0;
    }

    /** Prints the KUBE-* lines of the filter and nat sections of one save output; true when any. */
    private boolean printOurs(String cmd, String save, String needle) {
        boolean any = false;
        String table = null;
        StringBuilder sb = new StringBuilder();
        for (String line : save.split("\n")) {
            if (line.startsWith("*")) {
                table = line.substring(1).strip();
                sb.setLength(0);
            } else if (line.equals("COMMIT")) {
                if (sb.length() > 0) {
                    out.println("# " + cmd + " -t " + table);
                    out.print(sb);
                    any = true;
                }
                table = null;
            } else if (("filter".equals(table) || "nat".equals(table)) && ours(line)
                    && (needle == null || line.contains(needle))) {
                sb.append(line).append('\n');
            }
        }
        return any;
    }

    private static boolean ours(String line) {
        return line.startsWith(":KUBE-") || line.startsWith("-A KUBE-") || (line.startsWith("-A ") && line.contains("-j KUBE-"));
    }
}
