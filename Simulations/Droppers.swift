import CairnCore

/// What happened to each shard a partial dropper (`adversaries.drop_fraction` below 1)
/// holds, watched from outside: when it was stored, how many challenges it passed, and when
/// it first failed one. The validation compares these with `ClosedForms.dropperSurvival`
/// and `ClosedForms.dropperDetectionHours`: each shard is its own sample, because every
/// challenge draws its segment afresh from the owner's random stream.
struct DropperLedger {
    struct Key: Hashable, Comparable {
        var node: Int
        var slot: SlotID
        static func < (a: Key, b: Key) -> Bool {
            (a.node, a.slot.volume.owner.raw, a.slot.volume.number, a.slot.index)
                < (b.node, b.slot.volume.owner.raw, b.slot.volume.number, b.slot.index)
        }
    }

    /// Looked up by key only; read out in key order.
    private(set) var records: [Key: DropperRecord] = [:]

    mutating func stored(node: Int, _ slot: SlotID, at now: Int64) {
        let key = Key(node: node, slot: slot)
        if records[key] == nil { records[key] = DropperRecord(holder: node, volumeOwner: Int(slot.volume.owner.raw), storedAt: now) }
    }

    /// A challenge on the shard: passed, or asked for a dropped segment.
    mutating func challenged(node: Int, _ slot: SlotID, passed: Bool, at now: Int64) {
        let key = Key(node: node, slot: slot)
        guard var r = records[key], r.failedAt == nil else { return }
        if passed { r.passed += 1 } else { r.failedAt = now }
        records[key] = r
    }

    var sorted: [DropperRecord] { records.keys.sorted().map { records[$0]! } }
}

/// One shard on a partial dropper.
public struct DropperRecord: Sendable, Equatable {
    /// The dropper, and the owner of the volume the shard belongs to (node numbers).
    public var holder: Int
    public var volumeOwner: Int
    /// Simulated milliseconds of the store the dropper acknowledged.
    public var storedAt: Int64
    /// Challenges it passed before the first it failed (or before the run ended).
    public var passed = 0
    /// When it first failed a challenge; nil if it never did.
    public var failedAt: Int64? = nil

    /// Whether it passed its first `c` challenges; nil when the run ended before it had
    /// `c` of them (no answer either way).
    public func survived(_ c: Int) -> Bool? {
        if passed >= c { return true }
        return failedAt == nil ? nil : false
    }
}
