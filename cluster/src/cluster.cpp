// Cluster protocol: see include/tally/cluster/.
