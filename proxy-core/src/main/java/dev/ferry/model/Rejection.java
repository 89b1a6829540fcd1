package dev.ferry.model;

import java.util.Objects;

/**
 * One reason an API object was not accepted: which object ({@code kind namespace/name}), which field
 * (a Kubernetes field path such as {@code spec.ports[1].port}), a machine {@link RejectionReason} and
 * the Kubernetes-style detail ({@code Invalid value: 70000: must be between 1 and 65535}). Immutable.
 *
 * <p>{@link #toString()} is the log line:
 * {@code Service default/web: spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535}.
 */
public record Rejection(String kind, String namespace, String name, String field, RejectionReason reason,
                        String detail) {

    public Rejection {
        Objects.requireNonNull(kind, "kind");
        namespace = namespace == null ? "" : namespace;
        name = name == null ? "" : name;
        field = field == null ? "" : field;
        Objects.requireNonNull(reason, "reason");
        detail = detail == null ? "" : detail;
    }

    /** "ns/name" (or just the name when the object has no namespace). */
    public String objectKey() {
        return namespace.isEmpty() ? name : namespace + "/" + name;
    }

    @Override
    public String toString() {
        String obj = kind + " " + objectKey();
        return field.isEmpty() ? obj + ": " + detail : obj + ": " + field + ": " + detail;
    }
}
