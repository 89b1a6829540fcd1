package dev.ferry.table;

/**
 * Two service ports claim the same frontend (protocol, address, port), which the API server should
 * never allow but a file source or a race can produce. The newcomer is refused; the owner stays.
 */
public final class FrontendConflictException extends RuntimeException {
    public FrontendConflictException(String message) {
        super(message);
    }
}
