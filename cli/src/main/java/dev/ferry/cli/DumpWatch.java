package dev.ferry.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.HashSet;
import java.util.Set;

/**
 * `ferry dump --watch`: redraws the dump every interval like watch(1), with the lines that were not
 * in the previous frame in reverse video, so a changed endpoint or a new service stands out.
 */
final class DumpWatch {
    static final String CLEAR = "\033[H\033[2J";
    static final String HIGHLIGHT = "\033[7m";
    static final String RESET = "\033[0m";

    interface Frame {
        String render(boolean first) throws IOException;
    }

    private final PrintWriter out;
    private final long intervalMillis;
    private final long maxFrames;

    DumpWatch(PrintWriter out, long intervalMillis, long maxFrames) {
        this.out = out;
        this.intervalMillis = intervalMillis;
        this.maxFrames = maxFrames;
    }

    void run(String title, Frame frame, Runnable betweenFrames) throws IOException, InterruptedException {
        Set<String> previous = null;
        for (long n = 0; n < maxFrames; n++) {
            if (n > 0) {
                betweenFrames.run();
                Thread.sleep(intervalMillis);
            }
            String text = frame.render(n == 0);
            StringBuilder sb = new StringBuilder(CLEAR);
            sb.append(String.format("Every %.1fs: %s    %s%n%n", intervalMillis / 1000.0, title,
                    LocalTime.now().truncatedTo(ChronoUnit.SECONDS)));
            Set<String> lines = new HashSet<>();
            for (String line : text.split("\n", -1)) {
                // Compare rows by content, not padding: one wider cell re-aligns every row of the table.
                String key = line.trim().replaceAll("\\s+", " ");
                lines.add(key);
                boolean changed = previous != null && !key.isEmpty() && !previous.contains(key);
                sb.append(changed ? HIGHLIGHT + line + RESET : line).append('\n');
            }
            out.print(sb);
            out.flush();
            previous = lines;
        }
    }
}
