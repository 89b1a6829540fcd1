package dev.ferry.dns;

import java.util.concurrent.atomic.LongAdder;

/**
 * What the DNS responder has done since it started, for metrics and tests. Thread-safe
 * (LongAdders, incremented from every event loop).
 */
public final class QueryCounters {
    final LongAdder queries = new LongAdder();
    final LongAdder answeredFromTable = new LongAdder();
    final LongAdder nxdomain = new LongAdder();
    final LongAdder forwarded = new LongAdder();
    final LongAdder refused = new LongAdder();
    final LongAdder formErrors = new LongAdder();
    final LongAdder dropped = new LongAdder();
    final LongAdder truncated = new LongAdder();
    final LongAdder refusedClients = new LongAdder();
    final LongAdder rateLimited = new LongAdder();

    /** Queries decoded (UDP and TCP). */
    public long queries() {
        return queries.sum();
    }

    /** Answered from the cluster zone or the reverse zones (including NXDOMAIN and NODATA). */
    public long answeredFromTable() {
        return answeredFromTable.sum();
    }

    public long nxdomain() {
        return nxdomain.sum();
    }

    /** Sent to the forwarder (answered from its cache or by an upstream). */
    public long forwarded() {
        return forwarded.sum();
    }

    /** Refused: out of zone with no upstreams configured. */
    public long refused() {
        return refused.sum();
    }

    /** Answered FORMERR (undecodable query, several questions, a class other than IN). */
    public long formErrors() {
        return formErrors.sum();
    }

    /** Dropped without an answer (runts, responses, undecodable TCP frames). */
    public long dropped() {
        return dropped.sum();
    }

    /** UDP answers cut to header and question with TC set. */
    public long truncated() {
        return truncated.sum();
    }

    /** Queries (UDP) or connections (TCP) from sources outside the allowed client CIDRs, refused. */
    public long refusedClients() {
        return refusedClients.sum();
    }

    /** UDP queries dropped unanswered because their source was over its rate budget. */
    public long rateLimited() {
        return rateLimited.sum();
    }

    @Override
    public String toString() {
        return "queries=" + queries() + " fromTable=" + answeredFromTable() + " nxdomain=" + nxdomain()
                + " forwarded=" + forwarded() + " refused=" + refused() + " formerr=" + formErrors()
                + " dropped=" + dropped() + " truncated=" + truncated() + " refusedClients=" + refusedClients()
                + " rateLimited=" + rateLimited();
    }
}
