import Testing

@Test func CairnCLIBuilds() { #expect(Bool(true)) }
