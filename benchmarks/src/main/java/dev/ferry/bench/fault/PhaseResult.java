package dev.ferry.bench.fault;

import java.util.ArrayList;
import java.util.List;

/**
 * One row of the report: what the client saw and what Ferry's process spent during one fault,
 * from the window's start (a few quiet seconds before the fault) to its end.
 */
record PhaseResult(String mode, String fault, int sent, int failed, int failedAfterRecovery, boolean recovered,
                   double longestGapSeconds, long peakRssMb, int peakFds, long fdLimit, int endFds, int probes,
                   int wrongSeconds, int wrongWithoutProcess, String wrongAt, String notes) {

    /**
     * @param faultAt when the fault was injected: recovery is the first successful request after it
     *                (for a restart, after the new process was started)
     */
    static PhaseResult of(String mode, String fault, Timeline t, long from, long faultAt, long recoverFrom, long to,
                          String notes) {
        List<Timeline.Request> requests = t.requests(from, to);
        int failed = 0;
        java.util.Map<String, Integer> reasons = new java.util.TreeMap<>();
        long recoveredAt = -1;
        int failedAfter = 0;
        long lastOk = from;
        long gap = 0;
        for (Timeline.Request r : requests) {
            if (!r.ok()) {
                failed++;
                reasons.merge(r.reason(), 1, Integer::sum);
                if (recoveredAt >= 0) failedAfter++;
                continue;
            }
            if (r.at() >= recoverFrom && recoveredAt < 0) recoveredAt = r.at();
            gap = Math.max(gap, r.at() - lastOk);
            lastOk = r.at();
        }
        gap = Math.max(gap, to - lastOk);
        long rss = -1;
        int fds = -1;
        long limit = -1;
        int endFds = -1;
        for (Timeline.Sample s : t.samples(from, to)) {
            rss = Math.max(rss, s.rssKb());
            fds = Math.max(fds, s.fds());
            if (s.fdLimit() > 0) limit = s.fdLimit();
            if (s.rssKb() >= 0) endFds = s.fds();
        }
        List<Timeline.Probe> probes = t.probes(from, to);
        int wrong = 0;
        int down = 0;
        List<String> at = new ArrayList<>();
        for (Timeline.Probe p : probes) {
            if (p.right()) continue;
            wrong++;
            boolean up = t.processUp(p.at());
            if (!up) down++;
            at.add(String.format("%+d%s%s", Math.round((p.at() - faultAt) / 1000.0), p.code() == 200 ? "" : "*",
                    up ? "" : "†"));
        }
        StringBuilder why = new StringBuilder();
        reasons.forEach((reason, n) -> why.append(why.length() == 0 ? "failures: " : ", ").append(reason).append(" ×").append(n));
        String allNotes = why.length() == 0 ? notes : notes.isEmpty() ? why.toString() : notes + "; " + why;
        return new PhaseResult(mode, fault, requests.size(), failed, failedAfter, recoveredAt >= 0, gap / 1000.0,
                rss < 0 ? -1 : rss / 1024, fds, limit, endFds, probes.size(), wrong, down, compress(at), allNotes);
    }

    private static String compress(List<String> at) {
        if (at.size() <= 8) return String.join(" ", at);
        return String.join(" ", at.subList(0, 4)) + " … " + String.join(" ", at.subList(at.size() - 3, at.size()));
    }

    static String header() {
        return "| mode | fault | requests sent | failed | failed after recovery | longest gap (s) | peak RSS (MB) "
                + "| peak fds / limit | fds at end | /healthz wrong (s) | notes |\n"
                + "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|";
    }

    String row() {
        String wrongCell = wrongSeconds + " of " + probes
                + (wrongWithoutProcess > 0 ? " (" + wrongWithoutProcess + " with no Ferry process)" : "");
        String n = notes;
        if (wrongSeconds > 0) n = (n.isEmpty() ? "" : n + "; ") + "healthz wrong at " + wrongAt;
        return "| " + mode + " | " + fault + " | " + sent + " | " + failed + " | "
                + (recovered ? Integer.toString(failedAfterRecovery) : "never recovered") + " | "
                + String.format("%.2f", longestGapSeconds) + " | " + (peakRssMb < 0 ? "-" : peakRssMb) + " | "
                + (peakFds < 0 ? "-" : peakFds + " / " + fdLimit) + " | " + (endFds < 0 ? "-" : endFds) + " | "
                + wrongCell + " | " + n + " |";
    }
}
