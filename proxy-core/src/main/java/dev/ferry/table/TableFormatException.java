package dev.ferry.table;

import java.io.IOException;

/** The table file is missing, truncated, or not a Ferry table of a version this build reads. */
public final class TableFormatException extends IOException {
    public TableFormatException(String message) {
        super(message);
    }
}
