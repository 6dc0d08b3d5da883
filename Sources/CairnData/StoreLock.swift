import Foundation

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Who may have a target's store file open, across processes. Prune gives a target's
/// space back by copying its store, compacted, into a new file renamed over `data.mdb`
/// (`compactIfOwed`); a command that opened the store before that rename, or between its
/// steps, would read one file while LMDB's lock file and later writers describe another.
/// So every command holds a shared flock(2) on `TARGET/cairn-store.lock` for as long as
/// it has the target's store open (readers and writers alike: restore, `snapshots`, `ls`,
/// `find`, `diff`, `check`, backup), and the compaction holds an exclusive one from the
/// copy to the rename. This is a lock of its own, not `cairn.lock`: a backup holds that
/// one exclusively for its whole run, and reading a target while a backup writes to it
/// is fine (LMDB keeps a reader's snapshot); only the file's replacement is not.
///
/// Both sides wait a bounded time (`CAIRN_LOCK_WAIT` seconds, 30 by default): a reader
/// that does not get the lock leaves that target out, saying it is being compacted, and
/// goes on through parity; a compaction that does not get it is left for the next prune.
///
/// A target the user cannot write (a read-only mount, another user's drive) may have no
/// lock file and no way to create one: a reader then goes on without the lock, with a
/// warning. Nobody can compact such a target from this account either.
final class StoreLock: Sendable {
    static let fileName = "cairn-store.lock"

    private let fd: Int32
    /// Set when no lock could be taken and the command goes on without it.
    let warning: String?

    private init(fd: Int32, warning: String?) {
        self.fd = fd
        self.warning = warning
    }

    /// How long to wait for a lock: `CAIRN_LOCK_WAIT` (seconds), else 30 s.
    static var defaultWait: Double {
        if let text = ProcessInfo.processInfo.environment["CAIRN_LOCK_WAIT"], let s = Double(text), s >= 0, s.isFinite { return s }
        return 30
    }

    /// A shared lock on the store of the target folder `folder` (which exists), for a
    /// command that opens the store. `.busy` after `wait` seconds of a compaction holding
    /// it; a lock file that cannot be opened is a warning, not an error.
    static func shared(folder: String, wait: Double = defaultWait) throws(DataError) -> StoreLock {
        let path = folder + "/" + fileName
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        if fd < 0, [EACCES, EPERM, EROFS].contains(errno) {
            // Cannot be created or written here: an existing one can still be locked.
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        }
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            return StoreLock(fd: -1, warning: "target \(folder): its lock file \(path) cannot be created (\(reason)), so it is read without it; a `cairn prune` compacting this target at the same time could make this command fail")
        }
        switch take(fd, LOCK_SH, wait: wait) {
        case 0:
            return StoreLock(fd: fd, warning: nil)
        case EWOULDBLOCK:
            close(fd)
            throw DataError(.busy, "target \(folder) is being compacted by `cairn prune` in another process (\(path) is locked; waited \(Self.seconds(wait))): it is left out this time; let the prune finish, then run the command again (or set CAIRN_LOCK_WAIT to wait longer)")
        case let err:
            close(fd)
            return StoreLock(fd: -1, warning: "target \(folder): its lock file \(path) cannot be locked (\(String(cString: strerror(err)))), so it is read without it; a `cairn prune` compacting this target at the same time could make this command fail")
        }
    }

    /// The exclusive lock of a compaction, or nil when another command still has the
    /// store open after `wait` seconds.
    static func exclusive(folder: String, wait: Double = defaultWait) throws(DataError) -> StoreLock? {
        let path = folder + "/" + fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            throw DataError(.io, "cannot create the lock file \(path): \(String(cString: strerror(errno))); check that the target is writable")
        }
        switch take(fd, LOCK_EX, wait: wait) {
        case 0:
            return StoreLock(fd: fd, warning: nil)
        case EWOULDBLOCK:
            close(fd)
            return nil
        case let err:
            close(fd)
            throw DataError(.io, "cannot lock \(path): \(String(cString: strerror(err)))")
        }
    }

    /// Tries `flock` without blocking until `wait` seconds have passed (a blocking flock
    /// could not be given up on): 0 when taken, `EWOULDBLOCK` when the time ran out, else
    /// flock's error.
    private static func take(_ fd: Int32, _ operation: Int32, wait: Double) -> Int32 {
        let deadline = Date().addingTimeInterval(wait)
        var pause: UInt32 = 5_000
        while true {
            if flock(fd, operation | LOCK_NB) == 0 { return 0 }
            let err = errno
            guard err == EWOULDBLOCK || err == EINTR else { return err }
            guard Date() < deadline else { return EWOULDBLOCK }
            usleep(pause)
            pause = min(pause * 2, 200_000)
        }
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : String(format: "%.1f s", s)
    }

    /// Unlocks before closing, as `DirectoryLock` does: a process spawned at this moment
    /// shares the open file until its exec, and would keep the lock held through it.
    deinit {
        guard fd >= 0 else { return }
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
