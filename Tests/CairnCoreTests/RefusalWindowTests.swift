import CairnCore
import Testing

/// A report of a refused fetch counts only against a holder that was up through the
/// owner's whole fetch window: heard from lately and in each of the last
/// `refusalWindowSlots` uptime slots. A holder away for part of it (the fetch was lost on
/// the way, or waited while it was down) is not struck: such strikes excluded 5 to 15% of
/// the research sweeps' honest home machines, which could then place nothing.
@Test(arguments: [false, true])
func aRefusedFetchCountsOnlyAgainstAHolderUpThroughTheFetchWindow(awayForAnHour: Bool) {
    var c = CoordinatorCore(params: CoordinatorParams(n: 4, repairTrigger: 4), signer: DigestSigner(seed: [9]),
                            verifier: DigestSigner(), rng: Xoshiro256(seed: 1))
    let owner = c.admit(), holder = c.admit()
    let join = Message.join(offered: 1 << 30, speed: 1000, publicKey: [1], fresh: false)
    var now = Instant(milliseconds: 1_000)
    _ = c.onMessage(from: owner, join, now: now)
    _ = c.onMessage(from: holder, join, now: now)
    let slot = c.params.uptimeSlot
    let slots = CoordinatorCore.refusalWindowSlots + 3
    for i in 0..<slots {
        // The holder misses one slot in the middle of the window, or none.
        let away = awayForAnHour && i == slots - 4
        if !away { _ = c.onMessage(from: holder, .heartbeat(used: 0), now: now) }
        _ = c.onMessage(from: owner, .heartbeat(used: 0), now: now)
        now = now + slot
        _ = c.onTimer(.uptimeSlot, now: now)
    }
    // Back (heard from just now), and the owner reports the fetch it did not get.
    _ = c.onMessage(from: holder, .heartbeat(used: 0), now: now)
    let actions = c.onMessage(from: owner, .report(holder: holder, fault: .refusedFetch, since: .zero), now: now)
    let strikes = c.entry(holder)?.reputation.strikes
    if awayForAnHour {
        #expect(strikes == 0)
        #expect(!actions.contains(.note(.fault(holder: holder, .refusedFetch))))
    } else {
        #expect(strikes == 1)
        #expect(actions.contains(.note(.fault(holder: holder, .refusedFetch))))
    }
}
