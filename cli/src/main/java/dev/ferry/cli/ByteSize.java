package dev.ferry.cli;

import picocli.CommandLine;

/**
 * A size flag in bytes, written as a plain number or with a binary suffix as Kubernetes quantities
 * write it ({@code 268435456}, {@code 256Mi}, {@code 1Gi}, {@code 512Ki}). Positive only.
 */
final class ByteSize implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        String v = value.trim();
        long unit = 1;
        if (v.endsWith("Ki")) {
            unit = 1L << 10;
        } else if (v.endsWith("Mi")) {
            unit = 1L << 20;
        } else if (v.endsWith("Gi")) {
            unit = 1L << 30;
        }
        String digits = unit == 1 ? v : v.substring(0, v.length() - 2);
        try {
            long n = Long.parseLong(digits);
            if (n <= 0 || n > Long.MAX_VALUE / unit) {
                throw new CommandLine.TypeConversionException("'" + value + "': a size must be positive (bytes, or with Ki, Mi, Gi)");
            }
            return n * unit;
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException("'" + value + "': not a size (bytes, or with Ki, Mi, Gi, e.g. 256Mi)");
        }
    }
}
