import Synchronization
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Where the transport writes a slot stream as it arrives (behind a `storeSlot` or a
/// positive `fetchReply`), before the message reaches the core: exactly the bytes the
/// message announced, never more (a write past them is refused and the spool removed), on
/// disk rather than in memory. `finish()` closes it; a spool dropped unfinished removes
/// itself, so a broken transfer never leaves a partial stream for `store` or `verify`.
public final class SpoolWriter: Sendable {
    /// The spool file (for a transport that splices into it itself; then call `finish()`).
    public let path: String
    /// Bytes the message announced.
    public let announced: UInt64
    private let folder: HeldFolder
    private let name: String
    private let state: Mutex<State>

    private struct State {
        var fd: Int32
        var written: UInt64 = 0
    }

    init(folder: HeldFolder, name: String, announced: UInt64) throws(HeldSlotError) {
        folder.remove(name)
        guard let fd = try folder.open(name, O_WRONLY | O_CREAT | O_EXCL) else {
            throw HeldSlotError(.storage, "the spool folder \(folder.path) vanished")
        }
        self.folder = folder
        self.name = name
        self.announced = announced
        path = folder.path + "/" + name
        state = Mutex(State(fd: fd))
    }

    deinit {
        state.withLock { s in
            if s.fd >= 0 {
                close(s.fd)
                folder.remove(name)
            }
        }
    }

    /// Bytes written so far.
    public var written: UInt64 { state.withLock { $0.written } }

    /// Appends the next bytes of the stream.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(HeldSlotError) {
        try state.withLock { (s) throws(HeldSlotError) in
            guard s.fd >= 0 else { throw HeldSlotError(.spoolMissing, "the spool \(path) is finished or abandoned") }
            guard UInt64(bytes.count) <= announced - s.written else {
                abandon(&s)
                throw HeldSlotError(.trailingBytes, "the peer sent more than the \(announced) bytes it announced")
            }
            do throws(HeldSlotError) {
                try FileIO.write(s.fd, bytes, what: path)
            } catch {
                abandon(&s)
                throw error
            }
            s.written += UInt64(bytes.count)
        }
    }

    public func write(_ bytes: [UInt8]) throws(HeldSlotError) {
        try bytes.withUnsafeBytes { b in Result { () throws(HeldSlotError) in try write(b) } }.get()
    }

    /// Closes the spool once every announced byte is in; a shorter one is removed.
    public func finish() throws(HeldSlotError) {
        try state.withLock { (s) throws(HeldSlotError) in
            guard s.fd >= 0 else { throw HeldSlotError(.spoolMissing, "the spool \(path) is finished or abandoned") }
            if s.written < announced {
                abandon(&s)
                throw HeldSlotError(.truncated, "the stream ended after \(s.written) of the \(announced) bytes announced")
            }
            close(s.fd)
            s.fd = -1
        }
    }

    /// Removes the spool (the transfer broke off).
    public func abandon() {
        state.withLock { s in abandon(&s) }
    }

    private func abandon(_ s: inout State) {
        guard s.fd >= 0 else { return }
        close(s.fd)
        s.fd = -1
        folder.remove(name)
    }
}
