import Testing

@Test func CairnStoreBuilds() { #expect(Bool(true)) }
