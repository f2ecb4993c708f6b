package io.expertcast.core.placement;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The placement policies by name: a new policy is one new class added here. */
public final class PlacementPolicies {
    private static final Map<String, PlacementPolicy> BY_NAME = new LinkedHashMap<>();

    static {
        for (PlacementPolicy p : List.of(new EvenPolicy(), new EplbPolicy(), new HotReplicationPolicy(),
                new PairSeparationPolicy())) {
            BY_NAME.put(p.name(), p);
        }
    }

    private PlacementPolicies() {
    }

    /** The policy called {@code name}; IllegalArgumentException listing the names otherwise. */
    public static PlacementPolicy byName(String name) {
        PlacementPolicy p = BY_NAME.get(name);
        if (p == null) {
            throw new IllegalArgumentException("unknown placement policy '" + name + "'; known: " + names());
        }
        return p;
    }

    public static List<String> names() {
        return List.copyOf(BY_NAME.keySet());
    }
}
