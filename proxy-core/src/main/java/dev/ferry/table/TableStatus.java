package dev.ferry.table;

import java.nio.file.Path;

/**
 * What a reader knows about the writer of a table file: whether a daemon still owns it, and how
 * fresh it is. {@code live} is true only while the writing process holds the table's lock and has
 * not closed it; a file left by a dead or stopped daemon is reported, not shown as live.
 */
public record TableStatus(Path file, boolean live, long writerPid, long startedMillis, long heartbeatMillis,
                          long updatedMillis, long generation, long servicePorts, long endpoints, boolean closedCleanly) {

    /** One line for humans, e.g. for `ferry dump` when the daemon is gone. */
    public String describe(long nowMillis) {
        if (live) {
            return "live table " + file + " (pid " + writerPid + ", generation " + generation + ", heartbeat "
                    + Math.max(0, nowMillis - heartbeatMillis) + " ms ago)";
        }
        String why = closedCleanly ? "the daemon stopped" : "the daemon died";
        return "STALE table " + file + ": " + why + " (pid " + writerPid + ", last heartbeat "
                + Math.max(0, (nowMillis - heartbeatMillis) / 1000) + " s ago); showing its last contents";
    }
}
