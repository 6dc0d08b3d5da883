/// The tunable bounds of a `SessionHost` (the protocol's fixed ones are `TransportLimits`).
/// Memory: a session holds at most one record being gathered (64 KiB), one read (64 KiB),
/// one message being gathered (68 KiB) and `sessionBufferedBytesMax` of unsent bytes, so
/// all of them together stay under `sessionsMax` × (200 KiB + `sessionBufferedBytesMax`),
/// and unsent bytes of all sessions together under `totalBufferedBytesMax`.
public struct TransportConfiguration: Sendable {
    /// From the TCP connection to the peer's hello: a peer that stalls its handshake is dropped.
    public var handshakeTimeout: Duration = .seconds(10)
    /// A session on which nothing arrives for this long is dropped, and so is one whose
    /// peer stops reading for this long while we have bytes for it. A quiet session sends a
    /// keepalive frame every third of it, so only a dead or stalled peer is dropped.
    public var idleTimeout: Duration = .seconds(60)
    /// Sessions in handshake or open, both directions.
    public var sessionsMax = 1024
    /// Sessions from or to one IP address.
    public var sessionsPerAddressMax = 32
    /// Bytes written to a session and not yet taken by the socket: `send` waits while half
    /// of it is used; `post` past it drops the session (the peer is not reading).
    public var sessionBufferedBytesMax = 4 << 20
    /// The same, over all sessions.
    public var totalBufferedBytesMax = 256 << 20
    /// Set on a host that relays (the coordinator): it splices a session's circuit to the
    /// session of the node it names, within these bounds. Nil: circuits opened to this host
    /// are sessions for this host.
    public var relay: RelayLimits?

    public init() {}
}

/// What a relay lets through.
public struct RelayLimits: Sendable {
    /// Relayed bytes per second one session may send into the relay (its reads pause beyond).
    public var bytesPerSecondPerSession = 16 << 20
    /// Relayed bytes per second over all sessions.
    public var bytesPerSecondTotal = 128 << 20
    /// Circuits one session may have open through the relay.
    public var circuitsPerSessionMax = 64

    public init() {}
}
