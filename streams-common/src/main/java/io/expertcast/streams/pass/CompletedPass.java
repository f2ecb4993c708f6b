package io.expertcast.streams.pass;

import io.expertcast.schemas.AllocationPlan;
import io.expertcast.schemas.ForwardPass;
import io.expertcast.schemas.SelectionEvent;
import java.util.List;

/**
 * Everything that arrived for one forward pass: its ForwardPass record, every selection event of
 * it (ordered by request id then token offset) and, when the assembly waits for them, one
 * allocation plan per MoE layer (ordered by layer).
 */
public record CompletedPass(ForwardPass pass, List<SelectionEvent> selections, List<AllocationPlan> plans) {
}
