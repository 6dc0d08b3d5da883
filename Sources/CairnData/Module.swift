// CairnData: see docs/ARCHITECTURE.md
