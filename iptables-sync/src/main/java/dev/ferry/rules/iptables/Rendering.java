package dev.ferry.rules.iptables;

import dev.ferry.model.Rejection;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * One rendered iptables-restore payload for one IP family: the text, the content hash of every chain
 * it describes (keyed "table:CHAIN"; what a later partial sync compares against), the chains it
 * (re)writes and deletes, its line count, and the service ports left out as invalid. Immutable to
 * its readers: chainHashes is wrapped read-only, not copied, so whoever builds a Rendering hands the
 * map over and never changes it again (the renderer's map has six entries per service, 60 000 at
 * 10 000 services, and a copy on every partial sync was a large share of its allocation).
 */
public record Rendering(String payload, Map<String, Long> chainHashes, List<String> writtenChains,
                        List<String> deletedChains, int lines, List<Rejection> rejected) {
    public Rendering {
        chainHashes = Collections.unmodifiableMap(chainHashes);
        writtenChains = List.copyOf(writtenChains);
        deletedChains = List.copyOf(deletedChains);
        rejected = List.copyOf(rejected);
    }

    /** True when the payload changes nothing (a partial sync with no changed chain). */
    public boolean isEmpty() {
        return writtenChains.isEmpty() && deletedChains.isEmpty();
    }
}
