/**
 * The paper's trace observations (docs/paper-notes.md, Ob1-Ob5) computed on any trace in the dataset's
 * format: token->token and layer->layer transition concentration (Ob2, Ob1), prefill vs decode
 * (Ob3), hot experts (Ob4) and co-activated pairs (Ob5). The definitions are issue 3's, fixed so
 * that numbers compare across tools.
 */
package io.expertcast.core.analysis;
