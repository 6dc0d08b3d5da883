@testable import CairnNet
import CairnCore
import CairnTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

/// Two nodes that only dial out meet through a relay, which carries their sealed records.
@Suite(.timeLimit(.minutes(2))) struct RelayTests {
    struct Node {
        let identity: SessionIdentity
        let recorder: Recorder
        let host: SessionHost
    }

    /// A relay listening on 127.0.0.1 and two nodes with sessions to it (neither listens).
    func withRelay(limits: RelayLimits = RelayLimits(), folder: TemporaryFolder? = nil,
                   _ body: (_ relay: Node, _ one: Node, _ two: Node, _ oneToRelay: Session, _ twoToRelay: Session) async throws -> Void)
        async throws
    {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var relayConfiguration = testConfiguration()
        relayConfiguration.relay = limits
        func node(_ configuration: TransportConfiguration, _ recorder: Recorder) throws -> Node {
            let identity = try testIdentity()
            return Node(identity: identity, recorder: recorder,
                        host: SessionHost(identity: identity, group: group, configuration: configuration, delegate: recorder, logger: testLogger))
        }
        let relay = try node(relayConfiguration, Recorder())
        let one = try node(testConfiguration(), Recorder(folder: folder))
        let two = try node(testConfiguration(), Recorder(folder: folder))
        do {
            let endpoint = try await relay.host.listen(on: Endpoint(host: "127.0.0.1", port: 0))
            let oneToRelay = try await one.host.connect(to: endpoint, expecting: relay.identity.certificate.nodePublicKey)
            let twoToRelay = try await two.host.connect(to: endpoint)
            try await relay.recorder.wait(for: "both nodes at the relay") { _ in
                relay.recorder.all.count { if case .opened = $0 { true } else { false } } == 2 ? true : nil
            }
            try await body(relay, one, two, oneToRelay, twoToRelay)
        } catch {
            for n in [relay, one, two] { await n.host.shutdown() }
            try? await group.shutdownGracefully()
            throw error
        }
        for n in [relay, one, two] { await n.host.shutdown() }
        try await group.shutdownGracefully()
    }

    @Test func twoNodesThatDoNotListenExchangeMessagesAndAStreamThroughTheRelay() async throws {
        let folder = try TemporaryFolder("net-relay")
        let source = folder.sub("source")
        let total = 8 << 20
        try writePattern(to: source, bytes: total)
        try await withRelay(folder: folder) { relay, one, two, oneToRelay, twoToRelay in
            let inner = try await two.host.connect(to: one.identity.certificate.nodePublicKey, through: twoToRelay)
            #expect(inner.peer == one.identity.certificate)
            #expect(inner.isRelayed)
            let atOne = try await one.recorder.wait(for: "the relayed session at one") { e -> Session? in
                if case let .opened(s) = e, s.isRelayed { s } else { nil }
            }
            #expect(atOne.peer == two.identity.certificate)

            try await inner.send(.heartbeat(used: 21), sent: now())
            try await atOne.send(.warning(level: 1), sent: now())
            let slot = SlotID(volume: VolumeID(owner: NodeID(4), number: 1), index: 0)
            let message = Message.storeSlot(contract: ContractID(9), slot: slot, from: 0,
                                            to: SlotExtent(packs: 1, bytes: UInt64(total), root: [UInt8](repeating: 7, count: 32)),
                                            bytes: UInt64(total))
            try await inner.send(message, sent: now(), payload: try FilePayloadSource(path: source))
            let stream = try await one.recorder.wait(for: "the relayed stream", within: .seconds(60)) { _ in
                one.recorder.messages(on: atOne).first { $0.payload != nil }
            }
            #expect(stream.message == message)
            let sink = try #require(stream.payload as? SpoolFileSink)
            #expect(try filesEqual(source, sink.path))
            #expect(one.recorder.messages(on: atOne).first?.message == .heartbeat(used: 21))
            try await two.recorder.wait(for: "the reply through the relay") { _ in two.recorder.messages(on: inner).first?.message }
            #expect(two.recorder.messages(on: inner).map(\.message) == [.warning(level: 1)])

            // The relay carried the bytes and read none of them.
            #expect(relay.host.statistics.relayedBytes > total)
            #expect(relay.recorder.messages().isEmpty)

            // Closing the relayed session leaves the sessions with the relay working.
            inner.close()
            guard case .closedByPeer = try await one.recorder.closeReason(of: atOne) else {
                Issue.record("the relayed session did not close at the far end")
                return
            }
            try await oneToRelay.send(.heartbeat(used: 1), sent: now())
            try await relay.recorder.wait(for: "a message on the relay's own session") { _ in relay.recorder.messages().first }
            #expect(one.host.statistics.sessionsOpen == 1)
            #expect(two.host.statistics.sessionsOpen == 1)
        }
    }

    @Test func aCircuitToANodeTheRelayDoesNotKnowFails() async throws {
        try await withRelay { relay, _, two, _, twoToRelay in
            let stranger = try testIdentity()
            await #expect { _ = try await two.host.connect(to: stranger.certificate.nodePublicKey, through: twoToRelay) } throws: {
                $0 is NetError
            }
            try await twoToRelay.send(.heartbeat(used: 2), sent: now())
            try await relay.recorder.wait(for: "the session with the relay still works") { _ in relay.recorder.messages().first }
        }
    }

    @Test func theRelayHoldsASessionToItsRate() async throws {
        var limits = RelayLimits()
        limits.bytesPerSecondPerSession = 2 << 20
        let folder = try TemporaryFolder("net-relay-rate")
        let source = folder.sub("source")
        let total = 6 << 20
        try writePattern(to: source, bytes: total)
        try await withRelay(limits: limits, folder: folder) { relay, one, two, _, twoToRelay in
            let inner = try await two.host.connect(to: one.identity.certificate.nodePublicKey, through: twoToRelay)
            let started = ContinuousClock.now
            let message = Message.fetchReply(request: 3, slot: SlotID(volume: VolumeID(1), index: 1), ok: true, bytes: UInt64(total))
            try await inner.send(message, sent: now(), payload: try FilePayloadSource(path: source))
            try await one.recorder.wait(for: "the stream", within: .seconds(60)) { _ in one.recorder.messages().first { $0.payload != nil } }
            let elapsed = ContinuousClock.now - started
            // One second's burst, then 2 MiB/s: 6 MiB take at least two seconds.
            #expect(elapsed >= .milliseconds(1800), "6 MiB through a 2 MiB/s relay in \(elapsed)")
            #expect(relay.host.statistics.relayedBytes >= total)
        }
    }
}
