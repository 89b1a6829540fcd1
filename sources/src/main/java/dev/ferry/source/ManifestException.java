package dev.ferry.source;

/**
 * A Kubernetes YAML file that cannot be used as a whole: unreadable, not YAML, or a field of the
 * wrong type. Names the file, the 1-based line and column (0 when unknown), the field path (empty
 * when unknown) and the problem; {@link #getMessage()} is
 * {@code demo.yaml:17:9: spec.ports[0].port: expected an integer, got "http"}.
 */
public final class ManifestException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final int line;
    private final int column;
    private final String field;
    private final String problem;

    public ManifestException(String file, int line, int column, String field, String problem, Throwable cause) {
        super(format(file, line, column, field, problem), cause);
        this.file = file;
        this.line = line;
        this.column = column;
        this.field = field == null ? "" : field;
        this.problem = problem;
    }

    private static String format(String file, int line, int column, String field, String problem) {
        StringBuilder sb = new StringBuilder(file);
        if (line > 0) {
            sb.append(':').append(line);
            if (column > 0) {
                sb.append(':').append(column);
            }
        }
        sb.append(": ");
        if (field != null && !field.isEmpty()) {
            sb.append(field).append(": ");
        }
        return sb.append(problem).toString();
    }

    public String file() {
        return file;
    }

    /** 1-based; 0 when the problem has no position (an unreadable file). */
    public int line() {
        return line;
    }

    /** 1-based; 0 when unknown. */
    public int column() {
        return column;
    }

    /** The field path from the document root, e.g. {@code items[3].spec.ports[0].port}; empty when unknown. */
    public String field() {
        return field;
    }

    public String problem() {
        return problem;
    }
}
