@testable import CairnNet
import CairnCore
import CairnTestSupport
import Foundation
import NIOCore
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(2))) struct SessionTests {
    // MARK: handshakes and messages

    @Test(arguments: [false, true])
    func twoHostsHandshakeAndExchangeMessagesBothWays(knowingTheKey: Bool) async throws {
        try await withHostPair { p in
            let dialled = try await p.b.connect(to: p.aEndpoint, expecting: knowingTheKey ? p.aIdentity.certificate.nodePublicKey : nil)
            #expect(dialled.peer == p.aIdentity.certificate)
            #expect(dialled.isInitiator)
            let accepted = try await p.aRecorder.opened()
            #expect(accepted.peer == p.bIdentity.certificate)
            #expect(!accepted.isInitiator)
            #expect(accepted.remoteAddress.ipAddress == "127.0.0.1")

            let stamp = now()
            try await dialled.send(.heartbeat(used: 7), sent: stamp)
            dialled.post(.challengeMissing(id: 9), sent: stamp)
            try await p.aRecorder.wait(for: "two messages at a") { _ in p.aRecorder.messages(on: accepted).count == 2 ? true : nil }
            let atA = p.aRecorder.messages(on: accepted)
            #expect(atA.map(\.message) == [.heartbeat(used: 7), .challengeMissing(id: 9)])
            #expect(atA[0].sent == stamp)
            #expect(atA[0].bytes == Message.heartbeat(used: 7).encode(sent: stamp))
            #expect(atA.allSatisfy { !$0.viaDatagram && $0.payload == nil })

            try await accepted.send(.warning(level: 2), sent: stamp)
            try await p.bRecorder.wait(for: "the reply at b") { _ in p.bRecorder.messages(on: dialled).first?.message }
            #expect(p.bRecorder.messages(on: dialled).map(\.message) == [.warning(level: 2)])
        }
    }

    @Test func aDialExpectingAnotherKeyFailsTheHandshakeAndTheListenerServesOthers() async throws {
        try await withHostPair { p in
            let stranger = try testIdentity()
            await #expect { _ = try await p.b.connect(to: p.aEndpoint, expecting: stranger.certificate.nodePublicKey) } throws: {
                ($0 as? NetError)?.code == .handshakeFailed
            }
            let session = try await p.b.connect(to: p.aEndpoint)
            #expect(session.peer == p.aIdentity.certificate)
        }
    }

    @Test func dialingAPortNobodyListensOnFailsAsIO() async throws {
        try await withHostPair { p in
            let closed = try RawClient.unusedPort()
            await #expect { _ = try await p.b.connect(to: Endpoint(host: "127.0.0.1", port: closed)) } throws: {
                ($0 as? NetError)?.code == .io
            }
            #expect(p.b.statistics.sessionsOpen == 0)
        }
    }

    @Test func shutdownClosesOpenSessionsAsLocal() async throws {
        try await withHostPair { p in
            let dialled = try await p.b.connect(to: p.aEndpoint)
            let accepted = try await p.aRecorder.opened()
            await p.a.shutdown()
            guard case .closedLocally = try await p.aRecorder.closeReason(of: accepted) else {
                Issue.record("not closed locally")
                return
            }
            // The peer's close, or (when its socket still held unread bytes, a keepalive
            // say) a reset: both say the peer went.
            switch try await p.bRecorder.closeReason(of: dialled) {
            case .closedByPeer: break
            case let .failed(error) where error.code == .io: break
            case let reason:
                Issue.record("not closed by the peer: \(reason)")
                return
            }
            // No session opens after shutdown: refused, or (when the listening socket's close
            // is still on its way on a loaded machine) a handshake nobody answers.
            await #expect { _ = try await p.b.connect(to: p.aEndpoint) } throws: {
                [.io, .timeout, .handshakeFailed].contains(($0 as? NetError)?.code)
            }
        }
    }

    // MARK: streams

    @Test func a64MiBStreamArrivesWholeInASpoolFileWithBoundedBuffers() async throws {
        let folder = try TemporaryFolder("net-stream")
        let source = folder.sub("source")
        let total = 64 << 20
        try writePattern(to: source, bytes: total)
        var configuration = testConfiguration()
        configuration.sessionBufferedBytesMax = 1 << 20
        try await withHostPair(configuration: configuration, aRecorder: Recorder(folder: folder)) { p in
            let session = try await p.b.connect(to: p.aEndpoint)
            let slot = SlotID(volume: VolumeID(owner: NodeID(1), number: 2), index: 3)
            let message = Message.fetchReply(request: 11, slot: slot, ok: true, bytes: UInt64(total))
            let peak = Peak()
            let sampler = Task {
                while !Task.isCancelled {
                    peak.note(p.b.statistics.bufferedBytes)
                    try? await Task.sleep(for: .milliseconds(1))
                }
            }
            try await session.send(message, sent: now(), payload: try FilePayloadSource(path: source))
            // A message sent after the stream without payload may overtake it, never corrupt it.
            try await session.send(.heartbeat(used: 1), sent: now())
            let arrived = try await p.aRecorder.wait(for: "the stream", within: .seconds(90)) { _ in
                p.aRecorder.messages().first { $0.payload != nil }
            }
            sampler.cancel()
            #expect(arrived.message == message)
            let sink = try #require(arrived.payload as? SpoolFileSink)
            #expect(sink.written == UInt64(total))
            #expect(try filesEqual(source, sink.path))
            #expect(peak.value <= configuration.sessionBufferedBytesMax)
            try await p.aRecorder.wait(for: "the heartbeat") { _ in
                p.aRecorder.messages().contains { $0.message == .heartbeat(used: 1) } ? true : nil
            }
        }
    }

    @Test func aStreamTheReceiverRefusesDropsTheSession() async throws {
        try await withHostPair(aRecorder: Recorder(refuseStreams: true)) { p in
            let session = try await p.b.connect(to: p.aEndpoint)
            let folder = try TemporaryFolder("net-refused")
            try writePattern(to: folder.sub("s"), bytes: 1000)
            let message = Message.fetchReply(request: 1, slot: SlotID(volume: VolumeID(1), index: 0), ok: true, bytes: 1000)
            try? await session.send(message, sent: now(), payload: try FilePayloadSource(path: folder.sub("s")))
            let reason = try await p.bRecorder.closeReason(of: session)
            // The receiver closes with the stream's bytes unread in its socket, so the
            // sender sees either the close or, when those bytes were still arriving, a
            // reset (an I/O error): both say the peer dropped it. On a loaded machine the
            // sender's idle timer may fire first; the receiver's count says what it did.
            switch reason {
            case .closedByPeer: break
            case let .failed(error) where error.code == .io || error.code == .timeout: break
            default: Issue.record("closed for \(reason)")
            }
            try await p.aRecorder.wait(for: "the receiver's drop") { _ in p.a.statistics.sessionsDropped >= 1 ? true : nil }
            #expect(p.a.statistics.sessionsDropped == 1)
        }
    }

    // MARK: close

    @Test(arguments: [false, true])
    func closeFromEitherSideIsReportedOnBoth(dialerCloses: Bool) async throws {
        // The close must be what each side reports: on a loaded 2-core machine (a full
        // parallel suite) the tests' 4 s idle bound once fired at the dialer before the
        // listener's close reached it, so this test is given a long one.
        var configuration = testConfiguration()
        configuration.idleTimeout = .seconds(120)
        try await withHostPair(configuration: configuration) { p in
            let dialled = try await p.b.connect(to: p.aEndpoint)
            let accepted = try await p.aRecorder.opened()
            (dialerCloses ? dialled : accepted).close()
            let atB = try await p.bRecorder.closeReason(of: dialled)
            let atA = try await p.aRecorder.closeReason(of: accepted)
            switch (dialerCloses, atB, atA) {
            case (true, .closedLocally, .closedByPeer), (false, .closedByPeer, .closedLocally): break
            default: Issue.record("dialer closes: \(dialerCloses); reasons \(atB) at the dialer, \(atA) at the listener")
            }
            await #expect { try await dialled.send(.heartbeat(used: 1), sent: now()) } throws: { ($0 as? NetError)?.code == .io }
        }
    }
}

/// The largest value seen.
final class Peak: Sendable {
    private let state = Mutex(0)
    func note(_ v: Int) { state.withLock { $0 = max($0, v) } }
    var value: Int { state.withLock { $0 } }
}

func writePattern(to path: String, bytes: Int) throws {
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    var block = [UInt8](repeating: 0, count: min(bytes, 1 << 20))
    for i in block.indices {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        block[i] = UInt8(truncatingIfNeeded: x)
    }
    var left = bytes
    var number: UInt8 = 0
    while left > 0 {
        // Each block differs from the last, so a block delivered twice or out of place shows.
        block[0] = number
        number &+= 1
        let n = min(left, block.count)
        try handle.write(contentsOf: block[..<n])
        left -= n
    }
}

func filesEqual(_ a: String, _ b: String) throws -> Bool {
    let ha = try FileHandle(forReadingFrom: URL(fileURLWithPath: a))
    let hb = try FileHandle(forReadingFrom: URL(fileURLWithPath: b))
    defer {
        try? ha.close()
        try? hb.close()
    }
    while true {
        let x = try ha.read(upToCount: 1 << 20) ?? Data()
        let y = try hb.read(upToCount: 1 << 20) ?? Data()
        guard x == y else { return false }
        if x.isEmpty { return true }
    }
}
