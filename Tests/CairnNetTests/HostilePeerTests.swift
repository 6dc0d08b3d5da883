@testable import CairnNet
import CairnCore
import CairnCrypto
import NIOCore
import Testing

/// Peers that do not follow the protocol are dropped, and the sessions beside them go on.
@Suite(.timeLimit(.minutes(2))) struct HostilePeerTests {
    enum Misbehaviour: String, CaseIterable, CustomTestStringConvertible {
        case garbage, hugeRecordLength, truncatedHandshake, truncatedHandshakeThenClose, stalledHandshake
        case oversizedFrameLength, badMAC, replayedRecord, zeroLengthRecord, secondHello, chunkWithoutStream
        case circuitIDOfTheOtherSide
        var testDescription: String { rawValue }

        /// Why the listener drops it.
        var codes: Set<NetError.Code> {
            switch self {
            case .garbage: [.oversized, .malformed, .handshakeFailed, .badCiphertext, .timeout]
            case .hugeRecordLength, .oversizedFrameLength: [.oversized]
            case .truncatedHandshake, .stalledHandshake: [.timeout]
            case .truncatedHandshakeThenClose: [.handshakeFailed]
            case .badMAC, .replayedRecord: [.badCiphertext]
            case .zeroLengthRecord, .secondHello, .chunkWithoutStream, .circuitIDOfTheOtherSide: [.malformed]
            }
        }
    }

    @Test(arguments: Misbehaviour.allCases)
    func aMisbehavingPeerIsDroppedWhileAnotherSessionKeepsWorking(_ misbehaviour: Misbehaviour) async throws {
        let log = LogCapture()
        try await withHostPair(aLog: log) { p in
            let good = try await p.b.connect(to: p.aEndpoint)
            let goodAtA = try await p.aRecorder.opened()
            let client = try RawClient(port: p.aEndpoint.port)
            let stranger = try testIdentity()
            switch misbehaviour {
            case .garbage:
                var g = SeededGarbage(seed: 7)
                for _ in 0..<64 { client.send(g.bytes(1024)) }
            case .hugeRecordLength:
                client.send([0xFF, 0xFF] + [UInt8](repeating: 1, count: 100))
            case .truncatedHandshake:
                client.send([0x00, 0x60] + [UInt8](repeating: 3, count: 40))
            case .truncatedHandshakeThenClose:
                client.send([0x00, 0x60] + [UInt8](repeating: 3, count: 40))
                client.shutdown()
            case .stalledHandshake:
                break
            case .zeroLengthRecord:
                client.send([0, 0])
            case .oversizedFrameLength:
                try client.handshake(as: stranger)
                var plaintext = ByteBuffer()
                plaintext.writeInteger(FrameKind.message.rawValue)
                plaintext.writeInteger(UInt32.max)
                try client.sendSealed(plaintext)
            case .badMAC:
                try client.handshake(as: stranger)
                var plaintext = ByteBuffer()
                FrameWriter.append(.keepalive, body: [UInt8](), to: &plaintext)
                var record = try client.seal(plaintext)
                record[record.count - 1] ^= 1
                client.send(record)
            case .replayedRecord:
                try client.handshake(as: stranger)
                try client.sendFrame(.keepalive, [])
                client.send(client.lastRecord)
            case .secondHello:
                try client.handshake(as: stranger)
                try client.sendFrame(.hello, SessionHello(datagramID: 5, datagramPort: 0).encoded)
            case .chunkWithoutStream:
                try client.handshake(as: stranger)
                try client.sendFrame(.chunk, [1, 2, 3])
            case .circuitIDOfTheOtherSide:
                // The dialler's circuit ids have the high bit clear.
                try client.handshake(as: stranger)
                try client.sendFrame(.relayOpen, [0x80, 0, 0, 1] + p.aIdentity.certificate.nodePublicKey)
            }
            if misbehaviour != .truncatedHandshakeThenClose {
                #expect(client.closedByPeer(within: 20), "the \(misbehaviour) peer is still connected")
            }
            try await p.aRecorder.wait(for: "the drop to be counted") { _ in p.a.statistics.sessionsDropped >= 1 ? true : nil }
            #expect(p.a.statistics.sessionsDropped == 1)
            let drops = log.all.filter { $0.message == "session.dropped" }
            #expect(drops.count == 1)
            let code = drops.first?.metadata["error.code"] ?? "none"
            #expect(misbehaviour.codes.map(\.rawValue).contains(code), "dropped for \(code)")
            #expect(drops.first?.metadata["peer.address"] == "127.0.0.1")
            // Never a key in the log: not the stranger's, not the listener's.
            for entry in log.all {
                let text = entry.message + entry.metadata.values.joined()
                #expect(!text.contains(Hex.encode(stranger.certificate.nodePublicKey)))
                #expect(!text.contains(Hex.encode(p.aIdentity.certificate.nodePublicKey)))
            }

            // The good session still works both ways.
            try await good.send(.heartbeat(used: 3), sent: now())
            try await goodAtA.send(.heartbeat(used: 4), sent: now())
            try await p.aRecorder.wait(for: "the good session's message") { _ in
                p.aRecorder.messages(on: goodAtA).first?.message
            }
            try await p.bRecorder.wait(for: "the good session's reply") { _ in
                p.bRecorder.messages(on: good).first?.message
            }
            #expect(p.aRecorder.messages(on: goodAtA).map(\.message) == [.heartbeat(used: 3)])
            #expect(p.bRecorder.messages(on: good).map(\.message) == [.heartbeat(used: 4)])
            #expect(p.a.statistics.sessionsOpen == 1)
        }
    }

    @Test func sessionsBeyondThePerAddressBoundAreRefused() async throws {
        var configuration = testConfiguration()
        configuration.sessionsPerAddressMax = 2
        try await withHostPair(configuration: configuration) { p in
            _ = try await p.b.connect(to: p.aEndpoint)
            _ = try await p.b.connect(to: p.aEndpoint)
            // The dialler keeps the bound on its side,
            await #expect { _ = try await p.b.connect(to: p.aEndpoint) } throws: { ($0 as? NetError)?.code == .overloaded }
            #expect(p.b.statistics.sessionsRefused == 1)
            // and the listener on its own.
            let third = try RawClient(port: p.aEndpoint.port)
            #expect(third.closedByPeer(within: 5))
            #expect(p.a.statistics.sessionsRefused == 1)
            #expect(p.a.statistics.sessionsOpen == 2)
        }
    }

    /// The bound reached is the session's own (256 KiB) or the host's over all sessions (64 KiB).
    @Test(arguments: [false, true])
    func aPeerThatStopsReadingIsDropped(byTheTotalBound: Bool) async throws {
        var configuration = testConfiguration()
        configuration.sessionBufferedBytesMax = 256 << 10
        if byTheTotalBound { configuration.totalBufferedBytesMax = 64 << 10 }
        try await withHostPair(configuration: configuration) { p in
            let client = try RawClient(port: p.aEndpoint.port)
            try client.handshake(as: try testIdentity())
            let atA = try await p.aRecorder.opened()
            // The client keeps its session alive but never reads: a's posts fill the kernel's
            // buffers, then a's queue, and a drops it instead of holding more.
            let big = Message.challengeMissing(id: 1)
            let deadline = ContinuousClock.now + .seconds(30)
            var reason: SessionCloseReason?
            while reason == nil, ContinuousClock.now < deadline {
                for _ in 0..<2000 { atA.post(big, sent: now()) }
                try client.sendFrame(.keepalive, [])
                try await Task.sleep(for: .milliseconds(10))
                reason = p.aRecorder.all.lazy.compactMap { if case let .closed(_, r) = $0 { r } else { nil } }.first
            }
            guard case let .failed(error) = reason else { Issue.record("not dropped: \(String(describing: reason))"); return }
            #expect(error.code == .overloaded || error.code == .timeout)
            #expect(p.a.statistics.bufferedBytes <= configuration.sessionBufferedBytesMax)
        }
    }
}

/// Deterministic bytes (xorshift), so a failure can be replayed.
struct SeededGarbage {
    var x: UInt64
    init(seed: UInt64) { x = seed | 1 }
    mutating func bytes(_ n: Int) -> [UInt8] {
        (0..<n).map { _ in
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }
}
