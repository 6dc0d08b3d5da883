import CairnWire

/// A scenario file that cannot be run: where (its JSON path) and why.
extension ScenarioError: CairnError {
    public var codeName: String { "badScenario" }
    public var cause: (any Error)? { nil }
    public var location: ErrorLocation { .path(path) }
}

/// A run that outgrew the simulator's bounds: when, with which seed, and why.
extension SimulationStopped: CairnError {
    public var codeName: String { "stopped" }
    public var message: String { description }
    public var cause: (any Error)? { nil }
    public var location: ErrorLocation { .unknown }
}
