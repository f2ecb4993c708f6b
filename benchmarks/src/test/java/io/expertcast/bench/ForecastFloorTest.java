package io.expertcast.bench;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.trace.RequestTrace;
import io.expertcast.core.trace.source.SyntheticSource;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ForecastFloorTest {

    private static List<RequestTrace> requests(int count, long seed) {
        List<RequestTrace> all = new ArrayList<>();
        new SyntheticSource(ModelCatalog.DEEPSEEK_V3, count, seed).requests(false, new ArrayList<>())
                .forEachRemaining(all::add);
        return all;
    }

    @Test
    void measuresTheForecastAndTheCountingOfDecodeEvents() {
        ForecastFloor.Figures f = new ForecastFloor(ModelCatalog.DEEPSEEK_V3)
                .measure(requests(6, 2).iterator(), requests(4, 1), 4, 200);
        // 58 layers x 256 experts per event: neither can cost nothing, nor a second.
        assertTrue(f.nextTokenUs() > 0.5 && f.nextTokenUs() < 1e6, "next token " + f.nextTokenUs());
        assertTrue(f.countingUs() > 0.05 && f.countingUs() < 1e6, "counting " + f.countingUs());
    }

    @Test
    void refusesRequestsWithoutADecodeStep() {
        List<RequestTrace> prefillOnly = new ArrayList<>();
        for (RequestTrace r : requests(8, 3)) {
            if (r.numSteps() == 1) {
                prefillOnly.add(r);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new ForecastFloor(ModelCatalog.DEEPSEEK_V3)
                .measure(requests(2, 2).iterator(), prefillOnly, 4, 10));
    }
}
