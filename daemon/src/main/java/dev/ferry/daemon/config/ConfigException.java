package dev.ferry.daemon.config;

/**
 * A configuration file Ferry refuses: names the file, the line and column (1-based, 0 when not
 * known) and the field path (e.g. {@code iptables.syncPeriod}). Immutable.
 */
public final class ConfigException extends Exception {
    private final String file;
    private final int line;
    private final int column;
    private final String path;
    private final String problem;

    public ConfigException(String file, int line, int column, String path, String problem) {
        super(format(file, line, column, path, problem));
        this.file = file;
        this.line = line;
        this.column = column;
        this.path = path;
        this.problem = problem;
    }

    private static String format(String file, int line, int column, String path, String problem) {
        StringBuilder b = new StringBuilder(file);
        if (line > 0) {
            b.append(':').append(line);
            if (column > 0) b.append(':').append(column);
        }
        b.append(": ");
        if (path != null && !path.isEmpty()) b.append(path).append(": ");
        return b.append(problem).toString();
    }

    public String file() { return file; }

    public int line() { return line; }

    public int column() { return column; }

    /** The field path, dotted, with [i] for list items; empty for the whole document. */
    public String path() { return path; }

    public String problem() { return problem; }
}
