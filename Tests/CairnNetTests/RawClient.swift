@testable import CairnNet
import CairnCore
import Foundation
import NIOCore

/// A hostile or simple peer on a blocking socket: it can send any bytes, or run the real
/// session protocol (`SessionCore`) far enough to send sealed records of its own making.
final class RawClient {
    let fd: Int32
    private var core: SessionCore?
    private var pending = ByteBuffer()
    private(set) var keys: NoiseTransportKeys?
    private(set) var peerHello: SessionHello?
    /// The last sealed record sent (with its length prefix).
    private(set) var lastRecord: [UInt8] = []

    /// Connects to 127.0.0.1:`port`; reads time out after `readTimeout` seconds.
    init(port: Int, readTimeout: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestTimeout(what: "a socket") }
        var tv = timeval(tv_sec: readTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw TestTimeout(what: "a connection to port \(port) (errno \(errno))")
        }
    }

    deinit { close(fd) }

    /// A TCP port on 127.0.0.1 that was free a moment ago (bound, read, closed).
    static func unusedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        guard let port = bindLoopback(fd) else { throw TestTimeout(what: "a free port") }
        return Int(port)
    }
}

/// Binds `fd` to 127.0.0.1 on any free port and returns the port.
func bindLoopback(_ fd: Int32) -> UInt16? {
    guard fd >= 0 else { return nil }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return ok ? UInt16(bigEndian: addr.sin_port) : nil
}

extension RawClient {

    /// Closes our side for writing: the peer reads the end of the stream.
    func shutdown() { _ = Foundation.shutdown(fd, Int32(SHUT_WR)) }

    func send(_ bytes: [UInt8]) {
        var at = 0
        while at < bytes.count {
            let n = bytes[at...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            at += n
        }
    }

    /// Reads what is there; nil when the peer closed the connection (or reset it).
    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        if n > 0 { return Array(buffer[..<n]) }
        if n < 0, errno == EAGAIN || errno == EWOULDBLOCK { return [] }
        return nil
    }

    /// Reads until the peer closes the connection; false if it is still open after `seconds`.
    func closedByPeer(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard let bytes = receive() else { return true }
            if bytes.isEmpty { continue }
        }
        return false
    }

    /// Runs a real handshake as the initiator (XX) and reads the peer's hello.
    func handshake(as identity: SessionIdentity, datagramPort: UInt16 = 0) throws {
        var core = SessionCore(handshake: try SessionHandshake(initiator: identity),
                               hello: SessionHello(datagramID: 42, datagramPort: datagramPort))
        var events: [SessionCore.Event] = []
        try core.start(events: &events)
        while peerHello == nil {
            for event in events {
                switch event {
                case let .write(bytes): send(Array(bytes.readableBytesView))
                case let .established(_, keys): self.keys = keys
                case let .opened(hello): peerHello = hello
                default: break
                }
            }
            events = []
            if peerHello != nil { break }
            guard let bytes = receive(), !bytes.isEmpty else { throw TestTimeout(what: "the handshake") }
            pending.writeBytes(bytes)
            while let record = try RecordReader.next(from: &pending) { try core.receive(record, events: &events) }
        }
        self.core = core
    }

    /// Seals `frames` (plaintext) as records and sends them; remembers the last record.
    func sendSealed(_ plaintext: ByteBuffer) throws {
        lastRecord = try seal(plaintext)
        send(lastRecord)
    }

    /// The records `plaintext` seals into (the cipher moves on: they are the next to send).
    func seal(_ plaintext: ByteBuffer) throws -> [UInt8] {
        guard var core else { preconditionFailure("no handshake yet") }
        var out = ByteBuffer()
        try core.seal(plaintext, into: &out)
        self.core = core
        return Array(out.readableBytesView)
    }

    func sendFrame(_ kind: FrameKind, _ body: [UInt8]) throws {
        var plaintext = ByteBuffer()
        FrameWriter.append(kind, body: body, to: &plaintext)
        try sendSealed(plaintext)
    }
}
