package dev.ferry.table;

/** The mapped table file has no room left for a record; the message names the file and the limit. */
public final class TableFullException extends RuntimeException {
    public TableFullException(String message) {
        super(message);
    }
}
