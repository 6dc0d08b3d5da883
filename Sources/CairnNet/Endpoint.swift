/// Where a listener binds or a dialer connects: a host (a name, an IPv4 address, or an
/// IPv6 address written in brackets on the command line) and a port. Parsed once, at the
/// edge, so nothing further in has to wonder whether `::1:80` meant port 80.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[IPV6]:PORT`; port 0 (bind anywhere) only when `allowAnyPort`.
    public init(parsing text: String, allowAnyPort: Bool = false) throws(NetError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw NetError(.invalidAddress, "'\(text)' is not [IPV6]:PORT: write an IPv6 address in brackets, as [::1]:7400")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw NetError(.invalidAddress, "'\(text)' has no port: write HOST:PORT, as 127.0.0.1:7400")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw NetError(.invalidAddress, "'\(text)' looks like an IPv6 address: put it in brackets, as [::1]:7400")
            }
        }
        guard !host.isEmpty else {
            throw NetError(.invalidAddress, "'\(text)' has no host: write HOST:PORT, as 127.0.0.1:7400")
        }
        guard portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText),
              port <= 65535, port > 0 || (allowAnyPort && port == 0)
        else {
            throw NetError(.invalidAddress,
                           "'\(portText)' in '\(text)' is not a port: use a number from 1 to 65535\(allowAnyPort ? " (0: any free port)" : "")")
        }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
