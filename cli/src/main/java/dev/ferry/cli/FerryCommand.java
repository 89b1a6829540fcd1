package dev.ferry.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ferry} command line. Exit codes follow the contract in ARCHITECTURE.md: 0 success,
 * 1 runtime failure, 2 bad usage.
 */
@Command(name = "ferry", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class,
        description = "Ferry: a kube-proxy replacement. Watches Services and EndpointSlices into an off-heap service table.",
        subcommands = {RunCommand.class, DumpCommand.class, ExplainCommand.class, SyncCommand.class, CleanupCommand.class, VersionCommand.class, CdsTrainingCommand.class, CommandLine.HelpCommand.class})
public final class FerryCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new FerryCommand());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            cmd.getErr().println("ferry " + cmd.getCommandName() + ": " + messageOf(ex));
            return 1;
        });
        return cl;
    }

    static String messageOf(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.toString() : m;
    }

    public static void main(String[] args) {
        Logging.configure();
        EarlyHealthPort.open(args); // `ferry run`: its health port accepts from here, before picocli's model is built
        System.exit(commandLine().execute(args));
    }
}
