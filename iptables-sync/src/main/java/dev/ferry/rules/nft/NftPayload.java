package dev.ferry.rules.nft;

import dev.ferry.model.ServicePortName;
import java.util.ArrayList;
import java.util.List;

/**
 * One {@code nft -f} transaction as text, plus which service each line came from, so that a line the
 * kernel refuses can be blamed on its service. Immutable once built.
 */
public final class NftPayload {
    private final String text;
    private final List<ServicePortName> owners;
    private final boolean full;

    private NftPayload(String text, List<ServicePortName> owners, boolean full) {
        this.text = text;
        this.owners = owners;
        this.full = full;
    }

    /** The nft script. */
    public String text() {
        return text;
    }

    /** Whether this is a full sync (every chain rewritten) rather than a partial one. */
    public boolean isFull() {
        return full;
    }

    public int lineCount() {
        return owners.size();
    }

    /** True when the payload changes nothing (a partial sync with no differences). */
    public boolean isEmpty() {
        return owners.isEmpty();
    }

    /** The service the 1-based line belongs to, or null for Ferry's own skeleton (or out of range). */
    public ServicePortName ownerOfLine(int line) {
        return line >= 1 && line <= owners.size() ? owners.get(line - 1) : null;
    }

    /** The text of a 1-based line, "" when out of range. */
    public String line(int line) {
        if (line < 1) {
            return "";
        }
        int start = 0;
        for (int i = 1; i < line; i++) {
            start = text.indexOf('\n', start) + 1;
            if (start == 0) {
                return "";
            }
        }
        int end = text.indexOf('\n', start);
        return end < 0 ? text.substring(start) : text.substring(start, end);
    }

    @Override
    public String toString() {
        return text;
    }

    /** Appends lines; not thread-safe. */
    static final class Writer {
        private final StringBuilder sb;
        private final ArrayList<ServicePortName> owners;
        private final boolean full;

        Writer(boolean full, int expectedLines) {
            this.full = full;
            this.sb = new StringBuilder(Math.max(256, expectedLines * 90));
            this.owners = new ArrayList<>(Math.max(16, expectedLines));
        }

        Writer line(ServicePortName owner, String... parts) {
            for (String p : parts) {
                sb.append(p);
            }
            sb.append('\n');
            owners.add(owner);
            return this;
        }

        NftPayload build() {
            return new NftPayload(sb.toString(), java.util.Collections.unmodifiableList(owners), full);
        }
    }
}
