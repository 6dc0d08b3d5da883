import CairnWire
import CairnCore
/// When each adversary first became *detectable*: the first instant the protocol held the
/// evidence its own rule acts on, judged from outside the nodes (ground truth). Detection
/// is then measured from that instant, not from the first misbehaviour: a refuser nobody
/// fetched from while it was up, or an early freer whose freed shards were never audited,
/// had no chance to be caught, and counting it as a miss made `detected_fraction_min`
/// depend on how many chances the seed happened to give (Scenarios/README.md).
///
/// - droppers and liars: a challenge for a shard it dropped (answered "missing") or one it
///   answered with garbage, while the challenging owner is online to judge the reply;
/// - early freers: a grace audit of a shard it freed early, answered "missing", while the
///   owner is online;
/// - refusers: an owner's refused-fetch report on its way to the coordinator (the owner's
///   rule, `fetch_misses_max` missed rounds of one slot, has fired) for a fetch the refuser
///   was demonstrably up across: online without a break since before the fetch was sent,
///   by more than the clock skew allowed, and for at least `refusalWindowSlots` + 2 uptime
///   slots before the report (what `CoordinatorCore.upAcross` asks of its own view).
///
/// Only look-ups by node number and by shard key: nothing iterates a set or dictionary.
struct DetectionLedger {
    /// Per node: when its current session began (true time), -1 while it is away.
    private(set) var onlineSince: [Int64]
    /// Per node: the first instant it was detectable, -1 never.
    private(set) var detectableAt: [Int64]
    /// Shards early freers freed on their release (node, volume, index): a challenge for one
    /// of them is a grace audit the freer cannot answer.
    private var freedEarly: Set<FreedShard> = []

    private struct FreedShard: Hashable {
        var node: Int
        var volume: VolumeID
        var index: UInt8
    }

    init(nodes: Int) {
        onlineSince = Array(repeating: -1, count: nodes)
        detectableAt = Array(repeating: -1, count: nodes)
    }

    mutating func cameOnline(_ i: Int, at now: Int64) { onlineSince[i] = now }
    mutating func wentOffline(_ i: Int) { onlineSince[i] = -1 }

    mutating func freed(_ i: Int, _ shard: SlotID) {
        freedEarly.insert(FreedShard(node: i, volume: shard.volume, index: shard.index))
    }

    func freedEarly(_ i: Int, _ shard: SlotID) -> Bool {
        freedEarly.contains(FreedShard(node: i, volume: shard.volume, index: shard.index))
    }

    /// Node `i` was detectable at `now` (kept only the first time).
    mutating func detectable(_ i: Int, at now: Int64) {
        if detectableAt[i] < 0 { detectableAt[i] = now }
    }

    /// Whether node `i` has been online without a break since at most `since`.
    func upSince(_ i: Int, _ since: Int64) -> Bool {
        onlineSince[i] >= 0 && onlineSince[i] <= since
    }
}
