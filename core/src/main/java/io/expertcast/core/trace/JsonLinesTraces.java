package io.expertcast.core.trace;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import io.expertcast.core.model.ModelCatalog;
import io.expertcast.core.model.ModelShape;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * The JSON-lines exchange format: one step of one request per line, so any engine can emit it as it
 * runs. A line:
 * <pre>{"request": "r1", "model": "deepseek-v3", "step": 0, "benchmark": "mmlu", "subject": "anatomy",
 *  "language": "en", "experts": [[[3, 17, ...k ids], ...one per MoE layer], ...one per token], "last": false}</pre>
 * {@code model} is a catalog id (or one registered with --model-shape); {@code experts} lists, per
 * token, per MoE layer in model order, the token's k routed expert ids; step 0 is prefill (any number
 * of tokens), steps 1.. are decode (one token each) and must follow in order; {@code benchmark},
 * {@code subject} and {@code language} are optional (default "unknown", "unknown", "en");
 * {@code "last": true} closes a request, else it closes at the end of the file. Lines of different
 * requests may interleave. Requests are handed out as they close.
 */
public final class JsonLinesTraces {
    private static final JsonFactory JSON = new JsonFactory();

    private JsonLinesTraces() {
    }

    /** Writes each request's steps as lines, the last step marked. */
    public static void write(RequestTrace r, Writer out) throws IOException {
        ModelShape model = r.model();
        int layers = model.numMoeLayers();
        int k = model.topK();
        for (int step = 0; step < r.numSteps(); step++) {
            try (JsonGenerator g = JSON.createGenerator(out)) {
                g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
                g.writeStartObject();
                g.writeStringField("request", r.requestId());
                g.writeStringField("model", model.id());
                g.writeNumberField("step", step);
                g.writeStringField("benchmark", r.benchmark());
                g.writeStringField("subject", r.subject());
                g.writeStringField("language", r.language());
                g.writeArrayFieldStart("experts");
                int[] ids = r.steps().get(step);
                for (int t = 0; t < r.tokens(step); t++) {
                    g.writeStartArray();
                    for (int m = 0; m < layers; m++) {
                        g.writeArray(ids, (t * layers + m) * k, k);
                    }
                    g.writeEndArray();
                }
                g.writeEndArray();
                g.writeBooleanField("last", step == r.numSteps() - 1);
                g.writeEndObject();
            }
            out.write('\n');
        }
    }

    /** Reads a JSON-lines file; the requests come out as they close. */
    public static Iterator<RequestTrace> read(Path file, ModelCatalog catalog) {
        BufferedReader reader;
        try {
            reader = Files.newBufferedReader(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return new Iterator<>() {
            private final Map<String, Open> open = new LinkedHashMap<>();
            private final Deque<RequestTrace> ready = new ArrayDeque<>();
            private long lineNumber;
            private boolean done;

            @Override
            public boolean hasNext() {
                while (ready.isEmpty() && !done) {
                    String line;
                    try {
                        line = reader.readLine();
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot read " + file, e);
                    }
                    if (line == null) {
                        done = true;
                        close();
                        for (Open o : open.values()) {
                            ready.add(o.toTrace(file));
                        }
                        open.clear();
                        break;
                    }
                    lineNumber++;
                    if (line.isBlank()) {
                        continue;
                    }
                    Line l = parse(line, file, lineNumber, catalog);
                    Open o = open.get(l.request);
                    if (o == null) {
                        if (l.step != 0) {
                            throw new TraceFormatException(file + ": line " + lineNumber + ": request " + l.request
                                    + " starts at step " + l.step + ", expected 0 (prefill)");
                        }
                        o = new Open(l);
                        open.put(l.request, o);
                    } else {
                        o.add(l, file, lineNumber);
                    }
                    if (l.last) {
                        ready.add(open.remove(l.request).toTrace(file));
                    }
                }
                return !ready.isEmpty();
            }

            @Override
            public RequestTrace next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return ready.poll();
            }

            private void close() {
                try {
                    reader.close();
                } catch (IOException ignored) {
                    // reading is over; nothing to lose
                }
            }
        };
    }

    private record Line(String request, ModelShape model, int step, String benchmark, String subject,
                        String language, int[] ids, boolean last) {
    }

    /** A request whose closing line has not come yet. */
    private static final class Open {
        private final Line first;
        private final List<int[]> steps = new ArrayList<>();

        Open(Line first) {
            this.first = first;
            steps.add(first.ids);
        }

        void add(Line l, Path file, long lineNumber) {
            if (l.step != steps.size()) {
                throw new TraceFormatException(file + ": line " + lineNumber + ": request " + l.request + " step "
                        + l.step + " after step " + (steps.size() - 1) + " (steps must follow in order)");
            }
            if (l.model != first.model) {
                throw new TraceFormatException(file + ": line " + lineNumber + ": request " + l.request
                        + " changes model from " + first.model.id() + " to " + l.model.id());
            }
            steps.add(l.ids);
        }

        RequestTrace toTrace(Path file) {
            try {
                return new RequestTrace(first.model, first.request, first.benchmark, first.subject, first.language,
                        steps);
            } catch (IllegalArgumentException e) {
                throw new TraceFormatException(file + ": " + e.getMessage(), e);
            }
        }
    }

    private static Line parse(String text, Path file, long lineNumber, ModelCatalog catalog) {
        String where = file + ": line " + lineNumber;
        String request = null;
        String modelId = null;
        int step = -1;
        String benchmark = "unknown";
        String subject = "unknown";
        String language = "en";
        boolean last = false;
        List<int[][]> tokens = null;
        try (JsonParser p = JSON.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new TraceFormatException(where + ": not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken v = p.nextToken();
                switch (field) {
                    case "request" -> request = p.getValueAsString();
                    case "model" -> modelId = p.getValueAsString();
                    case "step" -> step = v == JsonToken.VALUE_NUMBER_INT ? p.getIntValue() : -1;
                    case "benchmark" -> benchmark = p.getValueAsString();
                    case "subject" -> subject = p.getValueAsString();
                    case "language" -> language = p.getValueAsString();
                    case "last" -> last = v == JsonToken.VALUE_TRUE;
                    case "experts" -> tokens = readTokens(p, where);
                    default -> p.skipChildren();
                }
            }
        } catch (JsonProcessingException e) {
            throw new TraceFormatException(where + ": malformed JSON at column " + e.getLocation().getColumnNr() + ": "
                    + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (request == null || modelId == null || step < 0 || tokens == null) {
            throw new TraceFormatException(where + ": needs \"request\", \"model\", \"step\" (>= 0) and \"experts\"");
        }
        String id = modelId;
        ModelShape model = catalog.lookup(modelId).orElseThrow(() -> new TraceFormatException(where + ": unknown model "
                + id + " (known: " + String.join(", ", catalog.all().keySet()) + "; add one with --model-shape)"));
        int layers = model.numMoeLayers();
        int k = model.topK();
        int[] ids = new int[tokens.size() * layers * k];
        for (int t = 0; t < tokens.size(); t++) {
            int[][] token = tokens.get(t);
            if (token.length != layers) {
                throw new TraceFormatException(where + ": token " + t + " has " + token.length + " layer rows, "
                        + model.id() + " has " + layers + " MoE layers");
            }
            for (int m = 0; m < layers; m++) {
                if (token[m].length != k) {
                    throw new TraceFormatException(where + ": token " + t + ", MoE layer " + m + " has "
                            + token[m].length + " expert ids, expected k = " + k);
                }
                for (int a = 0; a < k; a++) {
                    int e = token[m][a];
                    if (e < 0 || e >= model.numExperts()) {
                        throw new TraceFormatException(where + ": expert id " + e + " out of range 0.."
                                + (model.numExperts() - 1));
                    }
                    ids[(t * layers + m) * k + a] = e;
                }
            }
        }
        if (tokens.isEmpty() || (step > 0 && tokens.size() != 1)) {
            throw new TraceFormatException(where + ": step " + step + " has " + tokens.size()
                    + " tokens (prefill needs at least 1, a decode step exactly 1)");
        }
        return new Line(request, model, step, benchmark, subject, language, ids, last);
    }

    /** [[[ids] per layer] per token]; shapes are checked by the caller once the model is known. */
    private static List<int[][]> readTokens(JsonParser p, String where) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new TraceFormatException(where + ": \"experts\" must be an array of tokens");
        }
        List<int[][]> tokens = new ArrayList<>();
        JsonToken outer;
        while ((outer = p.nextToken()) == JsonToken.START_ARRAY) {
            List<int[]> rows = new ArrayList<>();
            JsonToken r;
            while ((r = p.nextToken()) == JsonToken.START_ARRAY) {
                int[] buf = new int[16];
                int n = 0;
                JsonToken t;
                while ((t = p.nextToken()) == JsonToken.VALUE_NUMBER_INT) {
                    if (n == buf.length) {
                        buf = java.util.Arrays.copyOf(buf, n * 2);
                    }
                    buf[n++] = p.getIntValue();
                }
                if (t != JsonToken.END_ARRAY) {
                    throw new TraceFormatException(where + ": \"experts\" holds " + t + " where an expert id belongs");
                }
                rows.add(java.util.Arrays.copyOf(buf, n));
            }
            if (r != JsonToken.END_ARRAY) {
                throw new TraceFormatException(where + ": a token of \"experts\" must be an array of per-layer rows");
            }
            tokens.add(rows.toArray(int[][]::new));
        }
        if (outer != JsonToken.END_ARRAY) {
            throw new TraceFormatException(where + ": \"experts\" must be an array of tokens");
        }
        return tokens;
    }
}
