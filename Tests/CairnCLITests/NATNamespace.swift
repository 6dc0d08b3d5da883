import CairnTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A network namespace behind a NAT, made by the test and removed by it: processes run
/// in it (`exec`) reach the host side of a veth pair (`hostAddress`) and appear there from
/// `publicAddress` (source NAT), and nothing from outside can open a connection to them,
/// neither at the public address (no mapping: dropped) nor at the private one (a stateful
/// firewall lets in only replies). That is a home machine behind its router: it can only
/// connect outward. Needs root, iproute2 and nftables (CI has all three).
final class NATNamespace {
    let name: String
    let hostAddress: String
    let privateAddress: String
    let publicAddress: String
    private let hostLink: String
    private var removed = false

    /// Why the namespace cannot be made here, or nil when it can.
    static let unavailable: String? = {
        guard getuid() == 0 else { return "needs root (network namespaces, veth, nftables)" }
        for tool in ["/usr/sbin/ip", "/usr/sbin/nft"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "needs \(tool) (Debian's iproute2 and nftables; .ci/run installs them)"
        }
        return nil
    }()

    /// The command prefix that runs a program inside the namespace.
    var exec: [String] { ["/usr/sbin/ip", "netns", "exec", name] }

    init() throws {
        let id = Int(getpid()) % 100_000
        // Three addresses in a /24 of 10.213/16 chosen by the PID (one test process at a time).
        let net = "10.213.\(id % 250)"
        (name, hostLink) = ("cairn-nat-\(id)", "cnh\(id)")
        (hostAddress, privateAddress, publicAddress) = ("\(net).1", "\(net).2", "\(net).3")
        let inner = "cnn\(id)"
        _ = try? Self.sh(["/usr/sbin/ip", "netns", "del", name])
        _ = try? Self.sh(["/usr/sbin/ip", "link", "del", hostLink])
        do {
            try Self.sh(["/usr/sbin/ip", "netns", "add", name])
            try Self.sh(["/usr/sbin/ip", "link", "add", hostLink, "type", "veth", "peer", "name", inner])
            try Self.sh(["/usr/sbin/ip", "link", "set", inner, "netns", name])
            try Self.sh(["/usr/sbin/ip", "addr", "add", "\(hostAddress)/24", "dev", hostLink])
            try Self.sh(["/usr/sbin/ip", "link", "set", hostLink, "up"])
            try Self.sh(["/usr/sbin/ip", "-n", name, "link", "set", "lo", "up"])
            try Self.sh(["/usr/sbin/ip", "-n", name, "addr", "add", "\(privateAddress)/24", "dev", inner])
            try Self.sh(["/usr/sbin/ip", "-n", name, "link", "set", inner, "up"])
            try Self.sh(["/usr/sbin/ip", "-n", name, "route", "add", "default", "via", hostAddress])
            // The host sends what is addressed to the public address into the namespace,
            // where only the NAT's own mappings (replies) lead anywhere.
            let mac = try Self.sh(["/usr/sbin/ip", "-n", name, "-br", "link", "show", inner])
                .split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).first.map(String.init) ?? ""
            try Self.sh(["/usr/sbin/ip", "neigh", "replace", publicAddress, "lladdr", mac, "dev", hostLink, "nud", "permanent"])
            let rules = """
            table ip cairn_nat {
                chain outward {
                    type nat hook postrouting priority srcnat; policy accept;
                    oifname "\(inner)" snat to \(publicAddress)
                }
                chain inward {
                    type filter hook input priority filter; policy accept;
                    iifname "\(inner)" ct state established,related accept
                    iifname "\(inner)" drop
                }
            }
            """
            try Self.sh(exec + ["/usr/sbin/nft", "-f", "-"], stdin: rules)
        } catch {
            remove()
            throw error
        }
    }

    deinit { remove() }

    /// Deletes the namespace (its end of the veth pair and its rules go with it) and the
    /// host's end; safe to call twice.
    func remove() {
        guard !removed else { return }
        removed = true
        _ = try? Self.sh(["/usr/sbin/ip", "netns", "del", name])
        _ = try? Self.sh(["/usr/sbin/ip", "link", "del", hostLink])
    }

    /// Whether a TCP connection from the host to `host:port` opens within `seconds`.
    static func connects(to host: String, port: Int, within seconds: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    @discardableResult
    private static func sh(_ command: [String], stdin: String? = nil) throws -> String {
        let r = try ChildProcess.run(command[0], Array(command.dropFirst()), stdin: stdin.map { Array($0.utf8) }, timeout: 30)
        guard r.status == 0 else {
            throw SpawnError(description: "\(command.joined(separator: " ")) exited \(r.status): \(r.stderrText)")
        }
        return r.stdoutText
    }
}
