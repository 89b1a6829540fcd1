import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Generates and compiles Chronicle Map's file-header class, VanillaGlobalMutableState$$Native, at
 * build time (conntrack's pom runs this with the java source launcher in process-classes, with the
 * module's compile classpath). Chronicle looks for that class on the classpath and, when it is
 * absent, generates and compiles it with javac in every process that opens a map: about 1.2 s of a
 * `ferry dump conntrack` and a dependency on jdk.compiler at run time. The source is what this
 * Chronicle version's own generator writes, so a Chronicle upgrade regenerates it instead of
 * leaving a stale copy.
 *
 * Arguments: the generated-sources directory (the .java is left there to read) and the classes
 * directory (the .class goes there).
 */
public final class GenerateChronicleHeader {
    static final String PACKAGE = "net.openhft.chronicle.hash";
    static final String SIMPLE_NAME = "VanillaGlobalMutableState$$Native";

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            throw new IllegalArgumentException("usage: GenerateChronicleHeader GENERATED_SOURCES_DIR CLASSES_DIR");
        }
        Path sources = Path.of(args[0]);
        Path classes = Path.of(args[1]);
        Class<?> valueModel = Class.forName("net.openhft.chronicle.values.ValueModel");
        Object model = valueModel.getMethod("acquire", Class.class).invoke(null, Class.forName(PACKAGE + ".VanillaGlobalMutableState"));
        // Chronicle Values' generator is package-private; this is the call Chronicle itself makes
        // before it compiles the class at run time.
        Method generate = Class.forName("net.openhft.chronicle.values.Generators")
                .getDeclaredMethod("generateNativeClass", valueModel, String.class);
        generate.setAccessible(true);
        String source = (String) generate.invoke(null, model, SIMPLE_NAME);

        Path file = sources.resolve(PACKAGE.replace('.', '/')).resolve(SIMPLE_NAME + ".java");
        Files.createDirectories(file.getParent());
        Files.writeString(file, source, StandardCharsets.UTF_8);

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            throw new IllegalStateException("no system Java compiler: build with a JDK, not a JRE");
        }
        int rc = javac.run(null, null, null, "-proc:none", "-implicit:none", "--release", "17", "-nowarn",
                "-classpath", System.getProperty("java.class.path"), "-d", classes.toString(), file.toString());
        if (rc != 0) {
            throw new IllegalStateException("javac failed (" + rc + ") on " + file);
        }
        System.out.println("GenerateChronicleHeader: " + file + " -> " + classes);
    }
}
