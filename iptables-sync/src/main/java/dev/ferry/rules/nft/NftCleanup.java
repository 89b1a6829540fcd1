package dev.ferry.rules.nft;

import dev.ferry.rules.KernelTool;
import dev.ferry.rules.ToolResult;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Removes nftables tables for {@code ferry cleanup}: Ferry's own {@code ip}/{@code ip6} tables, or
 * with {@link #kubeProxy()} the ones kube-proxy's nftables mode leaves ({@code ip kube-proxy},
 * {@code ip6 kube-proxy}). Nothing else is touched. Absent tables are not an error; each table is
 * deleted in its own transaction so one failure does not keep the others. Thread-safe.
 */
public final class NftCleanup {
    private final KernelTool tool;

    public NftCleanup(KernelTool tool) {
        this.tool = tool;
    }

    /** What was removed ("ip ferry") and what failed (with nft's message). */
    public record Report(List<String> removed, List<String> failed) {
        public boolean ok() {
            return failed.isEmpty();
        }
    }

    /** Deletes {@code ip <table>} and {@code ip6 <table>} (Ferry's: {@link NftOptions#table()}). */
    public Report ferry(String table) throws IOException {
        return delete(table);
    }

    /** Deletes kube-proxy's nftables tables ({@code ferry cleanup --kube-proxy}). */
    public Report kubeProxy() throws IOException {
        return delete("kube-proxy");
    }

    private Report delete(String table) throws IOException {
        List<String> removed = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        ToolResult list = tool.run(List.of("nft", "list", "tables"));
        if (!list.ok()) {
            failed.add(list.commandLine() + ": " + list.stderr().strip());
            return new Report(removed, failed);
        }
        for (NftFamily f : NftFamily.values()) {
            String name = f.table + " " + table;
            if (list.stdout().lines().noneMatch(l -> l.strip().equals("table " + name))) {
                continue;
            }
            ToolResult r = tool.run(List.of("nft", "delete", "table", f.table, table));
            if (r.ok()) {
                removed.add(name);
            } else {
                failed.add(name + ": " + r.stderr().strip());
            }
        }
        return new Report(removed, failed);
    }
}
