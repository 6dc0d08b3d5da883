#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A folder of the held store opened once, so every file in it is reached relative to it
/// (`openat`, `renameat`, `unlinkat`) without following symbolic links: a link planted in
/// the data directory is refused, never followed. Names are ours (hexadecimal).
final class HeldFolder: Sendable {
    let path: String
    let fd: Int32

    /// Opens `path`, creating it (mode 0700) when missing.
    init(_ path: String) throws(HeldSlotError) {
        if mkdir(path, 0o700) != 0, errno != EEXIST { throw Self.failure("creating the folder \(path)", errno) }
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure("opening the folder \(path) (it must be a folder, not a link)", errno) }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    static func failure(_ what: String, _ err: Int32) -> HeldSlotError {
        let reason = String(cString: strerror(err))
        let advice = err == ENOSPC || err == EDQUOT ? ": free some space on that disk or offer less" : ""
        return HeldSlotError(.storage, "\(what) failed: \(reason)\(advice)")
    }

    /// Opens `name` in this folder; nil when it is not there.
    func open(_ name: String, _ flags: Int32, mode: mode_t = 0o600) throws(HeldSlotError) -> Int32? {
        let fd = openat(self.fd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)
        if fd >= 0 { return fd }
        if errno == ENOENT { return nil }
        throw Self.failure("opening \(path)/\(name)", errno)
    }

    /// Moves `name` to `other`/`newName`, replacing what was there.
    func move(_ name: String, to other: HeldFolder, as newName: String) throws(HeldSlotError) {
        guard renameat(fd, name, other.fd, newName) == 0 else {
            throw Self.failure("moving \(path)/\(name) to \(other.path)/\(newName)", errno)
        }
    }

    /// Removes `name` if it is there.
    func remove(_ name: String) {
        _ = unlinkat(fd, name, 0)
    }

    /// Makes the folder's entries (a file moved in or out) durable.
    func sync() throws(HeldSlotError) {
        guard fsync(fd) == 0 else { throw Self.failure("flushing the folder \(path)", errno) }
    }

    /// The names of the regular files in the folder.
    func fileNames() throws(HeldSlotError) -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else { throw Self.failure("listing \(path)", errno) }
        defer { closedir(dir) }
        rewinddir(dir)
        var names = [String]()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != ".", name != "..", entry.pointee.d_type == UInt8(DT_REG) { names.append(name) }
        }
        return names
    }
}

/// Reads and writes that finish what they start (short counts and EINTR retried).
enum FileIO {
    /// Reads up to `buffer.count` bytes; fewer only at the end of the file.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, what: String) throws(HeldSlotError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = Glibc.read(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw HeldFolder.failure("reading \(what)", errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Exactly `count` bytes at `offset`, or an error naming what was short.
    static func read(_ fd: Int32, count: Int, at offset: UInt64, what: String) throws(HeldSlotError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { b in
            Result { () throws(HeldSlotError) in try read(fd, filling: b, at: offset, what: what) }
        }.get()
        return out
    }

    /// Fills `buffer` from `offset`, or fails naming what was short.
    static func read(_ fd: Int32, filling buffer: UnsafeMutableRawBufferPointer, at offset: UInt64,
                     what: String) throws(HeldSlotError)
    {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw HeldFolder.failure("reading \(what)", errno)
            }
            guard n > 0 else {
                throw HeldSlotError(.storage, "\(what) ends \(buffer.count - done) bytes early: the held file is damaged")
            }
            done += n
        }
    }

    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, what: String) throws(HeldSlotError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw HeldFolder.failure("writing \(what)", errno)
            }
            done += n
        }
    }

    static func size(_ fd: Int32, what: String) throws(HeldSlotError) -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw HeldFolder.failure("examining \(what)", errno) }
        guard st.st_mode & S_IFMT == S_IFREG else { throw HeldSlotError(.storage, "\(what) is not a regular file") }
        return UInt64(st.st_size)
    }

    static func sync(_ fd: Int32, what: String) throws(HeldSlotError) {
        guard fsync(fd) == 0 else { throw HeldFolder.failure("flushing \(what) to disk", errno) }
    }
}
