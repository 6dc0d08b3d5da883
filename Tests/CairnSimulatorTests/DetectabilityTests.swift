import CairnSimulator
import Testing

/// Detection judged against the chances each adversary had (`DetectionLedger`,
/// Scenarios/README.md "detectable").

/// Of detectable adversaries: caught in time counts, caught late and uncaught with time
/// left count against, and uncaught ones that became detectable too near the end are left
/// out (they have not had their time).
@Test func caughtWithinCountsLateAndOpenButNotCensored() {
    var d = Detection()
    d.detectable = 4
    d.detectableDelays = [0, 30]
    d.detectableOpenHours = [50, 5]
    #expect(d.caughtWithin(24) == (caught: 1, of: 3))
    #expect(d.caughtWithin(30) == (caught: 2, of: 3))
    #expect(d.caughtWithin(Double.infinity) == (caught: 2, of: 2))
}

@Test func detectableExpectationsAreParsedAndChecked() throws {
    let s = try Scenario.parse(#"""
        {"nodes": 12, "expect": {"unrecoverable_max": 1,
         "detectable_caught_within_hours": {"liars": 24, "refusers": 48},
         "detectable_caught_fraction_min": {"refusers": 0.5}}}
        """#)
    #expect(s.expect.unrecoverableMax == 1)
    #expect(s.expect.detectableCaughtWithinHours == ["liar": 24, "refuser": 48])
    #expect(s.expect.detectableCaughtFractionMin == ["refuser": 0.5])
    #expect(throws: ScenarioError.self) {
        try Scenario.parse(#"{"nodes": 12, "expect": {"detectable_caught_fraction_min": {"liars": 2}}}"#)
    }
}

/// Liars on nodes that never go away: each is challenged, answers with garbage while its
/// owner is online, and so is detectable; the owner's report is counted at once.
@Test func everyLiarIsDetectableAndCaughtAtOnce() throws {
    let scenario = try Scenario.parse(#"""
        {"nodes": 30, "duration_days": 1, "signatures": "digest", "backup_gib": 2, "pack_mib": 1024,
         "adversaries": {"liars": 0.1}, "protocol": {"challenge_interval_hours": 6},
         "expect": {"detectable_caught_within_hours": {"liars": 1}}}
        """#)
    let result = try Simulation(scenario: scenario, seed: 3).run()
    let d = try #require(result.detection["liar"])
    #expect(d.total == 3)
    #expect(d.detectable == 3)
    #expect(d.detectableDelays.count == 3 && d.detectableOpenHours.isEmpty)
    #expect((d.detectableDelays.max() ?? 99) < 1)
    #expect(result.expectationFailures.isEmpty, "\(result.expectationFailures)")
}

/// `ci/adversaries.json` seed 10: one volume's holders were two honest nodes, an early
/// freer and five adversaries that never serve (2 liars, a dropper, 2 refusers). It keeps
/// k healthy shards (the refusers hold theirs) but only 3 can be fetched: unrecoverable,
/// not unconverged, and no adversary with evidence against it went uncaught.
@Test func aVolumeHeldByAMajorityOfNonServingAdversariesIsUnrecoverable() throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/ci/adversaries.json"))
    let result = try Simulation(scenario: scenario, seed: 10).run()
    #expect(result.packsUnrecoverable == 1)
    #expect(result.unconvergedPacks == 0)
    #expect(result.packsLost == 0)
    #expect(result.expectationFailures.isEmpty, "\(result.expectationFailures)")
}
