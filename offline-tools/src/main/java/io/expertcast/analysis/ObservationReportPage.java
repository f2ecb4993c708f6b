package io.expertcast.analysis;

import io.expertcast.core.analysis.ObservationReport;
import io.expertcast.core.analysis.TraceObservations;
import io.expertcast.core.model.ModelShape;
import java.awt.Color;
import java.awt.Paint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.PaintScale;
import org.jfree.chart.renderer.xy.XYBlockRenderer;
import org.jfree.chart.title.PaintScaleLegend;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.xy.DefaultXYZDataset;

/**
 * The {@code --report} folder: per model and chosen layer, the token->token and layer->layer
 * conditional matrices P(next | current) as heatmaps (the paper's Figs. 4-5: rows = current
 * expert, columns = next expert, each row normalised), and an index.html with the figures' table.
 */
final class ObservationReportPage {
    private static final int SIZE = 720;

    private final Path folder;
    private final List<Integer> requestedLayers;

    ObservationReportPage(Path folder, List<Integer> requestedLayers) {
        this.folder = folder;
        this.requestedLayers = requestedLayers;
    }

    /** Writes the PNGs and the page; returns the page. */
    Path write(List<TraceObservations> models) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Files.createDirectories(folder);
        StringBuilder html = new StringBuilder("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
                + "<title>expertcast analyze</title><style>body{font-family:sans-serif;margin:2em}"
                + "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
                + "th{background:#f4f4f4}img{width:480px;margin:4px}</style></head><body>\n"
                + "<h1>Expert-selection observations (arXiv 2510.05497, Ob1-Ob5)</h1>\n");
        for (TraceObservations observations : models) {
            ObservationReport report = observations.report();
            ModelShape model = observations.model();
            html.append("<h2>").append(escape(model.id())).append("</h2>\n<pre>").append(escape(report.toText()))
                    .append("</pre>\n");
            html.append(perLayerTable(report));
            for (int m : layersToDraw(model)) {
                int layer = model.moeLayer(m);
                String tokenPng = fileName(model, m, "token");
                draw(observations.tokenTransitions(m), model.numExperts(),
                        model.id() + " MoE layer " + m + " (model layer " + layer + "): token t -> t+1 ("
                                + report.phase().label() + ")",
                        "expert at token t+1", "expert at token t", folder.resolve(tokenPng));
                html.append("<div><img src=\"").append(tokenPng).append("\" alt=\"token-level heatmap\">");
                if (m + 1 < model.numMoeLayers()) {
                    String layerPng = fileName(model, m, "layer");
                    draw(observations.layerTransitions(m), model.numExperts(),
                            model.id() + ": MoE layer " + m + " -> " + (m + 1) + " (model layers " + layer + " -> "
                                    + model.moeLayer(m + 1) + ", same token)",
                            "expert at MoE layer " + (m + 1), "expert at MoE layer " + m, folder.resolve(layerPng));
                    html.append("<img src=\"").append(layerPng).append("\" alt=\"layer-level heatmap\">");
                }
                html.append("</div>\n");
            }
        }
        html.append("</body></html>\n");
        Path index = folder.resolve("index.html");
        Files.writeString(index, html);
        return index;
    }

    /** The MoE layer indices to draw: the requested ones, else the first, middle and last. */
    private List<Integer> layersToDraw(ModelShape model) {
        if (requestedLayers.isEmpty()) {
            int n = model.numMoeLayers();
            return List.of(0, n / 2, n - 1).stream().distinct().toList();
        }
        check(requestedLayers, model);
        return requestedLayers;
    }

    /**
     * Throws unless every requested layer is a MoE layer index of the model: layers are numbered as everywhere
     * in the pipeline (records, /tables, allocation plans), 0..(MoE layers - 1), dense layers not counted.
     */
    static void check(List<Integer> requested, ModelShape model) {
        for (int m : requested) {
            if (m < 0 || m >= model.numMoeLayers()) {
                throw new IllegalArgumentException("--report-layers: " + m + " is not a MoE layer index of " + model.id()
                        + " (MoE layers are numbered 0.." + (model.numMoeLayers() - 1) + ", as in the pipeline's records"
                        + " and /tables; model layer L is MoE layer index m when L = the m-th MoE layer)");
            }
        }
    }

    private static String fileName(ModelShape model, int moeLayer, String kind) {
        return model.id().replaceAll("[^A-Za-z0-9._-]", "_") + "-moe" + moeLayer + "-" + kind + ".png";
    }

    /** Row-normalised E x E counts as a heatmap; an empty row stays white. */
    private static void draw(long[] counts, int experts, String title, String xLabel, String yLabel, Path png)
            throws IOException {
        int cells = experts * experts;
        double[] x = new double[cells];
        double[] y = new double[cells];
        double[] z = new double[cells];
        double max = 0;
        for (int i = 0; i < experts; i++) {
            long rowSum = 0;
            for (int j = 0; j < experts; j++) {
                rowSum += counts[i * experts + j];
            }
            for (int j = 0; j < experts; j++) {
                int c = i * experts + j;
                x[c] = j;
                y[c] = i;
                z[c] = rowSum == 0 ? 0 : counts[c] / (double) rowSum;
                max = Math.max(max, z[c]);
            }
        }
        DefaultXYZDataset data = new DefaultXYZDataset();
        data.addSeries("P(next | current)", new double[][] {x, y, z});
        XYBlockRenderer renderer = new XYBlockRenderer();
        PaintScale scale = new SequentialScale(max > 0 ? max : 1);
        renderer.setPaintScale(scale);
        NumberAxis xAxis = new NumberAxis(xLabel);
        NumberAxis yAxis = new NumberAxis(yLabel);
        xAxis.setRange(-0.5, experts - 0.5);
        yAxis.setRange(-0.5, experts - 0.5);
        yAxis.setInverted(true); // row 0 on top, like the paper's matrices
        XYPlot plot = new XYPlot(data, xAxis, yAxis, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinesVisible(false);
        plot.setRangeGridlinesVisible(false);
        JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT.deriveFont(13f), plot, false);
        chart.setBackgroundPaint(Color.WHITE);
        PaintScaleLegend legend = new PaintScaleLegend(scale, new NumberAxis("P(next | current)"));
        legend.setPosition(RectangleEdge.RIGHT);
        legend.setMargin(4, 4, 40, 4);
        chart.addSubtitle(legend);
        ChartUtils.saveChartAsPNG(png.toFile(), chart, SIZE, SIZE - 40);
    }

    private static String perLayerTable(ObservationReport r) {
        StringBuilder s = new StringBuilder("<table><tr><th>MoE layer</th><th>model layer</th><th>token top-20%</th><th>layer top-20%</th>"
                + "<th>Spearman</th><th>top-5</th><th>top-10</th><th>top-20</th><th>hot max/mean</th>"
                + (r.top10PctPairShare() != null ? "<th>top-10% pairs</th>" : "") + "</tr>\n");
        for (int m = 0; m < r.layers().length; m++) {
            s.append("<tr><td>").append(m).append("</td><td>").append(r.layers()[m]).append("</td>")
                    .append(cell(r.tokenLevelTop20Coverage()[m]))
                    .append(cell(m < r.layerLevelTop20Coverage().length ? r.layerLevelTop20Coverage()[m] : Double.NaN))
                    .append(cell(r.prefillDecodeSpearman()[m])).append(cell(r.top5Overlap()[m]))
                    .append(cell(r.top10Overlap()[m])).append(cell(r.top20Overlap()[m]))
                    .append(cell(r.hotExpertRatio()[m]));
            if (r.top10PctPairShare() != null) {
                s.append(cell(r.top10PctPairShare()[m]));
            }
            s.append("</tr>\n");
        }
        return s.append("</table>\n").toString();
    }

    private static String cell(double v) {
        return "<td>" + (Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.3f", v)) + "</td>";
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    /** White to dark blue, with a square-root ramp so small probabilities stay visible. */
    private record SequentialScale(double upper) implements PaintScale {
        @Override
        public double getLowerBound() {
            return 0;
        }

        @Override
        public double getUpperBound() {
            return upper;
        }

        @Override
        public Paint getPaint(double value) {
            double f = Math.sqrt(Math.max(0, Math.min(1, value / upper)));
            int r = (int) Math.round(255 - f * (255 - 8));
            int g = (int) Math.round(255 - f * (255 - 48));
            int b = (int) Math.round(255 - f * (255 - 107));
            return new Color(r, g, b);
        }
    }
}
