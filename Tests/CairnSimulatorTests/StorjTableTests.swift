import CairnSimulator
import Foundation
import Testing

/// Storj's durability table (whitepaper v3 §3.4): the Poisson approximation reproduces
/// the whitepaper's printed figures, the exact binomial agrees with a sum done by hand,
/// and the two part where the whitepaper's approximation overstates loss.
@Suite struct StorjTableTests {
    /// The whitepaper prints P(D | p = 10%) = 99.858868985411326% for (4, 8) and
    /// 99.999999807694154% for (20, 40), and 90.483741803595962% for (1, 1) (= e^(−0.1)).
    @Test func poissonReproducesTheWhitepaper() {
        let cases: [(Int, Int, Double)] = [(4, 8, 0.99858868985411326), (20, 40, 0.99999999807694154), (1, 1, 0.90483741803595962),
                                           (2, 4, 0.99207366813274616)]
        for (k, n, durability) in cases {
            let loss = ClosedForms.storjLossPoisson(k: k, n: n, churn: 0.1)
            #expect(abs(loss - (1 - durability)) <= 1e-14 + 1e-7 * (1 - durability), "(\(k), \(n)): \(loss) vs \(1 - durability)")
        }
    }

    /// (4, 8) at 10%: lost when 5 or more of 8 leave, 56·0.1⁵·0.9³ + 28·0.1⁶·0.9² + 8·0.1⁷·0.9 + 0.1⁸
    /// = 4.0824e-4 + 2.268e-5 + 7.2e-7 + 1e-8 = 4.3165e-4.
    @Test func exactBinomialByHand() {
        #expect(abs(ClosedForms.storjLossExact(k: 4, n: 8, churn: 0.1) - 4.3165e-4) < 1e-15)
        // (1, 2): both gone, 0.01; the tail sum agrees with the complement of the lower one.
        #expect(abs(ClosedForms.storjLossExact(k: 1, n: 2, churn: 0.1) - 0.01) < 1e-15)
        #expect(abs(ClosedForms.storjLossExact(k: 3, n: 5, churn: 0.15) - (1 - 0.973388125)) < 1e-12)
        #expect(abs(ClosedForms.poissonAbove(0, mean: 2) - (1 - exp(-2.0))) < 1e-15)
        #expect(abs(ClosedForms.poissonAbove(1, mean: 2) - (1 - 3 * exp(-2.0))) < 1e-15)
    }

    /// The Poisson figure overstates loss (variance np, not np(1 − p)); more so for the
    /// wide code, whose tail is further out.
    @Test func poissonOverstatesLoss() {
        let rows = ClosedForms.storjTable()
        #expect(rows.count == 6)
        for r in rows { #expect(r.poisson > r.exact, "(\(r.k), \(r.n)) after \(r.months) months") }
        let first = rows.filter { $0.months == 1 }
        let wide = first.first { $0.n == 40 }!, narrow = first.first { $0.n == 8 }!
        #expect(wide.poisson / wide.exact > narrow.poisson / narrow.exact)
        #expect(abs(ClosedForms.departureRate(churn: 0.1, perDays: 30) * 30 + log(0.9)) < 1e-15)
    }
}
