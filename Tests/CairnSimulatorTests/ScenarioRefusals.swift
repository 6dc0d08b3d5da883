import CairnSimulator
import Testing

/// A small scenario's opening, to which a test appends the keys it checks.
let smallScenarioOpening = #"{"nodes": 10, "duration_days": 5, "protocol": {"k": 2, "n": 4}, "#

/// Each scenario text is refused, and the error names the JSON path given beside it.
func expectRefused(_ cases: [(json: String, path: String)], sourceLocation: SourceLocation = #_sourceLocation) {
    for (json, path) in cases {
        do {
            _ = try Scenario.parse(json)
            Issue.record("\(json) was accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.path == path, "\(error)", sourceLocation: sourceLocation)
        }
    }
}
