package dev.ferry.lb;

import java.util.Map;

/**
 * Reads a Service's {@value #KEY} annotation. A missing annotation means the node default; a bad
 * one also falls back to the node default, with an error naming the service, so one mistyped
 * Service never stops the others. Stateless; thread-safe.
 */
public final class AlgorithmAnnotation {
    public static final String KEY = "ferry.dev/lb-algorithm";

    private AlgorithmAnnotation() {}

    /**
     * The algorithm for a service, and why if it is not what the annotation asked for.
     *
     * @param algorithm what to use: the annotation's value, or the node default
     * @param error null when the annotation was absent or valid; else a message naming the service,
     *     the bad value, the valid names and the fallback, fit for a log line or an Event
     */
    public record Choice(Algorithm algorithm, String error) {
        public boolean isError() {
            return error != null;
        }
    }

    /**
     * @param service the service's {@code namespace/name}, for the error message
     * @param annotations the Service's annotations; null counts as none
     * @param nodeDefault the node-wide algorithm (from config)
     */
    public static Choice choose(String service, Map<String, String> annotations, Algorithm nodeDefault) {
        String value = annotations == null ? null : annotations.get(KEY);
        if (value == null) {
            return new Choice(nodeDefault, null);
        }
        try {
            return new Choice(Algorithm.named(value), null);
        } catch (UnknownAlgorithmException e) {
            return new Choice(nodeDefault, "service " + service + ": annotation " + KEY + ": " + e.getMessage()
                    + "; using the node default '" + nodeDefault.schedulerName() + "'");
        }
    }
}
