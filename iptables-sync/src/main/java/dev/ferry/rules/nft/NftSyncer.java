package dev.ferry.rules.nft;

import dev.ferry.rules.KernelConntrackCleaner;
import dev.ferry.model.Rejection;
import dev.ferry.model.RejectionReason;
import dev.ferry.model.ServicePort;
import dev.ferry.model.ServicePortName;
import dev.ferry.rules.ApplyException;
import dev.ferry.rules.KernelTool;
import dev.ferry.rules.RuleSyncer;
import dev.ferry.rules.GenerationWatch;
import dev.ferry.rules.RulesetGeneration;
import dev.ferry.rules.ServicePortValidator;
import dev.ferry.rules.StaleUdpFlows;
import dev.ferry.rules.SyncReport;
import dev.ferry.rules.ToolResult;
import dev.ferry.rules.nft.NftRenderer.Validated;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The nftables backend of the {@link dev.ferry.rules.SyncLoop}: keeps Ferry's {@code ip} and
 * {@code ip6} tables equal to the service ports it is given. A full sync writes both tables in one
 * {@code nft -f} transaction (existing chains are listed, flushed and refilled, chains and sets
 * nobody wants any more deleted, the table itself never deleted, so a restart flushes nothing); a
 * partial sync carries only the changed services' chains and map elements, so one endpoint change is
 * a handful of lines whatever the number of services.
 *
 * <p>A partial sync whose changed service ports keep their names, frontends and map/set entries (an
 * endpoint change) is incremental: only those ports are checked, rendered and diffed against what
 * the kernel holds, and the other services are not touched at all (their validation outcome cannot
 * have changed, see {@link #changedOnly}); anything else (a new, removed or re-addressed service, a
 * previously rejected or quarantined one) goes through the whole-input validation and diff.
 *
 * <p>Safety: service ports are validated before rendering ({@link ServicePortValidator}, then
 * nftables map-entry conflicts); a refused partial sync is retried at once as a full one; when the
 * kernel refuses a line that belongs to a service, that service version is held back (reported as
 * rejected until it changes) and the others are applied in an immediate full retry. If the
 * transaction still fails, {@link ApplyException} names the line and its service; the kernel kept
 * its previous rules (nft -f is atomic) and the sync loop retries with back-off.
 *
 * <p>The periodic check ({@link #drift()}) reads the nf_tables ruleset generation
 * ({@link RulesetGeneration}) instead of listing or rewriting the tables: each apply notes the
 * generation before and after itself, and any other transaction since (or interleaved with one of
 * Ferry's) is reported as possible drift, which the sync loop repairs with a full sync.
 *
 * <p>After each successful apply, stale UDP conntrack entries are removed ({@link StaleUdpFlows}).
 *
 * <p>Input endpoints must already carry the node's selection flags
 * ({@code dev.ferry.select.EndpointSelector}). Not thread-safe: one sync loop owns an instance.
 */
public final class NftSyncer implements RuleSyncer {
    private static final Logger LOG = LoggerFactory.getLogger(NftSyncer.class);

    private NftRenderer renderer; // replaced, on the sync thread, when new service ranges are offered
    /** Service ranges offered by {@link #serviceCidrs(List)} and not yet rendered; null = none. */
    private volatile List<dev.ferry.model.Cidr> offeredServiceCidrs;
    private final KernelTool tool;
    private final StaleUdpFlows staleUdp;

    private final Map<ServicePortName, ServicePort> lastInput = new HashMap<>();
    private final Map<NftFamily, Map<ServicePortName, ServiceRules>> rendered = new EnumMap<>(NftFamily.class);
    /** What the kernel holds, per family; empty until a full sync succeeds and after any failure. */
    private final Map<NftFamily, Validated> applied = new EnumMap<>(NftFamily.class);
    /** Pick chains the kernel holds, per family; valid while {@link #applied} is. */
    private final Map<NftFamily, Set<String>> appliedPicks = new EnumMap<>(NftFamily.class);
    /** Service versions whose rules the kernel refused; held back until they change. */
    private final Map<ServicePortName, Quarantine> quarantined = new HashMap<>();
    private NftPayload lastPayload;
    /** The nf_tables generation around Ferry's applies: whether the kernel may differ from {@link #applied}. */
    private final GenerationWatch generation;

    /**
     * Every service port of the last sync that went through the full validation (first occurrence
     * per name, rejected ones included), and what that sync reported as rejected: the baseline an
     * incremental sync compares against. Null until a sync has validated its input.
     */
    private Map<ServicePortName, ServicePort> lastAllInput;
    private List<Rejection> lastRejected = List.of();

    /** Test hooks (package-private): calls of the per-service renderer and of the whole-input validator. */
    long renderCalls;
    long fullValidations;
    /** Test hook: false forces every partial sync through the whole-input path (to compare payloads). */
    boolean incrementalEnabled = true;

    private record Quarantine(ServicePort version, String reason) {}

    /** A syncer for the given options running {@code nft} through tool (a netns prefix in tests), without conntrack cleanup. */
    public NftSyncer(NftOptions options, KernelTool tool) {
        this(options, tool, null);
    }

    /**
     * As {@link #NftSyncer(NftOptions, KernelTool)}, removing stale UDP conntrack entries through
     * conntrack after every successful apply ({@link StaleUdpFlows}); null to skip.
     */
    public NftSyncer(NftOptions options, KernelTool tool, KernelConntrackCleaner conntrack) {
        this.renderer = new NftRenderer(options);
        this.tool = tool;
        this.generation = new GenerationWatch(tool);
        this.staleUdp = new StaleUdpFlows(conntrack, true, true, LOG);
        for (NftFamily f : NftFamily.values()) {
            rendered.put(f, new TreeMap<>());
        }
    }

    /**
     * New service (ClusterIP) ranges for the drop of unallocated ClusterIPs, e.g. from the cluster's
     * ServiceCIDR objects; any thread. The next sync renders them, as a full sync when they differ
     * from the current ones (the drop rule lives in the base chains only a full payload rewrites).
     */
    public void serviceCidrs(List<dev.ferry.model.Cidr> cidrs) {
        offeredServiceCidrs = List.copyOf(cidrs);
    }

    /** The service ranges the renderer uses now. */
    public List<dev.ferry.model.Cidr> serviceCidrs() {
        return renderer.options().serviceCidrs();
    }

    @Override
    public SyncReport sync(List<ServicePort> ports, boolean full) throws ApplyException, IOException {
        long t0 = System.nanoTime();
        List<dev.ferry.model.Cidr> offered = offeredServiceCidrs;
        if (offered != null) {
            offeredServiceCidrs = null;
            if (!offered.equals(renderer.options().serviceCidrs())) {
                renderer = new NftRenderer(renderer.options().withServiceCidrs(offered));
                full = true;
            }
        }
        if (!full && incrementalEnabled && applied.size() == NftFamily.values().length && quarantined.isEmpty()
                && lastAllInput != null) {
            Map<ServicePortName, Changed> changed = changedOnly(ports);
            if (changed != null) {
                SyncReport r = incremental(changed, t0);
                if (r != null) {
                    staleUdp.applied(ports);
                    return r;
                }
                // the kernel refused the incremental payload: applied is cleared, the full path below retries
            }
        }
        fullValidations++;
        ServicePortValidator.Result checked = ServicePortValidator.validate(ports);
        lastAllInput = null;
        rerender(checked.accepted());
        long renderNanos = System.nanoTime() - t0;
        boolean wasFull = full || applied.size() < NftFamily.values().length;
        Attempt a = attempt(wasFull, wasFull);
        if (!a.ok() && !wasFull) {
            // A refused partial sync may come from drift (someone edited our table): rewrite it all.
            wasFull = true;
            a = attempt(true, true);
        }
        if (!a.ok() && a.newlyQuarantined()) {
            LOG.warn("nftables: retrying a full sync without service port {}", a.blamed());
            a = attempt(true, true);
        }
        if (!a.ok()) {
            throw a.error();
        }
        List<Rejection> rejected = new ArrayList<>(checked.rejected());
        rejected.addAll(a.rejected());
        Map<ServicePortName, ServicePort> all = new HashMap<>(ports.size() * 2);
        boolean duplicates = false;
        for (ServicePort sp : ports) {
            duplicates |= all.putIfAbsent(sp.name(), sp) != null;
        }
        lastAllInput = duplicates ? null : all;
        lastRejected = List.copyOf(rejected);
        staleUdp.applied(ports);
        return new SyncReport(wasFull, a.payload().lineCount(), renderNanos + a.renderNanos(), a.applyNanos(), rejected);
    }

    private record Attempt(boolean ok, NftPayload payload, List<Rejection> rejected, ApplyException error,
                           ServicePortName blamed, boolean newlyQuarantined, long renderNanos, long applyNanos) {}

    private Attempt attempt(boolean full, boolean blame) throws IOException {
        long t0 = System.nanoTime();
        Map<NftFamily, Validated> next = new EnumMap<>(NftFamily.class);
        List<Rejection> rejected = new ArrayList<>();
        Set<ServicePortName> reported = new HashSet<>();
        for (NftFamily f : NftFamily.values()) {
            Map<ServicePortName, ServiceRules> candidates = new TreeMap<>(rendered.get(f));
            for (Map.Entry<ServicePortName, Quarantine> q : quarantined.entrySet()) {
                if (candidates.remove(q.getKey()) != null && reported.add(q.getKey())) {
                    rejected.add(rejection(q.getKey(), q.getValue().reason()));
                }
            }
            Validated v = renderer.validate(f, candidates);
            for (NftRenderer.Rejected r : v.rejected()) {
                if (reported.add(r.service())) {
                    rejected.add(rejection(r.service(), r.reason()));
                }
            }
            next.put(f, v);
        }
        NftPayload payload;
        long listNanos = 0;
        Map<NftFamily, Set<String>> picksAfter = new EnumMap<>(NftFamily.class);
        long before = -1;
        if (full) {
            long l0 = System.nanoTime();
            // Read before listing: a change made after the listing is then caught by the next check.
            before = generation.now();
            Map<String, Set<String>> chains = listNames("chains");
            Map<String, Set<String>> sets = listNames("sets");
            listNames("maps").forEach((table, names) -> sets.computeIfAbsent(table, k -> new HashSet<>()).addAll(names));
            listNanos = System.nanoTime() - l0;
            NftPayload.Writer w = new NftPayload.Writer(true, 256);
            for (NftFamily f : NftFamily.values()) {
                String key = f.table + " " + renderer.options().table();
                renderer.full(w, f, next.get(f), chains.getOrDefault(key, Set.of()), sets.getOrDefault(key, Set.of()));
                picksAfter.put(f, NftRenderer.picks(next.get(f).services().values()));
            }
            payload = w.build();
        } else {
            NftPayload.Writer w = new NftPayload.Writer(false, 64);
            for (NftFamily f : NftFamily.values()) {
                Set<String> picks = new HashSet<>(appliedPicks.get(f));
                picks.addAll(renderer.partial(w, f, applied.get(f), next.get(f), appliedPicks.get(f)));
                picksAfter.put(f, picks);
            }
            payload = w.build();
        }
        lastPayload = payload;
        // Listing what the kernel holds is tool time, not rendering.
        long renderNanos = System.nanoTime() - t0 - listNanos;
        if (payload.isEmpty()) {
            return new Attempt(true, payload, rejected, null, null, false, renderNanos, listNanos);
        }
        // (an empty payload changes nothing: applied and appliedPicks stay as they are)
        long a0 = System.nanoTime();
        ToolResult res = apply(payload.text(), full, full ? before : generation.now());
        long toolNanos = listNanos + System.nanoTime() - a0;
        if (res.ok()) {
            applied.putAll(next);
            appliedPicks.putAll(picksAfter);
            return new Attempt(true, payload, rejected, null, null, false, renderNanos, toolNanos);
        }
        applied.clear(); // unknown what the kernel holds now relative to our model: the next sync is full
        int lineNo = ApplyException.failingLine(res.stderr());
        ServicePortName blamed = payload.ownerOfLine(lineNo);
        String line = lineNo > 0 ? payload.line(lineNo) : "";
        String message = res.commandLine() + " failed (exit " + res.exitCode() + ", " + (full ? "full" : "partial")
                + " sync, the kernel keeps its previous rules): " + res.stderr().strip()
                + (lineNo > 0 ? "; line " + lineNo + ": " + line : "")
                + (blamed != null ? "; from service port " + blamed + "/" + blamed.protocol() : "");
        LOG.error("nftables: {}", message);
        ApplyException error = new ApplyException(message, lineNo, line, blamed == null ? "" : blamed.toString());
        boolean newly = false;
        if (blame && blamed != null && lastInput.containsKey(blamed) && !quarantined.containsKey(blamed)) {
            quarantined.put(blamed, new Quarantine(lastInput.get(blamed),
                    "the kernel refused its nftables rules: " + firstErrorLine(res.stderr()) + " in \"" + line + "\""));
            newly = true;
        }
        return new Attempt(false, payload, rejected, error, blamed, newly, renderNanos, toolNanos);
    }

    private static Rejection rejection(ServicePortName n, String reason) {
        return new Rejection("Service", n.namespace(), n.name(), "", RejectionReason.INVALID_VALUE,
                reason + " (service port " + n + "/" + n.protocol() + ")");
    }

    private static String firstErrorLine(String stderr) {
        for (String l : stderr.split("\n")) {
            int i = l.indexOf("Error: ");
            if (i >= 0) {
                return l.substring(i + 7);
            }
        }
        return stderr.strip();
    }

    /** A service port whose input changed, its previous version and its new rendering per family. */
    private record Changed(ServicePort before, ServicePort after, Map<NftFamily, ServiceRules> rules) {}

    /**
     * The service ports that changed since the last sync, each re-rendered, when the change provably
     * leaves every cross-service decision as it was; null when it may not (then the whole input is
     * validated and diffed). Safe when: the same names as last time (no additions, removals or
     * duplicates), and every changed port was accepted last time in every step, passes the per-port
     * check again, keeps exactly its frontends (so {@link ServicePortValidator}'s frontend claims are
     * unchanged) and, per family, claims exactly the same map/set entries (so the renderer's map-entry
     * conflicts and owners are unchanged). Both conflict checks are functions of the names and of those
     * claims only, so the outcome for every other service is the same as last time. A changed service
     * claiming an entry another service owns changes its claims and therefore takes the full path.
     */
    private Map<ServicePortName, Changed> changedOnly(List<ServicePort> ports) {
        if (ports.size() != lastAllInput.size()) {
            return null;
        }
        Map<ServicePortName, Changed> changed = new TreeMap<>();
        Set<ServicePortName> seen = new HashSet<>(ports.size() * 2);
        for (ServicePort sp : ports) {
            ServicePortName n = sp.name();
            if (!seen.add(n)) {
                return null; // a duplicate: with equal sizes, some name went missing
            }
            ServicePort old = lastAllInput.get(n);
            if (old == null) {
                return null; // a new service port
            }
            if (old == sp || old.equals(sp)) {
                continue;
            }
            if (!old.equals(lastInput.get(n)) || ServicePortValidator.check(sp) != null
                    || !old.frontends().equals(sp.frontends())) {
                return null;
            }
            Map<NftFamily, ServiceRules> rules = new EnumMap<>(NftFamily.class);
            for (NftFamily f : NftFamily.values()) {
                ServiceRules was = rendered.get(f).get(n);
                Validated v = applied.get(f);
                if (was != null && v.services().get(n) != was) {
                    return null; // rejected by the map-entry check last time
                }
                renderCalls++;
                ServiceRules now = ServiceChainRenderer.render(sp, f, renderer.options());
                if ((was == null) != (now == null) || (now != null && !claims(was).equals(claims(now)))) {
                    return null;
                }
                if (now != null) {
                    rules.put(f, now);
                }
            }
            changed.put(n, new Changed(old, sp, rules));
        }
        return changed;
    }

    /** The map/set entries a service claims, as the map-entry check sees them (slot, and map vs set element). */
    private static Set<String> claims(ServiceRules r) {
        Set<String> out = new HashSet<>();
        for (ServiceRules.Element e : r.elements()) {
            if (!OWN_ENTRIES.contains(e.map())) {
                out.add((e.value() == null ? "s " : "m ") + e.slot());
            }
        }
        return out;
    }

    /**
     * Maps and sets whose keys start with one of the service's own frontends (address or NodePort,
     * protocol, port): with its frontend entries unchanged, nobody else can own such an entry, so
     * the endpoint entries may come and go without a cross-service check.
     */
    private static final Set<String> OWN_ENTRIES = ownEntries();

    private static Set<String> ownEntries() {
        Set<String> s = new HashSet<>(PickChains.endpointMaps());
        s.add(PickChains.SERVICE_HAIRPIN);
        return Set.copyOf(s);
    }

    /**
     * Applies only the changed service ports: a partial payload from their old and new renderings and
     * the map entries they touch. Returns null when the kernel refused it ({@link #applied} is then
     * cleared and nothing else was updated, so the caller's full path redoes everything).
     */
    private SyncReport incremental(Map<ServicePortName, Changed> changed, long t0) throws IOException {
        NftPayload.Writer w = new NftPayload.Writer(false, 64);
        Map<NftFamily, Validated> afterByFamily = new EnumMap<>(NftFamily.class);
        Map<NftFamily, List<String>> goneByFamily = new EnumMap<>(NftFamily.class);
        Map<NftFamily, Set<String>> newPicks = new EnumMap<>(NftFamily.class);
        for (NftFamily f : NftFamily.values()) {
            Validated cur = applied.get(f);
            Map<ServicePortName, ServiceRules> beforeServices = new TreeMap<>();
            Map<ServicePortName, ServiceRules> afterServices = new TreeMap<>();
            Map<String, NftRenderer.Claim> beforeSlots = new HashMap<>();
            Map<String, NftRenderer.Claim> afterSlots = new HashMap<>();
            for (Map.Entry<ServicePortName, Changed> c : changed.entrySet()) {
                ServiceRules now = c.getValue().rules().get(f);
                if (now == null) {
                    continue;
                }
                ServiceRules was = cur.services().get(c.getKey());
                beforeServices.put(c.getKey(), was);
                afterServices.put(c.getKey(), now);
                for (ServiceRules.Element e : was.elements()) {
                    beforeSlots.put(e.slot(), cur.slots().get(e.slot()));
                }
                for (ServiceRules.Element e : now.elements()) {
                    NftRenderer.Claim owner = cur.slots().get(e.slot());
                    // Same claims as before: the slot's owner is unchanged; a set element owned by an
                    // earlier service is shared and equal, an entry owned by this service takes its new
                    // value, and a new endpoint entry (OWN_ENTRIES) is this service's.
                    afterSlots.put(e.slot(), owner == null || owner.owner().equals(c.getKey())
                            ? new NftRenderer.Claim(e, c.getKey()) : owner);
                }
            }
            Validated after = new Validated(afterServices, afterSlots, List.of());
            afterByFamily.put(f, after);
            goneByFamily.put(f, beforeSlots.keySet().stream().filter(k -> !afterSlots.containsKey(k)).toList());
            newPicks.put(f, renderer.partial(w, f, new Validated(beforeServices, beforeSlots, List.of()), after,
                    appliedPicks.get(f)));
        }
        NftPayload payload = w.build();
        lastPayload = payload;
        long renderNanos = System.nanoTime() - t0;
        long applyNanos = 0;
        if (!payload.isEmpty()) {
            long a0 = System.nanoTime();
            ToolResult res = apply(payload.text(), false, generation.now());
            applyNanos = System.nanoTime() - a0;
            if (!res.ok()) {
                LOG.warn("nftables: incremental sync refused ({}), retrying as a full sync", res.stderr().strip());
                applied.clear();
                return null;
            }
        }
        for (NftFamily f : NftFamily.values()) {
            Validated cur = applied.get(f);
            Validated after = afterByFamily.get(f);
            cur.services().putAll(after.services());
            cur.slots().keySet().removeAll(goneByFamily.get(f));
            cur.slots().putAll(after.slots());
            appliedPicks.get(f).addAll(newPicks.get(f));
        }
        for (Map.Entry<ServicePortName, Changed> c : changed.entrySet()) {
            ServicePort sp = c.getValue().after();
            lastAllInput.put(c.getKey(), sp);
            lastInput.put(c.getKey(), sp);
            for (NftFamily f : NftFamily.values()) {
                ServiceRules r = c.getValue().rules().get(f);
                if (r != null) {
                    rendered.get(f).put(c.getKey(), r);
                }
            }
        }
        return new SyncReport(false, payload.lineCount(), renderNanos, applyNanos, lastRejected);
    }

    /**
     * Runs one {@code nft -f} transaction and follows the nf_tables generation around it: with
     * {@code before} read before Ferry looked at the kernel (a full sync: before listing its chains),
     * an apply that moved the generation by exactly one was alone, so the kernel now holds exactly
     * what Ferry applied (a full sync) or what it held plus this change (a partial one, which
     * therefore keeps any earlier suspicion, and adds one if the kernel changed since Ferry's last
     * apply).
     */
    private ToolResult apply(String payload, boolean full, long before) throws IOException {
        ToolResult res = tool.run(List.of("nft", "-f", "-"), payload);
        long after = generation.now();
        if (res.ok()) {
            generation.applied(before, after, 1, full);
        } else {
            generation.failed();
        }
        return res;
    }

    /**
     * The periodic check: null when the nf_tables generation is the one Ferry's last apply left and
     * no one else committed around Ferry's applies since the last full sync, i.e. no transaction at
     * all touched the namespace's nf_tables rules, Ferry's tables included. Any other transaction
     * (even one in another table) is reported, and the loop's full sync rewrites both tables; a
     * microsecond netlink request, no listing.
     */
    @Override
    public String drift() {
        if (applied.size() < NftFamily.values().length) {
            return "no full sync has succeeded since the last failure";
        }
        return generation.drift();
    }

    /** Re-renders only the service ports whose input changed since the last sync. */
    private void rerender(List<ServicePort> ports) {
        Set<ServicePortName> seen = new HashSet<>(ports.size() * 2);
        for (ServicePort sp : ports) {
            if (!seen.add(sp.name())) {
                continue;
            }
            ServicePort old = lastInput.get(sp.name());
            if (sp.equals(old)) {
                continue;
            }
            lastInput.put(sp.name(), sp);
            Quarantine q = quarantined.get(sp.name());
            if (q != null && !q.version().equals(sp)) {
                quarantined.remove(sp.name());
            }
            for (NftFamily f : NftFamily.values()) {
                renderCalls++;
                ServiceRules r = ServiceChainRenderer.render(sp, f, renderer.options());
                if (r == null) {
                    rendered.get(f).remove(sp.name());
                } else {
                    rendered.get(f).put(sp.name(), r);
                }
            }
        }
        if (lastInput.size() > seen.size()) {
            lastInput.keySet().removeIf(n -> !seen.contains(n));
            quarantined.keySet().removeIf(n -> !seen.contains(n));
            for (NftFamily f : NftFamily.values()) {
                rendered.get(f).keySet().removeIf(n -> !seen.contains(n));
            }
        }
    }

    /** "ip ferry" → names of chains (or sets) in that table, as the kernel has them now. */
    private Map<String, Set<String>> listNames(String what) throws IOException {
        Map<String, Set<String>> out = new HashMap<>();
        ToolResult r = tool.run(List.of("nft", "-t", "list", what));
        if (!r.ok()) {
            throw new IOException(r.commandLine() + " failed: " + r.stderr().strip());
        }
        Set<String> current = null;
        for (String raw : r.stdout().split("\n")) {
            String line = raw.strip();
            if (line.startsWith("table ") && line.endsWith("{")) {
                current = out.computeIfAbsent(line.substring(6, line.length() - 1).strip(), k -> new HashSet<>());
            } else if (current != null && (line.startsWith("chain ") || line.startsWith("set ") || line.startsWith("map "))
                    && line.endsWith("{")) {
                String name = line.substring(line.indexOf(' ') + 1, line.length() - 1).strip();
                current.add(name.length() >= 2 && name.startsWith("\"") && name.endsWith("\"")
                        ? name.substring(1, name.length() - 1) : name);
            }
        }
        return out;
    }

    /** The last payload rendered (applied or refused), for {@code ferry dump rules} and tests. */
    public NftPayload lastPayload() {
        return lastPayload;
    }

    /** Service ports held back because the kernel refused their rules. */
    public Set<ServicePortName> quarantined() {
        return Set.copyOf(quarantined.keySet());
    }
}
