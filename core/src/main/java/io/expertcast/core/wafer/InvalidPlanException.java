package io.expertcast.core.wafer;

/** A controller plan that cannot be executed on the wafer (die outside the mesh, too many tokens, ...). */
public class InvalidPlanException extends RuntimeException {
    public InvalidPlanException(String message) {
        super(message);
    }
}
