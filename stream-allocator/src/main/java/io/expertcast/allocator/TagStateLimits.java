package io.expertcast.allocator;

import java.time.Duration;

/**
 * Bounds of the allocator's per-tag state (issue 19: 500 distinct workload tags made it grow without
 * end and sent 1,020 placement commands): at most {@code maxTagsPerModel} workload profiles per model
 * (the least recently seen tag is evicted first, from memory and from the changelogged store), none
 * unseen for longer than {@code tagTtl}, and at most one re-placement triggered by a tag's start per
 * model per {@code minTagStartGap} (the scheduled re-placement still follows every active tag).
 * Evictions are counted and logged once per rebalance period.
 */
public record TagStateLimits(int maxTagsPerModel, Duration tagTtl, Duration minTagStartGap) {
    public static final int DEFAULT_MAX_TAGS_PER_MODEL = 256;
    public static final Duration DEFAULT_TAG_TTL = Duration.ofHours(6);
    public static final Duration DEFAULT_MIN_TAG_START_GAP = Duration.ofMinutes(1);
    public static final TagStateLimits DEFAULT = new TagStateLimits(DEFAULT_MAX_TAGS_PER_MODEL, DEFAULT_TAG_TTL,
            DEFAULT_MIN_TAG_START_GAP);

    public TagStateLimits {
        if (maxTagsPerModel < 1) {
            throw new IllegalArgumentException("max tags per model must be >= 1, got " + maxTagsPerModel);
        }
        if (tagTtl == null || tagTtl.isNegative() || minTagStartGap == null || minTagStartGap.isNegative()) {
            throw new IllegalArgumentException("tag TTL and tag-start gap must be >= 0 (TTL 0: no age limit)");
        }
    }
}
