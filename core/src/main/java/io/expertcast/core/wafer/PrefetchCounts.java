package io.expertcast.core.wafer;

/**
 * What became of the prefetch commands the emulator received; every command ends in exactly one
 * of these once its request has finished (or is still pending before that).
 *
 * @param used    applied to at least one pass (a decode-phase plan that missed its first step but
 *                covered later ones counts here)
 * @param late    arrived after every pass it could apply to had been emulated; never applied
 * @param unknown named a layer or expert the model does not have (also a dead letter)
 * @param expired arrived in time, but the pass it targets never came (the request ended or skipped it)
 */
public record PrefetchCounts(long used, long late, long unknown, long expired) {
    public static final PrefetchCounts NONE = new PrefetchCounts(0, 0, 0, 0);

    public PrefetchCounts plus(PrefetchCounts o) {
        return new PrefetchCounts(used + o.used, late + o.late, unknown + o.unknown, expired + o.expired);
    }

    public boolean isNone() {
        return used == 0 && late == 0 && unknown == 0 && expired == 0;
    }
}
