package dev.ferry.rules.iptables;

import java.util.Locale;

/**
 * Which iptables binaries Ferry runs: iptables 1.8+ ships two backends with the same rule language,
 * {@code legacy} (the xtables kernel API: a table is replaced as one blob) and {@code nft} (the same
 * rules translated into nf_tables), plus the unsuffixed names, which point at whichever the node's
 * alternatives chose. Rules written through one backend are invisible to the other, so Ferry must use
 * the backend the node (kubelet, the CNI, a previous kube-proxy) already uses:
 * {@link IptablesBackendDetector} picks it as kube-proxy's image does. Immutable.
 *
 * @param name     "legacy", "nft" or "system", for logs and the override flag
 * @param suffix   inserted after "iptables"/"ip6tables": "-legacy", "-nft" or ""
 */
public record IptablesBackend(String name, String suffix) {
    public static final IptablesBackend LEGACY = new IptablesBackend("legacy", "-legacy");
    public static final IptablesBackend NFT = new IptablesBackend("nft", "-nft");
    /** The unsuffixed binaries: whatever {@code update-alternatives} made {@code iptables} on this node. */
    public static final IptablesBackend SYSTEM = new IptablesBackend("system", "");

    public IptablesBackend {
        if (name == null || name.isBlank() || suffix == null) {
            throw new IllegalArgumentException("an iptables backend needs a name and a (possibly empty) binary suffix");
        }
    }

    /**
     * The backend an operator names: legacy, nft or system. Bad input names the accepted values;
     * "auto" is not a backend (the caller detects instead).
     */
    public static IptablesBackend named(String value) {
        String v = value == null ? "" : value.strip().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "legacy" -> LEGACY;
            case "nft" -> NFT;
            case "system" -> SYSTEM;
            default -> throw new IllegalArgumentException("iptables backend must be one of auto, legacy, nft, system; got '"
                    + value + "'");
        };
    }

    /** iptables-legacy-restore, ip6tables-nft-restore, iptables-restore, ... */
    public String restore(boolean v6) {
        return binary(v6, "-restore");
    }

    /** iptables-legacy-save, ip6tables-nft-save, iptables-save, ... */
    public String save(boolean v6) {
        return binary(v6, "-save");
    }

    /** iptables-legacy, ip6tables-nft, iptables, ... */
    public String iptables(boolean v6) {
        return binary(v6, "");
    }

    private String binary(boolean v6, String tool) {
        return (v6 ? "ip6tables" : "iptables") + suffix + tool;
    }

    @Override
    public String toString() {
        return name;
    }
}
