import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A client that is not a Cairn node — random bytes, a huge record length, a truncated
/// handshake, datagrams of garbage — at the coordinator's and a node's TCP and UDP ports
/// leaves both serving everyone else: a new owner joins afterwards, the running node stays.
@Suite(.serialized) struct NetworkHostileClientTests {
    /// Opens a TCP connection to 127.0.0.1:`port`, writes `bytes`, and closes it (or keeps
    /// it open for `hold` seconds: a stalled handshake).
    static func tcp(_ port: Int, _ bytes: [UInt8], hold: Double = 0) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if hold > 0 { usleep(UInt32(hold * 1_000_000)) }
    }

    static func udp(_ port: Int, _ bytes: [UInt8]) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, target, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    @Test(.timeLimit(.minutes(3))) func garbageAtEveryPortLeavesTheServicesServing() throws {
        let tmp = try TemporaryFolder("network-hostile")
        let coordinatorDir = tmp.sub("coordinator")
        let coordinator = try Daemon(["coordinator", "run", "--listen", "127.0.0.1:0", "--data-dir", coordinatorDir],
                                     logs: tmp.path, name: "coordinator")
        #expect(Daemon.wait(timeout: 30) { NetworkJoinTests.listening(coordinator) != nil }, "\(coordinator.stderr)")
        let at = try #require(NetworkJoinTests.listening(coordinator))
        let coordinatorPort = try #require(Int(at.split(separator: ":").last ?? ""))
        try NetworkJoinTests.initOwner(tmp.sub("a"))
        let node = try Daemon(["node", "run", "--data-dir", tmp.sub("a"), "--coordinator", at, "--offer", "1G",
                               "--listen", "127.0.0.1:0"], logs: tmp.path, name: "a")
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(coordinatorDir).filter(\.joined).count == 1 })
        let nodePort = try #require(try NetworkJoinTests.members(coordinatorDir).first.flatMap { Int($0.address.split(separator: ":").last ?? "") })

        var g = SystemRandomNumberGenerator()
        for port in [coordinatorPort, nodePort] {
            for length in [1, 2, 31, 512, 4096, 70_000] {
                Self.tcp(port, (0..<length).map { _ in UInt8.random(in: 0...255, using: &g) })
            }
            Self.tcp(port, [0xff, 0xff] + [UInt8](repeating: 0x41, count: 1000))    // the largest record length, then junk
            Self.tcp(port, [0x00, 0x00])                                               // a zero-length record
            Self.tcp(port, [0x00, 0x21, 0x01] + [UInt8](repeating: 7, count: 10))     // an XX first message cut short
            for length in [0, 8, 24, 1500] { Self.udp(port, (0..<length).map { _ in UInt8.random(in: 0...255, using: &g) }) }
        }
        // A handshake left hanging past the coordinator's timeout, while someone new joins.
        let stall = Thread { Self.tcp(coordinatorPort, [0x00, 0x21, 0x01], hold: 12) }
        stall.start()
        try NetworkJoinTests.initOwner(tmp.sub("b"))
        let late = try Daemon(["node", "run", "--data-dir", tmp.sub("b"), "--coordinator", at, "--offer", "1G",
                               "--listen", "127.0.0.1:0"], logs: tmp.path, name: "b")
        #expect(try Daemon.wait(timeout: 60) { try NetworkJoinTests.members(coordinatorDir).filter(\.joined).count == 2 },
                "\(coordinator.stderr)")
        #expect(coordinator.running && node.running && late.running)
        // The garbage was noticed and dropped, never taken for a node.
        #expect(try NetworkJoinTests.members(coordinatorDir).count == 2)
        #expect(coordinator.stderr.contains("dropped") || coordinator.stderr.contains("drop"), "\(coordinator.stderr)")
        for daemon in [late, node, coordinator] { #expect(daemon.stop() == 0, "\(daemon.stderr)") }
    }
}
