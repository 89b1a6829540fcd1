package dev.ferry.dns;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.CorruptedFrameException;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Question names decode like Netty's, and every malformed shape is rejected instead of looping. */
@Tag("unit")
class QuestionDecoderTest {

    static ByteBuf bytes(int... b) {
        ByteBuf buf = Unpooled.buffer();
        for (int x : b) buf.writeByte(x);
        return buf;
    }

    @Test
    void aPlainNameDecodesWithATrailingDotAndConsumesItsBytes() {
        ByteBuf in = bytes(3, 'w', 'e', 'b', 2, 'n', 's', 0, 0xAA);
        assertEquals("web.ns.", QuestionDecoder.decodeName(in));
        assertEquals(8, in.readerIndex());
    }

    @Test
    void theRootDecodesAsADot() {
        assertEquals(".", QuestionDecoder.decodeName(bytes(0)));
    }

    @Test
    void aBackwardPointerIsFollowedAndReadingResumesAfterIt() {
        ByteBuf in = bytes(2, 'n', 's', 0, 1, 'a', 0xC0, 0, 0xAA);
        in.readerIndex(4);
        assertEquals("a.ns.", QuestionDecoder.decodeName(in));
        assertEquals(8, in.readerIndex());
    }

    @Test
    void selfAndForwardPointersAreRejected() {
        assertThrows(CorruptedFrameException.class, () -> QuestionDecoder.decodeName(bytes(0xC0, 0)));
        assertThrows(CorruptedFrameException.class, () -> QuestionDecoder.decodeName(bytes(0xC0, 2, 0)));
    }

    @Test
    void truncatedAndOverlongNamesAreRejected() {
        assertThrows(CorruptedFrameException.class, () -> QuestionDecoder.decodeName(bytes(5, 'a', 'b')));
        assertThrows(CorruptedFrameException.class, () -> QuestionDecoder.decodeName(bytes(1, 'a')));
        assertThrows(CorruptedFrameException.class, () -> QuestionDecoder.decodeName(bytes(0x80)));
        ByteBuf longName = Unpooled.buffer();
        for (int i = 0; i < 5; i++) {
            longName.writeByte(63).writeZero(63);
        }
        longName.writeByte(0);
        assertThrows(CorruptedFrameException.class, () -> QuestionDecoder.decodeName(longName));
    }
}
