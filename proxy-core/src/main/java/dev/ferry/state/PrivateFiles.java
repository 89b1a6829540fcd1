package dev.ferry.state;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.Set;

/**
 * Creating and opening the files of a state directory without trusting what is already there: new
 * directories are 0700 and new files 0600 from the moment they exist (the mode is passed to
 * mkdir/open, so a umask of 000 cannot widen it and there is no window before a chmod), and nothing
 * in the directory is followed through a symbolic link (creation is O_EXCL, opening is O_NOFOLLOW,
 * checks use lstat). A link or other non-regular file where a state file belongs is either refused
 * with a message naming it, or unlinked and replaced (the link itself, never its target).
 *
 * <p>Stateless and thread-safe. Shared by the service table (proxy-core) and the conntrack maps,
 * which is why it lives in the lowest module both use.
 */
public final class PrivateFiles {
    public static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
    public static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");

    private PrivateFiles() {}

    public static FileAttribute<Set<PosixFilePermission>> dirMode() {
        return PosixFilePermissions.asFileAttribute(DIR_MODE);
    }

    public static FileAttribute<Set<PosixFilePermission>> fileMode() {
        return PosixFilePermissions.asFileAttribute(FILE_MODE);
    }

    /** Creates dir and any missing parents as 0700; an existing directory is left as it is. */
    public static void createDirectories(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        Files.createDirectories(dir, dirMode());
    }

    /** Creates a new 0600 file; fails if anything (a file, a link, a dangling link) is at that name. */
    public static void createFile(Path file) throws IOException {
        Files.createFile(file, fileMode());
    }

    /** Opens a new 0600 file for reading and writing; fails if anything is already at that name. */
    public static FileChannel createNew(Path file) throws IOException {
        return FileChannel.open(file, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE), fileMode());
    }

    /**
     * Opens file for reading and writing, creating it 0600 if absent, never following a link: a
     * symbolic link (or any non-regular file) at that name is unlinked and a new file created in its
     * place. Returns the open channel; what was replaced is reported through {@code replaced}.
     */
    public static FileChannel openOrReplace(Path file, StringBuilder replaced) throws IOException {
        for (int attempt = 0; attempt < 3; attempt++) {
            String odd = nonRegular(file);
            if (odd != null) {
                Files.delete(file); // unlinks the link itself
                if (replaced != null) {
                    replaced.append(file).append(" was ").append(odd).append("; replaced it with a regular file");
                }
            }
            Set<OpenOption> opts = new HashSet<>(Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS));
            try {
                return FileChannel.open(file, opts, fileMode());
            } catch (IOException raced) {
                // A link appeared between the check and the open (O_NOFOLLOW refused it): look again.
                if (nonRegular(file) == null) {
                    throw raced;
                }
            }
        }
        throw new IOException(file + " keeps being replaced by a non-regular file; refusing to use it");
    }

    /**
     * Replaces whatever is at file with a new, empty 0600 file (a marker). Never writes through a
     * link: the old entry, link or not, is unlinked first and the new one created exclusively.
     */
    public static void replaceWithEmpty(Path file) throws IOException {
        Files.deleteIfExists(file);
        try {
            createFile(file);
        } catch (FileAlreadyExistsException raced) {
            throw new IOException(file + " was re-created by someone else while Ferry replaced it; not touching it", raced);
        }
    }

    /**
     * What is wrong with the entry at file for a state file, read without following links:
     * null when it is absent or a regular file, else e.g. "a symbolic link to /etc/shadow".
     */
    public static String nonRegular(Path file) throws IOException {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException absent) {
            return null;
        }
        if (a.isRegularFile()) {
            return null;
        }
        if (a.isSymbolicLink()) {
            String target;
            try {
                target = Files.readSymbolicLink(file).toString();
            } catch (IOException e) {
                target = "?";
            }
            return "a symbolic link to " + target;
        }
        return a.isDirectory() ? "a directory" : "not a regular file";
    }

    /** True when a regular file (not a link to one) is at file. */
    public static boolean isRegularFile(Path file) {
        return Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS);
    }

    /** Fails with a message naming file when something other than a regular file is there. */
    public static void requireRegularOrAbsent(Path file) throws IOException {
        String odd = nonRegular(file);
        if (odd != null) {
            throw new IOException(file + " is " + odd + "; Ferry does not follow links in its state directory");
        }
    }
}
