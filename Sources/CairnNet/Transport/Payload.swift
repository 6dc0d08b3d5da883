import CairnCore
import NIOCore
#if canImport(Glibc)
import Glibc
private let systemRead = Glibc.read
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemRead = Darwin.read
private let systemWrite = Darwin.write
#endif

/// Where the payload of an arriving stream goes (`storeSlot` and `fetchReply` carry one):
/// the delegate picks a sink when the announcing message arrives, the session writes each
/// piece as it arrives and calls `finish` after the last, and only then delivers the
/// message. Called on the session's event loop: writes must be quick (a file write into
/// the page cache is), and a thrown error drops the session.
public protocol PayloadSink: AnyObject, Sendable {
    func write(_ bytes: ByteBuffer) throws(NetError)
    /// Every announced byte has arrived and been written.
    func finish() throws(NetError)
    /// The session ended before the payload was complete.
    func abandon()
}

/// Where the payload of a stream we send comes from: read on the sender's task, one chunk
/// at a time, each read only when the session has room for it.
public protocol PayloadSource: AnyObject {
    /// Up to `max` next bytes; fewer only at the end, none past it.
    func read(max: Int) throws(NetError) -> [UInt8]
}

/// A payload spooled into a new file (created 0600, never through a symbolic link, never
/// over an existing file); removed if the stream is abandoned.
public final class SpoolFileSink: PayloadSink, @unchecked Sendable {
    public let path: String
    /// Bytes written so far.
    public private(set) var written: UInt64 = 0
    // Touched only by the session that writes it, on its event loop, then by whoever
    // receives the finished message: never by two threads at once.
    private var fd: Int32

    public init(path: String) throws(NetError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw NetError(.io, "cannot create the spool file \(path): \(String(cString: strerror(errno))); check the folder exists and is writable")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    public func write(_ bytes: ByteBuffer) throws(NetError) {
        let ok = bytes.withUnsafeReadableBytes { raw -> Bool in
            var at = 0
            while at < raw.count {
                let n = systemWrite(fd, raw.baseAddress! + at, raw.count - at)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                at += n
            }
            return true
        }
        guard ok else { throw NetError(.io, "cannot write the spool file \(path): \(String(cString: strerror(errno)))") }
        written += UInt64(bytes.readableBytes)
    }

    public func finish() throws(NetError) {
        let rc = close(fd)
        fd = -1
        guard rc == 0 else { throw NetError(.io, "cannot close the spool file \(path): \(String(cString: strerror(errno)))") }
    }

    public func abandon() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(path)
    }
}

/// A payload read from a file, front to back.
public final class FilePayloadSource: PayloadSource {
    public let path: String
    private var fd: Int32

    public init(path: String) throws(NetError) {
        self.path = path
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw NetError(.io, "cannot open \(path) to send it: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    public func read(max: Int) throws(NetError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max)
        var filled = 0
        while filled < max {
            let n = out.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + filled, max - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw NetError(.io, "cannot read \(path) to send it: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            filled += n
        }
        out.removeLast(max - filled)
        return out
    }
}
