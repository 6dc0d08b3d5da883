import CairnWire

/// A node's number in the directory (assigned by the coordinator at join; in the simulator
/// the index of the node). `NodeID.coordinator` addresses the coordinator.
public struct NodeID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var raw: UInt32
    public init(_ raw: UInt32) { self.raw = raw }
    public static let coordinator = NodeID(UInt32.max)
    public var index: Int { Int(raw) }
    public static func < (a: NodeID, b: NodeID) -> Bool { a.raw < b.raw }
    public var description: String { self == .coordinator ? "coordinator" : "node\(raw)" }
}

/// A volume: the unit of placement. Its owner appends packs to it (shard i of every pack
/// goes to the holder of slot i) until a slot reaches the volume's capacity. Chosen by the
/// owner: its node number in the high 32 bits, a number below, so no owner can name
/// another owner's volume and a holder can check the id against the contract's owner.
public struct VolumeID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public init(owner: NodeID, number: UInt32) { raw = UInt64(owner.raw) << 32 | UInt64(number) }
    public var owner: NodeID { NodeID(UInt32(truncatingIfNeeded: raw >> 32)) }
    public var number: UInt32 { UInt32(truncatingIfNeeded: raw) }
    public static func < (a: VolumeID, b: VolumeID) -> Bool { a.raw < b.raw }
    public var description: String { "volume\(raw >> 32).\(raw & 0xffff_ffff)" }

    public func write(into w: inout ByteWriter) { w.u64(raw) }
    public init(reading r: inout ByteReader) throws(DecodeError) { raw = try r.u64() }
}

/// Slot `index` (0..<n) of a volume: shard `index` of every pack appended to it, on one
/// holder under one contract.
public struct SlotID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var volume: VolumeID
    public var index: UInt8
    public init(volume: VolumeID, index: UInt8) {
        self.volume = volume
        self.index = index
    }
    public static func < (a: SlotID, b: SlotID) -> Bool { (a.volume, a.index) < (b.volume, b.index) }
    public var description: String { "\(volume)/\(index)" }

    /// The 9 bytes that name the slot (big-endian volume id, then index).
    public var bytes: [UInt8] {
        var w = ByteWriter()
        volume.write(into: &w)
        w.u8(index)
        return w.bytes
    }
}

/// A contract, chosen by the owner: its node number in the high 32 bits, a counter below.
public struct ContractID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public init(owner: NodeID, counter: UInt32) { raw = UInt64(owner.raw) << 32 | UInt64(counter) }
    public var owner: NodeID { NodeID(UInt32(truncatingIfNeeded: raw >> 32)) }
    public static func < (a: ContractID, b: ContractID) -> Bool { a.raw < b.raw }
    public var description: String { "contract\(raw >> 32).\(raw & 0xffff_ffff)" }
}
