package dev.ferry.daemon.config;

import java.math.BigDecimal;
import java.time.Duration;

/**
 * Go's {@code time.ParseDuration} syntax, as KubeProxyConfiguration durations are written:
 * {@code "1s"}, {@code "500ms"}, {@code "1m30s"}, {@code "1.5h"}, {@code "0"}; units ns, us (µs),
 * ms, s, m, h. Stateless; thread-safe.
 */
public final class GoDuration {
    private GoDuration() {}

    /** Parses {@code text}; throws IllegalArgumentException saying what is wrong with it. */
    public static Duration parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("empty duration (write e.g. \"30s\", \"500ms\", \"1m30s\")");
        }
        String s = text;
        boolean negative = false;
        if (s.charAt(0) == '-' || s.charAt(0) == '+') {
            negative = s.charAt(0) == '-';
            s = s.substring(1);
        }
        if (s.equals("0")) {
            return Duration.ZERO;
        }
        if (s.isEmpty()) {
            throw invalid(text, "no number");
        }
        BigDecimal nanos = BigDecimal.ZERO;
        int i = 0;
        while (i < s.length()) {
            int start = i;
            while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) {
                i++;
            }
            String number = s.substring(start, i);
            if (number.isEmpty() || number.equals(".") || number.indexOf('.') != number.lastIndexOf('.')) {
                throw invalid(text, "expected a number at \"" + s.substring(start) + "\"");
            }
            int unitStart = i;
            while (i < s.length() && !Character.isDigit(s.charAt(i)) && s.charAt(i) != '.') {
                i++;
            }
            String unit = s.substring(unitStart, i);
            long perUnit = switch (unit) {
                case "ns" -> 1L;
                case "us", "µs", "μs" -> 1_000L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                case "h" -> 3_600_000_000_000L;
                case "" -> throw invalid(text, "missing unit after " + number + " (ns, us, ms, s, m, h)");
                default -> throw invalid(text, "unknown unit \"" + unit + "\" (ns, us, ms, s, m, h)");
            };
            nanos = nanos.add(new BigDecimal(number.startsWith(".") ? "0" + number : number).multiply(BigDecimal.valueOf(perUnit)));
        }
        if (nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw invalid(text, "out of range");
        }
        long n = nanos.longValue();
        return Duration.ofNanos(negative ? -n : n);
    }

    /** Go's {@code Duration.String()} form for messages: 1m30s, 500ms, 0s. */
    public static String format(Duration d) {
        if (d.isZero()) {
            return "0s";
        }
        long nanos = d.toNanos();
        String sign = nanos < 0 ? "-" : "";
        nanos = Math.abs(nanos);
        if (nanos < 1_000_000_000L) {
            if (nanos % 1_000_000 == 0) return sign + nanos / 1_000_000 + "ms";
            if (nanos % 1_000 == 0) return sign + nanos / 1_000 + "us";
            return sign + nanos + "ns";
        }
        StringBuilder b = new StringBuilder(sign);
        long h = nanos / 3_600_000_000_000L;
        long m = nanos / 60_000_000_000L % 60;
        BigDecimal sec = BigDecimal.valueOf(nanos % 60_000_000_000L, 9).stripTrailingZeros();
        if (h > 0) b.append(h).append('h');
        if (h > 0 || m > 0) b.append(m).append('m');
        b.append(sec.toPlainString()).append('s');
        return b.toString();
    }

    private static IllegalArgumentException invalid(String text, String why) {
        return new IllegalArgumentException("invalid duration \"" + text + "\": " + why);
    }
}
