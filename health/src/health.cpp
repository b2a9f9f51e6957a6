// Health checking: see include/tally/health/.
