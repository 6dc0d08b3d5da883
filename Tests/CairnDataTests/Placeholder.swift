import Testing

@Test func CairnDataBuilds() { #expect(Bool(true)) }
