package dev.ferry.rules;

import java.util.List;

/** What one run of a kernel tool produced. Immutable. */
public record ToolResult(List<String> argv, int exitCode, String stdout, String stderr) {

    public ToolResult {
        argv = List.copyOf(argv);
        stdout = stdout == null ? "" : stdout;
        stderr = stderr == null ? "" : stderr;
    }

    public boolean ok() {
        return exitCode == 0;
    }

    /** The command line as a shell would show it, for logs. */
    public String commandLine() {
        return String.join(" ", argv);
    }
}
