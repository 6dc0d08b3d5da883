import Testing

@Test func CairnSimulatorBuilds() { #expect(Bool(true)) }
