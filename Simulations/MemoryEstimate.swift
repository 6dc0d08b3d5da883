import CairnWire
import CairnCore

/// What a scenario will need in memory, estimated before anything is allocated, so that a
/// scenario far beyond the machine is refused at once with the figure instead of being
/// killed by the kernel an hour in.
///
/// The estimate is from the expected number of volume slots (the backup-size distribution
/// drawn from a generator of its own, so the run's trace does not change) at the cost
/// measured per slot and per node: a 2,000-node run of 2.56 million one-pack slots peaked
/// at 3.9 GB (≈1.5 KiB a slot, its contract on both sides, its Merkle tree and its state),
/// and churn.json, 55 slots a node, at 1.17 GiB for 10,000 nodes. A slot costs the same
/// whatever number of packs its volume holds (synthetic packs of a volume are alike). It
/// errs high.
public enum MemoryEstimate {
    static let bytesPerShard = 1_600.0
    static let bytesPerSegment = 64.0
    static let bytesPerNode = 24_000.0

    /// Expected peak bytes of a run of `scenario`.
    public static func bytes(_ scenario: Scenario) -> Double {
        var rng = Xoshiro256(seed: 0x6D65_6D6F_7279)  // "memory": not the run's seed
        let draws = 4_096
        let gib = 1024.0 * 1024 * 1024
        let pack = scenario.packMiB * 1024 * 1024
        let shard = (pack / Double(scenario.k)).rounded(.up)
        let packsPerVolume = max(1, (scenario.volumeGiB * gib / shard).rounded(.down))
        var volumes = 0.0
        for _ in 0..<draws {
            let backup = min(scenario.backupGiB.sample(&rng) * gib, gib * gib)
            let packs = max(1, (backup / pack).rounded(.up))
            volumes += Double(min((packs / packsPerVolume).rounded(.up), Double(ProtocolLimits.volumesPerNodeMax)))
        }
        let shardsPerNode = volumes / Double(draws) * Double(scenario.n)
        let perShard = bytesPerShard + bytesPerSegment * Double(scenario.segmentsPerShard)
        return Double(scenario.nodes) * (bytesPerNode + shardsPerNode * perShard)
    }
}
