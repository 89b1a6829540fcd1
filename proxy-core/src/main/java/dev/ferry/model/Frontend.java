package dev.ferry.model;

import java.net.InetAddress;

/**
 * One address:port at which a service port is reachable. A NodePort frontend has no address of its
 * own ({@code address} is null): it is reachable on every node address that nodePortAddresses allows.
 */
public record Frontend(FrontendKind kind, InetAddress address, int port) {

    @Override
    public String toString() {
        if (address == null) {
            return "*:" + port;
        }
        return IpAddresses.hostPort(address, port);
    }
}
