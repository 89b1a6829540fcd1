package dev.ferry.daemon;

import dev.ferry.state.PrivateFiles;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.Map;
import java.util.function.Function;

/**
 * Where the mapped tables live when --state-dir is not given, and whether a directory may hold
 * them. `ferry run` and `ferry dump` resolve it the same way, so a dump in a second shell finds the
 * daemon without flags: $FERRY_STATE_DIR, else /run/ferry when we may write there (root, as in the
 * DaemonSet), else a private per-user runtime directory: $XDG_RUNTIME_DIR/ferry when that directory
 * is ours and private, else {@code <tmpdir>/ferry-<user>}, created 0700.
 *
 * <p>The daemon trusts what is in its state directory (other processes read the table, the next
 * run adopts the conntrack maps), so {@link #prepare} refuses a directory that another user owns or
 * that group or others may write: in a shared temp dir, anyone can create {@code ferry-<user>}
 * first (or a link by that name) and feed Ferry their services. A default directory must also not
 * be a symbolic link. The caller exits 1 with the message, which names the directory and why.
 */
public final class StateDirs {
    public static final Path SYSTEM = Path.of("/run/ferry");

    private StateDirs() {}

    /** The state directory readers (`ferry dump`, `ferry explain`) look in; nothing is created. */
    public static Path resolve(Path explicit) {
        return resolve(explicit, System::getenv).dir();
    }

    /**
     * The daemon's state directory: resolved as {@link #resolve}, created 0700 if missing (whatever
     * the umask), and checked.
     *
     * @throws IOException naming the directory and why it is refused
     */
    public static Path prepare(Path explicit) throws IOException {
        Choice c = resolve(explicit, System::getenv);
        prepare(c.dir(), c.isDefault());
        return c.dir();
    }

    /** A resolved directory and whether it is a default (not named by the operator). */
    public record Choice(Path dir, boolean isDefault) {}

    public static Choice resolve(Path explicit, Function<String, String> env) {
        return resolve(explicit, env, Files.isDirectory(SYSTEM) ? Files.isWritable(SYSTEM) : Files.isWritable(SYSTEM.getParent()));
    }

    /** {@code systemUsable}: whether this process may use /run/ferry (root, as in the DaemonSet). */
    public static Choice resolve(Path explicit, Function<String, String> env, boolean systemUsable) {
        if (explicit != null) {
            return new Choice(explicit, false);
        }
        String fromEnv = env.apply("FERRY_STATE_DIR");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return new Choice(Path.of(fromEnv), false);
        }
        if (systemUsable) {
            return new Choice(SYSTEM, true);
        }
        String xdg = env.apply("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute() && problem(Path.of(xdg), true) == null) {
            return new Choice(Path.of(xdg, "ferry"), true);
        }
        return new Choice(Path.of(System.getProperty("java.io.tmpdir"), "ferry-" + System.getProperty("user.name", "user")), true);
    }

    /** Creates dir (0700, atomically: an existing entry is never taken over unchecked) and checks it. */
    public static void prepare(Path dir, boolean isDefault) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS) && (isDefault || !Files.exists(dir))) {
            Path parent = dir.toAbsolutePath().getParent();
            if (parent != null && !Files.isDirectory(parent)) {
                PrivateFiles.createDirectories(parent);
            }
            try {
                Files.createDirectory(dir, PrivateFiles.dirMode());
            } catch (FileAlreadyExistsException raced) {
                // Someone created it between the check and mkdir: it is checked below like any other.
            }
        }
        String why = problem(dir, isDefault);
        if (why != null) {
            throw new IOException("state directory " + dir + " refused: " + why + ". Ferry keeps its service table"
                    + " and conntrack state there and trusts them; remove it, or fix it (chown to you, chmod 0700), or"
                    + " use --state-dir with a directory only you can write");
        }
    }

    /** Why dir may not hold Ferry's state, or null when it may. */
    public static String problem(Path dir, boolean refuseLink) {
        PosixFileAttributes a;
        try {
            if (refuseLink && Files.isSymbolicLink(dir)) {
                return "it is a symbolic link (to " + readLink(dir) + "), which anyone could have planted there";
            }
            a = Files.readAttributes(dir, PosixFileAttributes.class);
        } catch (NoSuchFileException e) {
            return "it does not exist";
        } catch (IOException | UnsupportedOperationException e) {
            return "its owner and mode cannot be read (" + e + ")";
        }
        if (!a.isDirectory()) {
            return "it is not a directory";
        }
        int uid;
        int mode;
        try {
            Map<String, Object> unix = Files.readAttributes(dir, "unix:uid,mode");
            uid = (Integer) unix.get("uid");
            mode = (Integer) unix.get("mode") & 07777;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "its owner cannot be read (" + e + ")";
        }
        int me = currentUid();
        if (me >= 0 && uid != me) {
            return "it is owned by uid " + uid + " (" + a.owner().getName() + "), not by this process's uid " + me;
        }
        if ((mode & 0022) != 0) {
            return String.format("it is writable by %s (mode %04o)", (mode & 0020) != 0 && (mode & 0002) != 0
                    ? "group and others" : (mode & 0020) != 0 ? "its group" : "others", mode);
        }
        return null;
    }

    /** This process's effective uid (the owner of /proc/self), or -1 when it cannot be told. */
    public static int currentUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return -1;
        }
    }

    private static String readLink(Path p) {
        try {
            return Files.readSymbolicLink(p).toString();
        } catch (IOException e) {
            return "?";
        }
    }
}
