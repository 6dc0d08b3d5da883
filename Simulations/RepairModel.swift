import CairnCore

/// Repair that takes a given time (`"repair": {"rate_per_day": μ}` or `{"delay_hours": d}`),
/// on top of the real protocol: the protocol repairs as it always does (notices the lost
/// holder, rebuilds from k others, stores the shard on a new holder, all in minutes with
/// the validation scenario's settings), and the stored shard then counts as live — for
/// `healthy`, `packs_lost` and `pack_availability`, the ground truth — only after a delay
/// drawn per repaired shard (exponential with rate μ, or fixed). While it waits it is a
/// missing shard under repair, as in the birth–death chain (`RepairChain`): each missing
/// shard comes back at rate μ. The protocol itself sees the store as done and may fetch
/// from it; so that this cannot bring back a pack the chain has lost, loss is tracked as
/// "ever had fewer than k live shards" (`lostEver`), checked whenever a holder's data goes
/// (the only time the count of live shards falls in such a scenario).
struct RepairModel {
    let delay: RepairDelay?
    private var rng: Xoshiro256
    private struct Key: Hashable {
        /// The volume's number (volumes are numbered densely across the network).
        var volume: Int
        var index: UInt8
        var node: Int
    }
    /// When each repaired copy starts to count (simulated ms); looked up by key only.
    private var liveFrom: [Key: Int64] = [:]
    /// By volume number: it had fewer than k live shards at some instant after placement.
    private(set) var lostEver: [Bool] = []

    init(delay: RepairDelay?, rng: Xoshiro256) {
        self.delay = delay
        self.rng = rng
    }

    /// `node` stored slot `index` of `volume` as a repair at `now`: it counts from a drawn
    /// delay on.
    mutating func repaired(_ volume: Int, index: UInt8, node: Int, at now: Int64) {
        guard let delay else { return }
        let ms: Double
        switch delay {
        case .exponential(let perDay): ms = Distribution.exponential(mean: 86_400_000 / perDay).sample(&rng)
        case .fixed(let hours): ms = hours * 3_600_000
        }
        liveFrom[Key(volume: volume, index: index, node: node)] = now + Int64(min(ms, 1e17))
    }

    /// Whether the copy counts as live at `now` (every copy does without a delay).
    func live(_ volume: Int, index: UInt8, node: Int, at now: Int64) -> Bool {
        guard delay != nil, let from = liveFrom[Key(volume: volume, index: index, node: node)] else { return true }
        return now >= from
    }

    mutating func markLost(_ p: Int, volumes: Int) {
        if lostEver.count < volumes { lostEver += Array(repeating: false, count: volumes - lostEver.count) }
        lostEver[p] = true
    }

    func everLost(_ p: Int) -> Bool { p < lostEver.count && lostEver[p] }
}

extension Simulation {
    /// After a holder's data went: every placed volume now below k live shards is lost for
    /// good (see `RepairModel`).
    func markRepairLosses() {
        guard scenario.repairDelay != nil else { return }
        for p in 0..<volumeOwner.count where placedVolume[p] && !repairModel.everLost(p) && healthy(p) < scenario.k {
            repairModel.markLost(p, volumes: volumeOwner.count)
        }
    }
}
