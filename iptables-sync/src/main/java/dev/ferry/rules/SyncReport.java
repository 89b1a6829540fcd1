package dev.ferry.rules;

import dev.ferry.model.Rejection;
import java.util.List;

/**
 * What one successful sync did: whether it was full, how many payload lines it applied, how long
 * rendering and applying took, and which service ports were left out as invalid. Immutable.
 */
public record SyncReport(boolean full, int payloadLines, long renderNanos, long applyNanos,
                         List<Rejection> rejected) {
    public SyncReport {
        rejected = List.copyOf(rejected);
    }
}
