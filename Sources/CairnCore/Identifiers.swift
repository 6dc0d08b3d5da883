import CairnWire

/// A node's number in the directory (assigned by the coordinator at join; in the simulator
/// the index of the node). `NodeID.coordinator` addresses the coordinator.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt32
    public init(_ raw: UInt32) { self.raw = raw }
    public static let coordinator = NodeID(UInt32.max)
    public var index: Int { Int(raw) }
    public static func < (a: NodeID, b: NodeID) -> Bool { a.raw < b.raw }
    public var description: String { self == .coordinator ? "coordinator" : "node\(raw)" }
}

/// Shard `index` (0..<n) of a pack.
public struct ShardID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var pack: PackID
    public var index: UInt8
    public init(pack: PackID, index: UInt8) {
        self.pack = pack
        self.index = index
    }
    public static func < (a: ShardID, b: ShardID) -> Bool { (a.pack, a.index) < (b.pack, b.index) }
    public var description: String { "\(pack)/\(index)" }

    /// The 9 bytes that name the shard (big-endian pack id, then index).
    public var bytes: [UInt8] {
        var w = ByteWriter()
        pack.write(into: &w)
        w.u8(index)
        return w.bytes
    }
}

/// A contract, chosen by the owner: its node number in the high 32 bits, a counter below.
public struct ContractID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public init(owner: NodeID, counter: UInt32) { raw = UInt64(owner.raw) << 32 | UInt64(counter) }
    public var owner: NodeID { NodeID(UInt32(truncatingIfNeeded: raw >> 32)) }
    public static func < (a: ContractID, b: ContractID) -> Bool { a.raw < b.raw }
    public var description: String { "contract\(raw >> 32).\(raw & 0xffff_ffff)" }
}
