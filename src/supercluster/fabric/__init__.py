"""The cluster network as built: topology, bill of materials, placement, collectives."""
