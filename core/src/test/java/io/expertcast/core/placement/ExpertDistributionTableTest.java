package io.expertcast.core.placement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.hardware.Mesh;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import org.junit.jupiter.api.Test;

class ExpertDistributionTableTest {
    private static final ModelShape DEEPSEEK = ModelCatalog.DEEPSEEK_V3;

    @Test
    void evenTableHoldsEachExpertOnlyOnItsHomeDie() {
        ExpertDistributionTable t = ExpertDistributionTable.even(DEEPSEEK, 25);
        assertEquals(58, t.numMoeLayers());
        for (int layer : new int[] {0, 57}) {
            int[] perDie = new int[25];
            for (int e = 0; e < 256; e++) {
                int home = EvenPlacement.homeDie(e, 256, 25);
                assertEquals(home, t.homeDie(layer, e));
                assertArrayEquals(new int[] {home}, t.holders(layer, e));
                assertEquals(1, t.copies(layer, e));
                perDie[home]++;
            }
            for (int n : perDie) {
                assertTrue(n == 10 || n == 11, "experts per die " + n);
            }
        }
        assertEquals(0, t.homeDie(0, 0));
        assertEquals(24, t.homeDie(0, 255));
    }

    @Test
    void replicateAndEvictKeepHoldersSortedAndAHome() {
        ExpertDistributionTable t = ExpertDistributionTable.even(DEEPSEEK, 25);
        int home = t.homeDie(3, 100); // die 9
        assertTrue(t.replicate(3, 100, 20));
        assertTrue(t.replicate(3, 100, 2));
        assertFalse(t.replicate(3, 100, 20));
        assertArrayEquals(new int[] {2, home, 20}, t.holders(3, 100));
        assertTrue(t.holds(3, 100, 2));
        assertArrayEquals(new int[] {home}, t.holders(4, 100), "other layers are untouched");

        assertFalse(t.evict(3, 100, 7));
        assertTrue(t.evict(3, 100, home));
        assertEquals(2, t.homeDie(3, 100), "home moves to the lowest remaining holder");
        assertTrue(t.evict(3, 100, 20));
        assertThrows(IllegalStateException.class, () -> t.evict(3, 100, 2));
        assertArrayEquals(new int[] {2}, t.holders(3, 100));
    }

    @Test
    void nearestHolderByMeshHopsTiesToLowerDie() {
        Mesh mesh = new Mesh(5, 5);
        ExpertDistributionTable t = ExpertDistributionTable.even(DEEPSEEK, 25);
        // expert 0 lives on die 0 (row 0, col 0).
        assertEquals(0, t.nearestHolder(0, 0, 24, mesh));
        t.replicate(0, 0, 24);
        assertEquals(24, t.nearestHolder(0, 0, 19, mesh));
        assertEquals(24, t.nearestHolder(0, 0, 24, mesh));
        // Die 12 (centre) is 4 hops from both 0 and 24: the lower id wins.
        assertEquals(0, t.nearestHolder(0, 0, 12, mesh));
        assertThrows(IllegalArgumentException.class, () -> t.nearestHolder(0, 0, 1, new Mesh(2, 2)));
    }

    @Test
    void meshesOfMoreThanSixtyFourDiesWork() {
        Mesh mesh = new Mesh(10, 10);
        ExpertDistributionTable t = ExpertDistributionTable.even(DEEPSEEK, 100);
        assertEquals(99, t.homeDie(0, 255));
        assertTrue(t.replicate(0, 255, 64));
        assertTrue(t.replicate(0, 255, 63));
        assertArrayEquals(new int[] {63, 64, 99}, t.holders(0, 255));
        assertFalse(t.holds(0, 255, 0));
        assertEquals(64, t.nearestHolder(0, 255, 74, mesh));
    }

    @Test
    void copyIsIndependent() {
        ExpertDistributionTable t = ExpertDistributionTable.even(DEEPSEEK, 25);
        ExpertDistributionTable snapshot = t.copy();
        assertEquals(t, snapshot);
        t.replicate(0, 1, 5);
        assertNotEquals(t, snapshot);
        assertFalse(snapshot.holds(0, 1, 5));
    }

    @Test
    void outOfRangeArgumentsAreRejected() {
        ExpertDistributionTable t = ExpertDistributionTable.even(DEEPSEEK, 25);
        assertThrows(IllegalArgumentException.class, () -> t.holders(58, 0));
        assertThrows(IllegalArgumentException.class, () -> t.holders(0, 256));
        assertThrows(IllegalArgumentException.class, () -> t.replicate(0, 0, 25));
        assertThrows(IllegalArgumentException.class, () -> t.evict(0, 0, -1));
        assertThrows(IllegalArgumentException.class, () -> ExpertDistributionTable.even(DEEPSEEK, 0));
    }

    @Test
    void changeFromCountsTheFewestCommandsAndTheCopiesTheyAdd() {
        ExpertDistributionTable before = ExpertDistributionTable.even(DEEPSEEK, 25);
        ExpertDistributionTable after = before.copy();
        assertEquals(new ExpertDistributionTable.LayerChange(0, 0), after.changeFrom(before, 0));
        PlacementMove.replicate(0, 3, 0, 12, 1).applyTo(after);   // 1 command, 1 copy
        PlacementMove.migrate(0, 200, before.homeDie(0, 200), 7, 1).applyTo(after); // 1 command, 1 copy
        PlacementMove.replicate(0, 9, 0, 5, 1).applyTo(after);
        PlacementMove.evict(0, 9, 0).applyTo(after);               // replicate + evict of one expert = a migration
        PlacementMove.replicate(0, 4, 0, 6, 1).applyTo(after);
        PlacementMove.replicate(0, 4, 0, 8, 1).applyTo(after);
        assertEquals(new ExpertDistributionTable.LayerChange(5, 5), after.changeFrom(before, 0));
        assertEquals(new ExpertDistributionTable.LayerChange(0, 0), after.changeFrom(before, 1), "other layers untouched");
        ExpertDistributionTable evicted = after.copy();
        evicted.evict(0, 4, 8);
        assertEquals(new ExpertDistributionTable.LayerChange(1, 0), evicted.changeFrom(after, 0), "an eviction moves no bytes");
        assertThrows(IllegalArgumentException.class, () -> after.changeFrom(ExpertDistributionTable.even(DEEPSEEK, 24), 0));
    }
}
