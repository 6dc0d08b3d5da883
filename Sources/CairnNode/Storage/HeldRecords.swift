import CairnCore
import CairnCrypto
import CairnWire

/// What the held store keeps in LMDB (format 1; see docs/DATA-FORMATS.md, "Node storage").
/// Every key starts with the slot's 9 bytes (`SlotID.bytes`), so one slot's records are
/// one key range.
enum HeldRecords {
    static let formatVersion: UInt8 = 1
    static let formatKey = Array("format".utf8)
    static let nextRunKey = Array("next-run".utf8)

    /// Key of pack `pack` of `slot` (packs and segment leaves), or of the run that starts
    /// at pack `pack` (runs): big-endian, so a slot's keys iterate in pack order.
    static func key(_ slot: SlotID, _ pack: UInt32) -> [UInt8] {
        var w = ByteWriter(capacity: 13)
        w.raw(slot.bytes)
        w.u32(pack)
        return w.bytes
    }

    static func slot(fromKey key: [UInt8]) -> SlotID? {
        guard key.count == 9 else { return nil }
        var r = ByteReader(key, what: "held slot key")
        guard let volume = try? VolumeID(reading: &r), let index = try? r.u8() else { return nil }
        return SlotID(volume: volume, index: index)
    }

    static func pack(fromKey key: [UInt8]) -> UInt32? {
        guard key.count == 13 else { return nil }
        return key[9..<13].reduce(0) { $0 << 8 | UInt32($1) }
    }

    static func damaged(_ what: String, _ cause: (any Error)? = nil) -> HeldSlotError {
        HeldSlotError(.storage, "the held store's \(what) is damaged: the node answers for that slot as not held", cause: cause)
    }
}

/// A slot held here: its extent (what the owner was acknowledged), its code, and the
/// bytes of its stream (what a fetch sends).
public struct HeldSlot: Hashable, Sendable {
    public let slot: SlotID
    public let k: Int
    public let n: Int
    public let extent: SlotExtent
    public let streamBytes: UInt64

    static let encodedBytes = 1 + 2 + 4 + 8 + 8 + 32

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: Self.encodedBytes)
        w.u8(HeldRecords.formatVersion)
        w.u8(UInt8(k))
        w.u8(UInt8(n))
        w.u32(extent.packs)
        w.u64(extent.bytes)
        w.u64(streamBytes)
        w.raw(extent.root)
        return w.bytes
    }

    static func decode(_ slot: SlotID, _ bytes: [UInt8]) throws(HeldSlotError) -> HeldSlot {
        var r = ByteReader(bytes, what: "held slot record")
        do {
            guard try r.u8() == HeldRecords.formatVersion else { throw r.fail("unknown version") }
            let k = Int(try r.u8()), n = Int(try r.u8())
            guard VolumeLayout.problem(k: k, n: n) == nil else { throw r.fail("code \(k)-of-\(n)") }
            let extent = SlotExtent(packs: try r.u32(), bytes: try r.u64(), root: [])
            let streamBytes = try r.u64()
            let root = try r.raw(PackGeometry.hashBytes)
            try r.expectEnd()
            return HeldSlot(slot: slot, k: k, n: n, extent: SlotExtent(packs: extent.packs, bytes: extent.bytes, root: root),
                            streamBytes: streamBytes)
        } catch {
            throw HeldRecords.damaged("record of slot \(slot)", error)
        }
    }
}

/// Where one held pack is: the run file holding its frame and the frame's offset there,
/// and what the frame said.
struct HeldPack: Hashable, Sendable {
    let run: UInt64
    let offset: UInt64
    let geometry: PackGeometry
    let root: [UInt8]

    var leaf: [UInt8] { SlotTree.leaf(root: root, geometry: geometry) }

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 62)
        w.u64(run)
        w.u64(offset)
        geometry.write(into: &w)
        w.raw(root)
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, what: String) throws(HeldSlotError) -> HeldPack {
        var r = ByteReader([UInt8](bytes), what: "held pack record")
        do {
            let pack = HeldPack(run: try r.u64(), offset: try r.u64(), geometry: try PackGeometry(reading: &r),
                                root: try r.raw(PackGeometry.hashBytes))
            try r.expectEnd()
            return pack
        } catch {
            throw HeldRecords.damaged(what, error)
        }
    }
}

/// One accepted stream, kept as it came: packs `from..<to` of its slot in run file `run`.
struct HeldRun: Hashable, Sendable {
    let run: UInt64
    let to: UInt32
    let bytes: UInt64

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 20)
        w.u64(run)
        w.u32(to)
        w.u64(bytes)
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, what: String) throws(HeldSlotError) -> HeldRun {
        var r = ByteReader([UInt8](bytes), what: "held run record")
        do {
            let run = HeldRun(run: try r.u64(), to: try r.u32(), bytes: try r.u64())
            try r.expectEnd()
            return run
        } catch {
            throw HeldRecords.damaged(what, error)
        }
    }

    /// The run file's name: the slot and the run number, in hexadecimal.
    static func fileName(_ slot: SlotID, _ run: UInt64) -> String {
        Hex.encode(slot.bytes) + "-" + hex16(run) + ".run"
    }
}

/// Sixteen hexadecimal digits of `v`.
func hex16(_ v: UInt64) -> String {
    var w = ByteWriter(capacity: 8)
    w.u64(v)
    return Hex.encode(w.bytes)
}
