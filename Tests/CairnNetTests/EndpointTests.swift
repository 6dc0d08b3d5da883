import CairnNet
import Testing

@Suite struct EndpointTests {
    @Test(arguments: [("127.0.0.1:7400", "127.0.0.1", 7400), ("[::1]:9", "::1", 9), ("localhost:65535", "localhost", 65535)])
    func parses(text: String, host: String, port: Int) throws {
        let endpoint = try Endpoint(parsing: text)
        #expect(endpoint.host == host)
        #expect(endpoint.port == port)
        #expect(try Endpoint(parsing: endpoint.description) == endpoint)
    }

    @Test(arguments: ["127.0.0.1", ":80", "::1:80", "[::1]80", "host:0", "host:65536", "host:-1", "host:+80", "host:８０", "host:"])
    func refuses(text: String) {
        #expect(throws: NetError.self) { try Endpoint(parsing: text) }
        do { _ = try Endpoint(parsing: text) } catch { #expect(error.code == .invalidAddress) }
    }

    @Test func anyPortOnlyWhenAllowed() throws {
        #expect(try Endpoint(parsing: "127.0.0.1:0", allowAnyPort: true).port == 0)
        #expect(throws: NetError.self) { try Endpoint(parsing: "127.0.0.1:0") }
    }
}
