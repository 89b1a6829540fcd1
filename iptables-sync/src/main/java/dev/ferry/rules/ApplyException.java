package dev.ferry.rules;

import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A rule payload the kernel refused. Carries the failing line (number and text, when the tool named
 * one) and the service port it came from, so the log says which service broke the transaction.
 * The kernel kept its previous rules: every apply is one transaction.
 */
public final class ApplyException extends Exception {
    // iptables-nft-restore: "Error occurred at line: 12"; legacy: "iptables-restore: line 12 failed";
    // nft -f -: "/dev/stdin:12:1-4: Error: ..."
    private static final Pattern LINE = Pattern.compile("(?:line:?\\s*(\\d+))|(?:^[^:\\s]+:(\\d+):\\d+)",
            Pattern.MULTILINE);

    private final int line;
    private final String lineText;
    private final String origin;

    public ApplyException(String message, int line, String lineText, String origin) {
        super(message);
        this.line = line;
        this.lineText = lineText == null ? "" : lineText;
        this.origin = origin == null ? "" : origin;
    }

    /**
     * Builds the exception for a failed tool run over payload: finds the line the tool complained
     * about and asks originOfLine which service port that line belongs to (it may return "").
     */
    public static ApplyException fromToolFailure(ToolResult r, String payload, Function<String, String> originOfLine) {
        int n = failingLine(r.stderr());
        String text = n > 0 ? lineAt(payload, n) : "";
        String origin = text.isEmpty() ? "" : originOfLine.apply(text);
        StringBuilder msg = new StringBuilder();
        msg.append(r.commandLine()).append(" failed (exit ").append(r.exitCode()).append("): ")
                .append(r.stderr().strip());
        if (n > 0) {
            msg.append("; line ").append(n).append(": ").append(text);
        }
        if (!origin.isEmpty()) {
            msg.append("; from service port ").append(origin);
        }
        return new ApplyException(msg.toString(), n, text, origin);
    }

    /** The 1-based line number the tool named in its error output, or 0. */
    public static int failingLine(String stderr) {
        Matcher m = LINE.matcher(stderr);
        while (m.find()) {
            String g = m.group(1) != null ? m.group(1) : m.group(2);
            try {
                return Integer.parseInt(g);
            } catch (NumberFormatException e) {
                return 0;
            }
        }
        return 0;
    }

    /** Line n (1-based) of text, without its newline; "" when there is no such line. */
    public static String lineAt(String text, int n) {
        int start = 0;
        for (int i = 1; i < n; i++) {
            int nl = text.indexOf('\n', start);
            if (nl < 0) {
                return "";
            }
            start = nl + 1;
        }
        if (start >= text.length()) {
            return "";
        }
        int end = text.indexOf('\n', start);
        return text.substring(start, end < 0 ? text.length() : end);
    }

    /** The failing line's number (1-based), or 0 when the tool did not name one. */
    public int line() {
        return line;
    }

    public String lineText() {
        return lineText;
    }

    /** The service port ("ns/name:port") the failing line belongs to, or "". */
    public String origin() {
        return origin;
    }
}
