internal import CSodium

/// libsodium must be initialised once per process before any call; every public entry
/// point of this module goes through `Sodium.ready` so callers never have to remember.
enum Sodium {
    /// `sodium_init` is idempotent and thread-safe; a failure means the process cannot
    /// get entropy, and no key material may be produced after that.
    static let ready: Void = {
        let rc = sodium_init()
        precondition(rc >= 0, "sodium_init failed (rc=\(rc)): the OS entropy source is unavailable")
    }()
}
