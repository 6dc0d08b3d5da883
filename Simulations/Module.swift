// CairnSimulator: the deterministic simulator (issue 4).
