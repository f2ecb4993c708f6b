package io.expertcast.streams.pass;

import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.SelectionEvent;
import java.util.List;

/** One forward pass of the replay: its selection events (batch order) and the ForwardPass record. */
public record ScheduledPass(ForwardPass pass, List<SelectionEvent> selections) {
}
