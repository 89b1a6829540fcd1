package dev.ferry.bench.fault;

import java.util.ArrayList;
import java.util.List;

/**
 * Everything observed during a run, with epoch-millisecond times: the client's requests and
 * health probes (from {@link ClientAgent}) and the samples of Ferry's process (from /proc).
 * Thread-safe: one lock; readers take copies of a window.
 */
final class Timeline {
    record Request(long at, boolean ok, String reason) {}

    /** A /healthz probe (code 0: no answer) and whether the request made right after it succeeded. */
    record Probe(long at, int code, boolean requestOk) {
        boolean right() {
            return (code == 200) == requestOk;
        }
    }

    /** Ferry's process at one moment; rssKb -1 when no Ferry process was running. */
    record Sample(long at, long rssKb, int fds, long fdLimit) {}

    private final List<Request> requests = new ArrayList<>();
    private final List<Probe> probes = new ArrayList<>();
    private final List<Sample> samples = new ArrayList<>();

    synchronized void add(Request r) {
        requests.add(r);
    }

    synchronized void add(Probe p) {
        probes.add(p);
    }

    synchronized void add(Sample s) {
        samples.add(s);
    }

    synchronized List<Request> requests(long from, long to) {
        // In start order: a request that timed out is recorded after later ones that succeeded.
        return requests.stream().filter(r -> r.at() >= from && r.at() < to)
                .sorted(java.util.Comparator.comparingLong(Request::at)).toList();
    }

    synchronized List<Probe> probes(long from, long to) {
        return probes.stream().filter(p -> p.at() >= from && p.at() < to)
                .sorted(java.util.Comparator.comparingLong(Probe::at)).toList();
    }

    synchronized List<Sample> samples(long from, long to) {
        return samples.stream().filter(s -> s.at() >= from && s.at() < to).toList();
    }

    /** The time of the first successful request started at or after t, or -1. */
    synchronized long firstOkSince(long t) {
        long first = -1;
        for (Request r : requests) {
            if (r.at() >= t && r.ok() && (first < 0 || r.at() < first)) first = r.at();
        }
        return first;
    }

    /** The time of the first /healthz 200 probed at or after t, or -1. */
    synchronized long firstHealthySince(long t) {
        long first = -1;
        for (Probe p : probes) {
            if (p.at() >= t && p.code() == 200 && (first < 0 || p.at() < first)) first = p.at();
        }
        return first;
    }

    /** True when a Ferry process was running at the sample nearest to t. */
    synchronized boolean processUp(long t) {
        Sample best = null;
        for (Sample s : samples) {
            if (best == null || Math.abs(s.at() - t) < Math.abs(best.at() - t)) best = s;
        }
        return best != null && best.rssKb() >= 0;
    }
}
