package dev.ferry.rules.iptables;

import dev.ferry.rules.KernelConntrackCleaner;
import dev.ferry.model.ServicePort;
import dev.ferry.rules.ApplyException;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.RuleSyncer;
import dev.ferry.rules.GenerationWatch;
import dev.ferry.rules.RulesetGeneration;
import dev.ferry.rules.StaleUdpFlows;
import dev.ferry.rules.SyncReport;
import dev.ferry.rules.ToolResult;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * iptables mode: renders with {@link IptablesRenderer} and applies each family's payload as one
 * {@code iptables-restore --noflush} transaction (ip6tables-restore for IPv6), waiting for the
 * xtables lock. A full sync rewrites every chain Ferry owns and (re)installs the jumps from the
 * built-in chains; a partial sync writes only the chains whose content changed and deletes stale
 * service chains. Start-up flushes nothing: the first sync learns the existing KUBE-* chains from
 * iptables-save and replaces them in one transaction, so established connections never notice.
 * After a successful apply, stale UDP conntrack entries are removed ({@link StaleUdpFlows}: endpoints that left, frontends
 * that gained their first endpoints) through the {@link KernelConntrackCleaner}. The binaries are
 * those of one {@link IptablesBackend} (legacy, nft, or the unsuffixed names), chosen by the caller,
 * normally with {@link IptablesBackendDetector}.
 *
 * <p>The periodic check ({@link #drift()}), with the nf_tables backend, compares the nf_tables
 * ruleset generation ({@link RulesetGeneration}) with the one Ferry's last sync left, counting its
 * own transactions (one per COMMIT of a restore, one per inserted jump), instead of rewriting every
 * chain; with iptables-legacy every periodic sync stays a full one.
 *
 * <p>Not thread-safe: driven by one {@link dev.ferry.rules.SyncLoop} (or one caller).
 */
public final class IptablesSyncer implements RuleSyncer {
    private static final Logger log = LoggerFactory.getLogger(IptablesSyncer.class);
    /** Hash of a chain known to exist in the kernel but not rendered by this process yet. */
    private static final long UNKNOWN = 0x5eed5eed5eed5eedL;

    private final KernelTool tool;
    private final RenderOptions options;
    private final boolean ipv4;
    private final boolean ipv6;
    private final StaleUdpFlows staleUdp;
    private final IptablesBackend backend;
    private final Family[] families;
    /** route_localnet=1 is set (once; kube-proxy never resets it either). */
    private boolean routeLocalnet;
    /** The nf_tables generation around Ferry's restores (the nf_tables backend only). */
    private final GenerationWatch generation;
    /** nf_tables transactions Ferry made in the current sync (one per COMMIT of a restore, one per inserted jump). */
    private long transactions;

    private final class Family {
        final boolean v6;
        Map<String, Long> applied = Map.of();
        boolean knowKernel; // false: learn existing chains from the kernel before the next sync
        Rendering last;
        String lastPayload; // exactly what the restore binary was given last (jumps, cache request included)
        Boolean nfTables; // whether restore() is iptables-nft; null until asked (only the unsuffixed name needs a probe)
        final RenderCache cache = new RenderCache();

        Family(boolean v6) {
            this.v6 = v6;
        }

        String restore() {
            return backend.restore(v6);
        }

        String save() {
            return backend.save(v6);
        }

        String iptables() {
            return backend.iptables(v6);
        }
    }

    /**
     * A syncer running the unsuffixed binaries (iptables-restore, ...: the node's alternatives' choice).
     *
     * @param conntrack removes stale UDP entries after an apply; null to skip (e.g. no conntrack tool)
     */
    public IptablesSyncer(KernelTool tool, RenderOptions options, boolean ipv4, boolean ipv6,
                          KernelConntrackCleaner conntrack) {
        this(tool, options, ipv4, ipv6, conntrack, IptablesBackend.SYSTEM);
    }

    /**
     * @param conntrack removes stale UDP entries after an apply; null to skip (e.g. no conntrack tool)
     * @param backend   whose binaries to run (legacy, nft or the unsuffixed ones); see {@link IptablesBackendDetector}
     */
    public IptablesSyncer(KernelTool tool, RenderOptions options, boolean ipv4, boolean ipv6,
                          KernelConntrackCleaner conntrack, IptablesBackend backend) {
        if (backend == null) {
            throw new IllegalArgumentException("an iptables backend is required (IptablesBackend.SYSTEM for the unsuffixed binaries)");
        }
        this.backend = backend;
        if (!ipv4 && !ipv6) {
            throw new IllegalArgumentException("at least one IP family must be enabled");
        }
        this.tool = tool;
        this.generation = new GenerationWatch(tool);
        this.options = options;
        this.ipv4 = ipv4;
        this.ipv6 = ipv6;
        this.staleUdp = new StaleUdpFlows(conntrack, ipv4, ipv6, log);
        List<Family> f = new ArrayList<>();
        if (ipv4) f.add(new Family(false));
        if (ipv6) f.add(new Family(true));
        this.families = f.toArray(new Family[0]);
    }

    /** A syncer for IPv4 only, running the tools through tool, with conntrack cleanup through the same prefix. */
    public static IptablesSyncer ipv4(KernelTool tool, RenderOptions options) {
        return ipv4(tool, options, IptablesBackend.SYSTEM);
    }

    /** As {@link #ipv4(KernelTool, RenderOptions)}, running the given backend's binaries. */
    public static IptablesSyncer ipv4(KernelTool tool, RenderOptions options, IptablesBackend backend) {
        List<String> ct = new ArrayList<>(tool.prefix());
        ct.add("conntrack");
        return new IptablesSyncer(tool, options.withFamily(false), true, false, new KernelConntrackCleaner(ct), backend);
    }

    /** Whose binaries this syncer runs. */
    public IptablesBackend backend() {
        return backend;
    }

    @Override
    public SyncReport sync(List<ServicePort> ports, boolean full) throws ApplyException, IOException {
        long renderNanos = 0;
        long applyNanos = 0;
        int lines = 0;
        List<dev.ferry.model.Rejection> rejected = List.of();
        // Read before anything looks at the kernel: a change made after that is caught by the next check.
        long before = onNfTables() ? generation.now() : -1;
        transactions = 0;
        boolean allFull = true;
        for (Family fam : families) {
            boolean famFull = full || !fam.knowKernel;
            allFull &= famFull;
            Map<String, Long> previous = fam.applied;
            Set<String> existing = null;
            if (!fam.knowKernel) {
                existing = existingChains(fam);
                previous = new HashMap<>(fam.applied);
                for (String key : existing) {
                    previous.putIfAbsent(key, UNKNOWN);
                }
            }
            long t0 = System.nanoTime();
            Rendering r = IptablesRenderer.render(ports, options.withFamily(fam.v6), previous, famFull, fam.cache);
            long t1 = System.nanoTime();
            renderNanos += t1 - t0;
            rejected = r.rejected();
            String payload = r.payload();
            boolean tableWide = !r.isEmpty() && tableWideCachePays(r.lines(),
                    r.writtenChains().size() + r.deletedChains().size(), previous.size()) && nfTables(fam);
            List<JumpRules.Jump> toCheck = JumpRules.ALL;
            List<JumpRules.Jump> inline = List.of();
            if (famFull && existing != null) {
                // A jump into a chain the kernel does not have cannot exist (iptables refuses to add
                // one and to delete a chain that is still jumped to), so those jumps join this very
                // transaction instead of costing an iptables -C and -I process each: with the legacy
                // backend every such process reads and rewrites the whole table (≈ 4 s at 10 000 services).
                inline = new ArrayList<>();
                toCheck = new ArrayList<>();
                for (JumpRules.Jump j : JumpRules.ALL) {
                    (existing.contains(j.table() + ":" + j.to()) ? toCheck : inline).add(j);
                }
                if (!tableWide) {
                    payload = withJumps(payload, inline);
                    inline = List.of();
                }
            }
            if (tableWide) {
                // The -S leaves fake entries for base chains the kernel lacks in iptables-nft's cache, and
                // a later -I into such a chain then fails with ENOENT instead of creating it: the jumps
                // follow in a transaction of their own (12 lines; nothing reaches the chains before it).
                payload = withTableWideCache(payload);
            }
            if (!fam.v6 && !routeLocalnet && options.withFamily(false).servesLocalhostNodePorts()) {
                routeLocalnet = enableRouteLocalnet();
            }
            if (!r.isEmpty()) {
                fam.lastPayload = payload;
                restore(fam, payload);
            }
            if (!inline.isEmpty()) {
                restore(fam, withJumps("", inline));
            }
            if (famFull) {
                ensureJumps(fam, toCheck);
            }
            applyNanos += System.nanoTime() - t1;
            lines += r.lines();
            fam.applied = r.chainHashes();
            fam.knowKernel = true;
            fam.last = r;
        }
        if (before >= 0) {
            generation.applied(before, generation.now(), transactions, allFull);
        }
        staleUdp.applied(ports);
        return new SyncReport(full, lines, renderNanos, applyNanos, rejected);
    }

    /** Whether every family's binaries are iptables-nft, whose rules the nf_tables generation covers. */
    private boolean onNfTables() throws IOException {
        for (Family f : families) {
            if (!nfTables(f)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The periodic check, for the nf_tables backend: null when the nf_tables generation is the one
     * Ferry's last sync left and no one else committed around Ferry's syncs since the last full one,
     * i.e. no rule of the namespace changed (a microsecond netlink request instead of iptables-save,
     * which takes about a second per table at 5 000 services). iptables-legacy's tables are not in
     * nf_tables: with that backend every periodic sync is a full one, as before.
     */
    @Override
    public String drift() throws IOException {
        if (!onNfTables()) {
            return "the " + families[0].restore() + " backend is iptables-legacy, whose rules cannot be checked without listing them";
        }
        for (Family f : families) {
            if (!f.knowKernel) {
                return "no full sync has succeeded since the last failure";
            }
        }
        return generation.drift();
    }

    /**
     * Localhost NodePorts DNAT 127.0.0.0/8 to a pod, which the kernel routes only with route_localnet=1;
     * without it the connection hangs. Failure is logged and retried at the next sync (the rules are
     * still applied: other addresses work).
     */
    private boolean enableRouteLocalnet() throws IOException {
        ToolResult r = tool.run(List.of("sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1"));
        if (!r.ok()) {
            log.error("cannot set net.ipv4.conf.all.route_localnet=1 for localhost NodePorts (iptables.localhostNodePorts):"
                    + " {}", r.stderr().strip());
        }
        return r.ok();
    }

    private void restore(Family fam, String payload) throws ApplyException, IOException {
        // A restore prints nothing but the -S listing of a large payload (withTableWideCache).
        ToolResult res = tool.runDiscardingOutput(restoreArgs(fam), payload);
        transactions += commits(payload);
        if (!res.ok()) {
            generation.failed();
            fam.knowKernel = false; // the next (full) sync re-reads what the kernel really has
            ApplyException e = ApplyException.fromToolFailure(res, payload, IptablesSyncer::originOf);
            log.error("{} refused the payload; previous rules stay: {}", fam.restore(), e.getMessage());
            throw e;
        }
    }

    /** iptables-nft-restore commits each table of a payload as one nf_tables transaction. */
    static int commits(String payload) {
        int n = 0;
        for (int i = payload.indexOf("COMMIT"); i >= 0; i = payload.indexOf("COMMIT", i + 6)) {
            boolean lineStart = i == 0 || payload.charAt(i - 1) == '\n';
            int end = i + 6;
            if (lineStart && (end == payload.length() || payload.charAt(end) == '\n')) {
                n++;
            }
        }
        return n;
    }

    /** The rendering last applied for a family (for `ferry dump rules` and tests); null before one. */
    public Rendering lastRendering(boolean v6) {
        for (Family f : families) {
            if (f.v6 == v6) return f.last;
        }
        return null;
    }

    /**
     * The rule payload last handed to the family's restore binary, as given (cache request and jumps
     * included; jumps that followed in a transaction of their own are not); null before one. For tests
     * and debugging.
     */
    String lastPayload(boolean v6) {
        for (Family f : families) {
            if (f.v6 == v6) return f.lastPayload;
        }
        return null;
    }

    /**
     * Lines times chains above which a payload is cheaper to restore with the whole table cached, per
     * chain Ferry has in the kernel. iptables-nft-restore --noflush (1.8.5 to at least 1.8.9) collects
     * the chain names of every command (the rule's chain and its jump target) in a sorted linked list,
     * inserting each with a linear strcmp scan (nft-cache.c: cache_chain_list_insert, called by
     * nft_cache_level_set), so L lines over C chains cost about L x C / 2 compares: 85 % of a profile of
     * 2 000 services, 1.8 / 9 / 87 s at 1 000 / 2 000 / 4 000 services and ~8 min at 10 000. A chain-less
     * command instead makes it cache the whole table, which costs about 15 us per rule already in the
     * table (fetching and printing it; ~4 lines per chain) and nothing per payload line. Measured at
     * 10 000 services in the kernel: 1 000 services rewritten 1.9 s without, 4.0 s with; 2 000 services
     * 17 s without, 4.5 s with. The constant puts the break-even between the two.
     */
    static final long LINE_CHAINS_PER_KERNEL_CHAIN = 4_000;

    /**
     * Below this many lines times chains the chain list costs ~10 ms or less (100 services), so small
     * payloads keep the plain single transaction even into an empty kernel.
     */
    static final long MIN_LINE_CHAINS = 1_000_000;

    /**
     * Whether a payload of the given lines, declaring or deleting the given chains, is cheaper to
     * restore with the whole table cached than by iptables-nft's per-chain list, given how many chains
     * Ferry has in the kernel: for a full sync of more than ~100 services (into an empty kernel or over
     * the same rules), never for a change to a few services of a large table (that would fetch and
     * print every rule).
     */
    static boolean tableWideCachePays(int payloadLines, int payloadChains, int kernelChains) {
        long lineChains = (long) payloadLines * payloadChains;
        return lineChains > MIN_LINE_CHAINS && lineChains > LINE_CHAINS_PER_KERNEL_CHAIN * kernelChains;
    }

    /**
     * The payload with a chain-less {@code -S} as the first command of every table. iptables-nft
     * builds its cache for the chains its commands name, unless one command names none: then it
     * caches the whole table and stops collecting names (see {@link #LINE_CHAINS_PER_KERNEL_CHAIN}).
     * {@code -S} is the read-only such command: it prints the table as it was before this
     * transaction to stdout and changes nothing, so the rules in the kernel are the same as without it
     * (the alternatives change others' rules: {@code -Z} zeroes every counter, {@code -F} / {@code -X}
     * flush or delete every chain).
     */
    static String withTableWideCache(String payload) {
        StringBuilder out = new StringBuilder(payload.length() + 16);
        int start = 0;
        while (start < payload.length()) {
            int end = payload.indexOf('\n', start);
            end = end < 0 ? payload.length() : end + 1;
            out.append(payload, start, end);
            if (payload.charAt(start) == '*') {
                if (end == payload.length() && payload.charAt(end - 1) != '\n') out.append('\n');
                out.append("-S\n");
            }
            start = end;
        }
        return out.toString();
    }

    /**
     * Whether the family's restore binary is iptables-nft: known for the named backends, asked once
     * ({@code --version} says "(nf_tables)" or "(legacy)") for the unsuffixed one.
     */
    private boolean nfTables(Family fam) throws IOException {
        if (fam.nfTables == null) {
            if (backend.equals(IptablesBackend.NFT) || backend.equals(IptablesBackend.LEGACY)) {
                fam.nfTables = backend.equals(IptablesBackend.NFT);
            } else {
                ToolResult v = tool.run(List.of(fam.restore(), "--version"));
                fam.nfTables = v.ok() && (v.stdout() + v.stderr()).contains("nf_tables");
                log.info("{} is the {} backend", fam.restore(), fam.nfTables ? "nf_tables" : "legacy (or unknown)");
            }
        }
        return fam.nfTables;
    }

    private List<String> restoreArgs(Family fam) {
        List<String> a = new ArrayList<>();
        a.add(fam.restore());
        a.addAll(KernelTool.xtablesWaitArgs());
        a.add("--noflush");
        a.add("--counters");
        return a;
    }

    /** "nat:CHAIN" / "filter:CHAIN" for every KUBE-* chain the kernel has now. */
    private Set<String> existingChains(Family fam) throws IOException {
        Set<String> out = new HashSet<>();
        for (String table : List.of("nat", "filter")) {
            ToolResult r = tool.run(List.of(fam.save(), "-t", table));
            if (!r.ok()) {
                throw new IOException(r.commandLine() + " failed: " + r.stderr().strip());
            }
            for (String line : r.stdout().split("\n")) {
                if (line.startsWith(":KUBE-")) {
                    int sp = line.indexOf(' ');
                    out.add(table + ":" + line.substring(1, sp < 0 ? line.length() : sp));
                }
            }
        }
        return out;
    }

    /**
     * The payload with jumps inserted at the top of their built-in chains, in the order
     * {@link #ensureJumps} would insert them (each at position 1), just before the COMMIT of their table.
     */
    static String withJumps(String payload, List<JumpRules.Jump> jumps) {
        if (jumps.isEmpty()) {
            return payload;
        }
        StringBuilder out = new StringBuilder(payload.length() + jumps.size() * 128);
        out.append(payload);
        for (String table : List.of("filter", "nat")) {
            StringBuilder lines = new StringBuilder();
            for (JumpRules.Jump j : jumps) {
                if (!j.table().equals(table)) continue;
                lines.append("-I ").append(j.from()).append(" 1");
                List<String> a = j.ruleArgs();
                for (int i = 0; i < a.size(); i++) {
                    boolean comment = i > 0 && a.get(i - 1).equals("--comment");
                    lines.append(' ').append(comment ? '"' + a.get(i) + '"' : a.get(i));
                }
                lines.append('\n');
            }
            if (lines.length() == 0) continue;
            int start = out.indexOf("*" + table + "\n");
            int commit = start < 0 ? -1 : out.indexOf("COMMIT\n", start);
            if (commit < 0) {
                out.append('*').append(table).append('\n').append(lines).append("COMMIT\n");
            } else {
                out.insert(commit, lines);
            }
        }
        return out.toString();
    }

    private void ensureJumps(Family fam, List<JumpRules.Jump> jumps) throws IOException {
        for (JumpRules.Jump j : jumps) {
            List<String> check = new ArrayList<>(List.of(fam.iptables(), "-w", "5", "-t", j.table(), "-C", j.from()));
            check.addAll(j.ruleArgs());
            if (tool.run(check).ok()) continue;
            List<String> insert = new ArrayList<>(List.of(fam.iptables(), "-w", "5", "-t", j.table(), "-I", j.from(), "1"));
            insert.addAll(j.ruleArgs());
            transactions++;
            tool.runChecked(insert, null);
        }
    }

    /**
     * The service port a payload line belongs to: the first "ns/name..." word of its comment, which
     * every per-service rule carries ("" for chain declarations and -X lines).
     */
    static String originOf(String line) {
        int i = line.indexOf("--comment ");
        if (i < 0) {
            return "";
        }
        int start = i + "--comment ".length();
        boolean quoted = start < line.length() && line.charAt(start) == '"';
        int end = quoted ? line.indexOf('"', start + 1) : line.indexOf(' ', start);
        String comment = line.substring(quoted ? start + 1 : start, end < 0 ? line.length() : end);
        for (String word : comment.split(" ")) {
            if (word.indexOf('/') > 0 && !word.contains("0/")) {
                return word;
            }
        }
        return "";
    }
}
