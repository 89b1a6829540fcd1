package dev.ferry.convert;

import dev.ferry.model.Rejection;
import dev.ferry.model.RejectionReason;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Collects the rejections of one object, phrased as the API server phrases field errors
 * ({@code Invalid value}, {@code Required value}, {@code Duplicate value}, {@code Unsupported value}).
 * Not thread-safe; one per object being converted.
 */
final class FieldErrors {
    private final String kind;
    private final String namespace;
    private final String name;
    private final List<Rejection> list = new ArrayList<>();

    FieldErrors(String kind, String namespace, String name) {
        this.kind = kind;
        this.namespace = namespace;
        this.name = name;
    }

    boolean isEmpty() {
        return list.isEmpty();
    }

    List<Rejection> list() {
        return list;
    }

    void invalid(String field, RejectionReason reason, Object value, String why) {
        list.add(new Rejection(kind, namespace, name, field, reason, "Invalid value: " + render(value) + ": " + why));
    }

    void required(String field, RejectionReason reason, String why) {
        list.add(new Rejection(kind, namespace, name, field, reason, "Required value" + (why.isEmpty() ? "" : ": " + why)));
    }

    void duplicate(String field, RejectionReason reason, Object value) {
        list.add(new Rejection(kind, namespace, name, field, reason, "Duplicate value: " + render(value)));
    }

    void unsupported(String field, RejectionReason reason, Object value, List<String> supported) {
        list.add(new Rejection(kind, namespace, name, field, reason, "Unsupported value: " + render(value)
                + ": supported values: " + supported.stream().map(FieldErrors::render).collect(Collectors.joining(", "))));
    }

    /** Checks a port number; 0 counts as out of range. Returns true when valid. */
    boolean port(String field, Integer value) {
        if (value == null) {
            required(field, RejectionReason.INVALID_PORT, "");
            return false;
        }
        if (value < 1 || value > 65535) {
            invalid(field, RejectionReason.INVALID_PORT, value, "must be between 1 and 65535, inclusive");
            return false;
        }
        return true;
    }

    /** Strings are quoted, numbers are not, as the API server prints them. */
    static String render(Object value) {
        if (value instanceof String s) {
            return "\"" + s + "\"";
        }
        return String.valueOf(value);
    }
}
