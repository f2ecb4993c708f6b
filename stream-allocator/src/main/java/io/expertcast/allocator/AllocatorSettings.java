package io.expertcast.allocator;

import io.expertcast.core.hardware.HardwareConfig;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.time.EventTimeBound;

/**
 * What the allocator topology is built with.
 *
 * @param catalog         the models whose passes it plans (others go to the dead letters)
 * @param hardware        the wafer it plans for (paper Table I preset or a mesh file)
 * @param applicationName Kafka Streams application id, also the {@code application} of its dead letters
 * @param rebalancing     how workload profiles re-place experts (Insight 6), or null to keep no profiles
 * @param tagLimits       bounds of the per-tag workload profiles and of the re-placements tags trigger
 * @param eventTimeBound  how far ahead of the wall clock a selection or pass may be stamped (else a dead letter)
 */
public record AllocatorSettings(ModelCatalog catalog, HardwareConfig hardware, String applicationName,
                                ProfileRebalancing rebalancing, TagStateLimits tagLimits,
                                EventTimeBound eventTimeBound) {
    public static final String DEFAULT_APPLICATION_ID = "expertcast-allocator";
    public static final String DEFAULT_MESH = "dojo-5x5";

    public AllocatorSettings {
        if (catalog == null || hardware == null || applicationName == null || applicationName.isBlank()) {
            throw new IllegalArgumentException("allocator settings need a catalog, a hardware config and a name");
        }
        if (tagLimits == null || eventTimeBound == null) {
            throw new IllegalArgumentException("allocator settings need tag limits and an event-time bound");
        }
    }

    /** With the default tag limits and event-time bound. */
    public AllocatorSettings(ModelCatalog catalog, HardwareConfig hardware, String applicationName,
                             ProfileRebalancing rebalancing) {
        this(catalog, hardware, applicationName, rebalancing, TagStateLimits.DEFAULT, EventTimeBound.DEFAULT);
    }

    /** With the default workload-profile rebalancing. */
    public AllocatorSettings(ModelCatalog catalog, HardwareConfig hardware, String applicationName) {
        this(catalog, hardware, applicationName, ProfileRebalancing.DEFAULT);
    }

    /** The same settings without workload profiles: the table changes only by commands from outside. */
    public AllocatorSettings withoutRebalancing() {
        return new AllocatorSettings(catalog, hardware, applicationName, null, tagLimits, eventTimeBound);
    }

    public AllocatorSettings withTagLimits(TagStateLimits limits) {
        return new AllocatorSettings(catalog, hardware, applicationName, rebalancing, limits, eventTimeBound);
    }

    public AllocatorSettings withEventTimeBound(EventTimeBound bound) {
        return new AllocatorSettings(catalog, hardware, applicationName, rebalancing, tagLimits, bound);
    }

    /** The four published models on the Dojo-like 5x5 wafer. */
    public static AllocatorSettings defaults() {
        return new AllocatorSettings(ModelCatalog.standard(), HardwareConfig.load(DEFAULT_MESH), DEFAULT_APPLICATION_ID);
    }
}
