import CairnSimulator
import Foundation
import Testing

/// Every scenario in Scenarios/ci, with a fixed seed, three times at once: in this process
/// (where its expected bounds are checked) and in two separate `cairn simulate` processes.
/// No invariant may be violated, every bound in its "expect" block must hold, and all
/// three runs must print the same trace hash.
@Test(arguments: Package.ciScenarios)
func ciScenarioMeetsItsBoundsAndReplays(file: String) async throws {
    let scenario = try Scenario.load(path: file)
    guard let cairn = Package.cairnBinary else {
        Issue.record("the cairn binary was not found next to the tests or in .build/debug; run `swift build --build-tests` first")
        return
    }
    async let a = Task { try Package.run(cairn, ["simulate", file, "--seed", "1", "--no-progress"]) }.value
    async let b = Task { try Package.run(cairn, ["simulate", file, "--seed", "1", "--no-progress"]) }.value
    let result = Simulation(scenario: scenario, seed: 1).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
    #expect(result.expectationFailures.isEmpty, "\(result.expectationFailures)")
    #expect(result.events > 0 && result.packsTotal > 0)
    let (first, second) = try await (a, b)
    let hashA = first.stdout.split(separator: "\n").last.map(String.init) ?? ""
    let hashB = second.stdout.split(separator: "\n").last.map(String.init) ?? ""
    #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
    #expect(first.stdout.hasPrefix("SEED=1\n"))
    #expect(hashA == "trace-hash: \(result.traceHash)")
    #expect(hashA == hashB)
}

@Test func ciScenariosExist() {
    #expect(Package.ciScenarios.count >= 3)
}

// MARK: Determinism

@Test func anotherSeedGivesAnotherTrace() throws {
    let scenario = try Scenario.parse(#"""
        {"nodes": 30, "duration_days": 1, "backup_gib": {"dist": "fixed", "value": 2}, "pack_mib": 1024,
         "churn": {"online_hours": {"dist": "exponential", "mean": 10}, "offline_hours": {"dist": "exponential", "mean": 2}}}
        """#)
    let a = Simulation(scenario: scenario, seed: 7).run().traceHash
    let b = Simulation(scenario: scenario, seed: 8).run().traceHash
    #expect(a != b)
}

@Test func invalidScenarioExitsNonZeroNamingThePath() throws {
    guard let cairn = Package.cairnBinary else {
        Issue.record("the cairn binary was not found; run `swift build --build-tests` first")
        return
    }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-bad-\(getpid()).json").path
    try #"{"nodes": 10, "protocol": {"k": "four"}}"#.write(toFile: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: file) }
    let run = try Package.run(cairn, ["simulate", file, "--seed", "1"])
    #expect(run.status == 2)
    #expect(run.stderr.contains("$.protocol.k: expected an integer, found a string"))
}

@Test func outWritesMetricsAndTimeseries() throws {
    guard let cairn = Package.cairnBinary else {
        Issue.record("the cairn binary was not found; run `swift build --build-tests` first")
        return
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-out-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try Package.run(cairn, ["simulate", Package.path("Scenarios/ci/steady.json"), "--seed", "3", "--out", dir])
    #expect(run.status == 0)
    let data = try #require(FileManager.default.contents(atPath: dir + "/metrics.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    for key in ["trace_hash", "seed", "nodes", "sim_days", "events", "messages", "wall_seconds", "packs_total",
                "packs_lost", "restore_success_rate", "repair_bytes_per_node_day", "storage_overhead",
                "detection_hours", "contracts_broken"]
    {
        #expect(json[key] != nil, "metrics.json lacks \(key)")
    }
    #expect(json["seed"] as? Int == 3)
    let csv = try String(contentsOfFile: dir + "/timeseries.csv", encoding: .utf8)
    #expect(csv.hasPrefix("hours,nodes_online,healthy_shards,repairs_in_flight,packs_lost,messages\n"))
    #expect(csv.split(separator: "\n").count > 2)
}
