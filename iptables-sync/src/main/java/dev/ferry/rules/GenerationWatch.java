package dev.ferry.rules;

/**
 * What a syncer knows of the namespace's nf_tables generation ({@link RulesetGeneration}) across its
 * own transactions: the value its last apply left, and whether anyone else committed around one of
 * its applies since its last full sync. Shared by the nftables and the iptables-nft syncers, whose
 * periodic check ({@link RuleSyncer#drift()}) is this comparison.
 *
 * <p>The reader is opened on first use and dropped (to be reopened at the next read) when a read
 * fails, so a namespace that cannot be entered costs one attempt per check, with the reason kept for
 * the drift message. Not thread-safe: one sync loop owns an instance.
 */
public final class GenerationWatch {
    private final KernelTool tool;
    private RulesetGeneration reader;
    private String unavailable = "not opened yet";
    /** The generation right after Ferry's last apply; -1 when unknown. */
    private long known = -1;
    /** Someone else changed nf_tables around one of Ferry's applies: the kernel may differ from what Ferry applied. */
    private boolean suspect = true;

    public GenerationWatch(KernelTool tool) {
        this.tool = tool;
    }

    /** The generation now, or -1 when it cannot be read (the next {@link #drift()} says why). */
    public long now() {
        try {
            if (reader == null) {
                reader = RulesetGeneration.forTool(tool);
            }
            return reader.read();
        } catch (java.io.IOException | RuntimeException | LinkageError e) {
            unavailable = e.getMessage() == null ? e.toString() : e.getMessage();
            if (reader != null) {
                reader.close();
                reader = null;
            }
            return -1;
        }
    }

    /** One of Ferry's transactions was refused: what the kernel holds is unknown until the next full sync. */
    public void failed() {
        known = -1;
        suspect = true;
    }

    /**
     * Ferry committed {@code transactions} nf_tables transactions between reading {@code before}
     * (before it looked at the kernel) and {@code after}: if the generation moved by exactly that
     * many, no one else committed in between. A full sync then leaves the kernel exactly as Ferry
     * wrote it; a partial one covers only what it wrote, so it keeps any earlier suspicion and adds
     * one if the kernel changed since Ferry's last apply.
     */
    public void applied(long before, long after, long transactions, boolean full) {
        boolean alone = before >= 0 && after >= 0 && ((after - before) & 0xffffffffL) == transactions;
        suspect = full ? !alone : suspect || !alone || before != known;
        known = after;
    }

    /** Null when the generation is the one Ferry's last apply left and no one committed around Ferry's applies; else why not. */
    public String drift() {
        long now = now();
        if (now < 0) {
            return "cannot read the nf_tables generation: " + unavailable;
        }
        if (suspect) {
            return "the nf_tables rules changed around one of Ferry's applies (generation now " + now + ")";
        }
        if (now != known) {
            return "the nf_tables ruleset changed since Ferry's last apply (generation " + known + " -> " + now + ")";
        }
        return null;
    }
}
