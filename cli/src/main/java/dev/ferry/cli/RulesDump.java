package dev.ferry.cli;

import dev.ferry.rules.KernelTool;
import dev.ferry.rules.ToolResult;
import dev.ferry.rules.nft.NftOptions;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;

/**
 * `ferry dump rules`: the rules Ferry owns as the kernel holds them now — the KUBE-* chains of the
 * filter and nat tables (iptables and ip6tables) and Ferry's nftables tables — optionally only the
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
        for (String cmd : List.of("iptables-save", "ip6tables-save")) {
            for (String table : List.of("filter", "nat")) {
                try {
                    ToolResult r = tool.run(List.of(cmd, "-t", table));
                    if (!r.ok()) {
                        err.println("ferry dump rules: " + r.commandLine() + ": " + r.stderr().strip());
                        failures++;
                        continue;
                    }
                    StringBuilder sb = new StringBuilder();
                    for (String line : r.stdout().split("\n")) {
                        boolean ours = line.startsWith(":KUBE-") || line.startsWith("-A KUBE-")
                                || (line.startsWith("-A ") && line.contains("-j KUBE-"));
                        if (ours && (needle == null || line.contains(needle))) {
                            sb.append(line).append('\n');
                        }
                    }
                    if (sb.length() > 0) {
                        out.println("# " + cmd + " -t " + table);
                        out.print(sb);
                        any = true;
                    }
                } catch (IOException e) {
                    err.println("ferry dump rules: " + cmd + ": " + e.getMessage());
                    failures++;
                }
            }
        }
        for (String family : List.of("ip", "ip6")) {
            try {
                ToolResult r = tool.run(List.of("nft", "list", "table", family, NftOptions.DEFAULT_TABLE));
                if (!r.ok()) {
                    continue; // no such table: Ferry runs in another mode
                }
                out.println("# nft list table " + family + " " + NftOptions.DEFAULT_TABLE);
                // nft names a service's chains "<kind>-<hash>-ns/name/proto/port": with a filter, print
                // those chains whole and the map elements that point at them.
                String chainPart = ns == null ? null : name == null ? "-" + ns + "/" : "-" + ns + "/" + name + "/";
                boolean inChain = false;
                for (String line : r.stdout().split("\n")) {
                    String t = line.trim();
                    if (chainPart == null) {
                        out.println(line);
                        continue;
                    }
                    if (t.startsWith("chain ")) {
                        inChain = t.contains(chainPart);
                    }
                    if (inChain || t.contains(chainPart)) {
                        out.println(line);
                    }
                    if (inChain && t.equals("}")) {
                        inChain = false;
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
        return failures == 4 ? 1 : 0;
    }
}
