@testable import CairnNet
import CairnCore
import CairnCrypto
import CairnTestSupport
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

// MARK: identities

/// A node identity for tests: a fresh node key certified by a fresh owner key.
func testIdentity() throws -> SessionIdentity {
    try TestNode().identity
}

// MARK: the delegate that records

/// Records what a host's sessions report, and spools payloads into `folder`.
final class Recorder: SessionDelegate {
    enum Event: @unchecked Sendable {
        case opened(Session)
        case received(Session, InboundMessage)
        case closed(Session, SessionCloseReason)
    }

    private let events = Mutex<[Event]>([])
    private let spooled = Mutex(0)
    let folder: TemporaryFolder?
    /// Refuse streams (return no sink).
    let refuseStreams: Bool

    init(folder: TemporaryFolder? = nil, refuseStreams: Bool = false) {
        self.folder = folder
        self.refuseStreams = refuseStreams
    }

    func sessionOpened(_ session: Session) { events.withLock { $0.append(.opened(session)) } }

    func session(_ session: Session, sinkFor message: Message, payloadBytes: UInt64) -> (any PayloadSink)? {
        guard !refuseStreams, let folder else { return nil }
        let n = spooled.withLock { n in
            n += 1
            return n
        }
        return try? SpoolFileSink(path: folder.sub("spool-\(n)"))
    }

    func session(_ session: Session, received message: InboundMessage) { events.withLock { $0.append(.received(session, message)) } }

    func session(_ session: Session, closed reason: SessionCloseReason) { events.withLock { $0.append(.closed(session, reason)) } }

    var all: [Event] { events.withLock { $0 } }

    /// Waits (up to `within`) for an event `matching`, and returns it.
    @discardableResult
    func wait<T>(for what: String, within: Duration = .seconds(20), _ matching: (Event) -> T?) async throws -> T {
        let deadline = ContinuousClock.now + within
        while true {
            if let found = all.lazy.compactMap(matching).first { return found }
            guard ContinuousClock.now < deadline else { throw TestTimeout(what: what) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func opened(within: Duration = .seconds(20)) async throws -> Session {
        try await wait(for: "a session to open", within: within) { if case let .opened(s) = $0 { s } else { nil } }
    }

    func messages(on session: Session? = nil) -> [InboundMessage] {
        all.compactMap {
            if case let .received(s, m) = $0, session == nil || s === session { m } else { nil }
        }
    }

    func closeReason(of session: Session, within: Duration = .seconds(20)) async throws -> SessionCloseReason {
        try await wait(for: "the session to close", within: within) {
            if case let .closed(s, reason) = $0, s === session { reason } else { nil }
        }
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

// MARK: hosts

let testLogger = Logger(label: "cairn.net.test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Keeps what is logged, in memory (the global logging system is never bootstrapped).
final class LogCapture: Sendable {
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let entries = Mutex<[Entry]>([])

    var all: [Entry] { entries.withLock { $0 } }

    var logger: Logger {
        var logger = Logger(label: "cairn.net.test") { _ in Handler(capture: self) }
        logger.logLevel = .debug
        return logger
    }

    fileprivate func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append(Entry(level: event.level, message: event.message.description, metadata: all.mapValues { "\($0)" }))
        }
    }
}

/// Short timeouts, so tests of stalls end quickly.
func testConfiguration() -> TransportConfiguration {
    var c = TransportConfiguration()
    c.handshakeTimeout = .milliseconds(1500)
    c.idleTimeout = .seconds(4)
    return c
}

/// One event loop group and two hosts, `a` listening on 127.0.0.1 (and `b` too when
/// `bothListen`), shut down at the end whatever happens.
struct HostPair {
    let a: SessionHost
    let b: SessionHost
    let aIdentity: SessionIdentity
    let bIdentity: SessionIdentity
    let aRecorder: Recorder
    let bRecorder: Recorder
    let aEndpoint: Endpoint
    let bEndpoint: Endpoint?
}

func withHostPair<T>(configuration: TransportConfiguration = testConfiguration(), bothListen: Bool = false,
                     aRecorder: Recorder = Recorder(), bRecorder: Recorder = Recorder(), aLog: LogCapture? = nil,
                     _ body: (HostPair) async throws -> T) async throws -> T
{
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let aIdentity = try testIdentity()
    let bIdentity = try testIdentity()
    let a = SessionHost(identity: aIdentity, group: group, configuration: configuration, delegate: aRecorder,
                        logger: aLog?.logger ?? testLogger)
    let b = SessionHost(identity: bIdentity, group: group, configuration: configuration, delegate: bRecorder, logger: testLogger)
    do {
        let aEndpoint = try await a.listen(on: Endpoint(host: "127.0.0.1", port: 0))
        let bEndpoint = bothListen ? try await b.listen(on: Endpoint(host: "127.0.0.1", port: 0)) : nil
        let result = try await body(HostPair(a: a, b: b, aIdentity: aIdentity, bIdentity: bIdentity, aRecorder: aRecorder,
                                             bRecorder: bRecorder, aEndpoint: aEndpoint, bEndpoint: bEndpoint))
        await a.shutdown()
        await b.shutdown()
        try await group.shutdownGracefully()
        return result
    } catch {
        await a.shutdown()
        await b.shutdown()
        try? await group.shutdownGracefully()
        throw error
    }
}

func now() -> Instant { Instant(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) }
