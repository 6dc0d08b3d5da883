@testable import CairnNet
import CairnCore
import Foundation
import NIOCore
import Testing

@Suite(.timeLimit(.minutes(2))) struct DatagramTests {
    @Test func smallMessagesGoByDatagramWhenAskedAndLargeOnesByTheStream() async throws {
        try await withHostPair(bothListen: true) { p in
            let dialled = try await p.b.connect(to: p.aEndpoint)
            let accepted = try await p.aRecorder.opened()
            try await dialled.send(.heartbeat(used: 5), sent: now(), preferDatagram: true)
            let big = Message.uptimeQuery(request: 1, nodes: (0..<400).map { NodeID($0) })
            #expect(big.encode(sent: now()).count > TransportLimits.datagramMessageBytesMax)
            dialled.post(big, sent: now(), preferDatagram: true)
            try await p.aRecorder.wait(for: "both messages") { _ in p.aRecorder.messages(on: accepted).count == 2 ? true : nil }
            let got = p.aRecorder.messages(on: accepted)
            #expect(got.first { $0.message == .heartbeat(used: 5) }?.viaDatagram == true)
            #expect(got.first { $0.message == big }?.viaDatagram == false)
            #expect(p.a.statistics.datagramsReceived == 1)
        }
    }

    @Test func aForgedOrReplayedDatagramIsDroppedAndCounted() async throws {
        // The raw client sends nothing on its stream after the handshake: a loaded machine
        // can take longer than the tests' 4 s idle bound over this test, and the session
        // (with its datagram id) would be closed under it. Datagrams are what is tested here.
        var configuration = testConfiguration()
        configuration.idleTimeout = .seconds(120)
        try await withHostPair(configuration: configuration) { p in
            let udp = try UDPSocket()
            let client = try RawClient(port: p.aEndpoint.port)
            try client.handshake(as: try testIdentity(), datagramPort: udp.port)
            let accepted = try await p.aRecorder.opened()
            let hello = try #require(client.peerHello)
            #expect(hello.datagramPort == UInt16(p.aEndpoint.port))
            var cipher = DatagramCipher(keys: try #require(client.keys))
            func datagram(_ sealed: [UInt8], id: UInt64 = hello.datagramID) -> [UInt8] {
                var b = ByteBuffer()
                b.writeInteger(id)
                b.writeBytes(sealed)
                return Array(b.readableBytesView)
            }
            // UDP may lose a datagram (and on a loaded machine the listener may take a moment
            // to route the new session's id): like any sender of datagrams, send a fresh one
            // until one arrives, then count drops from there.
            var first = datagram(try cipher.seal(Message.heartbeat(used: 1).encode(sent: now())))
            udp.send(first, to: p.aEndpoint.port)
            for _ in 0..<50 where p.aRecorder.messages(on: accepted).isEmpty {
                try await Task.sleep(for: .milliseconds(200))
                guard p.aRecorder.messages(on: accepted).isEmpty else { break }
                first = datagram(try cipher.seal(Message.heartbeat(used: 1).encode(sent: now())))
                udp.send(first, to: p.aEndpoint.port)
            }
            try await p.aRecorder.wait(for: "the first datagram") { _ in p.aRecorder.messages(on: accepted).first }
            try await Task.sleep(for: .milliseconds(200))
            let dropsBefore = p.a.statistics.datagramsDropped
            let arrived = p.aRecorder.messages(on: accepted).count
            var forged = datagram(try cipher.seal(Message.heartbeat(used: 2).encode(sent: now())))
            forged[forged.count - 1] ^= 0x40
            udp.send(forged, to: p.aEndpoint.port)
            udp.send(first, to: p.aEndpoint.port)
            udp.send(datagram(try cipher.seal(Message.heartbeat(used: 3).encode(sent: now())), id: hello.datagramID ^ 1),
                     to: p.aEndpoint.port)
            udp.send([1, 2, 3], to: p.aEndpoint.port)
            try await p.aRecorder.wait(for: "four drops") { _ in p.a.statistics.datagramsDropped >= dropsBefore + 4 ? true : nil }
            // The session's own datagrams still open after the forgeries.
            udp.send(datagram(try cipher.seal(Message.heartbeat(used: 4).encode(sent: now()))), to: p.aEndpoint.port)
            // A resent first datagram may still arrive late (even after the last one), so
            // wait for the last one itself, wherever it lands.
            try await p.aRecorder.wait(for: "the last datagram") { _ in
                p.aRecorder.messages(on: accepted).count > arrived
                    && p.aRecorder.messages(on: accepted).contains { $0.message == .heartbeat(used: 4) } ? true : nil
            }
            let got = p.aRecorder.messages(on: accepted).map(\.message)
            #expect(got.allSatisfy { $0 == .heartbeat(used: 1) || $0 == .heartbeat(used: 4) } && got.count { $0 == .heartbeat(used: 4) } == 1,
                    "the forged, replayed and misaddressed datagrams never arrive: \(got)")
            #expect(p.a.statistics.datagramsDropped == dropsBefore + 4)
            #expect(p.a.statistics.sessionsOpen == 1)
        }
    }
}

/// A UDP socket on 127.0.0.1 for sending hand-made datagrams.
final class UDPSocket {
    let fd: Int32
    let port: UInt16

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard let port = bindLoopback(fd) else {
            close(fd)
            throw TestTimeout(what: "a UDP socket")
        }
        self.port = port
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8], to port: Int) {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }
}
