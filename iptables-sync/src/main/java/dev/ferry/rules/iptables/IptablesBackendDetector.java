package dev.ferry.rules.iptables;

import dev.ferry.rules.KernelTool;
import dev.ferry.rules.ToolResult;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks the iptables backend the node already uses, the way kube-proxy's image does it
 * (kubernetes-sigs/iptables-wrappers): kubelet 1.17+ creates KUBE-IPTABLES-HINT or
 * KUBE-KUBELET-CANARY in the mangle table of the backend it uses, so those chains decide first
 * (nft checked first, with {@code -t mangle}; legacy through a full save, since
 * {@code iptables-legacy-save -t mangle} would make the kernel create that table). Without them
 * (no kubelet, or an old one) the backend holding more rules wins, as the wrapper's earlier version
 * did; legacy with 10 or more rules wins without dumping nft (a large nft rule set is slow to list);
 * otherwise, and on a tie, nft (the current default of every distribution that still ships legacy).
 * A backend whose binaries are missing or fail is never chosen; with neither, the unsuffixed
 * binaries are used.
 *
 * <p>Stateless; thread-safe. Reading never creates a table in either backend.
 */
public final class IptablesBackendDetector {
    private static final Logger log = LoggerFactory.getLogger(IptablesBackendDetector.class);
    /** Legacy rules at or above this count decide for legacy without listing nft (the old wrapper's threshold). */
    static final int LEGACY_RULES_ENOUGH = 10;

    /** The backend chosen and why, in words for the start-up log. */
    public record Decision(IptablesBackend backend, String reason) {}

    private IptablesBackendDetector() {}

    /**
     * Runs the four save commands (through tool's prefix, e.g. a test's netns) and decides. Each
     * listing gets at most 30 s; one that fails or times out counts as that backend being unusable
     * (mangle / legacy listing) or as holding very many rules (the nft full listing, only run when
     * the others did not decide).
     */
    public static Decision detect(KernelTool tool) {
        KernelTool t = new KernelTool(tool.prefix(), Duration.ofSeconds(30));
        String nftMangle = joinOrNull(save(t, IptablesBackend.NFT.save(false), "-t", "mangle"),
                save(t, IptablesBackend.NFT.save(true), "-t", "mangle"));
        String legacyAll = joinOrNull(save(t, IptablesBackend.LEGACY.save(false)), save(t, IptablesBackend.LEGACY.save(true)));
        Decision d = decide(nftMangle, legacyAll, () -> {
            String v4 = save(t, IptablesBackend.NFT.save(false));
            String v6 = save(t, IptablesBackend.NFT.save(true));
            return v4 == null && v6 == null ? null : (v4 == null ? "" : v4) + (v6 == null ? "" : v6);
        });
        log.info("iptables backend: {} ({})", d.backend().name(), d.reason());
        return d;
    }

    /**
     * The decision from the listings' text. nftMangle: {@code iptables-nft-save -t mangle} and the
     * ip6 one, concatenated (null: nft binaries missing or failing); legacyAll: the full
     * {@code iptables-legacy-save} and ip6 output (null likewise); nftAll: the full nft listing, asked
     * for only when the kubelet chains and the legacy rule count did not decide (null when it failed).
     */
    public static Decision decide(String nftMangle, String legacyAll, Supplier<String> nftAll) {
        if (nftMangle == null && legacyAll == null) {
            return new Decision(IptablesBackend.SYSTEM, "neither iptables-nft-save nor iptables-legacy-save works here");
        }
        if (nftMangle != null && hasKubeletChains(nftMangle)) {
            return new Decision(IptablesBackend.NFT, "kubelet's KUBE-IPTABLES-HINT/KUBE-KUBELET-CANARY chain is in the nft backend");
        }
        if (legacyAll != null && hasKubeletChains(legacyAll)) {
            return new Decision(IptablesBackend.LEGACY,
                    "kubelet's KUBE-IPTABLES-HINT/KUBE-KUBELET-CANARY chain is in the legacy backend");
        }
        if (nftMangle == null) {
            return new Decision(IptablesBackend.LEGACY, "the nft backend's binaries are missing or fail");
        }
        if (legacyAll == null) {
            return new Decision(IptablesBackend.NFT, "the legacy backend's binaries are missing or fail");
        }
        int legacyRules = ruleCount(legacyAll);
        if (legacyRules >= LEGACY_RULES_ENOUGH) {
            return new Decision(IptablesBackend.LEGACY, "no kubelet chains; the legacy backend holds " + legacyRules + " rules");
        }
        String all = nftAll.get();
        if (all == null) {
            return new Decision(IptablesBackend.NFT,
                    "no kubelet chains; listing the nft backend failed or timed out (a large rule set), legacy holds "
                            + legacyRules + " rules");
        }
        int nftRules = ruleCount(all);
        if (legacyRules > nftRules) {
            return new Decision(IptablesBackend.LEGACY,
                    "no kubelet chains; legacy holds " + legacyRules + " rules, nft " + nftRules);
        }
        return new Decision(IptablesBackend.NFT, "no kubelet chains; nft holds " + nftRules + " rules, legacy " + legacyRules
                + " (nft is the default on a tie)");
    }

    /**
     * The backends whose binaries are installed (asked with {@code --version}, which touches no
     * kernel state): nft and/or legacy, or only the unsuffixed binaries when neither is.
     */
    public static List<IptablesBackend> installed(KernelTool tool) {
        KernelTool t = new KernelTool(tool.prefix(), Duration.ofSeconds(10));
        List<IptablesBackend> out = new java.util.ArrayList<>();
        for (IptablesBackend b : List.of(IptablesBackend.NFT, IptablesBackend.LEGACY)) {
            if (save(t, b.save(false), "--version") != null) {
                out.add(b);
            }
        }
        return out.isEmpty() ? List.of(IptablesBackend.SYSTEM) : out;
    }

    /** A chain declaration ":KUBE-IPTABLES-HINT - [0:0]" or ":KUBE-KUBELET-CANARY ..." anywhere in a save listing. */
    static boolean hasKubeletChains(String save) {
        for (String line : save.split("\n")) {
            if (line.startsWith(":KUBE-IPTABLES-HINT ") || line.startsWith(":KUBE-KUBELET-CANARY ")
                    || line.equals(":KUBE-IPTABLES-HINT") || line.equals(":KUBE-KUBELET-CANARY")) {
                return true;
            }
        }
        return false;
    }

    /** Rule lines ("-A ...") of a save listing; chain declarations and comments do not count. */
    static int ruleCount(String save) {
        int n = 0;
        for (String line : save.split("\n")) {
            if (line.startsWith("-")) n++;
        }
        return n;
    }

    private static String save(KernelTool t, String... argv) {
        try {
            ToolResult r = t.run(List.of(argv));
            if (r.ok()) {
                return r.stdout();
            }
            log.debug("{} failed ({}): {}", r.commandLine(), r.exitCode(), r.stderr().strip());
        } catch (IOException e) {
            log.debug("{}: {}", String.join(" ", argv), e.getMessage());
        }
        return null;
    }

    /** Both families' listings; null only when neither works (an IPv4-only or IPv6-only node still counts). */
    private static String joinOrNull(String v4, String v6) {
        if (v4 == null && v6 == null) return null;
        return (v4 == null ? "" : v4) + (v6 == null ? "" : v6);
    }
}
