import Foundation
#if canImport(Glibc)
internal import Glibc
#endif

/// What `cairn backup` and `cairn status` ask the running node, over its control socket
/// (`DIR/node/control.sock`, a Unix socket the node makes 0600 in its 0700 folder: only
/// the owner's account can talk to it). One JSON request line, one JSON reply, then the
/// node closes the connection.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Command: String, Codable, Sendable {
        /// The node's code and whether it has joined (`ControlReply.settings`).
        case settings
        /// Place what the staging targets' root record adds (`ControlReply.placed`).
        case place
        /// Everything `cairn status` shows (`ControlReply.status`).
        case status
    }

    public var command: Command
    public init(_ command: Command) { self.command = command }

    /// The longest request line the node reads.
    public static let lineBytesMax = 4096
}

public struct ControlReply: Codable, Sendable {
    public struct Settings: Codable, Sendable {
        public var node: UInt32?
        public var k: Int
        public var n: Int
        public var coordinatorConnected: Bool
    }

    public struct Placed: Codable, Sendable {
        /// The new volume, nil when the root record and every pack were placed before.
        public var volume: UInt32?
        /// Packs in the new volume, the root record's copy included.
        public var packs: Int
        public var sequence: UInt64
    }

    public var error: String?
    public var settings: Settings?
    public var placed: Placed?
    public var status: NodeStatus?

    public init(error: String? = nil, settings: Settings? = nil, placed: Placed? = nil, status: NodeStatus? = nil) {
        self.error = error
        self.settings = settings
        self.placed = placed
        self.status = status
    }

    /// The longest reply a client reads.
    public static let bytesMax = 16 << 20
}

/// The running node as `cairn status` shows it.
public struct NodeStatus: Codable, Sendable, Equatable {
    /// One shard index of a volume: who keeps it, what it proved, and who is being
    /// brought in to replace it — what an operator needs to see why a repair waits.
    public struct Slot: Codable, Sendable, Equatable {
        public var index: Int
        /// The holder's node number; nil while the slot has none yet.
        public var holder: UInt32?
        /// `healthy`, `unhealthy` (uptime or refused fetches: to be replaced), `failed`
        /// (proved it lost data) or `empty`.
        public var state: String
        /// Packs the holder acknowledged.
        public var storedPacks: UInt32
        /// The replacement being brought in: `proposing`, `accepted` (waiting for rebuilt
        /// data) or `storing`, with its node number.
        public var replacing: String?
        public var replacementHolder: UInt32?
        public var fetchMisses: Int
    }

    public struct Volume: Codable, Sendable, Equatable {
        public var number: UInt32
        public var k: Int
        public var n: Int
        public var packs: UInt32
        public var slotBytes: UInt64
        /// Slots whose holder has every pack, has not failed a challenge and is in good
        /// standing (uptime, fetches answered): an unhealthy holder is being replaced.
        public var healthy: Int
        /// Slots still being placed (no holder yet, or packs still uploading).
        public var placing: Int
        public var repairing: Bool
        public var lost: Bool
        public var slots: [Slot]?
        /// Whether every pack has n acknowledged shards.
        public var complete: Bool { healthy == n }
    }

    public struct Backup: Codable, Sendable, Equatable {
        public var volume: UInt32
        public var sequence: UInt64
        public var packs: Int
    }

    public var node: UInt32?
    public var coordinatorConnected: Bool
    public var listen: String
    /// Node numbers of the peers with an open session.
    public var peers: [UInt32]
    public var contractsOwned: Int
    public var contractsHeld: Int
    public var bytesOffered: UInt64
    public var bytesHeld: UInt64
    public var bytesPlaced: UInt64
    public var volumes: [Volume]
    public var repairsInFlight: Int
    public var lastBackup: Backup?
    /// Volumes restored here still waiting for their holders to show their contracts
    /// (`NodeService+Adoption`); nil from nodes before adoption.
    public var adopting: Int? = nil
    /// Another machine took this owner's node over: this node no longer acts.
    public var retired: Bool? = nil
}

/// The CLI's side of the control socket: blocking, bounded in time and size.
public enum ControlClient {
    public static func socketPath(dataDirectory: String) -> String { dataDirectory + "/node/control.sock" }

    /// Sends `request` to the node of `dataDirectory` and returns its reply. `.notRunning`
    /// when nothing answers there (the node is not started, or was stopped).
    public static func ask(_ request: ControlRequest, dataDirectory: String, timeoutSeconds: Int = 30) throws(NodeError) -> ControlReply {
        let path = socketPath(dataDirectory: dataDirectory)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw NodeError(.invalidSetting, "the data directory's path is too long for the node's control socket (\(pathBytes.count) bytes): use a shorter --data-dir")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw NodeError(.notRunning, "cannot make a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            throw NodeError(.notRunning, "no node is running for \(dataDirectory) (\(String(cString: strerror(errno))) at \(path)): start it with `cairn node run --data-dir \(dataDirectory) --coordinator HOST:PORT --offer SIZE`")
        }
        var line: [UInt8]
        do { line = Array(try JSONEncoder().encode(request)) } catch {
            throw NodeError(.invalidSetting, "the request cannot be encoded", cause: error)
        }
        line.append(0x0A)
        var sent = 0
        while sent < line.count {
            let n = line[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw NodeError(.notRunning, "the node stopped listening while asked: \(String(cString: strerror(errno)))") }
            sent += n
        }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else {
                throw NodeError(.notRunning, errno == EAGAIN || errno == EWOULDBLOCK
                    ? "the node did not answer within \(timeoutSeconds) s"
                    : "reading the node's answer failed: \(String(cString: strerror(errno)))")
            }
            reply += buffer[0..<n]
            guard reply.count <= ControlReply.bytesMax else {
                throw NodeError(.badStream, "the node's answer is longer than \(ControlReply.bytesMax) bytes")
            }
        }
        do { return try JSONDecoder().decode(ControlReply.self, from: Data(reply)) } catch {
            throw NodeError(.badStream, "the node's answer is not a reply (\(reply.count) bytes)", cause: error)
        }
    }
}
