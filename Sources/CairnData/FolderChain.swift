#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A failed system call: which one failed on what, and `errno`.
struct SystemCallError: Error, Sendable {
    let errno: Int32
    let what: String

    var message: String { "\(what): \(NameBytes.errorText(errno))" }
}

/// The folders along one path below a base folder, each opened relative to its parent
/// with `O_NOFOLLOW | O_DIRECTORY`: a symlink anywhere below the base is never followed,
/// whoever planted it and whenever, and no path is ever resolved from the root again,
/// so depth is not bounded by `PATH_MAX`. Each step opens one checked component (no '/',
/// not "." or ".."), which is what `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`
/// would enforce; glibc 2.36 has no `openat2` wrapper and Swift cannot call the variadic
/// `syscall`, so plain `openat` it is, on every Linux.
///
/// Only the deepest `window` levels hold a descriptor; shallower ones are closed and
/// reopened, `window` at a time, when the walk comes back up to them. A path thousands of
/// levels deep needs no more descriptors than a shallow one.
final class FolderChain {
    private let base: Int32
    private(set) var names: [[UInt8]] = []
    /// One per level of `names`; -1 where closed to stay within `window`.
    private var fds: [Int32] = []
    private let window: Int

    /// Takes ownership of `base`, an open folder.
    init(base: Int32, window: Int = 128) {
        precondition(base >= 0 && window >= 1, "folder chain base \(base), window \(window)")
        self.base = base
        self.window = window
    }

    deinit {
        for fd in fds where fd >= 0 { close(fd) }
        close(base)
    }

    var depth: Int { names.count }

    /// How many leading components of `path` the chain already holds.
    func commonDepth(_ path: ArraySlice<[UInt8]>) -> Int {
        var i = 0
        while i < names.count, i < path.count, names[i] == path[path.startIndex + i] { i += 1 }
        return i
    }

    /// Opens folder `name` inside `parent` without following a symlink at `name`; a
    /// name that is not one component (empty, ".", "..", with '/' or NUL) fails with EINVAL.
    static func openFolder(_ parent: Int32, _ name: [UInt8]) -> Int32 {
        guard parent == AT_FDCWD || NameBytes.isSafeComponent(name) else {
            errno = EINVAL
            return -1
        }
        return NameBytes.withCString(name) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    }

    /// Calls `body` with each name in folder `fd` (bytes, without "." and "..") until it
    /// returns false; `fd` stays open. The listing goes on from `fd`'s offset (it shares
    /// it): a folder listed before must be rewound (`lseek` to 0) to be listed whole.
    static func forEachName(in fd: Int32, _ body: ([UInt8]) -> Bool) throws(SystemCallError) {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            let e = errno
            if copy >= 0 { close(copy) }
            throw SystemCallError(errno: e, what: "cannot list the folder")
        }
        defer { closedir(dir) }
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 { throw SystemCallError(errno: errno, what: "cannot list the folder") }
                return
            }
            let name = withUnsafeBytes(of: ent.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [NameBytes.dot] || name == [NameBytes.dot, NameBytes.dot] { continue }
            if !body(name) { return }
        }
    }

    /// The descriptor of the deepest folder (the base when empty), valid until the
    /// chain changes.
    func top() throws(SystemCallError) -> Int32 {
        guard let last = fds.indices.last else { return base }
        if fds[last] < 0 { try reopen(last) }
        return fds[last]
    }

    /// Adds folder `name`, already opened as `fd` inside the current top; the chain
    /// owns `fd` from now on.
    func push(_ name: [UInt8], fd: Int32) {
        names.append(name)
        fds.append(fd)
        let old = fds.count - 1 - window
        if old >= 0, fds[old] >= 0 {
            close(fds[old])
            fds[old] = -1
        }
    }

    /// Opens `name` inside the current top (without following symlinks) and pushes it.
    func enter(_ name: [UInt8]) throws(SystemCallError) {
        let fd = Self.openFolder(try top(), name)
        guard fd >= 0 else { throw SystemCallError(errno: errno, what: "cannot open folder \(NameBytes.display(name))") }
        push(name, fd: fd)
    }

    /// Removes the deepest level and hands its open descriptor to the caller, who
    /// closes it.
    func pop() throws(SystemCallError) -> Int32 {
        precondition(!names.isEmpty, "pop of an empty folder chain")
        let last = fds.count - 1
        if fds[last] < 0 { try reopen(last) }
        let fd = fds.removeLast()
        names.removeLast()
        return fd
    }

    /// Removes the deepest level, closing it.
    func popClosing() {
        precondition(!names.isEmpty, "pop of an empty folder chain")
        let fd = fds.removeLast()
        names.removeLast()
        if fd >= 0 { close(fd) }
    }

    /// Removes levels until `depth` remain.
    func truncate(to depth: Int) {
        while names.count > depth { popClosing() }
    }

    /// Reopens level `level` and the closed levels just above it (up to `window`),
    /// walking down from the nearest level still open.
    private func reopen(_ level: Int) throws(SystemCallError) {
        var open = level
        while open >= 0, fds[open] < 0 { open -= 1 }
        var parent = open >= 0 ? fds[open] : base
        let keepFrom = max(open + 1, level - window + 1)
        for i in (open + 1)...level {
            let fd = Self.openFolder(parent, names[i])
            let failure = errno
            if i - 1 > open, i - 1 < keepFrom { close(parent) }  // opened on the way down only
            guard fd >= 0 else {
                throw SystemCallError(errno: failure, what: "cannot reopen folder \(NameBytes.display(names[i]))")
            }
            if i >= keepFrom { fds[i] = fd }
            parent = fd
        }
    }
}
