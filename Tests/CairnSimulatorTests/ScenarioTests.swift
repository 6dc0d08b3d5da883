import CairnWire
import CairnCore
import CairnCrypto
import CairnSimulator
import Foundation
import Testing

// MARK: Strict scenario validation

private func error(_ json: String) -> String? {
    do {
        _ = try Scenario.parse(json)
        return nil
    } catch {
        return error.description
    }
}

@Test func minimalScenarioParses() throws {
    let s = try Scenario.parse(#"{"nodes": 10}"#)
    #expect(s.nodes == 10 && s.k == 4 && s.n == 8)
}

@Test func unknownKeysAreNamedByPath() {
    #expect(error(#"{"nodes": 10, "nodez": 1}"#) == "$.nodez: unknown key")
    #expect(error(#"{"nodes": 10, "protocol": {"kk": 3}}"#) == "$.protocol.kk: unknown key")
    // A key that is not a plain name is quoted, so the path says which key it was.
    #expect(error(#"{"nodes": 10, "protocol": {"k.n": 3}}"#) == #"$.protocol["k.n"]: unknown key"#)
    #expect(error(#"{"nodes": 10, "churn": {"correlated": [{"at_day": 1, "fraction": 0.1, "duration_hours": 1}, {"at_day": -1, "fraction": 0.1, "duration_hours": 1}]}}"#)?.hasPrefix("$.churn.correlated[1].at_day") == true)
    #expect(error(#"{"nodes": 10, "churn": {"online_hours": {"dist": "weibull", "shape": 1, "scale": 2, "x": 1}}}"#)
        == "$.churn.online_hours.x: unknown key")
}

@Test func wrongTypesAreNamedByPath() {
    #expect(error(#"{"nodes": "ten"}"#) == "$.nodes: expected an integer, found a string")
    #expect(error(#"{"nodes": 10.5}"#) == "$.nodes: expected an integer, found the fraction 10.5")
    #expect(error(#"{"nodes": 1e300}"#) == "$.nodes: 1e+300 is out of range 2...1000000")
    #expect(error(#"{"nodes": 10, "offered_gib": "lots"}"#)?.hasPrefix("$.offered_gib: expected a number or a distribution object") == true)
    #expect(error(#"{"nodes": 10, "protocol": []}"#) == "$.protocol: expected an object, found an array")
    #expect(error(#"{"nodes": 10, "churn": {"partitions": [{"at_day": "x", "fraction": 1, "duration_hours": 1}]}}"#)
        == "$.churn.partitions[0].at_day: expected a number, found a string")
}

@Test func impossibleValuesAreRejected() {
    #expect(error(#"{"nodes": 10, "protocol": {"k": 8, "n": 8}}"#) == "$.protocol.n: n (8) must exceed k (8)")
    #expect(error(#"{"nodes": 1}"#)?.hasPrefix("$.nodes: 1 is out of range") == true)
    #expect(error(#"{"nodes": 10, "protocol": {"k": 4, "n": 8, "repair_trigger": 4}}"#)
        == "$.protocol.repair_trigger: 4 must be in k+1...n (5...8)")
    #expect(error(#"{"nodes": 10, "offered_gib": {"dist": "uniform", "min": 5, "max": 1}}"#)
        == "$.offered_gib.max: 1.0 is below min 5.0")
    #expect(error(#"{"nodes": 10, "adversaries": {"liars": 0.3, "droppers": 0.3}}"#)
        == "$.adversaries: fractions add up to 0.6, at most 0.5")
    #expect(error(#"{}"#) == "$.nodes: required")
    #expect(error(#"{"nodes": 8}"#)?.hasPrefix("$.nodes: 8 nodes cannot place n = 8 shards") == true)
    #expect(error(#"{"nodes": 3, "protocol": {"k": 1, "n": 2}}"#) == nil)
    #expect(error(#"{"nodes": 10, "backup_gib": 0}"#)?.hasPrefix("$.backup_gib: 0.0 is out of range") == true)
}

@Test func aBareNumberIsAFixedDistribution() throws {
    let s = try Scenario.parse(#"{"nodes": 10, "offered_gib": 250, "latency_ms": 0}"#)
    #expect(s.offeredGiB == .fixed(250) && s.latencyMs == .fixed(0))
}

// MARK: Scenarios beyond the simulator's bounds stop with an error, never a trap

/// Heavy tails that draw more bytes or hours than an integer holds are clamped.
@Test func heavyTailsDoNotOverflow() throws {
    let s = try Scenario.parse(#"""
        {"nodes": 12, "duration_days": 0.5, "restore_samples": 0,
         "offered_gib": {"dist": "lognormal", "median": 1e12, "sigma": 5},
         "backup_gib": {"dist": "lognormal", "median": 1e-3, "sigma": 5},
         "churn": {"online_hours": {"dist": "weibull", "shape": 0.05, "scale": 1e12}},
         "protocol": {"reciprocity_ratio": 0.01}}
        """#)
    let result = try Simulation(scenario: s, seed: 2).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
    #expect(result.events > 0)
}

/// Millisecond sessions with slow uplinks schedule work faster than it completes: the run
/// stops with an error naming the bound and the day, instead of trapping.
@Test func tooManyPendingEventsStopTheRunWithAnError() throws {
    let s = try Scenario.parse(#"""
        {"nodes": 20, "restore_samples": 0, "upload_mbps": 0.01,
         "churn": {"online_hours": 1e-300, "offline_hours": 1e-300}}
        """#)
    var bounds = Simulation.Bounds()
    bounds.pendingEventsMax = 200_000
    let stopped = #expect(throws: SimulationStopped.self) { _ = try Simulation(scenario: s, seed: 3, bounds: bounds).run() }
    #expect(stopped?.description.contains("more than 200000 events were pending at once") == true)
}

@Test func theEventBudgetStopsTheRunWithAnError() throws {
    let s = try Scenario.parse(#"{"nodes": 12, "restore_samples": 0}"#)
    var bounds = Simulation.Bounds()
    bounds.eventsMax = 1_000
    let stopped = #expect(throws: SimulationStopped.self) { _ = try Simulation(scenario: s, seed: 3, bounds: bounds).run() }
    #expect(stopped?.description.contains("it processed 1000 events") == true)
    #expect(try Simulation(scenario: s, seed: 3).run().events > 1_000)
}

@Test func memoryEstimateGrowsWithSlotsAndRefusesTheImpossible() throws {
    // One 1 GiB pack per volume (256 MiB shards, 0.25 GiB slots): slots grow with the backup.
    let small = try Scenario.parse(#"{"nodes": 1000, "backup_gib": 10, "pack_mib": 1024, "volume_gib": 0.25}"#)
    let more = try Scenario.parse(#"{"nodes": 1000, "backup_gib": 100, "pack_mib": 1024, "volume_gib": 0.25}"#)
    // The same backup in the default 4 GiB slots: 16 packs a volume, a sixteenth of the slots.
    let grouped = try Scenario.parse(#"{"nodes": 1000, "backup_gib": 100, "pack_mib": 1024}"#)
    let huge = try Scenario.parse(#"{"nodes": 1000000, "volume_gib": 0.015625}"#)
    #expect(MemoryEstimate.bytes(more) > 5 * MemoryEstimate.bytes(small))
    #expect(MemoryEstimate.bytes(grouped) < MemoryEstimate.bytes(more) / 5)
    #expect(MemoryEstimate.bytes(small) < 1e9)
    #expect(MemoryEstimate.bytes(huge) > 1e12)
}

@Test func malformedJSONIsAnErrorNotATrap() {
    for text in ["", "{", #"{"nodes": }"#, #"{"nodes": 1,}"#, #"{"a": 1, "a": 2}"#, "[1, 2", "nul", "\"\\u12\""] {
        #expect(error(text) != nil, "accepted \(text)")
    }
}

@Test func shippedScenariosAreValid() throws {
    let dir = Package.path("Scenarios")
    let top = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.map { dir + "/" + $0 }
    let regressions = dir + "/regressions"
    let kept = try FileManager.default.contentsOfDirectory(atPath: regressions).filter { $0.hasSuffix(".json") }
        .map { regressions + "/" + $0 }
    #expect(!kept.isEmpty)
    for file in top + Package.ciScenarios + kept {
        #expect(throws: Never.self, "\(file)") { _ = try Scenario.load(path: file) }
    }
}

// MARK: Synthetic shards

/// A synthetic shard is the concatenation of its segments: its root and proofs must be the
/// data path's (`MerkleTree` over the real bytes), or simulated challenges would test
/// another format than real holders answer.
@Test(arguments: [1, 2, 5, 8, 13])
func syntheticTreeProofsMatchMerkleProofs(count: Int) {
    let shard = SlotID(volume: VolumeID(9), index: 3)
    let bytes = Synthetic.segments(shard, count: UInt32(count)).flatMap { $0 }
    let tree = Synthetic.tree(shard, count: UInt32(count))
    let root = Synthetic.root(shard, count: UInt32(count))
    #expect(root == MerkleTree.root(of: bytes, segmentSize: Synthetic.segmentBytes))
    for i in 0..<count {
        let proof = Synthetic.proof(tree: tree, count: count, index: i)
        #expect(proof == MerkleTree.proof(of: bytes, segment: i, segmentSize: Synthetic.segmentBytes).siblings)
        let answer = MerkleProof(segmentIndex: i, segmentCount: count, siblings: proof)
        #expect(answer.verify(segment: Synthetic.segment(shard, UInt32(i)), root: root))
        #expect(!answer.verify(segment: Synthetic.segment(shard, UInt32((i + 1) % count)), root: root) || count == 1)
    }
}

// MARK: Hostile scenario files

/// Mutated shipped scenarios (bytes replaced, dropped, or digits and punctuation put in)
/// either parse or throw a `ScenarioError`: the parser never traps. Whatever parses is
/// then a scenario the simulator can set up, so its memory estimate must be finite.
@Test func mutatedScenariosParseOrFailNeverTrap() throws {
    let dir = Package.path("Scenarios")
    let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        .map { dir + "/" + $0 } + Package.ciScenarios
    let texts = try files.map { Array(try String(contentsOfFile: $0, encoding: .utf8).utf8) }
    let alphabet = Array("0123456789-+.eE{}[]\",: \\u".utf8)
    var g = Xoshiro256(seed: 0x5CE7)
    var parsed = 0, rejected = 0
    for _ in 0..<3_000 {
        var bytes = texts[g.index(texts.count)]
        for _ in 0..<(1 + g.index(3)) {
            let at = g.index(bytes.count)
            switch g.index(3) {
            case 0: bytes[at] = alphabet[g.index(alphabet.count)]
            case 1: bytes.remove(at: at)
            default: bytes.insert(UInt8(truncatingIfNeeded: g.next()), at: at)
            }
        }
        do {
            let s = try Scenario.parse(String(decoding: bytes, as: UTF8.self))
            #expect(MemoryEstimate.bytes(s).isFinite)
            parsed += 1
        } catch {
            #expect(!error.description.isEmpty)
            rejected += 1
        }
    }
    #expect(parsed > 0 && rejected > 0)
}

// MARK: Clocks

/// Nodes whose clocks are off by more than the protocol's bound cannot take part: their
/// messages are refused (and counted), and nothing breaks an invariant. Within the bound
/// (`Scenarios/ci/clocks.json`) every pack is placed and repaired as with exact clocks.
@Test func clocksBeyondTheBoundAreRefusedWithoutBreakingInvariants() throws {
    let base = #"""
        {"nodes": 20, "duration_days": 1, "backup_gib": 2, "pack_mib": 1024, "restore_samples": 0,
         "clocks": {"offset_s": OFFSET, "drift_ppm": 20}, "protocol": {"k": 2, "n": 4, "max_clock_skew_s": 300}}
        """#
    let far = try Simulation(scenario: Scenario.parse(base.replacingOccurrences(of: "OFFSET", with: "900")), seed: 4).run()
    #expect(far.violations.isEmpty, "\(far.violations)")
    #expect(far.messagesRefusedClockSkew > 500)
    // The coordinator keeps true time: no node joined, so nothing was placed.
    #expect(far.storageOverhead == 0, "overhead \(far.storageOverhead)")
    let near = try Simulation(scenario: Scenario.parse(base.replacingOccurrences(of: "OFFSET", with: "60")), seed: 4).run()
    #expect(near.violations.isEmpty, "\(near.violations)")
    #expect(near.messagesRefusedClockSkew == 0)
    #expect(near.packsLost == 0 && near.unconvergedPacks == 0)
    // A clock key out of range is an error naming its path.
    let bad = #expect(throws: ScenarioError.self) {
        _ = try Scenario.parse(#"{"nodes": 20, "protocol": {"max_clock_skew_s": 7200}}"#)
    }
    #expect(bad?.path == "$.protocol.max_clock_skew_s")
}

/// Found by `scripts/random-scenarios.py` (scenario 6154): 4 GiB packs, k = 1 and one
/// segment per shard made segments longer than a challenge's 32-bit length; the length was
/// cut at 4 GiB − 1 and honest holders failed every challenge (volumes given up as lost
/// with their shards held). Such a geometry is now refused, naming the fewest segments
/// that work; one more segment per shard runs clean.
@Test func segmentsOverFourGiBAreRefusedNotCut() throws {
    let base = #"""
        {"nodes": 12, "duration_days": 1, "backup_gib": 8, "pack_mib": 4096, "restore_samples": 0,
         "protocol": {"k": 1, "n": 2, "segments_per_shard": SEGMENTS, "challenge_interval_hours": 2}}
        """#
    let refused = #expect(throws: ScenarioError.self) {
        _ = try Scenario.parse(base.replacingOccurrences(of: "SEGMENTS", with: "1"))
    }
    #expect(refused?.path == "$.protocol.segments_per_shard")
    #expect(refused?.message.contains("at least 2 segments") == true, "\(String(describing: refused))")
    let two = try Simulation(scenario: Scenario.parse(base.replacingOccurrences(of: "SEGMENTS", with: "2")), seed: 1).run()
    #expect(two.violations.isEmpty, "\(two.violations)")
    #expect(two.packsReportedLost == 0 && two.contractsBroken == 0, "honest holders failed challenges")
}
