import CairnSimulator
import Foundation
import Testing

/// Challenges settled without their events (`Simulation+Shortcuts`) must change nothing
/// but the number of events and the trace: every printed metric of a run with shortcuts is
/// that of the same run with every challenge delivered, proved and checked. The scenarios
/// cover adversaries (full path), departures and lost disks, and a partition.
@Test(arguments: ["adversaries.json", "departures.json", "partition.json"])
func shortcutsChangeNoMetric(name: String) throws {
    let scenario = try Scenario.load(path: Package.path("Scenarios/ci/" + name))
    let fast = try Simulation(scenario: scenario, seed: 3).run()
    let full = Simulation(scenario: scenario, seed: 3)
    full.shortcuts = false
    let slow = try full.run()
    func metrics(_ r: SimulationResult) -> [Substring] {
        Report.table(r, wallSeconds: 0).split(separator: "\n").filter { !$0.hasPrefix("events") }
    }
    #expect(metrics(fast) == metrics(slow))
    #expect(fast.violations.isEmpty, "\(fast.violations)")
    // The shortcut was taken: most challenges are to honest holders that hold the slot.
    #expect(Double(fast.events) < 0.9 * Double(slow.events), "\(fast.events) events with shortcuts, \(slow.events) without")
    #expect(fast.traceHash != slow.traceHash)
}
