package io.expertcast.allocator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

class PlacementTableVersionTest {
    @Test
    void readersGetTheKeysChangedSinceTheirVersionOrNullWhenTheJournalNoLongerHasThem() {
        PlacementTableVersion version = new PlacementTableVersion();
        version.changed("m/0/1");
        version.changed("m/0/2");
        version.changed("m/0/1");
        assertEquals(3, version.current());
        assertEquals(List.of("m/0/2", "m/0/1"), version.changedSince(1, 3));
        assertEquals(List.of(), version.changedSince(3, 3));
        for (int i = 0; i < PlacementTableVersion.JOURNAL; i++) {
            version.changed("m/1/" + i);
        }
        assertNull(version.changedSince(1, version.current()), "a reader this far behind re-reads the whole table");
        assertEquals(List.of("m/1/" + (PlacementTableVersion.JOURNAL - 1)),
                version.changedSince(version.current() - 1, version.current()));
        assertEquals(PlacementTableVersion.JOURNAL, version.changedSince(3, version.current()).size());
    }
}
