#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif
import Foundation

/// What a restore does with entries that already exist in its destination. Without a
/// policy a restore only goes into an empty folder (or one it creates).
public enum OverwritePolicy: String, Sendable, CaseIterable {
    /// Keep every existing entry as it is; restore only what is missing. An existing
    /// folder is filled, its mode and times left as they are.
    case never
    /// Replace an existing file or symlink only when the snapshot's copy has a newer
    /// modification time; keep it otherwise.
    case ifNewer = "if-newer"
    /// Replace every existing file and symlink, and set the mode and times of every
    /// existing folder. A folder where the snapshot has a file is not deleted: that entry
    /// fails and is listed.
    case always
}

/// Why one entry was not restored: kept as it was (the policy said so) or failed.
enum EntryOutcome: Error {
    case kept(String)
    case failed(String)
}

/// The destination folder of a restore, filled one entry at a time in tree order.
///
/// Every component is opened relative to its parent without following symlinks
/// (`FolderChain`), every file is written under a short temporary name in its folder and
/// renamed into place (`renameat` replaces a symlink, never writes through it), and modes,
/// owners and times are set on descriptors or with `AT_SYMLINK_NOFOLLOW`. Whatever is
/// already in the destination, nothing outside it is ever created, written or changed.
final class RestoreDestination {
    let path: String
    /// True when the destination was empty: everything in it is this restore's own.
    let fresh: Bool
    private let policy: OverwritePolicy
    private let chain: FolderChain
    /// For each level of `chain`, the folder entry whose mode, owner and times it gets
    /// once it is filled (nil for intermediate folders and for folders kept as they were).
    private var pending: [TreeEntry?] = []
    private let restoreOwners = geteuid() == 0
    private var temporaryCounter = 0
    private let temporaryPrefix = Array(".cairn-restore-\(getpid())-".utf8)

    /// Temporary files of earlier, killed restores removed from the folders this one entered.
    private(set) var staleTemporariesRemoved = 0
    private(set) var ownerFailures: [String] = []
    private(set) var metadataFailures: [String] = []

    /// Opens (or creates) `path`. A destination that holds anything is refused unless a
    /// policy says what to do with existing entries.
    init(path: String, policy: OverwritePolicy?) throws(DataError) {
        self.path = path
        var st = stat()
        if lstat(path, &st) != 0 {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw DataError(.io, "cannot create \(path)", cause: error)
            }
        }
        // The destination itself is the user's own path: symlinks in it are followed.
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw DataError(e == ENOTDIR ? .invalidArgument : .io,
                            "cannot restore into \(path): \(NameBytes.errorText(e)); give a folder (it is created if missing)")
        }
        chain = FolderChain(base: fd)
        let first: String?
        do { first = try Self.firstName(in: fd) } catch {
            throw DataError(.io, "cannot list \(path): \(error.message)")
        }
        if let first, policy == nil {
            throw DataError(.destinationNotEmpty, "\(path) already holds files (\(first), …): restore into an empty or new folder, or say what to do with existing files with --overwrite never|if-newer|always")
        }
        fresh = first == nil
        self.policy = fresh ? .always : policy!
        if !fresh { removeStaleTemporaries(in: fd) }
    }

    // MARK: what killed restores left

    /// Whether `name` is a temporary name of a restore: `.cairn-restore-PID-COUNTER`
    /// (decimal pid, base-36 counter), as `createTemporary` makes them.
    static func isTemporaryName(_ name: [UInt8]) -> Bool {
        let prefix = Array(".cairn-restore-".utf8)
        guard name.starts(with: prefix) else { return false }
        let rest = name.dropFirst(prefix.count)
        guard let dash = rest.firstIndex(of: UInt8(ascii: "-")) else { return false }
        let pid = rest[..<dash], counter = rest[(dash + 1)...]
        let digit = { (b: UInt8) in b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        return !pid.isEmpty && pid.allSatisfy(digit) && !counter.isEmpty
            && counter.allSatisfy { digit($0) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) }
    }

    /// Removes the temporary files a killed restore left in folder `fd` (one that existed
    /// before this restore: a destination that was empty has none): only names of
    /// restores' temporaries, not this one's, and only regular files. A symlink or folder
    /// of that name is left alone; nothing is followed (`unlinkat` removes the name only).
    /// Costs one listing per existing folder, and only when restoring over existing files.
    private func removeStaleTemporaries(in fd: Int32) {
        var stale: [[UInt8]] = []
        // The listing reads from the descriptor's offset, which an earlier listing of
        // this folder (the emptiness check) has moved: from the start again.
        lseek(fd, 0, SEEK_SET)
        try? FolderChain.forEachName(in: fd) { name in
            if Self.isTemporaryName(name), !name.starts(with: temporaryPrefix) { stale.append(name) }
            return true
        }
        for name in stale {
            guard let st = Self.status(fd, name), st.st_mode & S_IFMT == S_IFREG else { continue }
            if NameBytes.withCString(name, { unlinkat(fd, $0, 0) }) == 0 { staleTemporariesRemoved += 1 }
        }
    }

    /// The first name in folder `fd` other than "." and "..", nil when it is empty.
    private static func firstName(in fd: Int32) throws(SystemCallError) -> String? {
        var first: [UInt8]?
        try FolderChain.forEachName(in: fd) { name in
            first = name
            return false
        }
        return first.map(NameBytes.display)
    }

    // MARK: folders

    /// How many folders below the destination are entered now.
    var depth: Int { chain.depth }

    /// Makes the chain hold exactly `folders` (a path below the destination), finishing
    /// the folders it leaves and creating the missing ones; returns the deepest.
    func enter(_ folders: ArraySlice<[UInt8]>) throws(EntryOutcome) -> Int32 {
        let common = chain.commonDepth(folders)
        while chain.depth > common { finishTop() }
        for name in folders.dropFirst(common) { try openOrCreate(name, entry: nil) }
        do { return try chain.top() } catch { throw .failed(error.message) }
    }

    /// Restores folder entry `e` at `components` and keeps it open to be filled.
    func restoreFolder(_ e: TreeEntry, _ components: [[UInt8]]) throws(EntryOutcome) {
        _ = try enter(components.dropLast())
        try openOrCreate(components[components.count - 1], entry: e)
    }

    /// Opens folder `name` in the top of the chain, or creates it, and pushes it. A file
    /// or symlink in its way is replaced when the policy allows, and never followed.
    private func openOrCreate(_ name: [UInt8], entry: TreeEntry?) throws(EntryOutcome) {
        let parent: Int32
        do { parent = try chain.top() } catch { throw .failed(error.message) }
        guard NameBytes.isSafeComponent(name) else { throw .failed("the name is not a single path component") }
        var fd = FolderChain.openFolder(parent, name)
        var created = false
        if fd < 0 {
            let e = errno
            switch e {
            case ENOENT:
                break
            case ENOTDIR, ELOOP:
                // A file or a symlink where the snapshot has a folder.
                let existing = Self.status(parent, name)
                guard let existing, replaces(existing, with: entry) else {
                    throw .kept("kept the existing \(Self.kindName(existing)) \(NameBytes.display(name))")
                }
                guard NameBytes.withCString(name, { unlinkat(parent, $0, 0) }) == 0 else {
                    throw .failed("cannot replace the \(Self.kindName(existing)) \(NameBytes.display(name)) with a folder: \(NameBytes.errorText(errno))")
                }
            default:
                throw .failed("cannot open folder \(NameBytes.display(name)): \(NameBytes.errorText(e))")
            }
            if NameBytes.withCString(name, { mkdirat(parent, $0, 0o700) }) != 0, errno != EEXIST {
                throw .failed("cannot create folder \(NameBytes.display(name)): \(NameBytes.errorText(errno))")
            }
            fd = FolderChain.openFolder(parent, name)
            guard fd >= 0 else { throw .failed("cannot open folder \(NameBytes.display(name)): \(NameBytes.errorText(errno))") }
            created = true
        }
        if !created && !fresh { removeStaleTemporaries(in: fd) }
        var apply = created || policy == .always
        if !apply, policy == .ifNewer, let entry {
            var st = stat()
            apply = fstat(fd, &st) == 0 && Self.isNewer(entry, than: st)
        }
        chain.push(name, fd: fd)
        pending.append(apply ? entry : nil)
    }

    /// Sets the mode, owner and times of the deepest folder (now filled) and leaves it.
    private func finishTop() {
        guard let e = pending.removeLast() else {
            chain.popClosing()
            return
        }
        let fd: Int32
        do { fd = try chain.pop() } catch {
            metadataFailures.append("\(e.path): mode and times not set (\(error.message))")
            return
        }
        defer { close(fd) }
        setOwner(e) { fchown(fd, $0, $1) }  // before fchmod: chown clears setuid and setgid
        fchmod(fd, mode_t(e.mode))
        var times = Self.times(e)
        futimens(fd, &times)
    }

    /// Finishes every folder still open: call once after the last entry.
    func finish() {
        while chain.depth > 0 { finishTop() }
    }

    // MARK: files and symlinks

    /// Whether entry `e` (a file or symlink) may be written as `name` in `parent`;
    /// throws `.kept` when the policy keeps what is there.
    func mayWrite(_ e: TreeEntry, _ name: [UInt8], in parent: Int32) throws(EntryOutcome) {
        guard NameBytes.isSafeComponent(name) else { throw .failed("the name is not a single path component") }
        guard policy != .always, let existing = Self.status(parent, name) else { return }
        guard replaces(existing, with: e) else {
            throw .kept("kept the existing \(Self.kindName(existing)) \(NameBytes.display(name))")
        }
    }

    /// Creates a new, empty file with a short unused name in `parent` (so a 255-byte
    /// name can still be restored), open for writing.
    func createTemporary(in parent: Int32) throws(EntryOutcome) -> (fd: Int32, name: [UInt8]) {
        while true {
            temporaryCounter += 1
            let name = temporaryPrefix + Array(String(temporaryCounter, radix: 36).utf8)
            let fd = NameBytes.withCString(name) { openat(parent, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
            if fd >= 0 { return (fd, name) }
            if errno != EEXIST { throw .failed("cannot create a file in its folder: \(NameBytes.errorText(errno))") }
        }
    }

    /// Moves temporary `temporary` to `name` in `parent`, replacing a file or symlink
    /// there (the link itself, not what it points to).
    func commit(_ temporary: [UInt8], as name: [UInt8], in parent: Int32) throws(EntryOutcome) {
        let rc = NameBytes.withCString(temporary) { t in NameBytes.withCString(name) { renameat(parent, t, parent, $0) } }
        guard rc == 0 else {
            let e = errno
            discard(temporary, in: parent)
            if e == EISDIR || e == ENOTEMPTY || e == EEXIST {
                throw .failed("a folder is in the way; move it away or restore into another folder")
            }
            throw .failed("cannot move the restored file into place: \(NameBytes.errorText(e))")
        }
    }

    func discard(_ temporary: [UInt8], in parent: Int32) {
        _ = NameBytes.withCString(temporary) { unlinkat(parent, $0, 0) }
    }

    /// Sets the owner (as root), mode and times of a written file before it is moved
    /// into place.
    func finishFile(_ e: TreeEntry, fd: Int32) {
        setOwner(e) { fchown(fd, $0, $1) }  // before fchmod: chown clears setuid and setgid
        fchmod(fd, mode_t(e.mode))
        var times = Self.times(e)
        futimens(fd, &times)
    }

    /// Creates symlink `e` as `name` in `parent`, replacing what is there if allowed.
    func restoreSymlink(_ e: TreeEntry, target: [UInt8], _ name: [UInt8], in parent: Int32) throws(EntryOutcome) {
        try mayWrite(e, name, in: parent)
        var made = NameBytes.withCString(target) { t in NameBytes.withCString(name) { symlinkat(t, parent, $0) } } == 0
        if !made {
            guard errno == EEXIST else { throw .failed("cannot create symlink: \(NameBytes.errorText(errno))") }
            // Something is there and may be replaced: a new link under a temporary name,
            // renamed over it.
            while !made {
                temporaryCounter += 1
                let temporary = temporaryPrefix + Array(String(temporaryCounter, radix: 36).utf8)
                if NameBytes.withCString(target, { t in NameBytes.withCString(temporary) { symlinkat(t, parent, $0) } }) == 0 {
                    try commit(temporary, as: name, in: parent)
                    made = true
                } else if errno != EEXIST {
                    throw .failed("cannot create symlink: \(NameBytes.errorText(errno))")
                }
            }
        }
        NameBytes.withCString(name) { n in
            setOwner(e) { fchownat(parent, n, $0, $1, AT_SYMLINK_NOFOLLOW) }
            var times = Self.times(e)
            _ = utimensat(parent, n, &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    // MARK: helpers

    /// Whether `policy` replaces `existing` with entry `e` (nil: an intermediate folder,
    /// which has no snapshot time of its own, so only `always` replaces what is there).
    private func replaces(_ existing: stat, with e: TreeEntry?) -> Bool {
        switch policy {
        case .always: return true
        case .never: return false
        case .ifNewer:
            guard let e, existing.st_mode & S_IFMT != S_IFDIR else { return false }
            return Self.isNewer(e, than: existing)
        }
    }

    private static func isNewer(_ e: TreeEntry, than st: stat) -> Bool {
        (e.mtimeSeconds, Int64(e.mtimeNanoseconds)) > (Int64(st.st_mtim.tv_sec), Int64(st.st_mtim.tv_nsec))
    }

    /// `lstat` of `name` in `parent`; nil if nothing is there.
    private static func status(_ parent: Int32, _ name: [UInt8]) -> stat? {
        var st = stat()
        return NameBytes.withCString(name) { fstatat(parent, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0 ? st : nil
    }

    private static func kindName(_ st: stat?) -> String {
        switch (st?.st_mode ?? 0) & S_IFMT {
        case S_IFDIR: "folder"
        case S_IFLNK: "symlink"
        case S_IFREG: "file"
        default: "entry"
        }
    }

    private static func times(_ e: TreeEntry) -> [timespec] {
        let t = timespec(tv_sec: Int(e.mtimeSeconds), tv_nsec: Int(e.mtimeNanoseconds))
        return [t, t]
    }

    /// Owners are restored when running as root, as tar and restic do: anyone else
    /// cannot give files away, and gets them as their own.
    private func setOwner(_ e: TreeEntry, _ apply: (uid_t, gid_t) -> Int32) {
        guard restoreOwners, let owner = e.owner else { return }
        if apply(uid_t(owner.uid), gid_t(owner.gid)) != 0 {
            ownerFailures.append("\(e.path): cannot set owner \(owner.uid):\(owner.gid) (\(NameBytes.errorText(errno)))")
        }
    }
}
