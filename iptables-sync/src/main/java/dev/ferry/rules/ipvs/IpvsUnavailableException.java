package dev.ferry.rules.ipvs;

/** IPVS mode cannot start: the kernel lacks ip_vs. The message names the module and the way out. */
public final class IpvsUnavailableException extends Exception {
    public IpvsUnavailableException(String message) {
        super(message);
    }
}
