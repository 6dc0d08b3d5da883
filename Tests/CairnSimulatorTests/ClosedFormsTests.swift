import CairnSimulator
import Testing

/// The closed forms against values worked out by hand.
@Suite struct ClosedFormsTests {
    @Test func binomialCoefficients() {
        #expect(ClosedForms.choose(8, 4) == 70)
        #expect(ClosedForms.choose(5, 0) == 1)
        #expect(ClosedForms.choose(40, 20) == 137_846_528_820)
        #expect(ClosedForms.choose(3, 4) == 0)
    }

    /// P[Bin(8, 1/2) ≥ 4] = (70 + 56 + 28 + 8 + 1) / 256; P[Bin(5, 0.85) ≥ 3] =
    /// 10·0.85³·0.15² + 5·0.85⁴·0.15 + 0.85⁵ = 0.973388125.
    @Test func binomialTails() {
        #expect(abs(ClosedForms.binomialAtLeast(4, n: 8, p: 0.5) - 163.0 / 256) < 1e-15)
        #expect(abs(ClosedForms.binomialAtLeast(3, n: 5, p: 0.85) - 0.973388125) < 1e-12)
        #expect(ClosedForms.binomialAtLeast(0, n: 5, p: 0.1) == 1)
        #expect(ClosedForms.binomialAtLeast(6, n: 5, p: 0.9) == 0)
        #expect(ClosedForms.availability(k: 4, n: 8, onHours: 4, offHours: 4) == ClosedForms.binomialAtLeast(4, n: 8, p: 0.5))
    }

    /// No failures lose nothing; e^(−λt) = 1/2 gives the complement of the fair-coin tail.
    @Test func lossWithoutRepair() {
        #expect(ClosedForms.lossWithoutRepair(k: 4, n: 8, perDay: 0, days: 30) == 0)
        let halfLife = 0.6931471805599453
        #expect(abs(ClosedForms.lossWithoutRepair(k: 4, n: 8, perDay: 0.01, days: halfLife * 100) - 93.0 / 256) < 1e-12)
    }

    /// Tables: z(0.975) = 1.959964, z(0.9995) = 3.290527; t(0.9995, 10) = 4.587, t(0.9995, 30) = 3.646.
    @Test func quantiles() {
        #expect(abs(ClosedForms.normalQuantile(0.975) - 1.959964) < 1e-6)
        #expect(abs(ClosedForms.normalQuantile(0.0005) + 3.290527) < 1e-6)
        #expect(abs(Validation.quantile(degrees: 10) - 4.587) / 4.587 < 0.01)
        #expect(abs(Validation.quantile(degrees: 30) - 3.646) / 3.646 < 0.005)
        #expect(abs(Validation.quantile(degrees: 1_000_000) - 3.290527) < 1e-4)
    }
}
