package dev.ferry.cli;

import dev.ferry.daemon.StateDirs;

import dev.ferry.conntrack.ConntrackConfig;
import dev.ferry.conntrack.ConntrackState;
import dev.ferry.table.ServiceTable;
import java.nio.file.Path;

/**
 * Creates everything `ferry run` puts in a state directory (the directory, the service table and
 * its lock, the conntrack maps and marker, the demo file) and closes it, in its own JVM: tests run
 * it under another umask. Prints "done" when all went well.
 */
public final class StateFilesMain {
    private StateFilesMain() {}

    public static void main(String[] args) throws Exception {
        Path dir = StateDirs.prepare(Path.of(args[0]));
        try (ServiceTable table = ServiceTable.create(dir, 16L << 20, 1_000, System::currentTimeMillis);
             ConntrackState conntrack = ConntrackState.open(dir, ConntrackConfig.DEFAULTS.withMaxFlows(1000).withMaxAffinities(1000))) {
            dev.ferry.daemon.NodeAgent.writeDemoFile(dir);
        }
        System.out.println("done");
    }
}
