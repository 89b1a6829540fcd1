package dev.ferry.rules.iptables;

import dev.ferry.convert.Rejection;
import java.util.List;
import java.util.Map;

/**
 * One rendered iptables-restore payload for one IP family: the text, the content hash of every chain
 * it describes (keyed "table:CHAIN"; what a later partial sync compares against), the chains it
 * (re)writes and deletes, its line count, and the service ports left out as invalid. Immutable.
 */
public record Rendering(String payload, Map<String, Long> chainHashes, List<String> writtenChains,
                        List<String> deletedChains, int lines, List<Rejection> rejected) {
    public Rendering {
        chainHashes = Map.copyOf(chainHashes);
        writtenChains = List.copyOf(writtenChains);
        deletedChains = List.copyOf(deletedChains);
        rejected = List.copyOf(rejected);
    }

    /** True when the payload changes nothing (a partial sync with no changed chain). */
    public boolean isEmpty() {
        return writtenChains.isEmpty() && deletedChains.isEmpty();
    }
}
