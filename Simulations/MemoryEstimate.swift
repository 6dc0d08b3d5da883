import CairnWire
import CairnCore

/// What a scenario will need in memory, estimated before anything is allocated, so that a
/// scenario far beyond the machine is refused at once with the figure instead of being
/// killed by the kernel an hour in.
///
/// The estimate is from the expected number of shards (the backup-size distribution drawn
/// from a generator of its own, so the run's trace does not change) at the cost measured
/// per shard and per node: a 2,000-node run of 2.56 million shards peaked at 3.9 GB
/// (≈1.5 KiB a shard, its contract on both sides, its Merkle tree and its slot), and
/// churn.json, 55 shards a node, at 1.17 GiB for 10,000 nodes. It errs high.
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
        var packs = 0.0
        for _ in 0..<draws {
            let backup = min(scenario.backupGiB.sample(&rng) * gib, gib * gib)
            packs += Double(min(max(1, (backup / pack).rounded(.up)), Double(ProtocolLimits.volumesPerNodeMax)))
        }
        let shardsPerNode = packs / Double(draws) * Double(scenario.n)
        let perShard = bytesPerShard + bytesPerSegment * Double(scenario.segmentsPerShard)
        return Double(scenario.nodes) * (bytesPerNode + shardsPerNode * perShard)
    }
}
