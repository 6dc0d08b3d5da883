// CairnCore: see docs/ARCHITECTURE.md
