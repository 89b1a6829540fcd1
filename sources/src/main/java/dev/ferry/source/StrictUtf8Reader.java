package dev.ferry.source;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;

/**
 * Decodes a YAML file as strict UTF-8 for the parser, a buffer at a time, and stops at the first
 * byte that cannot be YAML text (invalid UTF-8, a NUL, a control character) or at the size limit,
 * with an error that names the line and column where it is. The parser's own reader would report
 * such bytes only by their offset, and a decoder in front of it (the JDK's) not at all.
 *
 * <p>Lines and columns are 1-based and counted as the parser counts them (code points; CR LF, CR,
 * LF, NEL, LS and PS end a line), so both kinds of error point at the same place. Not thread-safe.
 */
final class StrictUtf8Reader extends Reader {
    private final String label;
    private final InputStream in;
    private final long maxBytes;
    private final byte[] buf = new byte[64 * 1024];
    private int pos;
    private int limit;
    private long bytesRead;
    private boolean eof;
    private int line = 1;
    private int column = 1;
    private boolean afterCr;
    private int pendingLowSurrogate = -1;

    /** A decoding error: carries the {@link ManifestException} through the parser, which only passes IOExceptions on. */
    static final class BadText extends IOException {
        private static final long serialVersionUID = 1L;
        final transient ManifestException error;

        BadText(ManifestException error) {
            super(error.getMessage());
            this.error = error;
        }
    }

    StrictUtf8Reader(String label, InputStream in, long maxBytes) {
        this.label = label;
        this.in = in;
        this.maxBytes = maxBytes;
    }

    @Override
    public int read(char[] cbuf, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        int n = 0;
        if (pendingLowSurrogate >= 0) {
            cbuf[off + n++] = (char) pendingLowSurrogate;
            pendingLowSurrogate = -1;
        }
        while (n < len) {
            if (!ensure(1)) {
                break;
            }
            int b = buf[pos] & 0xff;
            int need;
            int cp;
            if (b < 0x80) {
                need = 1;
                cp = b;
            } else if (b >= 0xC2 && b <= 0xDF) {
                need = 2;
                cp = b & 0x1F;
            } else if (b >= 0xE0 && b <= 0xEF) {
                need = 3;
                cp = b & 0x0F;
            } else if (b >= 0xF0 && b <= 0xF4) {
                need = 4;
                cp = b & 0x07;
            } else {
                throw bad(String.format("not UTF-8: byte 0x%02X cannot start a character", b));
            }
            if (need > 1) {
                int have = ensure(need) ? need : limit - pos;
                int second = have > 1 ? buf[pos + 1] & 0xff : -1;
                // The shortest form only, no surrogates, nothing above U+10FFFF (RFC 3629).
                int lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
                int hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
                if (second >= 0 && (second & 0xC0) == 0x80 && (second < lo || second > hi)) {
                    throw bad(String.format("not UTF-8: byte 0x%02X cannot follow 0x%02X", second, b));
                }
                for (int i = 1; i < have; i++) {
                    int c = buf[pos + i] & 0xff;
                    if ((c & 0xC0) != 0x80) {
                        throw bad(String.format("not UTF-8: byte 0x%02X cannot continue a character", c));
                    }
                    cp = (cp << 6) | (c & 0x3F);
                }
                if (have < need) {
                    throw bad("not UTF-8: the file ends inside a character");
                }
            }
            if (cp == 0) {
                throw bad("NUL byte: not text (a binary or corrupt file?)");
            }
            if (!printable(cp)) {
                throw bad(String.format("control character U+%04X is not allowed in YAML", cp));
            }
            pos += need;
            if (cp >= 0x10000) {
                cbuf[off + n++] = Character.highSurrogate(cp);
                if (n < len) {
                    cbuf[off + n++] = Character.lowSurrogate(cp);
                } else {
                    pendingLowSurrogate = Character.lowSurrogate(cp);
                }
            } else {
                cbuf[off + n++] = (char) cp;
            }
            advance(cp);
        }
        return n == 0 ? -1 : n;
    }

    /** Bytes decoded so far. */
    long bytesRead() {
        return bytesRead;
    }

    private void advance(int cp) {
        if (cp == '\n' && afterCr) {
            afterCr = false; // the LF of a CR LF: the CR already ended the line
            return;
        }
        afterCr = cp == '\r';
        if (cp == '\n' || cp == '\r' || cp == 0x85 || cp == 0x2028 || cp == 0x2029) {
            line++;
            column = 1;
        } else {
            column++;
        }
    }

    /** The characters YAML 1.2 allows in a stream (c-printable), as the parser checks them. */
    private static boolean printable(int c) {
        return (c >= 0x20 && c <= 0x7E) || c == 0x9 || c == 0xA || c == 0xD || c == 0x85
                || (c >= 0xA0 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
    }

    /** Makes at least {@code n} bytes available at {@code pos}; false at the end of the input. */
    private boolean ensure(int n) throws IOException {
        if (limit - pos >= n) {
            return true;
        }
        if (pos > 0) {
            System.arraycopy(buf, pos, buf, 0, limit - pos);
            limit -= pos;
            pos = 0;
        }
        while (limit < n && !eof) {
            int r = in.read(buf, limit, buf.length - limit);
            if (r < 0) {
                eof = true;
                break;
            }
            limit += r;
            bytesRead += r;
            if (bytesRead > maxBytes) {
                throw new BadText(new ManifestException(label, 0, 0, "",
                        "larger than the limit of " + maxBytes + " bytes (it grew while being read)", null));
            }
        }
        return limit - pos >= n;
    }

    private BadText bad(String problem) {
        return new BadText(new ManifestException(label, line, column, "", problem, null));
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
