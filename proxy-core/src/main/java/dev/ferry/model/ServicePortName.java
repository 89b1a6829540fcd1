package dev.ferry.model;

import java.util.Objects;

/**
 * Identity of one service port, as kube-proxy's ServicePortName: namespace/name, the port's name
 * (empty for a single unnamed port) and its protocol. Immutable.
 */
public record ServicePortName(String namespace, String name, String portName, Protocol protocol)
        implements Comparable<ServicePortName> {

    public ServicePortName {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
        portName = portName == null ? "" : portName;
        Objects.requireNonNull(protocol, "protocol");
    }

    /** "ns/name" */
    public String serviceKey() {
        return namespace + "/" + name;
    }

    /** kube-proxy's string form: "ns/name:port" (":port" omitted when the port is unnamed), without protocol. */
    @Override
    public String toString() {
        return portName.isEmpty() ? serviceKey() : serviceKey() + ":" + portName;
    }

    @Override
    public int compareTo(ServicePortName o) {
        int c = namespace.compareTo(o.namespace);
        if (c == 0) c = name.compareTo(o.name);
        if (c == 0) c = portName.compareTo(o.portName);
        if (c == 0) c = protocol.compareTo(o.protocol);
        return c;
    }
}
