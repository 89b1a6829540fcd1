package dev.ferry.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test class or method that needs root (network or mount namespaces, netfilter, chown) and
 * the kernel tools it names. Without them the test is skipped with {@link #value()} and what is
 * missing; with the environment variable {@code CI=true} it fails instead, so a CI that lost root or
 * a package cannot pass by skipping. Carries the JUnit tag {@code kernel}, which keeps it out of
 * {@code mvn test -Dgroups=unit}. The check runs before the class's or method's own set-up.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@Tag("kernel")
@ExtendWith(KernelTestPolicy.class)
public @interface KernelTest {
    /** What the test does that needs root, as the skip or failure message should say it. */
    String value();

    /** Binaries the test runs (looked up on PATH and in /usr/sbin, /sbin, /usr/bin, /bin). */
    String[] tools() default {};
}
