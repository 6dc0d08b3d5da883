import Testing

@Test func CairnCoreBuilds() { #expect(Bool(true)) }
