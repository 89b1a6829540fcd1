package dev.ferry.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Entry point of {@code benchmarks.jar}: JMH's own command line, with Ferry's JVM flags appended to
 * every fork so that Agrona and Chronicle Map work there exactly as in tests and in the daemon.
 */
public final class BenchMain {
    private BenchMain() {}

    public static void main(String[] args) throws RunnerException, IOException {
        CommandLineOptions cmd;
        try {
            cmd = new CommandLineOptions(args);
        } catch (CommandLineOptionException e) {
            System.err.println("bad JMH option: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (cmd.shouldHelp() || cmd.shouldList() || cmd.shouldListProfilers() || cmd.shouldListResultFormats()) {
            org.openjdk.jmh.Main.main(args);
            return;
        }
        ChainedOptionsBuilder options = new OptionsBuilder().parent(cmd).jvmArgsAppend(jvmFlags());
        new Runner(options.build()).run();
    }

    static String[] jvmFlags() throws IOException {
        try (InputStream in = BenchMain.class.getResourceAsStream("jvm.flags")) {
            if (in == null) {
                throw new IOException("jvm.flags resource missing from benchmarks.jar; rebuild with mvn package");
            }
            String flags = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            return Arrays.stream(flags.split("\\s+")).filter(s -> !s.isEmpty()).toArray(String[]::new);
        }
    }
}
