import CairnSimulator
import CairnTestSupport
import Foundation
import Testing

/// Every scenario in Scenarios/ci, with a fixed seed, in two separate `cairn simulate`
/// processes at once. Each must exit 0 (no invariant violated, every bound in its
/// "expect" block held — the CLI checks both) and both must print the same trace hash.
@Test(arguments: Package.ciScenarios)
func ciScenarioMeetsItsBoundsAndReplays(file: String) async throws {
    _ = try Scenario.load(path: file)
    guard let cairn = Package.cairnBinary else {
        Issue.record("the cairn binary was not found next to the tests or in .build/debug; run `swift build --build-tests` first")
        return
    }
    async let a = Package.run(cairn, ["simulate", file, "--seed", "1", "--no-progress"])
    async let b = Package.run(cairn, ["simulate", file, "--seed", "1", "--no-progress"])
    let (first, second) = try await (a, b)
    let hashA = first.stdout.split(separator: "\n").last.map(String.init) ?? ""
    let hashB = second.stdout.split(separator: "\n").last.map(String.init) ?? ""
    #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
    #expect(!first.stdout.contains("INVARIANT VIOLATED") && !first.stdout.contains("EXPECTATION FAILED"), "\(first.stdout)")
    #expect(first.stdout.hasPrefix("SEED=1\n"))
    #expect(hashA.hasPrefix("trace-hash: ") && hashA.count == 12 + 64)
    #expect(hashA == hashB)
}

@Test func ciScenariosExist() {
    #expect(Package.ciScenarios.count >= 3)
}

// MARK: Determinism

/// A small network in this process: another seed gives another trace; the same seed in
/// the `cairn` process gives the same hash as in this one.
@Test func anotherSeedGivesAnotherTraceAndProcessesAgree() throws {
    let json = #"""
        {"nodes": 30, "duration_days": 1, "backup_gib": {"dist": "fixed", "value": 2}, "pack_mib": 1024,
         "churn": {"online_hours": {"dist": "exponential", "mean": 10}, "offline_hours": {"dist": "exponential", "mean": 2}}}
        """#
    let scenario = try Scenario.parse(json)
    let a = try Simulation(scenario: scenario, seed: 7).run().traceHash
    let b = try Simulation(scenario: scenario, seed: 8).run().traceHash
    #expect(a != b)
    guard let cairn = Package.cairnBinary else {
        Issue.record("the cairn binary was not found; run `swift build --build-tests` first")
        return
    }
    let folder = try TemporaryFolder("sim")
    let file = folder.sub("small.json")
    defer { withExtendedLifetime(folder) {} }
    try json.write(toFile: file, atomically: false, encoding: .utf8)
    let run = try Package.run(cairn, ["simulate", file, "--seed", "7"])
    #expect(run.stdout.hasSuffix("trace-hash: \(a)\n"))
}

@Test func invalidScenarioExitsNonZeroNamingThePath() throws {
    guard let cairn = Package.cairnBinary else {
        Issue.record("the cairn binary was not found; run `swift build --build-tests` first")
        return
    }
    let folder = try TemporaryFolder("sim")
    let file = folder.sub("bad.json")
    defer { withExtendedLifetime(folder) {} }
    try #"{"nodes": 10, "protocol": {"k": "four"}}"#.write(toFile: file, atomically: false, encoding: .utf8)
    let run = try Package.run(cairn, ["simulate", file, "--seed", "1"])
    #expect(run.status == 2)
    #expect(run.stderr.contains("$.protocol.k: expected an integer, found a string"))
}

@Test func outWritesMetricsAndTimeseries() throws {
    guard let cairn = Package.cairnBinary else {
        Issue.record("the cairn binary was not found; run `swift build --build-tests` first")
        return
    }
    let folder = try TemporaryFolder("sim")
    let dir = folder.sub("out")
    defer { withExtendedLifetime(folder) {} }
    let run = try Package.run(cairn, ["simulate", Package.path("Scenarios/ci/steady.json"), "--seed", "3", "--out", dir])
    #expect(run.status == 0)
    let data = try #require(FileManager.default.contents(atPath: dir + "/metrics.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    for key in ["trace_hash", "seed", "nodes", "sim_days", "events", "messages", "messages_refused_clock_skew", "wall_seconds", "packs_total",
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

// MARK: Actors on the simulator executor

/// The production NodeActor/CoordinatorActor, run on the simulator's serial executor,
/// produce exactly the trace of the cores driven directly.
@Test func actorsOnTheSimulatorExecutorReplayTheDirectTrace() throws {
    let scenario = try Scenario.parse(#"""
        {"nodes": 40, "duration_days": 2, "convergence_days": 1, "backup_gib": {"dist": "fixed", "value": 2},
         "pack_mib": 1024, "adversaries": {"liars": 0.05, "refusers": 0.05},
         "churn": {"online_hours": {"dist": "exponential", "mean": 10}, "offline_hours": {"dist": "exponential", "mean": 2},
                   "disk_failures_per_day": 0.02},
         "protocol": {"challenge_interval_hours": 6, "uptime_window_hours": 12, "blind_repair_after_hours": 6}}
        """#)
    // Challenge shortcuts are a direct-mode path; with them off, direct runs every event
    // the actors run (`ShortcutTests` shows they change no metric).
    let plain = Simulation(scenario: scenario, seed: 5, mode: .direct)
    plain.shortcuts = false
    let direct = try plain.run()
    let actors = try Simulation(scenario: scenario, seed: 5, mode: .actors).run()
    #expect(direct.events > 1000)
    #expect(direct.traceHash == actors.traceHash)
    #expect(direct.messages == actors.messages && direct.repairsCompleted == actors.repairsCompleted)
    #expect(actors.violations.isEmpty, "\(actors.violations)")
}

actor Counter {
    let executor: UnownedSerialExecutor
    var value = 0
    init(executor: UnownedSerialExecutor) { self.executor = executor }
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor }
    func bump() -> Int {
        value += 1
        return value
    }
}

final class Box: @unchecked Sendable {
    var values: [Int] = []
}

/// Tasks started with the simulator executor as their preference run only when it is
/// drained, on this thread, in the order they were started.
@Test func simulatorExecutorRunsTasksInOrderWhenDrained() {
    let executor = SimulatorExecutor()
    let counter = Counter(executor: executor.asUnownedSerialExecutor())
    let box = Box()
    for i in 0..<5 {
        Task(executorPreference: executor) {
            let v = await counter.bump()
            box.values.append(i * 100 + v)
        }
    }
    #expect(box.values.isEmpty)
    executor.drain()
    #expect(box.values == [1, 102, 203, 304, 405])
    #expect(executor.jobsRun >= 5)
}

/// A run too short for any restore to use its full patience samples none, and says so
/// rather than reporting a perfect rate.
@Test func noFinishedRestoreIsReportedAsNoneNotAsSuccess() throws {
    let scenario = try Scenario.parse(#"""
        {"name": "short", "nodes": 12, "duration_days": 0.5, "sample_interval_hours": 1, "signatures": "digest",
         "restore_samples": 20, "restore_patience_hours": 48, "expect": {"restore_success_min": 0.5}}
        """#)
    let result = try Simulation(scenario: scenario, seed: 1).run()
    #expect(result.restoreAttempts == 0)
    #expect(result.restoreSuccessRate == nil)
    #expect(result.expectationFailures.contains { $0.hasPrefix("no sampled restore finished") })
}

/// Found by random scenarios: owners gave packs up while released holders (in their grace
/// period, abandoned mid-upload, or not yet told) still kept enough shards. With seed 4
/// this scenario reported a pack lost with k shards held before owners used those copies.
@Test func ownersUseGraceCopiesBeforeGivingAPackUp() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/lost-with-grace-copies.json"))
    let result = try Simulation(scenario: scenario, seed: 4).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
    #expect(result.packsReportedLost > 0)  // the scenario does lose packs; just never wrongly
}

/// Found by the harsh-churn research sweep: an owner stopped re-sending a release after
/// eight repair ticks, so a holder away longer kept its copy under an active contract for
/// the rest of the term — a shard nobody counted (the owner had forgotten it) and nobody
/// paid for. Owners then gave volumes up as lost with k shards still held, and orphaned
/// copies inflated the network's storage (with seed 5: five volumes wrongly given up,
/// storage overhead 4.9 instead of 3.0). Releases are now re-sent with backoff until
/// acknowledged or until the term ends, and the holder stays a last-resort source meanwhile.
@Test func releasesReachHoldersThatWereAwayAndTheirCopiesStillCount() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/released-holder-away.json"))
    let result = try Simulation(scenario: scenario, seed: 5).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
    #expect(result.packsReportedLost <= result.packsLost)
    #expect(result.storageOverhead < 4, "orphaned copies: storage overhead \(result.storageOverhead)")
}

/// Found by the harsh-churn research sweep: honest home machines with short sessions were
/// excluded for refused fetches they never saw — away when the fetch came yet answering
/// every hourly uptime slot, or answering an owner that was itself away when the slot
/// arrived. With seed 2 this scenario warned 11 honest nodes and excluded 5 (who could then
/// place nothing). A refused fetch now counts only against a holder whose session spans
/// it, and an owner counts no miss for a round sent before its own session.
@Test func honestHoldersWithShortSessionsAreNotExcludedForFetchesTheyMissed() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/honest-flapping-holders.json"))
    #expect(scenario.adversaries.values.allSatisfy { $0 == 0 })
    let result = try Simulation(scenario: scenario, seed: 2).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
    #expect(result.excluded == 0)
    #expect(result.warned <= 3, "\(result.warned) honest nodes warned")
}

/// Found by `scripts/random-scenarios.py` (scenario 5045): a partition kept every release
/// from a volume's old holders; at the term's end the owner forgot those releases, and its
/// audits ended each grace by its own reckoning (from the release) although the holders,
/// never released, keep the shard for a grace period from the term's end. Left with too
/// few slots it could fetch from, the owner gave the volume up as lost with k shards on
/// honest holders (seeds 1 and 11: one and two such volumes). Now an unacknowledged
/// release keeps its holder as a last-resort source until that later grace ends.
@Test func holdersNeverReleasedStaySourcesUntilTheirGraceFromTheTermEnd() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/unreleased-holders-keep-grace.json"))
    #expect(scenario.contractTermDays < scenario.durationDays, "contracts must end within the run")
    for seed: UInt64 in [1, 11] {
        let result = try Simulation(scenario: scenario, seed: seed).run()
        #expect(result.violations.isEmpty, "seed \(seed): \(result.violations)")
        #expect(result.packsReportedLost <= result.packsLost, "seed \(seed)")
    }
}

/// Found by `scripts/random-scenarios.py --long` (scenario 190): an owner whose clock drifted
/// past `max_clock_skew_s` was refused by the coordinator from day 13 on, so it could renew
/// nothing; its holders' terms ended, the coordinator (counting it as away) repaired its
/// volumes blind, and the owner, hearing of none of that, declared three volumes lost with
/// three shards of each held (k = 2). An owner cut off from the coordinator now gives
/// nothing up until it hears from it again.
@Test func anOwnerCutOffByItsClockGivesNoVolumeUpWhileBlindRepairsHoldIt() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/owner-clock-cut-off.json"))
    #expect(scenario.clockDriftPpm != nil, "the owner's clock must drift past the bound")
    let result = try Simulation(scenario: scenario, seed: 190).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
    #expect(result.messagesRefusedClockSkew > 0, "no node was cut off by its clock")
}

/// Found by `scripts/random-scenarios.py --long` (scenario 191, lossy): targets of blind
/// repairs whose acknowledgements were lost (to the network, or to the repairer being away)
/// were released by the repairer at its deadline; released by a node that was not the
/// owner, they ignored it and kept the slot under an active contract nobody knew of, never
/// offered for adoption, and two owners gave volumes up as lost while those copies were
/// held (seeds 191 and 1). The repairer now asks such targets again before ending the
/// repair, and a release from the contract's proposer is honoured.
@Test func blindRepairTargetsWithLostAcknowledgementsAreAskedAgainOrReleased() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/blind-repair-ack-lost.json"))
    #expect(scenario.loss > 0)
    // Seed 1 shows it too (three volumes).
    for seed: UInt64 in [191, 1] {
        let result = try Simulation(scenario: scenario, seed: seed).run()
        #expect(result.violations.isEmpty, "seed \(seed): \(result.violations)")
    }
}

/// Found by `scripts/random-scenarios.py` (scenario 30052): owners away for longer than
/// their contracts' two-day term came back to volumes whose only copies were blind
/// repairs' slots, past their term but still in their grace period. The adoption offer of
/// such a contract was ignored as stale, and the owner gave the volume up as lost while the
/// holder still kept it (seeds 30052, 1 and 2: 22, 33 and 33 volumes). The holder now
/// counts as a last-resort source until its grace ends, as a holder released in good faith
/// does.
@Test func aRepairInItsGracePeriodIsASourceForAnOwnerBackFromAwayTooLong() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/away-owner-repair-in-grace.json"))
    #expect(scenario.contractTermDays < scenario.durationDays / 2, "contracts must end while owners are away")
    let result = try Simulation(scenario: scenario, seed: 1).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
}

/// Restores are exactly `restore_samples`, spread over the samples that fit the window.
@Test func restoreSamplesAreStartedExactly() throws {
    let scenario = try Scenario.parse(#"""
        {"nodes": 20, "duration_days": 3, "sample_interval_hours": 7, "signatures": "digest",
         "restore_samples": 23, "restore_patience_hours": 6}
        """#)
    let result = try Simulation(scenario: scenario, seed: 2).run()
    #expect(result.restoreAttempts + result.restoresUnfinished == 23)
}

/// Found by `scripts/random-scenarios.py` (scenario 30031: 15% loss, churn, adversaries,
/// k = 3 of 4): a blind repair's target stored its slot, its acknowledgement to the repairer
/// was lost, it was away at the repairer's probe and the repairer went away after
/// releasing it; the coordinator never heard of the copy, and the owner, its own holders
/// of two slots failing, gave the volume up as lost with three honest shards held. A
/// target now reports its stored slot to the coordinator itself, and answers a repairer's
/// release of it with the report again instead of letting it go.
@Test func blindRepairTargetsReportTheirSlotsThemselves() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/blind-repair-target-reports.json"))
    #expect(scenario.loss > 0)
    let result = try Simulation(scenario: scenario, seed: 30031).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
    #expect(result.packsReportedLost <= result.packsLost)
}

/// Found by `scripts/random-scenarios.py --long` (scenario 468: disk failures, skewed
/// clocks, k = 4 of 5): not a protocol bug but the checker's. An owner gave up a volume
/// with three shards owed (the holders of the two others had lost their disks, their
/// predecessors' grace had ended); the checker counted a fourth on a holder no release had
/// reached, offline since its contract's term and grace ended, which frees it as soon as
/// it is back. A copy past the grace its holder keeps from its term end is now garbage to
/// the checker too, like one past the grace of a release.
@Test func aCopyPastItsHoldersOwnGraceKeepsNoVolumeAlive() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/holder-offline-past-its-grace.json"))
    #expect(scenario.contractTermDays < scenario.durationDays, "contracts must end within the run")
    let result = try Simulation(scenario: scenario, seed: 468).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
    #expect(result.packsReportedLost > 0)  // the scenario does lose volumes; just never wrongly
    #expect(result.packsReportedLost <= result.packsLost)
}

/// Owners whose placements fill their whole budget, on three-day contracts over ten days:
/// a renewal needed budget of its own, so none was ever proposed and every volume was
/// lost at the first term's end (all 32, every contract broken). Each holder now renews
/// its slot in place on the old contract's share: nothing moves and nothing lapses.
@Test func aFullBudgetRenewsEveryContractInPlace() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/renewal-at-a-full-budget.json"))
    #expect(scenario.contractTermDays * 3 < scenario.durationDays, "contracts must end several times within the run")
    let result = try Simulation(scenario: scenario, seed: 1).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
    #expect(result.volumesLost == 0 && result.contractsBroken == 0)
    #expect(result.contractsLapsed == 0)
    #expect(result.contractsRenewed >= result.volumesTotal * scenario.n * 3)
    #expect(result.repairBytes == 0, "a renewal in place moved shards")
}

/// Random scenario 858 (`--long`): 17 % loss, skewed clocks, adversaries, budgets nearly
/// full. Owners went on challenging holders past their contracts' term and grace, and
/// reported honest holders for freeing the shards as promised; 55 nodes were excluded and
/// a volume was given up with two healthy shards (k = 2).
@Test func honestHoldersAreNeverStruckForShardsPastTheirTerm() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/regressions/honest-holders-past-their-term.json"))
    let result = try Simulation(scenario: scenario, seed: 858).run()
    #expect(result.violations.isEmpty, "\(result.violations)")
    #expect(result.packsReportedLost <= result.packsLost)
    #expect(result.contractsRenewed > 0)
}
