#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// An exclusive lock on a folder for as long as a command writes to it (a backup, a
/// repairing check). Two backups at once would each publish "the next" root record and
/// one snapshot would be lost. It is flock(2) on `FOLDER/cairn.lock`: the kernel drops it
/// when the process ends, so a killed backup never leaves a stale lock behind.
public final class DirectoryLock: Sendable {
    private let fd: Int32
    public let folder: String

    /// Takes the lock or fails at once (no waiting) with `.busy`.
    public init(folder: String) throws(DataError) {
        let path = folder + "/cairn.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DataError(.io, "cannot create the lock file \(path): \(String(cString: strerror(errno))); check that the folder is writable")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK {
                throw DataError(.busy, "\(folder) is in use by another cairn process (a backup or check): wait for it to finish, then run the command again")
            }
            throw DataError(.io, "cannot lock \(path): \(String(cString: strerror(e)))")
        }
        self.fd = fd
        self.folder = folder
    }

    /// Unlocks before closing: a process spawned by another thread at that moment shares
    /// the open file (until its exec closes it), and close alone would leave the lock held
    /// through that copy, so the next command in this process would find the folder busy.
    deinit {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
