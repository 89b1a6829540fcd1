package dev.ferry.model;

/**
 * Why an API object was rejected, as a short stable code for metrics labels and Kubernetes Events
 * ({@link #code()} is the CamelCase form, e.g. {@code InvalidPort}).
 */
public enum RejectionReason {
    /** A port number out of 1-65535 (service port, nodePort, targetPort, healthCheckNodePort, slice port). */
    INVALID_PORT("InvalidPort"),
    /** A field that must be an IP literal is not one (or is of the wrong family). */
    INVALID_IP("InvalidIP"),
    /** A source range that is not a CIDR. */
    INVALID_CIDR("InvalidCIDR"),
    /** Two ports of one object share a name. */
    DUPLICATE_PORT_NAME("DuplicatePortName"),
    /** A protocol other than TCP, UDP or SCTP. */
    UNSUPPORTED_PROTOCOL("UnsupportedProtocol"),
    /** An enumerated field (type, policy, affinity, addressType) with a value the API does not define. */
    UNSUPPORTED_VALUE("UnsupportedValue"),
    /** An EndpointSlice endpoint with no address. */
    MISSING_ADDRESSES("MissingAddresses"),
    /** An EndpointSlice without the kubernetes.io/service-name label. */
    MISSING_SERVICE_LABEL("MissingServiceLabel"),
    /** A required field is absent (metadata.name, spec.ports, spec.externalName, a port name). */
    REQUIRED_VALUE("RequiredValue"),
    /** Any other malformed value (a bad targetPort name, an affinity timeout, an annotation). */
    INVALID_VALUE("InvalidValue"),
    /** A second object with the same kind, namespace and name in one input. */
    DUPLICATE_OBJECT("DuplicateObject");

    private final String code;

    RejectionReason(String code) {
        this.code = code;
    }

    /** The CamelCase code, stable across releases: use it as a metric label or an Event reason. */
    public String code() {
        return code;
    }

    @Override
    public String toString() {
        return code;
    }
}
